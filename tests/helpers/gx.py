"""Shared pieces of the Great Expectations suite tests.

Staged suites: a real file broken to violate one expectation is loaded over a live warehouse
and must be refused naming file, line, column and expectation, leaving the warehouse
byte-identical (:func:`assert_refused`, with the ``live_template``/``live`` fixtures).
Mart suites: each expectation must fail, alone, on a copy of a real mart broken to violate it
(:func:`break_frame`, :func:`mart_cases`, :func:`assert_fails_on_broken_copy`).

The fixtures are registered for the whole suite by ``tests/conftest.py``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from oversight.settings import Settings, get_settings
from pipelines.build import expectation_parameters, load_paths, mart_frame
from pipelines.validate import validate_frame
from tests.conftest import TODAY, sha256_of

EXPECTATIONS = Path(__file__).resolve().parents[2] / "expectations"


def settings_in(folder: Path) -> Settings:
    """Settings for a warehouse ``oversight.duckdb`` in ``folder``, with the fixed "today"."""
    return get_settings().with_warehouse(folder / "oversight.duckdb").with_today(TODAY)


# --- suites ----------------------------------------------------------------------------------


def suite_spec(name: str) -> list[dict]:
    """The expectations of a suite in expectations/, in order."""
    return json.loads((EXPECTATIONS / f"{name}.json").read_text(encoding="utf-8"))["expectations"]


def expectation_column(expectation: dict) -> str:
    """The column an expectation checks, as failures name it ("a,b" for a column list)."""
    kwargs = expectation["kwargs"]
    return kwargs.get("column") or ",".join(kwargs.get("column_list", []))


def suite_keys(name: str) -> list[tuple[str, str]]:
    """(type, column checked) of every expectation of a suite, in order."""
    return [(e["type"], expectation_column(e)) for e in suite_spec(name)]


@cache
def mart_parameters() -> dict[str, Any]:
    """The suites' parameters (config, reference data, the fixed "today")."""
    return expectation_parameters(get_settings().with_today(TODAY))


# --- staged suites: a broken file is refused --------------------------------------------------


