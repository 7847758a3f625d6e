"""MOPAC Public Attitude Survey: real files in, figures checked against the raw files.

Expected figures are read from the published CSVs with the ``csv`` module (dates and decimal
commas converted by hand here), or typed in from the files, never with the project's parser.
There is no real dashboard workbook: one is built here from the real Borough-sheet CSV, the way
the dashboard publishes it (a notes sheet first, typed dates and numbers, blank trailing
columns, one of them not blank on one row). Every staged expectation has a mutation of a real
file violating exactly it; every mart expectation fails on a broken copy of a real mart.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from collections.abc import Callable
from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
import pytest

from oversight.reference import load_borough_lookup
from pipelines.build import load_paths
from pipelines.inputs import InputFile
from pipelines.sources import detect_source
from pipelines.sources.base import head_rows, sheet_heads
from pipelines.sources.pas import measure_book
from tests.helpers.gx import (
    assert_fails_on_broken_copy,
    assert_refused,
    mart_cases,
    mart_frames_in,
    settings_in,
    suite_keys,
)

pytestmark = pytest.mark.realdata

BOROUGH_CSV = "mopac_pas/PAS_TandC_dashboard_Borough_sheet__to_Q3_23-24.csv"
BOROUGH_EU = "mopac_pas/PAS_TandC_dashboard_Borough_sheet__to_Q3_23-24__eu_decimal.csv"
LONDON_CSV = "mopac_pas/PAS_TandC_dashboard_MPS_total__semicolon_eu_decimal.csv"
PERCEPTIONS = "mopac_pas/2016-police-perceptions.csv"
ETHNICITY = "mopac_pas/2015-16 _to_2020-21_inclusive_neighbourhood_indicators_final_221221.csv"
# The warehouse the refusal tests load over holds the real London series.
LIVE_FILE = LONDON_CSV
PAS_MART_SUITES = ("marts.pas_borough", "marts.pas_london", "marts.pas_neighbourhood")
GOOD_JOB = '"Good Job" local'
# Measure ids of the 2016 file's question columns D..U, typed in from its header.
PERCEPTION_IDS = [
    "good_job_local",
    "dealing_with_what_matters",
    "relied_on_to_be_there",
    "treat_everyone_fairly",
    "listen_to_concerns",
    "informed_local",
    "contact_ward_officer",
    "treat_with_respect",
    "tackle_gun_crime",
    "tackle_drug_dealing",
    "gangs_not_a_problem",
    "not_worried_about_asb",
    "not_worried_about_crime",
    "safe_after_dark",
    "visible_patrols",
    "life_satisfaction",
    "friendly_approachable",
    "understand_issues",
]
# The ethnicity file repeats these four questions for each group, typed in from its header.
ETHNICITY_IDS = [
    "treat_everyone_fairly",
    "listen_to_concerns",
    "good_job_local",
    "stop_search_fair",
]


# --- raw readings with the csv module ---------------------------------------------------------


def raw_rows(path: Path, delimiter: str = ",") -> list[list[str]]:
    """Every row of a raw CSV (header included), BOM removed."""
    with path.open(newline="", encoding="utf-8-sig") as f:
        return list(csv.reader(f, delimiter=delimiter))


def us_date(text: str) -> dt.date:
    month, day, year = (int(p) for p in text.split("/"))
    return dt.date(year, month, day)


def uk_date(text: str) -> dt.date:
    day, month, year = (int(p) for p in text.split("/"))
    return dt.date(year, month, day)


def eu_number(text: str) -> float:
    return float(text.replace(",", "."))


def raw_borough_figures(path: Path) -> dict[tuple[dt.date, str, str], tuple[float, float]]:
    """(date, borough, measure) -> (proportion, MPS) from the dot-decimal M/D/YYYY CSV."""
    return {(us_date(r[0]), r[2], r[3]): (float(r[4]), float(r[5])) for r in raw_rows(path)[1:]}


def raw_london_figures(path: Path) -> dict[tuple[dt.date, str], float]:
    """(date, measure) -> proportion from the semicolon, decimal-comma, D/M/YYYY file."""
    return {(uk_date(r[0]), r[3]): eu_number(r[4]) for r in raw_rows(path, ";")[1:]}


# --- warehouse helpers ----------------------------------------------------------------------


def file_id(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def query(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


@pytest.fixture(scope="module")
def warehouse(realdata: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse holding every real PAS file."""
    settings = settings_in(tmp_path_factory.mktemp("pas"))
    result = load_paths([realdata / "mopac_pas"], settings)
    assert result.ok, [o.message for o in result.refused]
    assert [o.status for o in result.outcomes] == ["loaded"] * 5
    return settings.warehouse


