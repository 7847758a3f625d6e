"""Every expectation of the crime suites fails on a file (or mart) broken to violate it.

Each staged-suite case mutates a real published file so that exactly one expectation is
violated, loads it over a live warehouse and asserts: the file is refused, the message names
the file, line and column, the expectation is the one that failed, and the live warehouse is
byte-identical afterwards. Mart suites are shown to fail on broken copies of real marts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pipelines.build import load_paths, mart_suites
from tests.helpers.gx import (
    EXPECTATIONS,
    assert_fails_on_broken_copy,
    assert_refused,
    mart_cases,
    mart_frames_in,
    settings_in,
    suite_spec,
)

pytestmark = pytest.mark.realdata

BOROUGH = (
    "lds_borough_crime/MPS Borough Level Crime (most recent 24 months)__2017-01_to_2018-12.csv"
)
SMALL_NEW = (
    "lds_borough_crime/MPS Borough Level Crime (most recent 24 months)__2023-12_to_2025-11.csv"
)
WARD = "lds_ward_crime/MPS Ward Level Crime (most recent 24 months)__2024-01_to_2025-12.csv"
# The live warehouse refusals must leave untouched holds one real borough file.
LIVE_FILE = SMALL_NEW
CRIME_MART_SUITES = [
    s
    for s in mart_suites(EXPECTATIONS)
    if s.startswith(("marts.crime_borough", "marts.crime_ward")) or s == "marts.loads"
]


def lines_of(path: Path, limit: int | None = None) -> list[str]:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    return lines if limit is None else lines[: limit + 1]


def set_cell(lines: list[str], line_no: int, column: int, value: str) -> list[str]:
    cells = lines[line_no - 1].rstrip("\r\n").split(",")
    cells[column] = value
    out = list(lines)
    out[line_no - 1] = ",".join(cells) + "\r\n"
    return out


def future_last_month(lines: list[str]) -> list[str]:
    header = lines[0].rstrip("\r\n").split(",")
    header[-1] = "209912"
    return [",".join(header) + "\r\n", *lines[1:]]


def duplicate_line(lines: list[str], line_no: int) -> list[str]:
    return [*lines, lines[line_no - 1]]


Mutation = Callable[[list[str]], list[str]]

BOROUGH_CASES: list[tuple[str, str, Mutation, int | None, str]] = [
    # (id, expectation type, mutation, line named, column named)
    (
        "negative",
        "expect_column_values_to_match_regex",
        lambda ls: set_cell(ls, 5, 4, "-3"),
        5,
        "201702",
    ),
    (
        "not_a_number",
        "expect_column_values_to_match_regex",
        lambda ls: set_cell(ls, 7, 10, "n/a"),
        7,
        "201708",
    ),
    (
        "decimal",
        "expect_column_values_to_match_regex",
        lambda ls: set_cell(ls, 9, 3, "2.5"),
        9,
        "201701",
    ),
    ("future_month", "expect_column_values_to_be_between", future_last_month, 2, "209912"),
    (
        "unknown_borough",
        "expect_column_values_to_be_in_set",
        lambda ls: set_cell(ls, 4, 0, "Atlantis"),
        4,
        "Borough",
    ),
    (
        "unknown_category",
        "expect_column_values_to_be_in_set",
        lambda ls: set_cell(ls, 3, 2, "Theft of Spaceships"),
        3,
        "Major Category/Minor Category",
    ),
    (
        "duplicate_row",
        "expect_compound_columns_to_be_unique",
        lambda ls: duplicate_line(ls, 2),
        2,
        "201701",
    ),
]

WARD_CASES: list[tuple[str, str, Mutation, int | None, str]] = [
    (
        "negative",
        "expect_column_values_to_match_regex",
        lambda ls: set_cell(ls, 30, 7, "-1"),
        30,
        "202403",
    ),
    ("future_month", "expect_column_values_to_be_between", future_last_month, 2, "209912"),
    (
        "unknown_borough",
        "expect_column_values_to_be_in_set",
        lambda ls: set_cell(ls, 40, 4, "Atlantis"),
        40,
        "LookUp_BoroughName",
    ),
    (
        "unknown_category",
        "expect_column_values_to_be_in_set",
        lambda ls: set_cell(ls, 41, 1, "SPACE ARSON"),
        41,
        "MajorText/MinorText",
    ),
    (
        "bad_ward_code",
        "expect_column_values_to_match_regex",
        lambda ls: set_cell(ls, 42, 3, "E0501"),
        42,
        "WardCode",
    ),
    (
        "blank_ward_name",
        "expect_column_value_lengths_to_be_between",
        lambda ls: set_cell(ls, 43, 2, ""),
        43,
        "WardName",
    ),
    (
        "unknown_pseudo_ward",
        "expect_column_values_to_not_be_null",
        lambda ls: set_cell(ls, 2, 3, "E05999999"),
        2,
        "LookUp_BoroughName",
    ),
    (
        "duplicate_row",
        "expect_compound_columns_to_be_unique",
        lambda ls: duplicate_line(ls, 50),
        50,
        "202401",
    ),
]


def test_cases_cover_every_staged_expectation() -> None:
    for cases, suite in (
        (BOROUGH_CASES, "stg_lds_borough_crime"),
        (WARD_CASES, "stg_lds_ward_crime"),
    ):
        assert {c[1] for c in cases} == {e["type"] for e in suite_spec(suite)}
    counts = {
        name: len(suite_spec(name)) for name in ("stg_lds_borough_crime", "stg_lds_ward_crime")
    }
    assert counts == {"stg_lds_borough_crime": 5, "stg_lds_ward_crime": 8}


@pytest.mark.parametrize(
    ("expectation", "mutate", "line", "column"),
    [pytest.param(*c[1:], id=c[0]) for c in BOROUGH_CASES],
)
def test_borough_file_broken_on_one_expectation_is_refused(
    settings, live: Path, realdata: Path, tmp_path: Path, expectation, mutate, line, column
) -> None:
    bad = tmp_path / "borough.csv"
    bad.write_text("".join(mutate(lines_of(realdata / BOROUGH))), encoding="utf-8")
    assert_refused(settings, bad, expectation, line, column)


@pytest.mark.parametrize(
    ("expectation", "mutate", "line", "column"),
    [pytest.param(*c[1:], id=c[0]) for c in WARD_CASES],
)
def test_ward_file_broken_on_one_expectation_is_refused(
    settings, live: Path, realdata: Path, tmp_path: Path, expectation, mutate, line, column
) -> None:
    bad = tmp_path / "ward.csv"
    bad.write_text("".join(mutate(lines_of(realdata / WARD, limit=300))), encoding="utf-8")
    assert_refused(settings, bad, expectation, line, column)


@pytest.fixture(scope="module")
def mart_frames(realdata: Path, tmp_path_factory: pytest.TempPathFactory):
    settings = settings_in(tmp_path_factory.mktemp("marts"))
    ward_sample = tmp_path_factory.mktemp("ward") / "ward.csv"
    ward_sample.write_text("".join(lines_of(realdata / WARD, limit=200)), encoding="utf-8")
    result = load_paths(
        [
            realdata / SMALL_NEW,
            ward_sample,
        ],
        settings,
    )
    assert result.published
    return mart_frames_in(settings.warehouse, CRIME_MART_SUITES)


@pytest.mark.parametrize(("suite", "index"), mart_cases(CRIME_MART_SUITES))
def test_mart_suite_fails_on_broken_copy(mart_frames, suite: str, index: int) -> None:
    assert_fails_on_broken_copy(mart_frames[suite], suite, index)
