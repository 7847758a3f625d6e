"""Marts a load keeps or updates in place are exactly the marts a rebuild gives, and stay
validated.

A load keeps a mart that reads nothing it loaded, updates ``marts.street_crime``,
``crime_outcomes`` and ``stop_search`` (row marts) for the files it added or replaced, and
checks only rows that changed while the suite still covers the earlier ones
(pipelines/build.py ``build_models``, ``check_scope``). Here, on real files: a second load of
police.uk files (new months and a re-download replacing a month) leaves every mart equal, row
for row, to a rebuild from the raw tables, and a Datastore mart it did not touch is kept; a
broken new row is refused; narrowing a suite's parameters makes the whole mart be checked
again; SQL that is not per row, or reads what a load changes, is never reused.
"""

from __future__ import annotations

import gzip
import logging
import shutil
from pathlib import Path

import duckdb
import pytest

import pipelines.build as build
from pipelines.errors import PipelineError
from pipelines.validate import covers

pytestmark = pytest.mark.realdata


def police(realdata: Path, kind: str, months: list[str]) -> list[Path]:
    folder, suffix = {
        "street": ("met_street_burglary_only", "street"),
        "outcomes": ("met_outcomes_burglary_only", "outcomes"),
        "searches": ("met_stop_and_search", "stop-and-search"),
    }[kind]
    return [realdata / "police_uk" / folder / f"{m}-metropolitan-{suffix}.csv.gz" for m in months]


BOROUGH = (
    "lds_borough_crime/MPS Borough Level Crime (most recent 24 months)__2023-12_to_2025-11.csv"
)


def first_load(realdata: Path) -> list[Path]:
    return [
        realdata / BOROUGH,
        *police(realdata, "street", ["2024-01", "2024-02", "2024-03"]),
        *police(realdata, "outcomes", ["2024-01", "2024-02"]),
        *police(realdata, "searches", ["2023-01", "2023-02"]),
    ]


def second_load(realdata: Path, tmp_path: Path) -> list[Path]:
    """Two new months of each kind, and a re-download of 2024-02 street with a row dropped."""
    lines = gzip.decompress(police(realdata, "street", ["2024-02"])[0].read_bytes()).splitlines()
    redownload = tmp_path / "2024-02-metropolitan-street.csv"
    redownload.write_bytes(b"\n".join(lines[:5] + lines[6:]) + b"\n")
    return [
        *police(realdata, "street", ["2024-04", "2024-05"]),
        redownload,
        *police(realdata, "outcomes", ["2024-03", "2024-04"]),
        *police(realdata, "searches", ["2023-03", "2023-04"]),
    ]


def differences(con: duckdb.DuckDBPyConnection, mart: str) -> int:
    """Rows in one of marts.<mart> and rebuilt.marts.<mart> but not the other (with copies)."""
    return con.execute(
        f"select (select count(*) from (select * from marts.{mart} except all "
        f"select * from rebuilt.marts.{mart})) + (select count(*) from (select * from "
        f"rebuilt.marts.{mart} except all select * from marts.{mart}))"
    ).fetchall()[0][0]


def rebuilt_copy(warehouse: Path, folder: Path) -> Path:
    """A copy of the warehouse with every mart rebuilt from its raw tables."""
    copy = folder / "rebuilt.duckdb"
    shutil.copyfile(warehouse, copy)
    with duckdb.connect(str(copy)) as con:
        con.execute("delete from meta.mart_state")
        build.build_models(con)
    return copy