# --- a faithful dashboard workbook built from the real CSV ----------------------------------


def workbook_cell(text: str) -> object:
    """A trailing cell as the workbook would hold it: blank, a number or text."""
    if text == "":
        return None
    try:
        return float(text)
    except ValueError:
        return text


def write_workbook(realdata: Path, target: Path) -> Path:
    """The dashboard workbook: Notes, then Borough (typed), then the London (MPS) series."""
    book = openpyxl.Workbook()
    notes = book.active
    notes.title = "Notes"
    notes.append(["MOPAC Public Attitude Survey: Trust and Confidence dashboard data"])
    notes.append([])
    notes.append(["Proportions are rolling 12-month figures reported quarterly."])
    borough = book.create_sheet("Borough")
    rows = raw_rows(realdata / BOROUGH_CSV)
    borough.append([*rows[0][:6], None, None, None, None])
    for r in rows[1:]:
        when = us_date(r[0])
        borough.append(
            [
                dt.datetime(when.year, when.month, when.day),
                r[1],
                r[2],
                r[3],
                float(r[4]),
                float(r[5]),
                *(workbook_cell(c) for c in r[6:]),
            ]
        )
    london = book.create_sheet("MPS")
    london_rows = raw_rows(realdata / LONDON_CSV, ";")
    london.append(london_rows[0])
    for r in london_rows[1:]:
        when = uk_date(r[0])
        london.append([dt.datetime(when.year, when.month, when.day), *r[1:4], eu_number(r[4])])
    book.save(target)
    return target


# --- reconciliation -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "borough", "measure"),
    [
        ("12/31/2014", "Barking and Dagenham", GOOD_JOB),
        ("3/31/2016", "Camden", "Trust MPS"),
        ("6/30/2017", "Haringey", "Contact ward officer"),
        ("9/30/2020", "City of Westminster", "Treat everyone fairly"),
        ("12/31/2022", "Richmond upon Thames", "Listen to concerns"),
        ("12/31/2023", "Croydon", "Understand issues"),
    ],
)
def test_borough_figures_match_the_raw_csv(
    warehouse: Path, realdata: Path, when: str, borough: str, measure: str
) -> None:
    expected = raw_borough_figures(realdata / BOROUGH_CSV)[(us_date(when), borough, measure)]
    code = load_borough_lookup().code_for(borough)
    got = query(
        warehouse,
        "select proportion, london_proportion from marts.pas_borough "
        "where period_end = ? and borough_code = ? and measure_label = ?",
        [us_date(when), code, measure],
    )
    assert got == [expected]


def test_every_published_borough_figure_is_in_the_mart(warehouse: Path, realdata: Path) -> None:
    lookup = load_borough_lookup()
    expected = {
        (when, lookup.code_for(borough), measure): values
        for (when, borough, measure), values in raw_borough_figures(realdata / BOROUGH_CSV).items()
    }
    got = {
        (when, code, label): (p, lp)
        for when, code, label, p, lp in query(
            warehouse,
            "select period_end, borough_code, measure_label, proportion, london_proportion "
            "from marts.pas_borough",
        )
    }
    assert len(got) == 9312
    assert got == expected


