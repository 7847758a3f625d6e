"""police.uk street crime, outcomes and stop and search: real files in, figures out, refusals.

Every expected figure is computed from the published files with the csv, gzip and zoneinfo
modules only (or typed in from ../shared/realdata/SOURCES.md), never with the project's
parser. Every expectation of the three staged suites is shown to refuse a real file broken to
violate it alone, naming the file, line and column and leaving the live warehouse byte-identical;
every police.uk mart suite is shown to fail on a broken copy of its real mart.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import hashlib
import io
import zipfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
import pytest

from oversight.settings import get_settings
from pipelines.build import load_paths
from pipelines.validate import validate_frame
from tests.conftest import TODAY, sha256_of
from tests.helpers.gx import (
    EXPECTATIONS,
    assert_fails_on_broken_copy,
    assert_refused,
    mart_cases,
    mart_frames_in,
    mart_parameters,
    suite_spec,
)

pytestmark = pytest.mark.realdata

STOP = "police_uk/met_stop_and_search"
CITY = "police_uk/city_of_london_street"
MET_STREET = "police_uk/met_street_burglary_only"
MET_OUTCOMES = "police_uk/met_outcomes_burglary_only"
# Stop-and-search months loaded for reconciliation: GMT and BST months, both clock changes
# (2023-03, 2023-10) and the one uncompressed file.
STOP_MONTHS = ("2016-06", "2023-03", "2023-07", "2023-10", "2023-11", "2023-12", "2024-08")
FORCE_OF = {
    "City of London Police": "city-of-london",
    "Metropolitan Police Service": "metropolitan",
}
LONDON = ZoneInfo("Europe/London")
POLICE_MARTS = (
    "marts.crime_outcomes",
    "marts.police_uk_files",
    "marts.stop_search",
    "marts.stop_search_monthly",
    "marts.street_crime",
)


def stop_file(realdata: Path, month: str) -> Path:
    name = f"{month}-metropolitan-stop-and-search.csv"
    plain = realdata / STOP / name
    return plain if plain.exists() else plain.with_name(name + ".gz")


def published_bytes(path: Path) -> bytes:
    """A published file's bytes (gunzipped for .gz, as the loader sees them)."""
    data = path.read_bytes()
    return gzip.decompress(data) if path.suffix == ".gz" else data


def raw_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    """Header and data rows of a published CSV, read with the csv module."""
    reader = csv.reader(io.StringIO(published_bytes(path).decode("utf-8-sig"), newline=""))
    header = next(reader)
    return header, list(reader)


def raw_dicts(path: Path) -> list[dict[str, str]]:
    header, rows = raw_rows(path)
    return [dict(zip(header, row, strict=True)) for row in rows]


def file_id(path: Path) -> str:
    return hashlib.sha256(published_bytes(path)).hexdigest()[:16]


def london_month(text: str) -> dt.date:
    """The Europe/London month of an ISO-8601 time with offset, by the standard library."""
    local = dt.datetime.fromisoformat(text).astimezone(LONDON)
    return dt.date(local.year, local.month, 1)


def month_of(text: str) -> dt.date:
    return dt.date(int(text[:4]), int(text[5:7]), 1)


