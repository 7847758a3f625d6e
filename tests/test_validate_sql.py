"""The suites run as DuckDB SQL find exactly what Great Expectations finds.

The loader checks staged files (``check_frame``) and marts (``check_table``) with each suite
compiled to SQL; Great Expectations, which the other suite tests run, is the reference. Here,
on real files and real marts: every expectation of every suite compiles (nothing falls back to
Great Expectations), every suite passes, every expectation fails on a copy broken for it (a
mart's alone; a staged file's with at most other checks of the same column), and for one
broken copy of each kind of expectation the report (expectation, column, explanation, count,
example lines and values) equals Great Expectations' report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

import pipelines.validate as validate
from oversight.settings import get_settings
from pipelines.build import (
    categories_config,
    limits_of,
    mart_frame,
    mart_helpers,
    mart_suites,
    pipeline_config,
)
from pipelines.errors import RefusedFile
from pipelines.inputs import iter_inputs
from pipelines.sources import detect_source
from pipelines.sources.base import Parsed, default_context
from tests.conftest import TODAY
from tests.helpers.gx import (
    EXPECTATIONS,
    break_frame,
    expectation_column,
    mart_parameters,
    outside_bounds,
    outside_set,
    suite_spec,
)

ROOT = Path(__file__).resolve().parents[1]
STAGED = sorted(p.stem for p in EXPECTATIONS.glob("stg_*.json"))
MARTS = mart_suites(EXPECTATIONS)
EXTRA = "not_in_the_contract"
ROWS = 3000  # rows of each real file or mart the broken copies are made from

pytestmark = pytest.mark.realdata


@pytest.fixture(scope="module")
def staged(realdata: Path) -> dict[str, Parsed]:
    """The smallest real file of each staged suite, parsed, with its first rows (the measure
    extract from docs/examples)."""
    settings = get_settings().with_today(TODAY)
    ctx = default_context(categories_config(settings), TODAY)
    folders = sorted(p for p in realdata.iterdir() if p.is_dir() and p.name != "boundaries")
    by_suite: dict[str, list] = {}
    for file in iter_inputs(
        [*folders, ROOT / "docs" / "examples"], limits_of(pipeline_config(settings))
    ):
        try:
            source = detect_source(file)
        except RefusedFile:
            continue
        by_suite.setdefault(source.suite, []).append((len(file.data), file.name, source, file))
    parsed: dict[str, Parsed] = {}
    for suite, files in by_suite.items():
        for _, _, source, file in sorted(files, key=lambda f: f[:2]):
            try:
                whole = source.parse(file, ctx)
            except RefusedFile:
                continue
            whole.frame = whole.frame.head(ROWS)
            parsed[suite] = whole
            break
    return parsed


@pytest.fixture(scope="module")
def marts(real_warehouse: Path, tmp_path_factory: pytest.TempPathFactory):
    """A read-only connection to the real warehouse plus the documented example measure extract
    (the published files carry none), so every mart has rows; temporary tables hold broken
    copies."""
    import shutil
    import subprocess
    import sys

    from tests.conftest import ROOT, TODAY

    warehouse = tmp_path_factory.mktemp("marts") / "oversight.duckdb"
    shutil.copyfile(real_warehouse, warehouse)
    example = ROOT / "docs" / "examples" / "mps_measure_extract_example.csv"
    subprocess.run(
        [sys.executable, "-m", "pipelines", "--warehouse", str(warehouse), "load",
         "--today", TODAY.isoformat(), str(example)],
        cwd=ROOT, check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    con = duckdb.connect(str(warehouse), read_only=True)
    yield con
    con.close()


def gx_refused(*args: Any, **kwargs: Any) -> None:
    raise AssertionError("the SQL checks fell back to Great Expectations")


def check_frame(parsed: Parsed, frame: pd.DataFrame, suite: str) -> validate.ValidationReport:
    return validate.check_frame(
        frame,
        suite,
        expectations_dir=EXPECTATIONS,
        parameters=mart_parameters(),
        file="file.csv",
        columns=parsed.columns,
    )


def check_table(con: duckdb.DuckDBPyConnection, table: str, suite: str, extra: str = ""):
    return validate.check_table(
        con,
        table,
        suite,
        expectations_dir=EXPECTATIONS,
        parameters=mart_parameters(),
        file=suite,
        extra=extra,
    )


def copy_mart(con: duckdb.DuckDBPyConnection, suite: str) -> str:
    """A temporary copy of a mart with its month helpers as columns, to break in place."""
    con.execute(
        f"create or replace temp table broken as select *{mart_helpers(con, suite)} "
        f"from {suite} order by rowid limit {ROWS}"
    )
    return "broken"


# --- every suite compiles and passes -----------------------------------------------------------


def test_every_staged_suite_has_a_real_file_and_compiles(staged: dict[str, Parsed]) -> None:
    assert sorted(staged) == STAGED
    for suite, parsed in staged.items():
        con = duckdb.connect()
        con.register("rows", parsed.frame)
        types = validate.relation_types(con, "rows")
        checks = validate.compile_suite(suite, EXPECTATIONS, types, mart_parameters())
        assert len(checks) == len(suite_spec(suite))


@pytest.mark.parametrize("suite", STAGED)
def test_staged_suite_passes_on_its_real_file(
    staged: dict[str, Parsed], suite: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(validate, "validate_frame", gx_refused)
    report = check_frame(staged[suite], staged[suite].frame, suite)
    assert report.success, report.to_text()
    assert report.rows == len(staged[suite].frame)


@pytest.mark.parametrize("suite", MARTS)
def test_mart_suite_passes_on_the_real_mart(
    marts: duckdb.DuckDBPyConnection, suite: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(validate, "validate_frame", gx_refused)
    report = check_table(marts, suite, suite, mart_helpers(marts, suite))
    assert report.success, report.to_text()
    rows = marts.execute(f"select count(*) from {suite}").fetchall()[0][0]
    assert report.rows == rows > 0


# --- every expectation fails alone on a broken copy -------------------------------------------


def break_staged(frame: pd.DataFrame, expectation: dict, suite: list[dict]) -> pd.DataFrame:
    """A copy of a staged frame violating one expectation (kinds the mart breakers lack too)."""
    kind, kwargs = expectation["type"], expectation["kwargs"]
    rows = frame.query(kwargs["row_condition"]) if kwargs.get("row_condition") else frame
    row = rows.index[0]
    if kind == "expect_column_values_to_be_null":
        broken = frame.copy()
        broken[kwargs["column"]] = broken[kwargs["column"]].astype(object)
        broken.loc[row, kwargs["column"]] = "2020-13"
        return broken
    if kind == "expect_column_value_lengths_to_be_between":
        broken = frame.copy()
        broken.loc[row, kwargs["column"]] = "" if kwargs.get("min_value") else "x" * 999
        return broken
    if kind == "expect_column_values_to_match_strftime_format":
        broken = frame.copy()
        broken.loc[row, kwargs["column"]] = "2025-02-30"
        return broken
    return break_frame(frame, expectation, suite, extra_column=EXTRA)


def staged_cases() -> list:
    return [
        pytest.param(suite, i, id=f"{suite}-{i}-{e['type']}")
        for suite in STAGED
        for i, e in enumerate(suite_spec(suite))
    ]


@pytest.mark.parametrize(("suite", "index"), staged_cases())
def test_staged_expectation_fails_alone_on_a_broken_copy(
    staged: dict[str, Parsed], suite: str, index: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(validate, "validate_frame", gx_refused)
    spec = suite_spec(suite)
    broken = break_staged(staged[suite].frame, spec[index], spec)
    report = check_frame(staged[suite], broken, suite)
    wanted = (spec[index]["type"], expectation_column(spec[index]))
    found = {(f.expectation, f.column): f for f in report.failures}
    # The broken value may break other checks of its own column (a date that is not YYYY-MM-DD
    # is not a calendar date either), never a check of another column.
    assert wanted in found, report.to_text()
    assert {column for _, column in found} == {wanted[1]}, report.to_text()
    assert found[wanted].explanation.startswith(spec[index]["meta"]["explanation"])
    assert found[wanted].unexpected_count >= 1


def sql_value(kind: str, kwargs: dict, duck_type: str) -> str:
    """A value in SQL that violates a column expectation."""
    if kind == "expect_column_values_to_not_be_null":
        return "null"
    if kind == "expect_column_values_to_be_between":
        return repr(outside_bounds(kwargs))
    if kind == "expect_column_values_to_be_in_set":
        return "'not-allowed'" if duck_type == "VARCHAR" else "15"
    if kind == "expect_column_values_to_match_regex":
        return "'not-a-code'"
    raise AssertionError(f"no breaker for {kind}")


def break_table(con: duckdb.DuckDBPyConnection, suite: str, expectation: dict) -> str:
    """Break a temporary copy of a mart for one expectation; return the extra columns to add."""
    table = copy_mart(con, suite)
    kind, kwargs = expectation["type"], expectation["kwargs"]
    if kind == "expect_table_columns_to_match_set":
        return f", 1 as {EXTRA}"
    types = validate.relation_types(con, table)
    domain = (
        validate.condition_sql(kwargs["row_condition"], types)
        if kwargs.get("row_condition")
        else "true"
    )
    first = con.execute(
        f"select rowid from {table} where {domain} order by rowid limit 2"
    ).fetchall()
    if kind in ("expect_compound_columns_to_be_unique", "expect_column_values_to_be_unique"):
        cols = kwargs.get("column_list") or [kwargs["column"]]
        sets = ", ".join(f'"{c}" = s."{c}"' for c in cols)
        source = f"(select * from {table} where rowid = {first[0][0]}) s"
        con.execute(f"update {table} set {sets} from {source} where {table}.rowid = {first[1][0]}")
        return ""
    column = kwargs["column"]
    value = sql_value(kind, kwargs, types[column])
    if kind == "expect_column_values_to_be_in_set" and kwargs.get("row_condition"):
        spare = outside_set(expectation, suite_spec(suite))  # allowed by the column's other set
        value = f"'{spare}'" if isinstance(spare, str) else str(spare)
    if types[column] != "VARCHAR" and value.startswith("'"):
        con.execute(f'alter table {table} alter "{column}" type varchar')
    con.execute(f'update {table} set "{column}" = {value} where rowid = {first[0][0]}')
    return ""


def mart_cases() -> list:
    return [
        pytest.param(suite, i, id=f"{suite}-{i}-{e['type']}")
        for suite in MARTS
        for i, e in enumerate(suite_spec(suite))
    ]


@pytest.mark.parametrize(("suite", "index"), mart_cases())
def test_mart_expectation_fails_alone_on_a_broken_copy(
    marts: duckdb.DuckDBPyConnection, suite: str, index: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(validate, "validate_frame", gx_refused)
    expectation = suite_spec(suite)[index]
    extra = break_table(marts, suite, expectation)
    report = check_table(marts, "broken", suite, extra)
    assert [(f.expectation, f.column) for f in report.failures] == [
        (expectation["type"], expectation_column(expectation))
    ], report.to_text()
    assert report.failures[0].unexpected_count >= 1


# --- the same report as Great Expectations ----------------------------------------------------


def first_of_each_kind(cases: list) -> list:
    seen, chosen = set(), []
    for case in cases:
        suite, index = case.values
        kind = suite_spec(suite)[index]["type"]
        if kind not in seen:
            seen.add(kind)
            chosen.append(case)
    return chosen


@pytest.mark.parametrize(("suite", "index"), first_of_each_kind(staged_cases()))
def test_staged_report_equals_great_expectations(
    staged: dict[str, Parsed], suite: str, index: int
) -> None:
    spec = suite_spec(suite)
    parsed = staged[suite]
    broken = break_staged(parsed.frame, spec[index], spec)
    ours = check_frame(parsed, broken, suite)
    reference = validate.validate_frame(
        broken,
        suite,
        expectations_dir=EXPECTATIONS,
        parameters=mart_parameters(),
        file="file.csv",
        columns=parsed.columns,
    )
    assert ours.failures == reference.failures
    assert (ours.rows, ours.evaluated) == (reference.rows, reference.evaluated)


@pytest.mark.parametrize(
    ("suite", "index"),
    [
        *first_of_each_kind(mart_cases()),
        *(c for c in mart_cases() if c.values[0] == "marts.street_crime"),
    ],
)
def test_mart_report_equals_great_expectations(
    marts: duckdb.DuckDBPyConnection, suite: str, index: int
) -> None:
    expectation = suite_spec(suite)[index]
    extra = break_table(marts, suite, expectation)
    ours = check_table(marts, "broken", suite, extra)
    frame = marts.sql(f"select *{extra} from broken").df()
    reference = validate.validate_frame(
        frame, suite, expectations_dir=EXPECTATIONS, parameters=mart_parameters(), file=suite
    )
    assert ours.failures == reference.failures
    assert (ours.rows, ours.evaluated) == (reference.rows, reference.evaluated)


def test_mart_frame_is_what_the_table_checks_see(marts: duckdb.DuckDBPyConnection) -> None:
    frame = mart_frame(marts, "marts.street_crime")
    types = validate.relation_types(
        marts, f"(select *{mart_helpers(marts, 'marts.street_crime')} from marts.street_crime)"
    )
    assert list(frame.columns) == list(types)