def test_hand_typed_first_and_last_lines(warehouse: Path) -> None:
    # Line 2: 12/31/2014,PAS,Barking and Dagenham,"""Good Job"" local",0.56,0.67
    first = query(
        warehouse,
        "select measure_id, measure_label, proportion, london_proportion, survey "
        "from marts.pas_borough where period_end = '2014-12-31' and borough_code = 'E09000002' "
        "and measure_id = 'good_job_local'",
    )
    assert first == [("good_job_local", GOOD_JOB, 0.56, 0.67, "PAS")]
    periods = query(
        warehouse,
        "select count(distinct period_end), min(period_end), max(period_end), "
        "count(distinct borough_code), min(vintage) from marts.pas_borough",
    )
    assert periods == [(37, dt.date(2014, 12, 31), dt.date(2023, 12, 31), 32, "2023-12")]
    trust_from = query(
        warehouse, "select min(period_end) from marts.pas_borough where measure_id = 'trust_mps'"
    )
    assert trust_from == [(dt.date(2016, 3, 31),)]


def test_london_series_matches_raw_file_and_the_mps_column(
    warehouse: Path, realdata: Path
) -> None:
    london = raw_london_figures(realdata / LONDON_CSV)
    mps_column = {
        (when, measure): values[1]
        for (when, _, measure), values in raw_borough_figures(realdata / BOROUGH_CSV).items()
    }
    assert len(london) == 291
    assert london == mps_column
    got = {
        (when, label): p
        for when, label, p in query(
            warehouse, "select period_end, measure_label, proportion from marts.pas_london"
        )
    }
    assert got == london
    assert london[(dt.date(2023, 12, 31), "Trust MPS")] == 0.69  # hand-checked in the file
    mismatched = query(
        warehouse,
        "select count(*) from marts.pas_borough b join marts.pas_london l "
        "using (period_end, measure_id) where b.london_proportion <> l.proportion",
    )
    assert mismatched == [(0,)]
    assert query(
        warehouse, "select distinct borough_code, borough_name from marts.pas_london"
    ) == [("MPS", "London (MPS area)")]


def test_borough_name_variants_map_to_gss_codes(warehouse: Path, realdata: Path) -> None:
    lookup = load_borough_lookup()
    assert lookup.code_for("City of Westminster") == "E09000033"
    assert lookup.code_for("Richmond Upon Thames") == "E09000027"
    eu_rows = raw_rows(realdata / BOROUGH_EU)[1:]
    assert sum(r[2] == "Richmond Upon Thames" for r in eu_rows) == 24
    staged = dict(
        query(
            warehouse,
            "select borough_published, min(borough_code) from staging.stg_pas_borough "
            "where source_file_id = ? group by all",
            [file_id(realdata / BOROUGH_EU)],
        )
    )
    assert staged["City of Westminster"] == "E09000033"
    assert staged["Richmond Upon Thames"] == "E09000027"
    assert staged["Richmond upon Thames"] == "E09000027"
    names = dict(
        query(
            warehouse,
            "select borough_code, min(borough_name) from marts.pas_borough "
            "where borough_code in ('E09000033', 'E09000027') group by all",
        )
    )
    assert names == {"E09000033": "Westminster", "E09000027": "Richmond upon Thames"}


def test_measure_ids_are_stable_snake_case_with_configured_labels(warehouse: Path) -> None:
    pairs = dict(
        query(warehouse, "select distinct measure_id, measure_label from marts.pas_borough")
    )
    assert pairs == {
        "good_job_local": GOOD_JOB,
        "contact_ward_officer": "Contact ward officer",
        "informed_local": "Informed local",
        "listen_to_concerns": "Listen to concerns",
        "relied_on_to_be_there": "Relied on to be there",
        "treat_everyone_fairly": "Treat everyone fairly",
        "understand_issues": "Understand issues",
        "trust_mps": "Trust MPS",
    }
    book = measure_book()
    assert book.find(GOOD_JOB).id == "good_job_local"
    assert book.find("\u201cGood Job\u201d  local").id == "good_job_local"
    assert {m.direction for m in book.measures} <= {"higher_is_better", "context"}


# --- a second copy of the same data changes no figure ----------------------------------------


