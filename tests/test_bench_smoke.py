"""Every benchmark in bench/ runs end to end at a tiny scale and writes its results.

``python -m bench.run --scale 0.002 --quick`` into a temporary folder: the generator writes
the published formats, the ingest benchmark loads them both ways, the page benchmark times
every page, the pandas baseline and a browser visit. The numbers are not checked (a shared
CI machine says little about speed; see bench/RESULTS.md), what was measured is.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from oversight import navigation

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("bench")
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--scale", "0.002", "--quick", "--work", str(work)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return work


def read(work: Path, name: str) -> dict:
    return json.loads((work / "results" / name).read_text())


def test_generator_writes_a_month_in_the_published_formats(bench_run: Path) -> None:
    manifest = json.loads((bench_run / "data" / "manifest.json").read_text())
    assert manifest["months"] == 1
    street = next((bench_run / "data" / "full" / "police_uk").glob("*/*-street.csv"))
    header = street.read_text().splitlines()[0]
    assert header.startswith("Crime ID,Month,Reported by,Falls within,Longitude,Latitude")
    rows = sum(1 for _ in street.open()) - 1
    assert rows == manifest["rows"]["street"] > 10_000
    wards = list((bench_run / "data" / "full" / "london_datastore").glob("MPS Ward*.csv"))
    assert len(wards) == 1


def test_ingest_loads_every_file_both_ways_and_times_each_phase(bench_run: Path) -> None:
    result = read(bench_run, "ingest.json")
    manifest = result["manifest"]
    full, incremental = result["full"], result["incremental"]
    assert full["duckdb_rows"]["street"] == manifest["rows"]["street"]
    assert full["duckdb_rows"]["stop_search"] == manifest["rows"]["stop-and-search"]
    assert set(full["phases_s"]) >= {"parse", "validate", "stage", "marts", "publish"}
    assert incremental["rows"] == sum(
        manifest["rows"][f"next_{kind}"] for kind in ("street", "outcomes", "stop-and-search")
    )
    assert full["ours_s"] > 0
    assert full["duckdb_s"] > 0
    warehouse = Path(result["warehouse"])
    with duckdb.connect(str(warehouse), read_only=True) as con:
        street = con.execute("select count(*) from marts.street_crime").fetchall()[0][0]
    assert street == manifest["rows"]["street"] + manifest["rows"]["next_street"]


def test_pages_baseline_and_browser_cover_every_page(bench_run: Path) -> None:
    result = read(bench_run, "pages.json")
    available = {str(p.relative_to(ROOT)) for p in ROOT.glob("pages/*.py")}
    every = {p.path for p in navigation.pages_for("internal", available)}
    timed = {p["page"] for p in result["pages"] if "cold_s" in p}
    assert timed == every
    assert all(p["cold_s"] > 0 and p["warm_s"] > 0 for p in result["pages"])
    baseline = result["pandas_baseline"]
    manifest = read(bench_run, "ingest.json")["manifest"]
    assert (
        baseline["street_crime_by_month_and_type"]["pandas"]["rows"] == manifest["rows"]["street"]
    )
    assert baseline["stop_search_page"]["pandas"]["rows"] == manifest["rows"]["stop-and-search"]
    browser = result["browser"]
    visited = [v["page"] for v in browser["visits"]]
    assert visited == [p.path for p in navigation.pages_for("internal", available)] + [
        "street_crime_by_month_and_type",
        "stop_search_page",
    ]
    assert browser["server_peak_rss_mb"] > browser["server_idle_rss_mb"] > 0
    assert (bench_run / "results" / "summary.md").read_text().count("|") > 20
