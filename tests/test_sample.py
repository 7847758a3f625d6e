"""The synthetic sample: deterministic, realistic, loadable, and labelled wherever shown."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import duckdb
import numpy as np
import pandas as pd
import pytest

from oversight import ui
from pipelines.sample import write_sample

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "config" / "sample.yaml"
REAL_24M = (
    "lds_borough_crime/MPS Borough Level Crime (most recent 24 months)__2024-01_to_2025-12.csv"
)


def digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_sample_is_deterministic(tmp_path: Path) -> None:
    first = write_sample(tmp_path / "a", CONFIG)
    write_sample(tmp_path / "b", CONFIG)
    assert len(first) == 26
    assert digests(tmp_path / "a") == digests(tmp_path / "b")


def test_sample_loads_every_file_as_synthetic(sample_warehouse: Path) -> None:
    with duckdb.connect(str(sample_warehouse), read_only=True) as con:
        loads = con.execute(
            "select source, count(*), bool_and(synthetic) from marts.loads group by source"
        ).fetchall()
        boroughs = con.execute(
            "select count(distinct borough_code) from marts.crime_borough_monthly where is_borough"
        ).fetchall()[0][0]
        city = con.execute(
            "select count(*) from marts.street_crime where force <> 'metropolitan'"
        ).fetchall()[0][0]
        months = con.execute(
            "select count(distinct month) from marts.crime_borough_monthly"
        ).fetchall()[0][0]
    by_source = {s: (n, synthetic) for s, n, synthetic in loads}
    assert all(synthetic for _, synthetic in by_source.values())
    assert by_source["lds_borough_crime"][0] == 3
    assert by_source["police_uk_stop_search"][0] == 12
    assert {
        "lds_ward_crime",
        "pas_borough",
        "mps_measure_extract",
        "police_uk_street",
        "police_uk_outcomes",
        "mps_homicide",
    } <= set(by_source)
    assert boroughs == 32
    assert city > 0
    # Every plan measure the sample's files can feed has figures for London: the extract's
    # counts and the homicide victims among them.
    with duckdb.connect(str(sample_warehouse), read_only=True) as con:
        fed = {
            m
            for (m,) in con.execute(
                "select distinct measure_id from marts.measure_values "
                "where geography_code = 'MPS' and value is not null"
            ).fetchall()
        }
    assert {"knife_crime_with_injury", "domestic_abuse_offences", "hate_crime"} <= fed
    assert "homicide_victims" in fed
    assert months >= 72  # several years


def test_later_vintage_revises_a_few_cells(sample_warehouse: Path) -> None:
    with duckdb.connect(str(sample_warehouse), read_only=True) as con:
        revised = con.execute(
            """
            select count(*) from (
                select month, borough_name, major_category, minor_category
                from marts.crime_borough_all_vintages
                where vintage in ('2025-11', '2025-12')
                group by all
                having count(*) = 2 and min(offences) <> max(offences)
            )
            """
        ).fetchall()[0][0]
    assert 10 <= revised <= 40


@pytest.mark.realdata
def test_sample_medians_within_twice_the_real_ones(sample_warehouse: Path, realdata: Path) -> None:
    real = pd.read_csv(realdata / REAL_24M)
    # Boroughs only: the pseudo-boroughs' real series are not steady (e.g. "Unknown" grows in
    # the latest months while records are still being assigned), so a median says little.
    real = real[~real["BoroughName"].isin(["Unknown", "London Heathrow and London City Airports"])]
    months = [c for c in real.columns if c.isdigit()]
    real_monthly = real.groupby(["BoroughName", "MajorText"])[months].sum()
    real_median = real_monthly.median(axis=1)
    with duckdb.connect(str(sample_warehouse), read_only=True) as con:
        sample = con.execute(
            "select borough_name, major_category, median(offences) as median_offences from ("
            "  select month, borough_name, major_category, sum(offences) as offences "
            "  from marts.crime_borough_all_vintages where vintage = '2025-12' group by all"
            ") group by all"
        ).df()
    sample_median = sample.set_index(["borough_name", "major_category"])["median_offences"]
    compared = pd.concat([real_median.rename("real"), sample_median.rename("sample")], axis=1)
    compared = compared[compared["real"] >= 5]  # medians of tiny counts are all noise
    ratio = compared["sample"] / compared["real"]
    assert len(compared) > 300
    bad = compared[(ratio < 0.5) | (ratio > 2) | ratio.isna()]
    assert bad.empty, bad.head(10)
    assert np.isclose(np.median(ratio), 1.0, atol=0.15)


def test_first_run_builds_the_warehouse_behind_a_spinner(
    sample_warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit.testing.v1 import AppTest

    target = tmp_path / "fresh" / "oversight.duckdb"
    calls = []

    def fake_build(settings):
        calls.append(settings.warehouse)
        target.parent.mkdir(parents=True)
        shutil.copyfile(sample_warehouse, target)
        return subprocess.CompletedProcess([], 0, "", "")

    monkeypatch.setattr(ui, "build_sample_warehouse", fake_build)
    monkeypatch.setenv("OVERSIGHT_WAREHOUSE", str(target))
    at = AppTest.from_file(str(ROOT / "app.py")).run(timeout=60)
    assert not at.exception
    assert calls == [target]
    assert any("Synthetic sample data" in w.value for w in at.warning)
    assert any("synthetic sample" in c.value for c in at.caption)


def test_failed_first_run_shows_the_loader_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setattr(
        ui,
        "build_sample_warehouse",
        lambda settings: subprocess.CompletedProcess([], 1, "", "Refused file 'x.csv', line 3"),
    )
    monkeypatch.setenv("OVERSIGHT_WAREHOUSE", str(tmp_path / "none" / "oversight.duckdb"))
    at = AppTest.from_file(str(ROOT / "app.py")).run(timeout=60)
    assert any("could not be built" in e.value for e in at.error)
    assert any("Refused file 'x.csv', line 3" in c.value for c in at.code)


def test_a_second_sample_build_waits_for_the_first(tmp_path: Path, monkeypatch) -> None:
    """Two first runs at once share data/sample: the second writes nothing while the first
    holds the folder (it would otherwise rewrite files the first is loading)."""
    import threading

    from oversight.settings import get_settings
    from pipelines import __main__ as cli
    from pipelines import sample

    out = tmp_path / "sample"
    written = threading.Event()

    def fake_write(folder: Path, config: Path) -> list[Path]:
        written.set()
        return []

    monkeypatch.setattr(sample, "write_sample", fake_write)
    args = SimpleNamespace(out=str(out), no_load=True)
    second = threading.Thread(target=cli.command_sample, args=(args, get_settings()))
    with sample.sample_lock(out):
        second.start()
        assert not written.wait(1.5), "the second build wrote while the first held the lock"
    second.join(timeout=30)
    assert written.is_set()