def borough_figures(warehouse: Path) -> list[tuple]:
    return query(
        warehouse,
        "select period_end, borough_code, borough_name, measure_id, measure_label, proportion, "
        "london_proportion, survey from marts.pas_borough order by period_end, borough_code, "
        "measure_id",
    )


def test_csv_then_eu_csv_then_workbook_give_identical_figures(
    settings, realdata: Path, tmp_path: Path
) -> None:
    workbook = write_workbook(realdata, tmp_path / "PAS_T&Cdashboard_to Q3 23-24.xlsx")
    snapshots = []
    for path in (realdata / BOROUGH_CSV, realdata / BOROUGH_EU, workbook):
        result = load_paths([path], settings)
        assert [(o.source, o.status) for o in result.outcomes] == [("pas_borough", "loaded")]
        snapshots.append(borough_figures(settings.warehouse))
        # the current view really comes from the newest load
        assert query(
            settings.warehouse, "select distinct source_file_id from marts.pas_borough"
        ) == [(file_id(path),)]
    assert len(snapshots[0]) == 9312
    assert snapshots[0] == snapshots[1] == snapshots[2]
    raw_count = query(settings.warehouse, "select count(*) from raw.pas_borough")
    assert raw_count == [(3 * 9312,)]


def test_workbook_detected_by_its_borough_sheet_with_sheet_row_numbers(
    settings, realdata: Path, tmp_path: Path
) -> None:
    path = write_workbook(realdata, tmp_path / "renamed.xlsx")
    file = InputFile(str(path), str(path), path.read_bytes())
    rows = head_rows(file)
    assert list(sheet_heads(rows)) == ["Notes", "Borough", "MPS"]
    assert detect_source(file).id == "pas_borough"  # not pas_london, despite the MPS sheet
    book = openpyxl.load_workbook(path)
    book["Borough"]["E40"] = "0,5x"
    book.save(path)
    result = load_paths([path], settings)
    message = result.refused[0].message
    assert "line 40" in message
    assert "column 'Proportion'" in message
    assert "expect_column_values_to_match_regex" in message


# --- structural refusals --------------------------------------------------------------------


def rewrite(path: Path, target: Path, change: Callable[[list[list[str]]], None], sep: str = ","):
    """Copy a CSV through the csv module, letting ``change`` edit its rows first."""
    rows = raw_rows(path, sep)
    change(rows)
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=sep, lineterminator="\r\n").writerows(rows)
    target.write_text(buffer.getvalue(), encoding="utf-8")
    return target


def set_cell(line: int, column: int, value: str) -> Callable[[list[list[str]]], None]:
    def change(rows: list[list[str]]) -> None:
        rows[line - 1][column] = value

    return change


def test_file_mixing_day_month_orders_is_refused(settings, realdata: Path, tmp_path: Path):
    # the file is M/D/YYYY ("3/31/2015"); line 300 is rewritten as D/M/YYYY
    bad = rewrite(realdata / BOROUGH_CSV, tmp_path / "mixed.csv", set_cell(300, 0, "31/3/2015"))
    result = load_paths([bad], settings)
    message = result.refused[0].message
    assert repr(str(bad)) in message
    assert "line 300" in message
    assert "column 'Date'" in message
    assert "ambiguous" in message
    assert not settings.warehouse.exists()


def test_dates_that_never_show_a_day_over_12_are_refused(settings, tmp_path: Path) -> None:
    bad = tmp_path / "undecidable.csv"
    bad.write_text(
        "Date,Survey,Borough,Measure,Proportion,MPS\n"
        "3/6/2020,PAS,Camden,Trust MPS,0.7,0.7\n"
        "4/5/2020,PAS,Camden,Informed local,0.4,0.4\n"
    )
    message = load_paths([bad], settings).refused[0].message
    assert "line 2" in message
    assert "column 'Date'" in message
    assert "cannot tell D/M/YYYY from M/D/YYYY" in message


def test_file_mixing_decimal_marks_is_refused(settings, realdata: Path, tmp_path: Path):
    bad = rewrite(realdata / BOROUGH_CSV, tmp_path / "marks.csv", set_cell(120, 5, "0,67"))
    message = load_paths([bad], settings).refused[0].message
    assert "line 120" in message
    assert "column 'MPS'" in message
    assert "decimal commas and decimal points" in message