@pytest.fixture(scope="module")
def live_template(
    request: pytest.FixtureRequest, realdata: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A published warehouse holding the test module's ``LIVE_FILE``, built once per module."""
    settings = settings_in(tmp_path_factory.mktemp("live"))
    result = load_paths([realdata / request.module.LIVE_FILE], settings)
    assert result.published, [o.message for o in result.refused]
    return settings.warehouse


@pytest.fixture
def live(settings: Settings, live_template: Path) -> Path:
    """The test's live warehouse (a copy of the template), to prove refusals leave it untouched."""
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(live_template, settings.warehouse)
    return settings.warehouse


def assert_refused(
    settings: Settings,
    bad: Path,
    expectation: str | dict,
    line: int,
    column: str,
    *,
    source: str | None = None,
    checked: str | None = None,
) -> dict:
    """Loading ``bad`` over the live ``settings.warehouse`` is refused on ``expectation``.

    The message names the file, line, published column and expectation (given by type, or as
    its suite entry, whose explanation must then be named too); the warehouse is
    byte-identical afterwards; one quarantine JSON records the same line and column, with one
    detail naming the expectation (and ``checked`` as the column it checks, when given).
    ``source``: the source the file must be taken for. Returns the quarantine record.
    """
    kind = expectation if isinstance(expectation, str) else expectation["type"]
    before = sha256_of(settings.warehouse)
    result = load_paths([bad], settings)
    assert [o.status for o in result.outcomes] == ["refused"]
    outcome = result.refused[0]
    assert outcome.file == str(bad)
    if source is not None:
        assert outcome.source == source
    message = outcome.message
    assert f"file {str(bad)!r}" in message, message
    assert f"line {line}," in message, message
    assert f"column {column!r}" in message, message
    assert kind in message, message
    if isinstance(expectation, dict):
        assert expectation["meta"]["explanation"] in message, message
    assert sha256_of(settings.warehouse) == before
    reports = list(settings.quarantine_dir.glob("*.json"))
    assert len(reports) == 1
    record = json.loads(reports[0].read_text())
    assert record["row"] == line
    assert record["column"] == column
    details = record["details"]
    assert len(details) == 1, details
    assert kind in details[0], details
    if checked is not None:
        assert f"({kind} on {checked!r})" in details[0], details
    return record


# --- mart suites: a broken copy fails ---------------------------------------------------------


def mart_frames_in(
    warehouse: Path, suites: Iterable[str], rows: int | None = None
) -> dict[str, pd.DataFrame]:
    """Each mart of ``suites`` as its suite sees it (its first ``rows`` rows when given)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        frames = {suite: mart_frame(con, suite) for suite in suites}
    return frames if rows is None else {s: f.head(rows) for s, f in frames.items()}


def mart_cases(suites: Iterable[str], *, column_in_id: bool = False) -> list:
    """One ``(suite, index)`` param per expectation of each suite."""
    return [
        pytest.param(
            suite,
            i,
            id=f"{suite}-{i}-{e['type']}"
            + (f"-{e['kwargs'].get('column', '')}" if column_in_id else ""),
        )
        for suite in suites
        for i, e in enumerate(suite_spec(suite))
    ]


def unused_column(frame: pd.DataFrame, suite: list[dict]) -> str:
    """A column no other expectation reads, so dropping it breaks only the column-set check."""
    used = " ".join(json.dumps(e["kwargs"]) for e in suite if "column_set" not in e["kwargs"])
    return next(c for c in frame.columns if f'"{c}"' not in used and c not in used)


def outside_bounds(kwargs: dict) -> float:
    """A value a between-expectation refuses (a month far in the future for a parameter)."""
    high = kwargs.get("max_value")
    if isinstance(high, dict):
        return 209912
    return high + 1 if high is not None else kwargs["min_value"] - 1


def outside_set(expectation: dict, suite: list[dict]) -> object:
    """A value this in-set expectation refuses; for a conditional one, a value the column's
    unconditional set allows, so that only this expectation fails."""
    kwargs = expectation["kwargs"]
    column, allowed = kwargs.get("column"), kwargs.get("value_set")
    if kwargs.get("row_condition") and isinstance(allowed, list):
        for other in suite:
            other_kwargs = other["kwargs"]
            if (
                other is not expectation
                and other["type"] == expectation["type"]
                and other_kwargs.get("column") == column
                and not other_kwargs.get("row_condition")
                and isinstance(other_kwargs.get("value_set"), list)
            ):
                spare = [v for v in other_kwargs["value_set"] if v not in allowed]
                if spare:
                    return spare[0]
    return 15 if column == "month_day" else "not-allowed"


def break_frame(
    frame: pd.DataFrame, expectation: dict, suite: list[dict], *, extra_column: str | None = None
) -> pd.DataFrame:
    """A copy of a mart frame that violates one expectation of ``suite``.

    The column-set check is broken by dropping a column no other expectation reads, or by
    adding ``extra_column`` when given (for marts whose every column is checked).
    """
    kwargs, kind = expectation["kwargs"], expectation["type"]
    broken = frame.copy()
    column = kwargs.get("column")
    row = broken.query(kwargs["row_condition"]).index[0] if kwargs.get("row_condition") else 0
    if kind == "expect_table_columns_to_match_set":
        if extra_column is not None:
            broken[extra_column] = 1
            return broken
        return broken.drop(columns=[unused_column(frame, suite)])
    if kind in ("expect_compound_columns_to_be_unique", "expect_column_values_to_be_unique"):
        cols = kwargs.get("column_list") or [column]
        broken.loc[broken.index[1], cols] = broken.loc[broken.index[0], cols].to_numpy()
        return broken
    if kind == "expect_column_values_to_be_between":
        broken[column] = broken[column].astype("float64")
        broken.loc[row, column] = outside_bounds(kwargs)
        return broken
    broken[column] = broken[column].astype(object)
    if kind == "expect_column_values_to_not_be_null":
        broken.loc[row, column] = None
    elif kind == "expect_column_values_to_match_regex":
        broken.loc[row, column] = "not-a-code"
    elif kind == "expect_column_values_to_be_in_set":
        broken.loc[row, column] = outside_set(expectation, suite)
    else:
        raise AssertionError(f"no breaker for {kind}")
    return broken


def assert_fails_on_broken_copy(
    frame: pd.DataFrame,
    suite: str,
    index: int,
    *,
    min_rows: int = 2,
    unbroken: bool = True,
    extra_column: str | None = None,
) -> None:
    """Expectation ``index`` of ``suite``, alone, fails on a copy of ``frame`` broken for it.

    ``unbroken``: also check the suite passes on ``frame`` itself. ``extra_column``: see
    :func:`break_frame`.
    """
    assert len(frame) >= min_rows, suite
    params = mart_parameters()
    if unbroken:
        good = validate_frame(
            frame, suite, expectations_dir=EXPECTATIONS, parameters=params, file=suite
        )
        assert good.success, good.to_text()
    spec = suite_spec(suite)
    expectation = spec[index]
    broken = break_frame(frame, expectation, spec, extra_column=extra_column)
    report = validate_frame(
        broken, suite, expectations_dir=EXPECTATIONS, parameters=params, file=suite
    )
    assert [(f.expectation, f.column) for f in report.failures] == [
        (expectation["type"], expectation_column(expectation))
    ]
    assert report.failures[0].explanation.startswith(expectation["meta"]["explanation"])
