"""All of ../shared/realdata except map geometry loads in one command, filling every mart."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


@pytest.fixture(scope="module")
def everything(real_load, realdata: Path):
    run, warehouse = real_load
    return run, warehouse, realdata


def test_one_command_loads_every_real_file(everything) -> None:
    run, warehouse, realdata = everything
    assert run.returncode == 0, run.stderr[-3000:]
    data_files = [
        p
        for p in realdata.rglob("*")
        if p.is_file() and "boundaries" not in p.parts and p.name != "SOURCES.md"
    ]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        loaded = con.execute("select count(*) from marts.loads").fetchall()[0][0]
        sources = {r[0] for r in con.execute("select distinct source from marts.loads").fetchall()}
    assert loaded == len(data_files)
    assert len(sources) >= 15


def test_every_mart_has_rows_from_real_data(everything) -> None:
    _, warehouse, _ = everything
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = [
            r[0]
            for r in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts'"
            ).fetchall()
        ]
        empty = [
            t
            for t in tables
            if con.execute(f"select count(*) from marts.{t}").fetchall()[0][0] == 0
        ]
    # The measure extract has no real published file; everything else must be filled.
    assert empty == ["measure_extract"]
