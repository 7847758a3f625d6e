"""MPS homicides, Home Office use of force (CSV and ODS) and the MPS measure extract.

Figures are reconciled against counts computed from the published files with the csv module
(never the project's parsers). Every expectation of the three staged suites is shown to refuse
a real file (or the documented example extract) broken to violate exactly that expectation,
naming file, line and column and leaving the live warehouse byte-identical; every mart
expectation is shown to fail on a broken copy of a real mart.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from pipelines.build import load_paths
from tests.helpers.gx import (
    assert_fails_on_broken_copy,
    assert_refused,
    mart_cases,
    mart_frames_in,
    settings_in,
    suite_spec,
)
from tests.helpers.rawcsv import read_rows

pytestmark = pytest.mark.realdata

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "docs" / "examples" / "mps_measure_extract_example.csv"
HOMICIDE = "mps_homicide/Homicides_2003_2023.csv"
TACTICS = "home_office_use_of_force/by-ethnicity-force__april2019-march2020.csv"
INCIDENTS = "home_office_use_of_force/incidents__april2019-march2020.csv"
ODS = "home_office_use_of_force/police-use-of-force-apr2019-mar2020-hosb3720-tables.ods"
# The published warehouse each refusal test copies as its live one.
LIVE_FILE = INCIDENTS
MARTS = (
    "marts.homicide_monthly",
    "marts.homicide_victims",
    "marts.measure_extract",
    "marts.use_of_force_incidents",
    "marts.use_of_force_tactics",
)
GROUPS = (
    "White",
    "Black (or Black British)",
    "Asian (or Asian British)",
    "Mixed",
    "Other",
    "Not reported",
)


def query(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def scalar(warehouse: Path, sql: str, params: list | None = None):
    return query(warehouse, sql, params)[0][0]


@pytest.fixture(scope="module")
def warehouse(realdata: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse holding the homicide file, both use-of-force CSVs and the example extract."""
    settings = settings_in(tmp_path_factory.mktemp("csv_wh"))
    paths = [realdata / HOMICIDE, realdata / TACTICS, realdata / INCIDENTS, EXAMPLE]
    result = load_paths(paths, settings)
    assert result.published, [o.message for o in result.refused]
    return settings.warehouse