def test_unknown_neighbourhood_question_is_refused(settings, realdata: Path, tmp_path: Path):
    bad = rewrite(
        realdata / PERCEPTIONS, tmp_path / "2016-x.csv", set_cell(1, 5, "Do you own a cat?")
    )
    message = load_paths([bad], settings).refused[0].message
    assert "line 1" in message
    assert "column 'Do you own a cat?'" in message
    assert "not a known PAS question" in message


def test_neighbourhood_period_comes_from_option_or_name(
    settings, realdata: Path, tmp_path: Path
) -> None:
    renamed = tmp_path / "police perceptions.csv"
    renamed.write_bytes((realdata / PERCEPTIONS).read_bytes())
    refused = load_paths([renamed], settings)
    assert "which survey period" in refused.refused[0].message
    loaded = load_paths([renamed], settings, options={"period": "2016"})
    assert loaded.published
    periods = query(settings.warehouse, "select distinct period from marts.pas_neighbourhood")
    assert periods == [("2016",)]


# --- neighbourhood indicators ---------------------------------------------------------------


def neighbourhood_values(warehouse: Path, period: str) -> dict[tuple[str, str, str], float]:
    return {
        (n, m, g): p
        for n, m, g, p in query(
            warehouse,
            'select neighbourhood, measure_id, "group", percent from marts.pas_neighbourhood '
            "where period = ?",
            [period],
        )
    }


def test_2016_perceptions_match_raw_file(warehouse: Path, realdata: Path) -> None:
    rows = raw_rows(realdata / PERCEPTIONS)
    assert rows[0][21] == "Total Notifiable Offences rate"
    assert {r[21] for r in rows[2:]} == {"N/A"}
    expected = {
        (r[0], PERCEPTION_IDS[i - 3], "all"): float(r[i]) for r in rows[2:] for i in range(3, 21)
    }
    got = neighbourhood_values(warehouse, "2016")
    assert len(got) == 106 * 18
    assert got == expected
    # typed in from the file: Westminster - Central, good job 82, understand issues 88
    assert got[("Westminster - Central", "good_job_local", "all")] == 82
    assert got[("Westminster - Central", "understand_issues", "all")] == 88
    definitions = dict(
        query(
            warehouse,
            "select distinct measure_id, response_definition from marts.pas_neighbourhood "
            "where period = '2016' and measure_id in ('good_job_local', 'safe_after_dark')",
        )
    )
    assert definitions == {"good_job_local": "% Excellent or Good", "safe_after_dark": "% Safe"}


def test_ethnicity_indicators_match_raw_file_and_blanks_stay_missing(
    warehouse: Path, realdata: Path
) -> None:
    rows = raw_rows(realdata / ETHNICITY)
    groups = rows[1]
    expected = {
        (r[0], ETHNICITY_IDS[(i - 1) % 4], groups[i]): float(r[i]) if r[i] else None
        for r in rows[3:]
        for i in range(1, 13)
    }
    got = neighbourhood_values(warehouse, "2015-16 to 2020-21")
    assert len(got) == 112 * 12
    assert got == expected
    blank = [k for k, v in expected.items() if v is None]
    assert len(blank) == 14 * 12
    assert ("Westminster - ORB", "good_job_local", "Black") in blank
    zeros = query(warehouse, "select count(*) from marts.pas_neighbourhood where percent = 0")
    assert zeros == [(0,)]
    assert got[("Barking and Dagenham - Barking", "stop_search_fair", "Black")] == 67