def rows_of(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def scalar(warehouse: Path, sql: str, params: list | None = None):
    return rows_of(warehouse, sql, params)[0][0]


def settings_for(path: Path):
    return get_settings().with_warehouse(path).with_today(TODAY)


@pytest.fixture(scope="module")
def warehouse(realdata: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every City and Met street and outcomes file, and seven Met stop-and-search months."""
    path = tmp_path_factory.mktemp("police") / "oversight.duckdb"
    paths = [
        realdata / CITY,
        realdata / MET_STREET,
        realdata / MET_OUTCOMES,
        *(stop_file(realdata, m) for m in STOP_MONTHS),
    ]
    result = load_paths(paths, settings_for(path))
    assert result.ok, [o.message for o in result.refused]
    assert result.published
    return path


# --- stop and search -------------------------------------------------------------------------


def test_published_row_counts_typed_in_from_sources(warehouse: Path, realdata: Path) -> None:
    for path, rows in (
        (stop_file(realdata, "2016-06"), 10490),
        (stop_file(realdata, "2023-12"), 9086),
        (realdata / CITY / "2023-01-city-of-london-street.csv", 719),
        (realdata / MET_STREET / "2024-01-metropolitan-street.csv.gz", 5082),
        (realdata / MET_OUTCOMES / "2024-08-metropolitan-outcomes.csv.gz", 1868),
    ):
        assert len(raw_rows(path)[1]) == rows
        assert (
            scalar(
                warehouse, "select rows from marts.loads where source_file_id = ?", [file_id(path)]
            )
            == rows
        )


@pytest.mark.parametrize("month", STOP_MONTHS)
def test_stop_search_counts_by_london_month_and_outcome_match_raw(
    warehouse: Path, realdata: Path, month: str
) -> None:
    path = stop_file(realdata, month)
    rows = raw_dicts(path)
    by_month = Counter(london_month(r["Date"]) for r in rows)
    by_outcome = Counter(r["Outcome"] or None for r in rows)
    fid = file_id(path)
    got_month = dict(
        rows_of(
            warehouse,
            "select month, count(*) from marts.stop_search where source_file_id = ? "
            "group by month",
            [fid],
        )
    )
    got_outcome = dict(
        rows_of(
            warehouse,
            "select outcome, count(*) from marts.stop_search where source_file_id = ? "
            "group by outcome",
            [fid],
        )
    )
    assert got_month == dict(by_month)
    assert got_outcome == dict(by_outcome)
    assert scalar(
        warehouse,
        "select count(*) from marts.stop_search where source_file_id = ? and file_month = ? "
        "and force = 'metropolitan'",
        [fid, month_of(month)],
    ) == len(rows)


def test_stop_search_monthly_adds_up_to_every_published_search(
    warehouse: Path, realdata: Path
) -> None:
    expected: Counter = Counter()
    for month in STOP_MONTHS:
        for r in raw_dicts(stop_file(realdata, month)):
            expected[(london_month(r["Date"]), r["Type"], r["Outcome"] or None)] += 1
    got = {
        (m, t, o): n
        for m, t, o, n in rows_of(
            warehouse,
            "select month, type, outcome, searches from marts.stop_search_monthly "
            "where force = 'metropolitan'",
        )
    }
    assert got == dict(expected)
    assert sum(got.values()) == 78_460


@pytest.mark.parametrize(
    ("month", "prefix", "london"),
    [
        # BST: 23:xx UTC on the last day of June is after midnight in London, so July.
        ("2023-07", "2023-06-30T23:", dt.date(2023, 7, 1)),
        ("2016-06", "2016-05-31T23:", dt.date(2016, 6, 1)),
        ("2024-08", "2024-07-31T23:", dt.date(2024, 8, 1)),
        # GMT: 23:xx UTC on the last day of the month is still that month in London.
        ("2023-12", "2023-12-31T23:", dt.date(2023, 12, 1)),
        ("2023-11", "2023-11-30T23:", dt.date(2023, 11, 1)),
    ],
)
def test_searches_near_midnight_utc_take_the_london_month(
    warehouse: Path, realdata: Path, month: str, prefix: str, london: dt.date
) -> None:
    dates = [r["Date"] for r in raw_dicts(stop_file(realdata, month))]
    near = [d for d in dates if d.startswith(prefix)]
    assert len(near) >= 3
    assert {london_month(d) for d in near} == {london}
    start = dt.datetime.fromisoformat(prefix + "00:00+00:00")
    got = rows_of(
        warehouse,
        "select month, count(*) from marts.stop_search where source_file_id = ? "
        "and searched_at >= ? and searched_at < ? group by month",
        [file_id(stop_file(realdata, month)), start, start + dt.timedelta(hours=1)],
    )
    assert got == [(london, len(near))]


def test_every_published_column_is_kept_and_booleans_are_typed(
    warehouse: Path, realdata: Path
) -> None:
    # Strip searches and linked outcomes are blank to 2024-01 and filled in from 2024-02.
    path = stop_file(realdata, "2024-08")
    rows = raw_dicts(path)
    strip = Counter(r["Removal of more than just outer clothing"] for r in rows)
    got = dict(
        rows_of(
            warehouse,
            "select more_than_outer_clothing_removed, count(*) from marts.stop_search "
            "where source_file_id = ? group by all",
            [file_id(path)],
        )
    )
    assert got == {True: strip["True"], False: strip["False"]}
    assert (strip["True"], strip["False"], strip[""]) == (137, 10_501, 0)
    columns = {r[0]: r[1] for r in rows_of(warehouse, "describe marts.stop_search")}
    assert columns["searched_at"] == "TIMESTAMP WITH TIME ZONE"
    assert columns["month"] == "DATE"
    for flag in ("part_of_operation", "outcome_linked", "more_than_outer_clothing_removed"):
        assert columns[flag] == "BOOLEAN"
    for name in ("operation_name", "self_defined_ethnicity", "legislation", "object_of_search"):
        assert name in columns


# --- street crime and outcomes ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("folder", "table"),
    [(CITY, "street_crime"), (MET_STREET, "street_crime"), (MET_OUTCOMES, "crime_outcomes")],
)
def test_counts_per_force_and_month_match_raw(
    warehouse: Path, realdata: Path, folder: str, table: str
) -> None:
    expected: Counter = Counter()
    for path in sorted((realdata / folder).iterdir()):
        for r in raw_dicts(path):
            expected[(FORCE_OF[r["Falls within"]], month_of(r["Month"]))] += 1
    forces = sorted({force for force, _ in expected})
    got = dict(
        ((force, month), n)
        for force, month, n in rows_of(
            warehouse,
            f"select force, month, count(*) from marts.{table} where force in "
            f"({', '.join('?' * len(forces))}) group by all",
            forces,
        )
    )
    assert got == dict(expected)
    assert len(expected) in (12, 14)


def test_city_crime_types_per_month_match_raw(warehouse: Path, realdata: Path) -> None:
    path = realdata / CITY / "2023-10-city-of-london-street.csv"
    expected = Counter(r["Crime type"] for r in raw_dicts(path))
    got = dict(
        rows_of(
            warehouse,
            "select crime_type, count(*) from marts.street_crime where force = 'city-of-london' "
            "and month = ? group by all",
            [dt.date(2023, 10, 1)],
        )
    )
    assert got == dict(expected)


def duplicate_copies(rows: list[list[str]]) -> int:
    """Rows that are exact copies of an earlier row."""
    return len(rows) - len({tuple(r) for r in rows})


STREET_ROW = (
    "crime_id, month, reported_by, force_name, longitude, latitude, location, lsoa_code, "
    "lsoa_name, crime_type, last_outcome, context"
)
OUTCOME_ROW = (
    "crime_id, month, reported_by, force_name, longitude, latitude, location, lsoa_code, "
    "lsoa_name, outcome_type"
)
SEARCH_ROW = (
    "searched_at, type, part_of_operation, operation_name, latitude, longitude, gender, "
    "age_range, self_defined_ethnicity, officer_defined_ethnicity, legislation, "
    "object_of_search, outcome, outcome_linked, more_than_outer_clothing_removed"
)


def mart_copies(warehouse: Path, table: str, columns: str, fid: str) -> int:
    return scalar(
        warehouse,
        f"select count(*) - (select count(*) from (select distinct {columns} from "
        f"marts.{table} where source_file_id = ?)) from marts.{table} where source_file_id = ?",
        [fid, fid],
    )


def test_blank_crime_ids_and_exact_duplicates_are_kept(warehouse: Path, realdata: Path) -> None:
    blanks = copies = 0
    for path in sorted((realdata / CITY).iterdir()):
        _, rows = raw_rows(path)
        fid = file_id(path)
        assert scalar(
            warehouse,
            "select count(*) from marts.street_crime where source_file_id = ? "
            "and crime_id is null",
            [fid],
        ) == sum(r[0] == "" for r in rows)
        assert mart_copies(warehouse, "street_crime", STREET_ROW, fid) == duplicate_copies(rows)
        blanks += sum(r[0] == "" for r in rows)
        copies += duplicate_copies(rows)
    assert (blanks, copies) == (377, 101)
    outcomes = realdata / MET_OUTCOMES / "2024-03-metropolitan-outcomes.csv.gz"
    _, rows = raw_rows(outcomes)
    assert duplicate_copies(rows) == 1165
    assert mart_copies(warehouse, "crime_outcomes", OUTCOME_ROW, file_id(outcomes)) == 1165
    searches = stop_file(realdata, "2016-06")
    _, rows = raw_rows(searches)
    assert duplicate_copies(rows) == 342
    assert mart_copies(warehouse, "stop_search", SEARCH_ROW, file_id(searches)) == 342


def test_repeated_crime_ids_are_kept(warehouse: Path, realdata: Path) -> None:
    path = realdata / CITY / "2023-04-city-of-london-street.csv"
    ids = Counter(r[0] for r in raw_rows(path)[1] if r[0])
    repeated = sum(n - 1 for n in ids.values() if n > 1)
    assert repeated == 29
    assert (
        scalar(
            warehouse,
            "select count(crime_id) - count(distinct crime_id) from marts.street_crime "
            "where source_file_id = ?",
            [file_id(path)],
        )
        == repeated
    )


def test_files_mart_says_which_crime_types_each_file_covers(
    warehouse: Path, realdata: Path
) -> None:
    files = {
        (kind, force, month): (rows, count, coverage)
        for kind, force, month, rows, count, coverage in rows_of(
            warehouse,
            "select kind, force, month, rows, crime_type_count, coverage "
            "from marts.police_uk_files",
        )
    }
    for path in sorted((realdata / CITY).iterdir()):
        rows = raw_dicts(path)
        types = {r["Crime type"] for r in rows}
        key = ("street", "city-of-london", month_of(rows[0]["Month"]))
        assert files[key] == (len(rows), len(types), f"{len(types)} crime types")
    for folder, kind in ((MET_STREET, "street"), (MET_OUTCOMES, "outcomes")):
        for path in sorted((realdata / folder).iterdir()):
            rows = raw_dicts(path)
            key = (kind, "metropolitan", month_of(rows[0]["Month"]))
            assert files[key] == (len(rows), 1, "Burglary only")
    for month in STOP_MONTHS:
        rows = raw_rows(stop_file(realdata, month))[1]
        assert files[("stop_search", "metropolitan", month_of(month))] == (len(rows), None, None)
    assert len(files) == 12 + 14 + 14 + len(STOP_MONTHS)


# --- replacing a month, forces from file names, archives --------------------------------------


def write_changed_copy(source: Path, target: Path, line: int, column: str, value: str) -> Path:
    """A copy of a published file with one cell changed (via the csv module)."""
    header, rows = raw_rows(source)
    rows[line - 2][header.index(column)] = value
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([header, *rows])
    target.write_text(buffer.getvalue(), encoding="utf-8")
    return target


def load_statuses(warehouse: Path) -> dict[str, str]:
    return dict(rows_of(warehouse, "select source_file_id, status from marts.loads"))


def test_loading_a_street_month_again_replaces_it(
    settings, realdata: Path, tmp_path: Path
) -> None:
    original = realdata / CITY / "2023-03-city-of-london-street.csv"
    assert load_paths([original], settings).published
    revised = write_changed_copy(
        original,
        tmp_path / "city-march-redownload.csv",
        2,
        "Last outcome category",
        "Awaiting court outcome",
    )
    result = load_paths([revised], settings)
    assert [o.status for o in result.outcomes] == ["loaded"]
    live = settings.warehouse
    assert scalar(live, "select count(*) from marts.street_crime") == 709
    assert (
        scalar(live, "select last_outcome from marts.street_crime where source_line = 2")
        == "Awaiting court outcome"
    )
    assert load_statuses(live) == {file_id(original): "superseded", file_id(revised): "loaded"}
    rows = rows_of(live, "select kind, rows, source_file_id from marts.police_uk_files")
    assert rows == [("street", 709, file_id(revised))]


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_stop_search_month_from_an_archive_replaces_the_earlier_load(
    settings, realdata: Path, tmp_path: Path
) -> None:
    original = stop_file(realdata, "2024-01")
    assert load_paths([original], settings).published
    live = settings.warehouse
    member = "2024-01/2024-01-metropolitan-stop-and-search.csv"
    same = make_zip(tmp_path / "same.zip", {member: published_bytes(original)})
    before = sha256_of(live)
    assert [o.status for o in load_paths([same], settings).outcomes] == ["already loaded"]
    assert sha256_of(live) == before
    outcome = raw_dicts(original)[3]["Outcome"]
    other = "Arrest" if outcome != "Arrest" else "Community resolution"
    changed_csv = write_changed_copy(original, tmp_path / "changed.csv", 5, "Outcome", other)
    changed = make_zip(tmp_path / "2024-01.zip", {member: changed_csv.read_bytes()})
    result = load_paths([changed], settings)
    assert [o.status for o in result.outcomes] == ["loaded"]
    assert result.outcomes[0].file.endswith(f"2024-01.zip!{member}")
    assert scalar(live, "select count(*) from marts.stop_search") == 9689
    assert scalar(live, "select outcome from marts.stop_search where source_line = 5") == other
    fid = hashlib.sha256(changed_csv.read_bytes()).hexdigest()[:16]
    assert load_statuses(live) == {file_id(original): "superseded", fid: "loaded"}


def test_renamed_stop_search_file_needs_force(settings, realdata: Path, tmp_path: Path) -> None:
    renamed = tmp_path / "searches.csv"
    renamed.write_bytes(published_bytes(stop_file(realdata, "2023-11")))
    result = load_paths([renamed], settings)
    assert [o.status for o in result.outcomes] == ["refused"]
    message = result.refused[0].message
    assert repr(str(renamed)) in message
    assert "--force" in message
    assert "metropolitan" in message
    assert not settings.warehouse.exists()
    result = load_paths([renamed], settings, {"force": "metropolitan"})
    assert result.published
    got = rows_of(
        settings.warehouse,
        "select force, file_month, count(*) from marts.stop_search group by all",
    )
    assert got == [("metropolitan", dt.date(2023, 11, 1), 9130)]


@pytest.mark.parametrize(
    ("name", "force", "reason"),
    [
        ("2023-11-metropolitan-stop-and-search.csv", "city-of-london", "but --force says"),
        ("searches.csv", "atlantis", "is not a force in config/forces.yaml"),
        ("2023-11-atlantis-stop-and-search.csv", None, "not in config/forces.yaml"),
    ],
)
def test_force_that_cannot_be_trusted_is_refused(
    settings, realdata: Path, tmp_path: Path, name: str, force: str | None, reason: str
) -> None:
    path = tmp_path / name
    path.write_bytes(published_bytes(stop_file(realdata, "2023-11")))
    result = load_paths([path], settings, {"force": force} if force else {})
    assert [o.status for o in result.outcomes] == ["refused"]
    assert reason in result.refused[0].message


def test_archive_member_escaping_with_dotdot_is_refused(
    settings, realdata: Path, tmp_path: Path
) -> None:
    assert load_paths([realdata / CITY / "2023-05-city-of-london-street.csv"], settings).published
    before = sha256_of(settings.warehouse)
    data = (realdata / CITY / "2023-06-city-of-london-street.csv").read_bytes()
    member = "../2023-06/2023-06-city-of-london-street.csv"
    archive = make_zip(tmp_path / "evil.zip", {member: data})
    result = load_paths([archive], settings)
    assert [o.status for o in result.outcomes] == ["refused"]
    assert "'..'" in result.refused[0].message
    assert sha256_of(settings.warehouse) == before


# --- every staged expectation refuses a file broken on it alone -------------------------------

STREET_HEAD = CITY + "/2023-01-city-of-london-street.csv"
OUTCOMES_HEAD = MET_OUTCOMES + "/2024-01-metropolitan-outcomes.csv.gz"
STOP_HEAD = "2023-07"
HEAD_ROWS = 40
# The live warehouse refusals must leave untouched holds one real file.
LIVE_FILE = CITY + "/2023-02-city-of-london-street.csv"

Rows = list[list[str]]
Mutation = Callable[[list[str], Rows], Rows]


def set_cell(line: int, column: str, value: str) -> Mutation:
    """Set one published cell (line as in the file: the header is line 1)."""

    def mutate(header: list[str], rows: Rows) -> Rows:
        rows[line - 2][header.index(column)] = value
        return rows

    return mutate


def set_column(column: str, value: str) -> Mutation:
    """Set a published column on every row."""

    def mutate(header: list[str], rows: Rows) -> Rows:
        for row in rows:
            row[header.index(column)] = value
        return rows

    return mutate


# (suite index, case id, mutation, line named, published column named)
Case = tuple[int, str, Mutation, int, str]
LOCATED_CASES: list[Case] = [
    (3, "other_month", set_cell(6, "Month", "2022-12"), 6, "Month"),
    (4, "unknown_force", set_cell(7, "Falls within", "Atlantis Police"), 7, "Falls within"),
    (5, "other_force", set_cell(8, "Falls within", "British Transport Police"), 8, "Falls within"),
    (6, "unknown_reporter", set_cell(10, "Reported by", "Atlantis Police"), 10, "Reported by"),
    (7, "longitude_text", set_cell(11, "Longitude", "west"), 11, "Longitude"),
    (8, "latitude_text", set_cell(12, "Latitude", "north"), 12, "Latitude"),
    (9, "longitude_abroad", set_cell(13, "Longitude", "12.5"), 13, "Longitude"),
    (10, "latitude_abroad", set_cell(14, "Latitude", "40.1"), 14, "Latitude"),
    (11, "bad_lsoa", set_cell(15, "LSOA code", "E0100091"), 15, "LSOA code"),
]
MONTH_CASES: list[Case] = [
    (1, "month_format", set_cell(5, "Month", "2023/01"), 5, "Month"),
    (2, "future_month", set_column("Month", "2099-01"), 2, "Month"),
]
STREET_CASES: list[Case] = [
    (0, "not_an_id", set_cell(3, "Crime ID", "not-an-id"), 3, "Crime ID"),
    (1, "blank_id_not_asb", set_cell(4, "Crime ID", ""), 4, "Crime ID"),
    *((i + 1, *rest) for i, *rest in MONTH_CASES),
    *((i + 1, *rest) for i, *rest in LOCATED_CASES),
    (13, "unknown_crime_type", set_cell(16, "Crime type", "Space crime"), 16, "Crime type"),
]
OUTCOME_CASES: list[Case] = [
    (0, "blank_id", set_cell(3, "Crime ID", ""), 3, "Crime ID"),
    *MONTH_CASES,
    *LOCATED_CASES,
    (12, "blank_outcome", set_cell(16, "Outcome type", ""), 16, "Outcome type"),
]


def future_searches(header: list[str], rows: Rows) -> Rows:
    return set_column("Date", "2099-01-15T12:00:00+00:00")(header, rows)


STOP_CASES: list[Case] = [
    (0, "unknown_type", set_cell(3, "Type", "Bicycle search"), 3, "Type"),
    (1, "unreadable_date", set_cell(4, "Date", "30/06/2023 23:07"), 4, "Date"),
    (2, "future_month", future_searches, 2, "Date"),
    (3, "outside_file_month", set_cell(5, "Date", "2023-03-15T12:00:00+00:00"), 5, "Date"),
    (
        4,
        "operation_flag",
        set_cell(6, "Part of a policing operation", "Yes"),
        6,
        "Part of a policing operation",
    ),
    (
        5,
        "linked_flag",
        set_cell(7, "Outcome linked to object of search", "maybe"),
        7,
        "Outcome linked to object of search",
    ),
    (
        6,
        "strip_search_flag",
        set_cell(8, "Removal of more than just outer clothing", "1"),
        8,
        "Removal of more than just outer clothing",
    ),
    (7, "longitude_text", set_cell(9, "Longitude", "west"), 9, "Longitude"),
    (8, "latitude_text", set_cell(10, "Latitude", "north"), 10, "Latitude"),
    (9, "longitude_abroad", set_cell(11, "Longitude", "12.5"), 11, "Longitude"),
    (10, "latitude_abroad", set_cell(12, "Latitude", "40.1"), 12, "Latitude"),
    (11, "unknown_gender", set_cell(13, "Gender", "Unknown"), 13, "Gender"),
    (12, "unknown_age_band", set_cell(14, "Age range", "35-44"), 14, "Age range"),
    (
        13,
        "unknown_officer_ethnicity",
        set_cell(15, "Officer-defined ethnicity", "Martian"),
        15,
        "Officer-defined ethnicity",
    ),
]
SUITE_CASES = {
    "stg_police_uk_street": STREET_CASES,
    "stg_police_uk_outcomes": OUTCOME_CASES,
    "stg_police_uk_stop_search": STOP_CASES,
}


def test_cases_cover_every_staged_expectation() -> None:
    for suite, cases in SUITE_CASES.items():
        indices = [c[0] for c in cases]
        assert sorted(indices) == list(range(len(suite_spec(suite)))), suite


def head_file(path: Path, mutate: Mutation, target: Path) -> Path:
    """The header and first rows of a published file, mutated, written to ``target``."""
    header, rows = raw_rows(path)
    rows = mutate(header, [list(r) for r in rows[:HEAD_ROWS]])
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows([header, *rows])
    target.write_text(buffer.getvalue(), encoding="utf-8")
    return target


def case_params(cases: list[Case]) -> list:
    return [
        pytest.param(index, mutate, line, column, id=name)
        for index, name, mutate, line, column in cases
    ]


@pytest.mark.parametrize(("index", "mutate", "line", "column"), case_params(STREET_CASES))
@pytest.mark.usefixtures("live")
def test_street_file_broken_on_one_expectation_is_refused(
    settings, realdata: Path, tmp_path: Path, index: int, mutate: Mutation, line: int, column: str
) -> None:
    bad = head_file(realdata / STREET_HEAD, mutate, tmp_path / "street.csv")
    assert_refused(settings, bad, suite_spec("stg_police_uk_street")[index], line, column)


@pytest.mark.parametrize(("index", "mutate", "line", "column"), case_params(OUTCOME_CASES))
@pytest.mark.usefixtures("live")
def test_outcomes_file_broken_on_one_expectation_is_refused(
    settings, realdata: Path, tmp_path: Path, index: int, mutate: Mutation, line: int, column: str
) -> None:
    bad = head_file(realdata / OUTCOMES_HEAD, mutate, tmp_path / "outcomes.csv")
    assert_refused(settings, bad, suite_spec("stg_police_uk_outcomes")[index], line, column)


@pytest.mark.parametrize(("index", "mutate", "line", "column"), case_params(STOP_CASES))
@pytest.mark.usefixtures("live")
def test_stop_search_file_broken_on_one_expectation_is_refused(
    settings, realdata: Path, tmp_path: Path, index: int, mutate: Mutation, line: int, column: str
) -> None:
    # A future-dated file is named for its month, as police.uk would name it.
    month = "2099-01" if mutate is future_searches else STOP_HEAD
    target = tmp_path / f"{month}-metropolitan-stop-and-search.csv"
    bad = head_file(stop_file(realdata, STOP_HEAD), mutate, target)
    assert_refused(settings, bad, suite_spec("stg_police_uk_stop_search")[index], line, column)


def test_ragged_row_is_refused_naming_its_line(
    settings, live: Path, realdata: Path, tmp_path: Path
) -> None:
    lines = (realdata / STREET_HEAD).read_text(encoding="utf-8").splitlines(keepends=True)[:30]
    lines[9] = lines[9].rstrip("\n").rsplit(",", 2)[0] + "\n"
    bad = tmp_path / "ragged.csv"
    bad.write_text("".join(lines), encoding="utf-8")
    result = load_paths([bad], settings)
    assert [o.status for o in result.outcomes] == ["refused"]
    assert "line 10" in result.refused[0].message
    assert "10 fields where the header has 12" in result.refused[0].message


def test_blank_lines_do_not_shift_the_line_named(
    settings, live: Path, realdata: Path, tmp_path: Path
) -> None:
    lines = (realdata / STREET_HEAD).read_text(encoding="utf-8").splitlines(keepends=True)[:30]
    cells = next(csv.reader([lines[11]]))
    cells[9] = "Space crime"
    lines[11] = ",".join(cells) + "\n"
    bad = tmp_path / "gappy.csv"
    bad.write_text("".join([*lines[:5], "\n", "\n", *lines[5:]]), encoding="utf-8")
    result = load_paths([bad], settings)
    assert [o.status for o in result.outcomes] == ["refused"]
    assert "line 14" in result.refused[0].message
    assert "column 'Crime type'" in result.refused[0].message


# --- every police.uk mart suite fails on a broken copy ----------------------------------------


@pytest.fixture(scope="module")
def mart_frames(warehouse: Path) -> dict[str, pd.DataFrame]:
    """The first rows of each police.uk mart (enough to break, quick to validate)."""
    return mart_frames_in(warehouse, POLICE_MARTS, rows=1000)


def test_mart_suites_pass_on_the_real_marts(mart_frames) -> None:
    for suite, frame in mart_frames.items():
        assert len(frame) >= 10, suite
        report = validate_frame(
            frame, suite, expectations_dir=EXPECTATIONS, parameters=mart_parameters(), file=suite
        )
        assert report.success, report.to_text()


@pytest.mark.parametrize(("suite", "index"), mart_cases(POLICE_MARTS))
def test_mart_suite_fails_on_broken_copy(mart_frames, suite: str, index: int) -> None:
    assert_fails_on_broken_copy(
        mart_frames[suite], suite, index, unbroken=False, extra_column="not_in_the_contract"
    )
