"""The publish machinery: no-op reloads, all-or-nothing batches, quarantine, crashes, locking."""

from __future__ import annotations

import fcntl
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

import pipelines.build as build
from pipelines.errors import PipelineError, WarehouseBusy
from tests.conftest import sha256_of

ROOT = Path(__file__).resolve().parents[1]
SMALL = "lds_borough_crime/MPS Borough Level Crime (most recent 24 months)__2023-12_to_2025-11.csv"
NEWER = "lds_borough_crime/MPS Borough Level Crime (most recent 24 months)__2024-01_to_2025-12.csv"

pytestmark = pytest.mark.realdata


def count(path: Path, sql: str) -> int:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(sql).fetchall()[0][0]


def test_reloading_identical_bytes_is_a_no_op(settings, realdata: Path, tmp_path: Path) -> None:
    first = build.load_paths([realdata / SMALL], settings)
    assert first.published
    assert first.version == 1
    before = sha256_of(settings.warehouse)
    copy = tmp_path / "renamed download.csv"
    copy.write_bytes((realdata / SMALL).read_bytes())
    again = build.load_paths([realdata / SMALL, copy], settings)
    assert [o.status for o in again.outcomes] == ["already loaded", "already loaded"]
    assert not again.published
    assert sha256_of(settings.warehouse) == before


def test_same_bytes_twice_in_one_batch_load_once(settings, realdata: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.csv"
    copy.write_bytes((realdata / SMALL).read_bytes())
    result = build.load_paths([realdata / SMALL, copy], settings)
    assert [o.status for o in result.outcomes] == ["loaded", "already loaded"]
    assert count(settings.warehouse, "select count(*) from marts.loads") == 1


def test_a_refused_file_stops_the_whole_batch(settings, realdata: Path, tmp_path: Path) -> None:
    build.load_paths([realdata / SMALL], settings)
    before = sha256_of(settings.warehouse)
    bad = tmp_path / "bad.csv"
    bad.write_text("not,a,known\nfile,at,all\n")
    result = build.load_paths([realdata / NEWER, bad], settings)
    assert [o.status for o in result.outcomes] == ["not loaded", "refused"]
    assert "matches no known source" in result.refused[0].message
    assert "Known sources:" in result.refused[0].message
    assert sha256_of(settings.warehouse) == before
    files = sorted(p.suffix for p in settings.quarantine_dir.iterdir())
    assert files == [".data", ".json", ".txt"]


def test_first_load_refused_leaves_no_warehouse(settings, tmp_path: Path) -> None:
    bad = tmp_path / "empty.csv"
    bad.write_bytes(b"")
    result = build.load_paths([bad], settings)
    assert result.refused
    assert not result.published
    assert not settings.warehouse.exists()


def test_crash_during_build_leaves_live_warehouse_and_no_working_copy(
    settings, realdata: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build.load_paths([realdata / SMALL], settings)
    before = sha256_of(settings.warehouse)

    def explode(con):
        raise RuntimeError("simulated crash while building marts")

    monkeypatch.setattr(build, "build_models", explode)
    with pytest.raises(RuntimeError, match="simulated crash"):
        build.load_paths([realdata / NEWER], settings)
    assert sha256_of(settings.warehouse) == before
    assert list(settings.warehouse.parent.glob(".*work*")) == []


def test_failing_mart_suite_publishes_nothing(
    settings, realdata: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build.load_paths([realdata / SMALL], settings)
    before = sha256_of(settings.warehouse)
    original = build.build_models

    def corrupt(con):
        original(con)
        con.execute("update marts.crime_borough_monthly set offences = -1 where true")

    monkeypatch.setattr(build, "build_models", corrupt)
    with pytest.raises(PipelineError, match="Mart validation failed"):
        build.load_paths([realdata / NEWER], settings)
    assert sha256_of(settings.warehouse) == before


def test_stale_working_copy_from_a_killed_load_is_removed(settings, realdata: Path) -> None:
    settings.warehouse.parent.mkdir(parents=True)
    stale = settings.warehouse.with_name(f".{settings.warehouse.name}.work-99999")
    stale.write_bytes(b"half a warehouse")
    result = build.load_paths([realdata / SMALL], settings)
    assert result.published
    assert not stale.exists()


def test_a_second_loader_is_refused_while_one_holds_the_lock(settings, realdata: Path) -> None:
    settings.warehouse.parent.mkdir(parents=True)
    with open(settings.warehouse.with_name(settings.warehouse.name + ".lock"), "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        with pytest.raises(WarehouseBusy, match="another load is running"):
            build.load_paths([realdata / SMALL], settings)


def test_new_vintage_publishes_new_version_and_keeps_both(settings, realdata: Path) -> None:
    build.load_paths([realdata / SMALL], settings)
    result = build.load_paths([realdata / NEWER], settings)
    assert result.version == 2
    assert (
        count(
            settings.warehouse,
            "select count(distinct vintage) from marts.crime_borough_all_vintages",
        )
        == 2
    )
    assert count(settings.warehouse, "select max(version) from meta.warehouse") == 2


def run_cli(*args: str, env_warehouse: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipelines", "--warehouse", str(env_warehouse), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cli_refuses_with_exit_2_naming_file_line_and_column(
    settings, realdata: Path, tmp_path: Path
) -> None:
    ok = run_cli(
        "load", "--today", "2026-11-23", str(realdata / SMALL), env_warehouse=settings.warehouse
    )
    assert ok.returncode == 0, ok.stderr
    assert "loaded" in ok.stdout
    assert "Published" in ok.stdout
    before = sha256_of(settings.warehouse)
    lines = (realdata / SMALL).read_text().splitlines()
    cells = lines[9].split(",")
    cells[5] = "-7"
    lines[9] = ",".join(cells)
    bad = tmp_path / "negative.csv"
    bad.write_text("\n".join(lines) + "\n")
    refused = run_cli("load", "--today", "2026-11-23", str(bad), env_warehouse=settings.warehouse)
    assert refused.returncode == 2
    assert "negative.csv" in refused.stderr
    assert "line 10" in refused.stderr
    assert "column '202402'" in refused.stderr
    assert "warehouse is unchanged" in refused.stderr
    assert sha256_of(settings.warehouse) == before
    status = run_cli("status", env_warehouse=settings.warehouse)
    assert status.returncode == 0
    assert "lds_borough_crime: 1 file(s), 25,344 rows, newest vintage 2025-11" in status.stdout


def test_models_build_after_the_models_they_read(tmp_path: Path) -> None:
    (tmp_path / "a_summary.sql").write_text("select count(*) from marts.z_detail")
    (tmp_path / "m_other.sql").write_text("select 1")
    (tmp_path / "z_detail.sql").write_text("select 1 from staging.x")
    order = [p.stem for p in build.model_order(list(tmp_path.glob("*.sql")), "marts")]
    assert order == ["m_other", "z_detail", "a_summary"]
    (tmp_path / "z_detail.sql").write_text("select * from marts.a_summary")
    with pytest.raises(PipelineError, match="cycle"):
        build.model_order(list(tmp_path.glob("*.sql")), "marts")


def test_real_marts_are_ordered_with_homicide_victims_first() -> None:
    paths = list((build.SQL_DIR / "marts").glob("*.sql"))
    order = [p.stem for p in build.model_order(paths, "marts")]
    assert order.index("homicide_victims") < order.index("homicide_monthly")
    assert order.index("crime_borough_all_vintages") < order.index("crime_borough_monthly")