def test_neighbourhoods_take_the_borough_of_their_name(warehouse: Path) -> None:
    codes = dict(
        query(
            warehouse,
            "select distinct neighbourhood, borough_code from marts.pas_neighbourhood "
            "where neighbourhood in ('Westminster - ORB', 'Richmond upon Thames - Teddington', "
            "'Bromley - South-West', 'Barking and Dagenham - Barking')",
        )
    )
    assert codes == {
        "Westminster - ORB": "E09000033",
        "Richmond upon Thames - Teddington": "E09000027",
        "Bromley - South-West": "E09000006",
        "Barking and Dagenham - Barking": "E09000002",
    }
    per_file = query(
        warehouse,
        "select period, count(distinct neighbourhood), count(distinct borough_code) "
        "from marts.pas_neighbourhood group by all order by period",
    )
    assert per_file == [("2015-16 to 2020-21", 112, 32), ("2016", 106, 32)]


# --- every staged expectation bites -------------------------------------------------------


Mutation = Callable[[list[list[str]]], None]


def append_copy(line: int) -> Mutation:
    def change(rows: list[list[str]]) -> None:
        rows.append(list(rows[line - 1]))

    return change


def keep(lines: int, change: Mutation) -> Mutation:
    """Cut the file to its header and ``lines - 1`` data lines, then apply ``change``."""

    def cut(rows: list[list[str]]) -> None:
        del rows[lines:]
        change(rows)

    return cut


# (id, expectation type, column it checks ("a,b" for a column list), mutation, line named,
# column named)
Case = tuple[str, str, str, Mutation, int, str]
BOROUGH_CASES: list[Case] = [
    (
        "text",
        "expect_column_values_to_match_regex",
        "proportion",
        set_cell(5, 4, "n/a"),
        5,
        "Proportion",
    ),
    (
        "over_one",
        "expect_column_values_to_be_between",
        "proportion_value",
        set_cell(6, 4, "1.5"),
        6,
        "Proportion",
    ),
    (
        "mps_text",
        "expect_column_values_to_match_regex",
        "london_proportion",
        set_cell(7, 5, "x"),
        7,
        "MPS",
    ),
    (
        "mps_negative",
        "expect_column_values_to_be_between",
        "london_value",
        set_cell(8, 5, "-0.2"),
        8,
        "MPS",
    ),
    (
        "no_such_day",
        "expect_column_values_to_not_be_null",
        "period_end",
        set_cell(9, 0, "2/30/2015"),
        9,
        "Date",
    ),
    (
        "mid_quarter",
        "expect_column_values_to_be_in_set",
        "period_mmdd",
        set_cell(10, 0, "12/15/2014"),
        10,
        "Date",
    ),
    (
        "future",
        "expect_column_values_to_be_between",
        "period_day_key",
        set_cell(11, 0, "12/31/2099"),
        11,
        "Date",
    ),
    (
        "unknown_borough",
        "expect_column_values_to_be_in_set",
        "borough_name",
        set_cell(12, 2, "Atlantis"),
        12,
        "Borough",
    ),
    (
        "unknown_measure",
        "expect_column_values_to_be_in_set",
        "measure_label",
        set_cell(13, 3, "Happiness"),
        13,
        "Measure",
    ),
    (
        "duplicate",
        "expect_compound_columns_to_be_unique",
        "period_day_key,borough_name,measure_label",
        append_copy(3),
        3,
        "Date",
    ),
]
LONDON_CASES: list[Case] = [
    (
        "text",
        "expect_column_values_to_match_regex",
        "proportion",
        set_cell(5, 4, "x"),
        5,
        "Proportion",
    ),
    (
        "over_one",
        "expect_column_values_to_be_between",
        "proportion_value",
        set_cell(6, 4, "1,5"),
        6,
        "Proportion",
    ),
    (
        "no_such_day",
        "expect_column_values_to_not_be_null",
        "period_end",
        set_cell(7, 0, "30/2/2015"),
        7,
        "Date",
    ),
    (
        "mid_quarter",
        "expect_column_values_to_be_in_set",
        "period_mmdd",
        set_cell(8, 0, "15/12/2014"),
        8,
        "Date",
    ),
    (
        "future",
        "expect_column_values_to_be_between",
        "period_day_key",
        set_cell(9, 0, "31/12/2099"),
        9,
        "Date",
    ),
    (
        "a_borough",
        "expect_column_values_to_be_in_set",
        "borough_published",
        set_cell(10, 2, "Barnet"),
        10,
        "Borough",
    ),
    (
        "unknown_measure",
        "expect_column_values_to_be_in_set",
        "measure_label",
        set_cell(11, 3, "Happiness"),
        11,
        "Measure",
    ),
    (
        "duplicate",
        "expect_compound_columns_to_be_unique",
        "period_day_key,measure_label",
        append_copy(4),
        4,
        "Date",
    ),
]
INDICATORS = "indicator columns D..U"
NEIGHBOURHOOD_CASES: list[Case] = [
    (
        "text",
        "expect_column_values_to_match_regex",
        "percent",
        set_cell(3, 3, "lots"),
        3,
        INDICATORS,
    ),
    (
        "over_100",
        "expect_column_values_to_be_between",
        "percent_value",
        set_cell(4, 5, "140"),
        4,
        INDICATORS,
    ),
    (
        "unknown_borough",
        "expect_column_values_to_be_in_set",
        "borough_name",
        set_cell(5, 0, "Atlantis - North"),
        5,
        "Neighbourhood",
    ),
    (
        "duplicate",
        "expect_compound_columns_to_be_unique",
        "neighbourhood,measure_id,group_name",
        append_copy(6),
        6,
        "Neighbourhood",
    ),
]