@pytest.fixture(scope="module")
def ods_warehouse(realdata: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse holding only the original ODS data tables."""
    settings = settings_in(tmp_path_factory.mktemp("ods_wh"))
    result = load_paths([realdata / ODS], settings)
    assert result.published, [o.message for o in result.refused]
    return settings.warehouse


# --- homicide --------------------------------------------------------------------------------


def raw_homicides(realdata: Path) -> list[dict[str, str]]:
    header, rows = read_rows(realdata / HOMICIDE)
    return [dict(zip(header, row, strict=True)) for row in rows]


def test_homicide_total_victims(warehouse: Path, realdata: Path) -> None:
    raw = sum(int(r["Count of Victims"]) for r in raw_homicides(realdata))
    assert raw == 2912
    assert scalar(warehouse, "select sum(victims) from marts.homicide_victims") == raw
    assert scalar(warehouse, "select sum(victims) from marts.homicide_monthly") == raw


@pytest.mark.parametrize("year", [2003, 2010, 2017, 2019, 2023])
def test_homicide_victims_per_year(warehouse: Path, realdata: Path, year: int) -> None:
    suffix = f"-{year % 100:02d}"
    raw = sum(
        int(r["Count of Victims"])
        for r in raw_homicides(realdata)
        if r["Recorded Date"].endswith(suffix)
    )
    for mart in ("homicide_victims", "homicide_monthly"):
        got = scalar(
            warehouse, f"select sum(victims) from marts.{mart} where year(month) = ?", [year]
        )
        assert got == raw, (mart, year)


@pytest.mark.parametrize(
    ("spellings", "code", "name"),
    [
        (("Lambeth",), "E09000022", "Lambeth"),
        (("Barking & Dagenham",), "E09000002", "Barking and Dagenham"),
        (("Hammersmith & Fulham",), "E09000013", "Hammersmith and Fulham"),
        (("Brent", "Brent "), "E09000005", "Brent"),
        (("Ealing ",), "E09000009", "Ealing"),
        (("Kingston Upon Thames",), "E09000021", "Kingston upon Thames"),
        (("Richmond Upon Thames",), "E09000027", "Richmond upon Thames"),
    ],
)
def test_homicide_victims_per_borough(
    warehouse: Path, realdata: Path, spellings: tuple[str, ...], code: str, name: str
) -> None:
    raw = sum(
        int(r["Count of Victims"]) for r in raw_homicides(realdata) if r["Borough"] in spellings
    )
    assert raw > 0
    rows = query(
        warehouse,
        "select borough_name, bool_and(is_borough), sum(victims) from marts.homicide_victims "
        "where borough_code = ? group by borough_name",
        [code],
    )
    assert rows == [(name, True, raw)]
    monthly = scalar(
        warehouse, "select sum(victims) from marts.homicide_monthly where borough_code = ?", [code]
    )
    assert monthly == raw


def test_heathrow_is_kept_as_a_flagged_pseudo_borough(warehouse: Path, realdata: Path) -> None:
    raw = [r for r in raw_homicides(realdata) if r["Borough"].strip() == "Heathrow"]
    assert [r["Borough"] for r in raw] == ["Heathrow "]
    rows = query(
        warehouse,
        "select month, borough_code, borough_name, borough_name_published, is_borough, victims "
        "from marts.homicide_victims where not is_borough",
    )
    assert rows == [(pd.Timestamp("2010-10-01").date(), None, "Heathrow", "Heathrow", False, 1)]
    assert raw[0]["Recorded Date"] == "Oct-10"
    monthly = query(
        warehouse,
        "select borough_code, borough_name, is_borough, victims from marts.homicide_monthly "
        "where not is_borough",
    )
    assert monthly == [(None, "Heathrow", False, 1)]


def test_homicide_monthly_is_zero_filled(warehouse: Path, realdata: Path) -> None:
    months = {r["Recorded Date"] for r in raw_homicides(realdata)}
    assert len(months) == 252
    counts = query(
        warehouse,
        "select count(distinct month), count(distinct borough_code), count(*) filter "
        "(where is_borough), count(*) filter (where is_borough and victims = 0) "
        "from marts.homicide_monthly",
    )[0]
    assert counts[:3] == (252, 32, 252 * 32)
    assert counts[3] > 0
    by_month = Counter(r["Recorded Date"] for r in raw_homicides(realdata))
    got = scalar(
        warehouse,
        "select sum(victims) from marts.homicide_monthly where month = date '2008-07-01'",
    )
    assert got == by_month["Jul-08"]


def test_homicide_age_group_typo_is_tidied(warehouse: Path, realdata: Path) -> None:
    raw = sum(1 for r in raw_homicides(realdata) if r["Age Group"] == "13 to19")
    got = scalar(
        warehouse, "select count(*) from marts.homicide_victims where age_group = '13 to 19'"
    )
    assert got == raw == 396


# --- use of force ----------------------------------------------------------------------------


def raw_tactics(realdata: Path, force: str) -> dict[str, dict[str, str]]:
    header, rows = read_rows(realdata / TACTICS)
    return {r[2]: dict(zip(header, r, strict=True)) for r in rows if r[0] == force}


def test_met_tactics_match_the_published_rows(warehouse: Path, realdata: Path) -> None:
    raw = raw_tactics(realdata, "Metropolitan")
    assert len(raw) == 38
    got = {
        (tactic, group): tactics
        for tactic, group, tactics in query(
            warehouse,
            "select tactic, ethnic_group, tactics from marts.use_of_force_tactics "
            "where force = 'Metropolitan'",
        )
    }
    assert len(got) == 38 * 7
    for tactic, row in raw.items():
        for group in GROUPS:
            assert got[(tactic, group)] == int(float(row[group])), (tactic, group)
        assert got[(tactic, "All")] == int(float(row["Number of times tactic reported"]))
    assert got[("*Total Tactics", "All")] == 205135


def test_met_detail_rows_sum_to_published_subtotals(warehouse: Path, realdata: Path) -> None:
    """Detail rows (is_subtotal false) add up to each published "*Total <type>" row."""
    detail = query(
        warehouse,
        "select type_of_force, ethnic_group, sum(tactics) from marts.use_of_force_tactics "
        "where force = 'Metropolitan' and not is_subtotal group by all",
    )
    subtotal = {
        (t, g): v
        for t, g, v in query(
            warehouse,
            "select type_of_force, ethnic_group, tactics from marts.use_of_force_tactics "
            "where force = 'Metropolitan' and tactic_level = 'type_total'",
        )
    }
    checked = {t for t, _, _ in detail if t != "Tactical communication"}
    assert checked == {"Restraint", "Other equipment", "Less lethal weapons", "Other"}
    for type_of_force, group, total in detail:
        if type_of_force != "Tactical communication":
            assert total == subtotal[(type_of_force, group)], (type_of_force, group)
    raw = raw_tactics(realdata, "Metropolitan")
    assert subtotal[("Restraint", "Black (or Black British)")] == int(
        float(raw["*Total Restraint"]["Black (or Black British)"])
    )
    # the six groups of the detail rows add up to the published all-groups total
    by_type = query(
        warehouse,
        "select type_of_force, sum(tactics) from marts.use_of_force_tactics "
        "where force = 'Metropolitan' and not is_subtotal group by all",
    )
    for type_of_force, total in by_type:
        if type_of_force != "Tactical communication":
            assert total == subtotal[(type_of_force, "All")]


def test_met_total_tactics_is_the_sum_of_type_totals(warehouse: Path, realdata: Path) -> None:
    raw = raw_tactics(realdata, "Metropolitan")
    types = [
        int(float(row["Number of times tactic reported"]))
        for tactic, row in raw.items()
        if tactic.startswith("*Total ") and tactic not in ("*Total Tactics", "*Total Not reported")
    ]
    assert sum(types) == int(float(raw["*Total Tactics"]["Number of times tactic reported"]))
    got = scalar(
        warehouse,
        "select sum(tactics) from marts.use_of_force_tactics where force = 'Metropolitan' "
        "and tactic_level = 'type_total' and ethnic_group = 'All' "
        "and type_of_force not in ('Not reported', 'Tactical communication')",
    )
    assert got == sum(types) == 205135
    # adding subtotal rows to detail rows would overcount: the flag is what prevents it
    everything = scalar(
        warehouse,
        "select sum(tactics) from marts.use_of_force_tactics where force = 'Metropolitan'",
    )
    assert everything > 4 * got


def test_not_available_figures_are_null(warehouse: Path, realdata: Path) -> None:
    header, rows = read_rows(realdata / TACTICS)
    blanks = sum(1 for r in rows for v in r[3:] if v == "")
    assert blanks == 264
    got = scalar(
        warehouse, "select count(*) from marts.use_of_force_tactics where tactics is null"
    )
    assert got == blanks


def test_met_incidents(warehouse: Path, realdata: Path) -> None:
    _, rows = read_rows(realdata / INCIDENTS)
    raw = {r[1].strip(): int(float(r[2])) for r in rows}
    assert raw["Metropolitan"] == 157705
    got = dict(
        query(
            warehouse,
            "select force, incidents from marts.use_of_force_incidents where region = 'London'",
        )
    )
    assert got == {"Total London": 160656, "City of London": 2951, "Metropolitan": 157705}
    assert got["Metropolitan"] == raw["Metropolitan"]
    details = scalar(
        warehouse,
        "select sum(incidents) from marts.use_of_force_incidents where not is_total",
    )
    assert details == raw["Total England and Wales"] == 491984
    totals = query(
        warehouse, "select force from marts.use_of_force_incidents where is_total order by 1"
    )
    assert len(totals) == 11
    assert all(not f.endswith(" ") for (f,) in totals)


def mart_rows(warehouse: Path, mart: str) -> list[tuple]:
    columns = [
        r[0] for r in query(warehouse, f"describe marts.{mart}") if r[0] not in ("source_file_id",)
    ]
    return sorted(query(warehouse, f"select {', '.join(columns)} from marts.{mart}"), key=repr)


@pytest.mark.parametrize("mart", ["use_of_force_tactics", "use_of_force_incidents"])
def test_ods_and_csv_agree(warehouse: Path, ods_warehouse: Path, mart: str) -> None:
    from_csv, from_ods = mart_rows(warehouse, mart), mart_rows(ods_warehouse, mart)
    assert len(from_ods) == len(from_csv) > 0
    assert from_ods == from_csv


def test_ods_year_comes_from_its_titles(ods_warehouse: Path) -> None:
    assert query(
        ods_warehouse, "select distinct financial_year from marts.use_of_force_tactics"
    ) == [("2019/20",)]
    assert query(ods_warehouse, "select source, vintage from marts.loads") == [
        ("home_office_uof_tables_ods", "2019/20")
    ]


def test_ods_after_csv_replaces_the_year_without_duplicates(
    settings, realdata: Path, tmp_path: Path
) -> None:
    renamed = tmp_path / "tables.ods"
    renamed.write_bytes((realdata / ODS).read_bytes())
    assert load_paths([realdata / TACTICS, realdata / INCIDENTS], settings).published
    assert load_paths([renamed], settings).published
    sources = query(
        settings.warehouse,
        "select distinct l.source from marts.use_of_force_tactics t "
        "join marts.loads l using (source_file_id)",
    )
    assert sources == [("home_office_uof_tables_ods",)]
    assert scalar(settings.warehouse, "select count(*) from marts.use_of_force_tactics") == (
        1672 * 7
    )
    assert scalar(settings.warehouse, "select count(*) from marts.use_of_force_incidents") == 54


def test_renamed_csv_needs_the_period(settings, realdata: Path, tmp_path: Path) -> None:
    renamed = tmp_path / "incidents.csv"
    renamed.write_bytes((realdata / INCIDENTS).read_bytes())
    result = load_paths([renamed], settings)
    assert [o.status for o in result.outcomes] == ["refused"]
    assert "period" in result.refused[0].message
    result = load_paths([renamed], settings, {"period": "2019-20"})
    assert result.published
    assert query(
        settings.warehouse, "select distinct financial_year from marts.use_of_force_incidents"
    ) == [("2019/20",)]


def test_ods_year_comes_from_its_titles_whatever_the_period_option(
    settings, realdata: Path, caplog: pytest.LogCaptureFixture
) -> None:
    result = load_paths([realdata / ODS], settings, {"period": "2020/21"})
    assert result.published
    years = query(
        settings.warehouse, "select distinct financial_year from marts.use_of_force_incidents"
    )
    assert years == [("2019/20",)]
    assert "not used" in caplog.text


# --- measure extract -------------------------------------------------------------------------


def test_measure_extract_example_loads(warehouse: Path) -> None:
    _, rows = read_rows(EXAMPLE)
    assert scalar(warehouse, "select count(*) from marts.measure_extract") == len(rows) == 22
    got = query(
        warehouse,
        "select value, numerator, denominator, unit, cast(period_end as varchar) "
        "from marts.measure_extract where measure_id = 'i_grade_attended_15min' "
        "and geography_code = 'E09000022' and period_start = date '2024-02-01'",
    )
    assert got == [(0.6947, 1320.0, 1900.0, "proportion", "2024-02-29")]
    assert query(warehouse, "select distinct source from marts.measure_extract") == [
        ("ILLUSTRATIVE EXAMPLE - values not real",)
    ]
    vintage = query(
        warehouse, "select vintage from marts.loads where source = 'mps_measure_extract'"
    )
    assert vintage == [("2024-03-31",)]


# --- staged suites: each expectation refuses a file broken on it -----------------------------


def read_csv_rows(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8-sig") as f:
        return list(csv.reader(f))


def write_csv_rows(rows: list[list[str]], terminator: str) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator=terminator).writerows(rows)
    return out.getvalue()


def set_cell(line: int, column: int, value: str) -> Callable[[list[list[str]]], list[list[str]]]:
    def mutate(rows: list[list[str]]) -> list[list[str]]:
        out = [list(r) for r in rows]
        out[line - 1][column] = value
        return out

    return mutate


def duplicate(line: int) -> Callable[[list[list[str]]], list[list[str]]]:
    return lambda rows: [*rows, list(rows[line - 1])]


# (id, file, expectation type, mutation, line named, column named)
CASES = [
    # homicide: 0 Count of Victims, 1 Age Group, 2 Sex, 3 Method, 4 Domestic Abuse,
    # 5 Recorded Date, 6 Offence Type, 7 Solved Status, 8 Borough, 9 Ethnicity
    (
        "homicide-victims",
        HOMICIDE,
        "expect_column_values_to_match_regex",
        set_cell(10, 0, "0"),
        10,
        "Count of Victims",
    ),
    (
        "homicide-date_format",
        HOMICIDE,
        "expect_column_values_to_match_regex",
        set_cell(11, 5, "2003-01"),
        11,
        "Recorded Date",
    ),
    (
        "homicide-date_range",
        HOMICIDE,
        "expect_column_values_to_be_between",
        set_cell(12, 5, "Jan-99"),
        12,
        "Recorded Date",
    ),
    (
        "homicide-borough",
        HOMICIDE,
        "expect_column_values_to_be_in_set",
        set_cell(13, 8, "Atlantis"),
        13,
        "Borough",
    ),
    (
        "homicide-age",
        HOMICIDE,
        "expect_column_values_to_be_in_set",
        set_cell(14, 1, "100 to 110"),
        14,
        "Age Group",
    ),
    (
        "homicide-sex",
        HOMICIDE,
        "expect_column_values_to_be_in_set",
        set_cell(15, 2, "Unknown"),
        15,
        "Sex",
    ),
    (
        "homicide-method",
        HOMICIDE,
        "expect_column_values_to_be_in_set",
        set_cell(16, 3, "Poison"),
        16,
        "Method of Killing",
    ),
    (
        "homicide-domestic",
        HOMICIDE,
        "expect_column_values_to_be_in_set",
        set_cell(17, 4, "Maybe"),
        17,
        "Domestic Abuse",
    ),
    (
        "homicide-offence",
        HOMICIDE,
        "expect_column_values_to_be_in_set",
        set_cell(18, 6, "Theft"),
        18,
        "Homicide Offence Type",
    ),
    (
        "homicide-solved",
        HOMICIDE,
        "expect_column_values_to_be_in_set",
        set_cell(19, 7, "Pending"),
        19,
        "Solved Status",
    ),
    (
        "homicide-ethnicity",
        HOMICIDE,
        "expect_column_values_to_be_in_set",
        set_cell(20, 9, "Martian"),
        20,
        "Officer Observed Ethnicity",
    ),
    # use of force, tactics CSV: 0 Police Force, 1 Type of force, 2 Tactic, 3-8 groups, 9 total
    (
        "uof-force",
        TACTICS,
        "expect_column_value_lengths_to_be_between",
        set_cell(5, 0, ""),
        5,
        "Police Force",
    ),
    (
        "uof-region",
        INCIDENTS,
        "expect_column_value_lengths_to_be_between",
        set_cell(4, 0, ""),
        4,
        "Region",
    ),
    (
        "uof-type",
        TACTICS,
        "expect_column_values_to_be_in_set",
        set_cell(6, 1, "Telepathy"),
        6,
        "Type of force",
    ),
    (
        "uof-tactic",
        TACTICS,
        "expect_column_value_lengths_to_be_between",
        set_cell(7, 2, ""),
        7,
        "Tactic",
    ),
    (
        "uof-white",
        TACTICS,
        "expect_column_values_to_match_regex",
        set_cell(8, 3, "-5"),
        8,
        "White",
    ),
    (
        "uof-black",
        TACTICS,
        "expect_column_values_to_match_regex",
        set_cell(9, 4, "n/a"),
        9,
        "Black (or Black British)",
    ),
    (
        "uof-asian",
        TACTICS,
        "expect_column_values_to_match_regex",
        set_cell(10, 5, "1.5"),
        10,
        "Asian (or Asian British)",
    ),
    (
        "uof-mixed",
        TACTICS,
        "expect_column_values_to_match_regex",
        set_cell(11, 6, "abc"),
        11,
        "Mixed",
    ),
    (
        "uof-other",
        TACTICS,
        "expect_column_values_to_match_regex",
        set_cell(12, 7, "x"),
        12,
        "Other",
    ),
    (
        "uof-not_reported",
        TACTICS,
        "expect_column_values_to_match_regex",
        set_cell(13, 8, "-1"),
        13,
        "Not reported",
    ),
    (
        "uof-total",
        TACTICS,
        "expect_column_values_to_match_regex",
        set_cell(14, 9, "2.5e3"),
        14,
        "Number of times tactic reported",
    ),
    (
        "uof-incidents",
        INCIDENTS,
        "expect_column_values_to_match_regex",
        set_cell(5, 2, ""),
        5,
        "Total",
    ),
    (
        "uof-duplicate",
        TACTICS,
        "expect_compound_columns_to_be_unique",
        duplicate(20),
        20,
        "Police Force",
    ),
    # measure extract: 0 measure_id, 1 period_start, 2 period_end, 3 geography_code, 4 value,
    # 5 numerator, 6 denominator, 7 unit, 8 source
    (
        "extract-measure_id",
        EXAMPLE,
        "expect_column_values_to_match_regex",
        set_cell(2, 0, "Emergency Calls"),
        2,
        "measure_id",
    ),
    (
        "extract-start_format",
        EXAMPLE,
        "expect_column_values_to_match_regex",
        set_cell(3, 1, "2024-2-01"),
        3,
        "period_start",
    ),
    (
        "extract-start_date",
        EXAMPLE,
        "expect_column_values_to_match_strftime_format",
        set_cell(4, 1, "2024-03-32"),
        4,
        "period_start",
    ),
    (
        "extract-end_format",
        EXAMPLE,
        "expect_column_values_to_match_regex",
        set_cell(5, 2, "2024-1-31"),
        5,
        "period_end",
    ),
    (
        "extract-end_date",
        EXAMPLE,
        "expect_column_values_to_match_strftime_format",
        set_cell(6, 2, "2024-02-30"),
        6,
        "period_end",
    ),
    (
        "extract-end_before_start",
        EXAMPLE,
        "expect_column_values_to_be_between",
        set_cell(7, 2, "2024-02-15"),
        7,
        "period_end",
    ),
    (
        "extract-future",
        EXAMPLE,
        "expect_column_values_to_be_between",
        set_cell(8, 2, "2099-01-31"),
        8,
        "period_end",
    ),
    (
        "extract-geography",
        EXAMPLE,
        "expect_column_values_to_be_in_set",
        set_cell(9, 3, "E09000001"),
        9,
        "geography_code",
    ),
    (
        "extract-value",
        EXAMPLE,
        "expect_column_values_to_match_regex",
        set_cell(10, 4, "0,69"),
        10,
        "value",
    ),
    (
        "extract-numerator",
        EXAMPLE,
        "expect_column_values_to_match_regex",
        set_cell(11, 5, "-5"),
        11,
        "numerator",
    ),
    (
        "extract-denominator",
        EXAMPLE,
        "expect_column_values_to_match_regex",
        set_cell(12, 6, "abc"),
        12,
        "denominator",
    ),
    (
        "extract-denominator_zero",
        EXAMPLE,
        "expect_column_values_to_be_between",
        set_cell(13, 6, "0"),
        13,
        "denominator",
    ),
    (
        "extract-unit",
        EXAMPLE,
        "expect_column_values_to_be_in_set",
        set_cell(14, 7, "percentage"),
        14,
        "unit",
    ),
    (
        "extract-proportion",
        EXAMPLE,
        "expect_column_values_to_be_between",
        set_cell(15, 4, "1.5"),
        15,
        "value",
    ),
    (
        "extract-percent",
        EXAMPLE,
        "expect_column_values_to_be_between",
        set_cell(20, 4, "166.0"),
        20,
        "value",
    ),
    (
        "extract-source",
        EXAMPLE,
        "expect_column_value_lengths_to_be_between",
        set_cell(16, 8, ""),
        16,
        "source",
    ),
    (
        "extract-duplicate",
        EXAMPLE,
        "expect_compound_columns_to_be_unique",
        duplicate(17),
        17,
        "measure_id",
    ),
]
SUITE_OF = {
    HOMICIDE: "stg_mps_homicide",
    TACTICS: "stg_home_office_use_of_force",
    INCIDENTS: "stg_home_office_use_of_force",
    EXAMPLE: "stg_mps_measure_extract",
}


def test_cases_cover_every_staged_expectation() -> None:
    """One case per expectation: same count and the same (type, column) pairs per suite."""
    for suite in sorted(set(SUITE_OF.values())):
        spec = suite_spec(suite)
        cases = [c for c in CASES if SUITE_OF[c[1]] == suite]
        assert len(cases) == len(spec), suite
        assert Counter(c[2] for c in cases) == Counter(e["type"] for e in spec), suite


@pytest.mark.parametrize(
    ("relpath", "expectation", "mutate", "line", "column"),
    [pytest.param(*c[1:], id=c[0]) for c in CASES],
)
def test_file_broken_on_one_expectation_is_refused(
    settings,
    live: Path,
    realdata: Path,
    tmp_path: Path,
    relpath,
    expectation,
    mutate,
    line,
    column,
) -> None:
    source = relpath if isinstance(relpath, Path) else realdata / relpath
    original = source.read_bytes()
    terminator = "\r\n" if b"\r\n" in original[:4096] else "\n"
    # keep the published name: the use-of-force CSVs take their year from it
    bad = tmp_path / "bad" / source.name
    bad.parent.mkdir()
    bad.write_text(write_csv_rows(mutate(read_csv_rows(source)), terminator), encoding="utf-8")
    assert_refused(settings, bad, expectation, line, column)


def test_unbroken_copies_load(settings, realdata: Path, tmp_path: Path) -> None:
    """The rewrite the mutations go through changes nothing by itself."""
    paths = []
    for relpath in (HOMICIDE, TACTICS, INCIDENTS):
        source = realdata / relpath
        copy = tmp_path / source.name
        terminator = "\r\n" if b"\r\n" in source.read_bytes()[:4096] else "\n"
        copy.write_text(write_csv_rows(read_csv_rows(source), terminator), encoding="utf-8")
        assert copy.read_bytes() == source.read_bytes(), relpath
        paths.append(copy)
    assert load_paths([*paths, EXAMPLE], settings).published


def test_ods_broken_cell_is_refused_naming_sheet_row_and_column(
    settings, live: Path, realdata: Path, tmp_path: Path
) -> None:
    """A negative count in the ODS (the Met's White "*Total Tactics") names sheet, row, column."""
    source = zipfile.ZipFile(realdata / ODS)
    bad = tmp_path / "tables.ods"
    with zipfile.ZipFile(bad, "w") as out:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "content.xml":
                cell = b'office:value-type="float" office:value="87840"'
                assert data.count(cell) == 1
                data = data.replace(cell, b'office:value-type="float" office:value="-87840"')
            compress = zipfile.ZIP_STORED if info.filename == "mimetype" else zipfile.ZIP_DEFLATED
            out.writestr(info.filename, data, compress_type=compress)
    assert_refused(settings, bad, "expect_column_values_to_match_regex", 956, "Table_16: White")


# --- mart suites: each expectation fails on a broken copy ------------------------------------


@pytest.fixture(scope="module")
def mart_frames(warehouse: Path) -> dict[str, pd.DataFrame]:
    return mart_frames_in(warehouse, MARTS)


@pytest.mark.parametrize(("suite", "index"), mart_cases(MARTS))
def test_mart_suite_fails_on_broken_copy(
    mart_frames: dict[str, pd.DataFrame], suite: str, index: int
) -> None:
    assert_fails_on_broken_copy(mart_frames[suite], suite, index)