def test_second_load_updates_row_marts_in_place_as_a_rebuild_would(
    settings, realdata: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert build.load_paths(first_load(realdata), settings).published
    with caplog.at_level(logging.INFO, logger="pipelines.build"):
        result = build.load_paths(second_load(realdata, tmp_path), settings)
    assert result.published, [o.message for o in result.outcomes]
    for mart in ("street_crime", "crime_outcomes", "stop_search"):
        assert f"updated marts.{mart} in place for" in caplog.text
        assert f"suite marts.{mart}: checking the rows of this load's files only" in caplog.text
    for mart in ("crime_borough_all_vintages", "crime_borough_monthly"):
        assert f"marts.{mart} unchanged: nothing it reads was loaded" in caplog.text
        assert f"suite marts.{mart}: no row changed since it passed" in caplog.text
    assert "building marts.police_uk_files" in caplog.text
    assert "building marts.stop_search_monthly" in caplog.text
    copy = rebuilt_copy(settings.warehouse, tmp_path)
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        con.execute(f"attach '{copy}' as rebuilt (read_only)")
        street = con.execute("select count(*) from marts.street_crime").fetchall()[0][0]
        raw = con.execute("select count(*) from raw.police_uk_street").fetchall()[0][0]
        assert street == raw > 0
        marts = sorted(p.stem for p in (build.SQL_DIR / "marts").glob("*.sql"))
        assert "crime_borough_monthly" in marts
        for mart in marts:
            assert differences(con, mart) == 0, mart
        superseded = con.execute(
            "select count(*) from marts.loads where status = 'superseded'"
        ).fetchall()[0][0]
        assert superseded == 1


def test_a_broken_new_row_is_refused(
    settings, realdata: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert build.load_paths(first_load(realdata), settings).published
    before = settings.warehouse.read_bytes()
    original = build.build_models

    def corrupt_new_rows(con):
        original(con)
        con.execute(
            "update marts.street_crime set crime_type = 'Not a crime type' "
            "where source_file_id in (select source_file_id from load_changes) "
            "and rowid = (select max(rowid) from marts.street_crime)"
        )

    monkeypatch.setattr(build, "build_models", corrupt_new_rows)
    with pytest.raises(PipelineError, match="crime type must be one police.uk publishes"):
        build.load_paths(second_load(realdata, tmp_path), settings)
    assert settings.warehouse.read_bytes() == before


def validate_street(con: duckdb.DuckDBPyConnection, settings, parameters: dict):
    return build.validate_marts(con, settings, parameters, ["marts.street_crime"])[0]


def test_whole_mart_is_checked_again_when_its_suite_narrows(
    settings, realdata: Path, tmp_path: Path
) -> None:
    assert build.load_paths(first_load(realdata), settings).published
    copy = tmp_path / "copy.duckdb"
    shutil.copyfile(settings.warehouse, copy)
    parameters = build.expectation_parameters(settings)
    with duckdb.connect(str(copy)) as con:
        # as a load that changed no police.uk file leaves it: street_crime kept unchanged
        con.execute(build.LOAD_CHANGES)
        con.execute(build.MART_BUILDS)
        con.execute("insert into mart_builds values ('street_crime', 'unchanged')")
        total = con.execute("select count(*) from marts.street_crime").fetchall()[0][0]
        assert validate_street(con, settings, parameters).rows == 0
        later = {**parameters, "latest_month": parameters["latest_month"] + 100}
        assert validate_street(con, settings, later).rows == 0  # a wider bound covers them
        narrower = {**parameters, "police_forces": ["city-of-london"]}
        report = validate_street(con, settings, narrower)
        assert report.rows == total
        assert [f.column for f in report.failures] == ["force"]
        assert report.failures[0].unexpected_count == total


def test_covers_only_wider_bounds_and_larger_sets() -> None:
    def suite(low, high, forces):
        return [
            {"type": "between", "kwargs": {"column": "m", "min_value": low, "max_value": high}},
            {"type": "in_set", "kwargs": {"column": "f", "value_set": forces}},
        ]

    before = suite(200001, 202611, ["a", "b"])
    assert covers(suite(200001, 202612, ["a", "b"]), before)
    assert covers(suite(199901, None, ["b", "a", "c"]), before)
    assert not covers(suite(200002, 202612, ["a", "b"]), before)
    assert not covers(suite(200001, 202610, ["a", "b"]), before)
    assert not covers(suite(200001, 202611, ["a"]), before)
    assert not covers(suite(200001, 202611, ["a", "b"])[:1], before)


def test_only_sql_computing_each_row_from_its_own_row_is_updated_in_place() -> None:
    assert build.plain_projection(
        "-- one row per row, group by nothing\nselect a, cast(b as int) as b from staging.s",
        "staging",
        "s",
    )
    for sql in (
        "select a from staging.s join staging.t using (a)",
        "select a, count(*) from staging.s group by a",
        "select a, row_number() over () from staging.s",
        "select distinct a from staging.s",
        "select a from staging.s, marts.loads",
        "select a from staging.other",
    ):
        assert not build.plain_projection(sql, "staging", "s"), sql
    rows = {m: build.row_source(m) for m in ("street_crime", "crime_outcomes", "stop_search")}
    assert rows == {
        "street_crime": "police_uk_street",
        "crime_outcomes": "police_uk_outcomes",
        "stop_search": "police_uk_stop_search",
    }
    assert build.row_source("stop_search_monthly") is None
    assert build.row_source("police_uk_files") is None


def test_a_mart_reading_only_what_a_load_never_changes_is_kept() -> None:
    assert build.reads_loads_fixed_columns(
        "with loads as (select source_file_id, vintage, load_seq from marts.loads)\n"
        "select * from staging.s inner join loads using (source_file_id)"
    )
    for sql in (
        "with loads as (select source_file_id, status from marts.loads)\n"
        "select * from staging.s inner join loads using (source_file_id)",
        "with loads as (select source_file_id, load_seq from marts.loads)\n"
        "select (select max(load_seq) from loads) as newest from staging.s",
        "select count(*) from marts.loads",
    ):
        assert not build.reads_loads_fixed_columns(sql), sql
    for mart in ("crime_ward_all_vintages", "crime_ward_monthly", "pas_borough", "street_crime"):
        assert build.mart_lineage(mart) is not None, mart