def test_cases_cover_every_staged_expectation() -> None:
    for cases, suite in (
        (BOROUGH_CASES, "stg_pas_borough"),
        (LONDON_CASES, "stg_pas_london"),
        (NEIGHBOURHOOD_CASES, "stg_pas_neighbourhood"),
    ):
        keys = suite_keys(suite)
        assert len(set(keys)) == len(keys)
        assert sorted((c[1], c[2]) for c in cases) == sorted(keys), suite


@pytest.mark.parametrize(
    ("expectation", "mutate", "line", "column"),
    [pytest.param(c[1], c[3], c[4], c[5], id=c[0]) for c in BOROUGH_CASES],
)
def test_borough_sheet_broken_on_one_expectation_is_refused(
    settings, live: Path, realdata: Path, tmp_path: Path, expectation, mutate, line, column
) -> None:
    bad = rewrite(realdata / BOROUGH_CSV, tmp_path / "borough.csv", keep(300, mutate))
    assert_refused(settings, bad, expectation, line, column)


@pytest.mark.parametrize(
    ("expectation", "mutate", "line", "column"),
    [pytest.param(c[1], c[3], c[4], c[5], id=c[0]) for c in LONDON_CASES],
)
def test_london_series_broken_on_one_expectation_is_refused(
    settings, live: Path, realdata: Path, tmp_path: Path, expectation, mutate, line, column
) -> None:
    bad = rewrite(realdata / LONDON_CSV, tmp_path / "london.csv", mutate, sep=";")
    assert_refused(settings, bad, expectation, line, column)


@pytest.mark.parametrize(
    ("expectation", "mutate", "line", "column"),
    [pytest.param(c[1], c[3], c[4], c[5], id=c[0]) for c in NEIGHBOURHOOD_CASES],
)
def test_neighbourhood_file_broken_on_one_expectation_is_refused(
    settings, live: Path, realdata: Path, tmp_path: Path, expectation, mutate, line, column
) -> None:
    bad = rewrite(realdata / PERCEPTIONS, tmp_path / "2016-perceptions.csv", mutate)
    assert_refused(settings, bad, expectation, line, column)


# --- every mart expectation bites -----------------------------------------------------------


@pytest.fixture(scope="module")
def mart_frames(warehouse: Path) -> dict[str, pd.DataFrame]:
    return mart_frames_in(warehouse, PAS_MART_SUITES)


@pytest.mark.parametrize(("suite", "index"), mart_cases(PAS_MART_SUITES, column_in_id=True))
def test_mart_suite_fails_on_broken_copy(mart_frames, suite: str, index: int) -> None:
    assert_fails_on_broken_copy(
        mart_frames[suite], suite, index, min_rows=101, extra_column="unexpected"
    )
