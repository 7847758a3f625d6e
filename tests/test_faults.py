"""Faults: a full disk, an unwritable folder, a damaged warehouse file, rebuilding, live serving.

Each fault must end with a clear message (from the loader and from the app), never damage the
live warehouse file, and leave no working copy behind. ``python -m pipelines rebuild``
recreates the warehouse from the files it was loaded from and data/raw. The app keeps serving
pages without an error while loads publish new versions underneath it.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import streamlit.config
from streamlit.testing.v1 import AppTest

import pipelines.build
from bench.common import start_streamlit, stop
from oversight.warehouse import REBUILD_ADVICE
from pipelines.__main__ import main
from tests.conftest import ROOT, TODAY, sha256_of

pytestmark = [pytest.mark.realdata]

BOROUGH_OLDER = (
    "lds_borough_crime/MPS Borough Level Crime (most recent 24 months)__2023-12_to_2025-11.csv"
)
BOROUGH_NEWER = (
    "lds_borough_crime/MPS Borough Level Crime (most recent 24 months)__2024-01_to_2025-12.csv"
)
HOMICIDE = "mps_homicide/Homicides_2003_2023.csv"
PAS_LONDON = "mopac_pas/PAS_TandC_dashboard_MPS_total__semicolon_eu_decimal.csv"
CITY_STREET = "police_uk/city_of_london_street/2023-12-city-of-london-street.csv"
SEARCHES = "police_uk/met_stop_and_search/2023-11-metropolitan-stop-and-search.csv.gz"


def cli(warehouse: Path, *args: str) -> int:
    return main(["--warehouse", str(warehouse), *args])


# --- a small real warehouse, and where its files came from ---------------------------------------


@pytest.fixture(scope="module")
def origin(realdata: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A data/raw folder with two published files, a renamed stop-and-search file elsewhere
    (it loads only with --force), and the warehouse loaded from both in one command."""
    base = tmp_path_factory.mktemp("origin")
    raw = base / "raw"
    for name in (BOROUGH_OLDER, HOMICIDE):
        (raw / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(realdata / name, raw / name)
    renamed = base / "elsewhere" / "searches-november.csv.gz"
    renamed.parent.mkdir()
    shutil.copyfile(realdata / SEARCHES, renamed)
    warehouse = base / "wh" / "oversight.duckdb"
    code = cli(
        warehouse, "load", "--today", TODAY.isoformat(), "--force", "metropolitan",
        str(raw), str(renamed),
    )  # fmt: skip
    assert code == 0
    return {"raw": raw, "renamed": renamed, "warehouse": warehouse}


@pytest.fixture
def warehouse(origin: dict[str, Path], tmp_path: Path) -> Path:
    """A copy of the origin warehouse to break."""
    copy = tmp_path / "wh" / "oversight.duckdb"
    copy.parent.mkdir()
    shutil.copyfile(origin["warehouse"], copy)
    return copy


def leftovers(warehouse: Path) -> list[str]:
    """Working copies a load or rebuild left beside the live file."""
    return sorted(p.name for p in warehouse.parent.glob(f".{warehouse.name}.work-*"))


def summary(warehouse: Path) -> dict[str, object]:
    """What the marts hold, to compare a rebuilt warehouse with the one it replaces."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        one = lambda sql: con.execute(sql).fetchall()[0]  # noqa: E731
        return {
            "files": sorted(r[0] for r in con.sql("select sha256 from marts.loads").fetchall()),
            "crime": one("select count(*), sum(offences) from marts.crime_borough_monthly"),
            "vintages": one("select count(*) from marts.crime_borough_all_vintages"),
            "homicide": one("select count(*) from marts.homicide_victims"),
            "searches": one("select count(*), min(force), max(force) from marts.stop_search"),
        }


def corrupt(path: Path) -> None:
    path.write_bytes(os.urandom(1 << 16))


# --- a full disk, an unwritable folder -----------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (OSError(errno.ENOSPC, "No space left on device"), "the disk is full"),
        (PermissionError(errno.EACCES, "Permission denied"), "permission was denied"),
    ],
)
def test_a_failed_copy_leaves_the_live_warehouse_as_it_was(
    error: OSError,
    message: str,
    warehouse: Path,
    realdata: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    calls = []

    def failing_copy(src: object, dst: object, *args: object, **kwargs: object) -> None:
        calls.append(dst)
        raise error

    monkeypatch.setattr(pipelines.build.shutil, "copyfile", failing_copy)
    before = sha256_of(warehouse)
    code = cli(warehouse, "load", "--today", TODAY.isoformat(), str(realdata / PAS_LONDON))
    err = capsys.readouterr().err
    assert calls, "the working copy is no longer made with shutil.copyfile; update this test"
    assert code == 1
    assert message in err
    assert "Nothing was published" in err
    assert "Traceback" not in err
    assert sha256_of(warehouse) == before
    assert leftovers(warehouse) == []


def test_a_refused_publish_leaves_the_live_warehouse_as_it_was(
    warehouse: Path,
    realdata: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    replace = os.replace

    def refuse_live(src: object, dst: object, *args: object, **kwargs: object) -> None:
        if Path(dst) == warehouse:
            raise PermissionError(errno.EACCES, "Permission denied", str(dst))
        replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", refuse_live)
    before = sha256_of(warehouse)
    code = cli(warehouse, "load", "--today", TODAY.isoformat(), str(realdata / PAS_LONDON))
    err = capsys.readouterr().err
    assert code == 1
    assert (
        f"permission was denied writing to the warehouse folder or a file in it ({warehouse})"
        in err
    )
    assert "Nothing was published" in err
    assert sha256_of(warehouse) == before
    assert leftovers(warehouse) == []


@pytest.fixture
def read_only_folder(warehouse: Path):
    """The warehouse folder bind-mounted read-only (skipped where mounting is not allowed)."""
    folder = warehouse.parent
    mounted = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {mounted.stderr.decode().strip()}")
    try:
        remount = ["mount", "-o", "remount,bind,ro", str(folder)]
        if subprocess.run(remount, capture_output=True).returncode != 0:
            pytest.skip("cannot remount read-only here")
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=True)


def test_a_read_only_warehouse_folder_is_reported(
    warehouse: Path, read_only_folder: Path, realdata: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = sha256_of(warehouse)
    code = cli(warehouse, "load", "--today", TODAY.isoformat(), str(realdata / PAS_LONDON))
    err = capsys.readouterr().err
    assert code == 1
    assert "read-only file system" in err
    assert "Nothing was published" in err
    assert sha256_of(warehouse) == before


# --- a damaged warehouse file --------------------------------------------------------------------


def test_a_damaged_warehouse_gets_a_clear_message_from_the_loader(
    warehouse: Path, realdata: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corrupt(warehouse)
    before = sha256_of(warehouse)
    for args in (["load", "--today", TODAY.isoformat(), str(realdata / PAS_LONDON)], ["status"]):
        code = cli(warehouse, *args)
        err = capsys.readouterr().err
        assert code == 1
        assert f"The warehouse file {warehouse} is damaged and cannot be read" in err
        assert "python -m pipelines rebuild" in err
        assert "Traceback" not in err
    assert sha256_of(warehouse) == before
    assert leftovers(warehouse) == []


@pytest.mark.parametrize("mode", ["public", "internal"])
def test_a_damaged_warehouse_gets_a_clear_message_in_the_app(
    mode: str, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corrupt(warehouse)
    before = sha256_of(warehouse)
    monkeypatch.setenv("OVERSIGHT_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("OVERSIGHT_MODE", mode)
    monkeypatch.setenv("OVERSIGHT_DEV_LOGIN", "1")
    streamlit.config.set_option("server.address", "127.0.0.1")
    at = AppTest.from_file(str(ROOT / "app.py")).run(timeout=60)
    assert not at.exception
    (error,) = at.error
    assert error.value.startswith("**The data cannot be shown.**")
    assert REBUILD_ADVICE in error.value
    # Internal mode names the file and what DuckDB said; a public page shows no server path.
    assert (f"The warehouse file {warehouse} is damaged" in error.value) == (mode == "internal")
    assert ("not a valid DuckDB database file" in error.value) == (mode == "internal")
    assert sha256_of(warehouse) == before


def read_through_ui(path: str) -> None:
    """A page that reads through ui.read (run by AppTest.from_function)."""
    from pathlib import Path

    import streamlit as st

    from oversight import queries, ui
    from oversight.settings import get_settings

    settings = get_settings().with_warehouse(Path(path))
    st.write(ui.read(settings, queries.data_status))


def test_a_damaged_warehouse_stops_a_page_read_with_the_message(warehouse: Path) -> None:
    corrupt(warehouse)
    at = AppTest.from_function(read_through_ui, args=(str(warehouse),)).run(timeout=60)
    assert not at.exception
    (error,) = at.error
    assert "is damaged and cannot be read" in error.value


# --- rebuild -------------------------------------------------------------------------------------


def test_rebuild_refuses_when_there_is_nothing_to_rebuild_from(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "raw").mkdir()
    warehouse = tmp_path / "wh" / "oversight.duckdb"
    code = cli(warehouse, "rebuild", "--raw-dir", str(tmp_path / "raw"))
    err = capsys.readouterr().err
    assert code == 1
    assert f"Nothing to rebuild from: no files under {tmp_path / 'raw'}" in err
    assert not warehouse.exists()


def test_rebuild_refuses_to_drop_files_that_have_gone(
    warehouse: Path, origin: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = sha256_of(warehouse)
    moved = tmp_path / "moved.csv.gz"
    shutil.move(origin["renamed"], moved)
    try:
        code = cli(warehouse, "rebuild", "--raw-dir", str(origin["raw"]))
    finally:
        shutil.move(moved, origin["renamed"])
    err = capsys.readouterr().err
    assert code == 1
    assert "1 file(s) the warehouse was loaded from are no longer where they were" in err
    assert str(origin["renamed"])[:-3] in err  # as recorded: the .csv inside the .gz
    assert "--allow-missing" in err
    assert sha256_of(warehouse) == before


def test_rebuild_recreates_the_warehouse_from_the_files_it_was_loaded_from(
    warehouse: Path, origin: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    inode = warehouse.stat().st_ino
    code = cli(warehouse, "rebuild", "--raw-dir", str(origin["raw"]), "--today", TODAY.isoformat())
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"Rebuilt and published {warehouse}." in out
    assert warehouse.stat().st_ino != inode  # a new file, published by rename
    # The renamed stop-and-search file loaded again with the force it was loaded with.
    assert summary(warehouse) == summary(origin["warehouse"])
    assert leftovers(warehouse) == []


def test_rebuild_after_damage_uses_the_downloaded_files(
    warehouse: Path,
    origin: dict[str, Path],
    realdata: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    corrupt(warehouse)
    code = cli(warehouse, "rebuild", "--raw-dir", str(origin["raw"]), "--today", TODAY.isoformat())
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert f"rebuilding from {origin['raw']} only" in captured.err
    rebuilt, before = summary(warehouse), summary(origin["warehouse"])
    assert rebuilt["homicide"] == before["homicide"]
    assert rebuilt["searches"] == (0, None, None)  # it was loaded from outside data/raw
    published = pd.read_csv(realdata / BOROUGH_OLDER)
    months = [c for c in published.columns if c.isdigit()]
    assert rebuilt["crime"] == (len(published) * len(months), published[months].sum().sum())
    # The app reads it again.
    monkeypatch.setenv("OVERSIGHT_WAREHOUSE", str(warehouse))
    at = AppTest.from_file(str(ROOT / "app.py")).run(timeout=60)
    assert not at.exception
    assert not at.error
    assert "Data to end of November 2025" in " ".join(c.value for c in at.caption)


# --- the app keeps serving while loads publish ---------------------------------------------------


# The crime page's headline metric names the latest month held; its last line is the ward
# section (this warehouse holds no ward file).
LATEST = re.compile(r"^Offences, 12 months to \w{3} \d{4}$")
LAST_LINE = "The warehouse holds no ward crime figures."
PROBLEM = '[data-testid="stException"], [data-testid="stAlertContentError"]'


THREE_LOADS = """
import sys
from pipelines.__main__ import main
warehouse, today, *files = sys.argv[1:]
codes = [main(["--warehouse", warehouse, "load", "--today", today, f]) for f in files]
sys.exit(max(codes))
"""


@pytest.mark.slow
def test_the_app_keeps_serving_while_loads_publish(
    warehouse: Path, realdata: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    app, base = start_streamlit(
        {"OVERSIGHT_WAREHOUSE": str(warehouse), "OVERSIGHT_TODAY": TODAY.isoformat()}
    )
    loads: list[subprocess.CompletedProcess[str]] = []

    def run_loads() -> None:
        """Three loads, one after another, in one process (the imports are paid once)."""
        files = [str(realdata / name) for name in (BOROUGH_NEWER, PAS_LONDON, CITY_STREET)]
        loads.append(
            subprocess.run(
                [sys.executable, "-c", THREE_LOADS, str(warehouse), TODAY.isoformat(), *files],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=180,
                check=False,
            )  # fmt: skip
        )

    loader = threading.Thread(target=run_loads)
    renders, problems, seen = 0, [], set()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium",
                headless=True,
                args=["--headless", "--no-sandbox", "--disable-gpu"],
            )
            page = browser.new_page()
            page.goto(f"{base}/crime")
            deadline = time.monotonic() + 60
            loader.start()
            while loader.is_alive() or renders == 0:
                assert time.monotonic() < deadline + 120, "the loads took too long"
                page.goto(f"{base}/crime")
                problem = page.locator(PROBLEM)
                latest = page.get_by_text(LATEST)
                latest.or_(problem).first.wait_for(timeout=30000)
                page.get_by_text(LAST_LINE).or_(problem).first.wait_for(timeout=30000)
                body = page.inner_text("body")
                if problem.count() or "Traceback" in body:
                    problems.append(body[:1000])
                else:
                    seen.add(latest.inner_text())
                renders += 1
            assert problems == [], "a page failed while loads published"
            page.goto(f"{base}/crime")
            page.get_by_text("Offences, 12 months to Dec 2025").wait_for(timeout=30000)
            browser.close()
    finally:
        loader.join(timeout=300)
        stop(app)
    (run,) = loads
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.count("Published ") == 3
    assert problems == []
    assert renders >= 3
    assert "Offences, 12 months to Nov 2025" in seen  # served the older version, then the newer
    assert leftovers(warehouse) == []
