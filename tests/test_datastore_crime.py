"""London Datastore borough and ward crime: real files in, figures checked against the raw files.

Every expected figure is computed from the published file with the csv module
(tests/helpers/rawcsv.py), or typed in by hand from the file, never with the project's parser.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import duckdb
import pytest

from oversight.settings import get_settings
from pipelines.build import load_paths
from tests.conftest import TODAY
from tests.helpers.rawcsv import read_rows, wide_total

pytestmark = pytest.mark.realdata

HISTORIC_OLD = "lds_borough_crime/MPS_Borough_Level_Crime_Historic.csv"
OLD_24M = (
    "lds_borough_crime/MPS Borough Level Crime (most recent 24 months)__2017-01_to_2018-12.csv"
)
MID_2020 = (
    "lds_borough_crime/MPS Borough Level Crime (most recent 24 months)__2018-07_to_2020-06.csv"
)
MID_2023 = (
    "lds_borough_crime/MPS Borough Level Crime (most recent 24 months)__2021-03_to_2023-02.csv"
)
HISTORICAL_NEW = "lds_borough_crime/MPS Borough Level Crime (Historical).csv"
NEW_2025_11 = (
    "lds_borough_crime/MPS Borough Level Crime (most recent 24 months)__2023-12_to_2025-11.csv"
)
NEW_2025_12 = (
    "lds_borough_crime/MPS Borough Level Crime (most recent 24 months)__2024-01_to_2025-12.csv"
)
WARD = "lds_ward_crime/MPS Ward Level Crime (most recent 24 months)__2024-01_to_2025-12.csv"


def file_id(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


@pytest.fixture(scope="module")
def warehouse(realdata: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse holding every Datastore crime file in ../shared/realdata."""
    path = tmp_path_factory.mktemp("wh") / "oversight.duckdb"
    settings = get_settings().with_warehouse(path).with_today(TODAY)
    result = load_paths([realdata / "lds_borough_crime", realdata / "lds_ward_crime"], settings)
    assert result.ok, [o.message for o in result.refused]
    assert result.published
    return path


def scalar(warehouse: Path, sql: str, params: list | None = None):
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()[0][0]


def vintage_total(warehouse: Path, path: Path, borough: str, year: int) -> int:
    return scalar(
        warehouse,
        "select sum(offences) from marts.crime_borough_all_vintages "
        "where source_file_id = ? and borough_name = ? and year(month) = ?",
        [file_id(path), borough, year],
    )


@pytest.mark.parametrize(
    ("relpath", "borough", "year"),
    [
        (HISTORIC_OLD, "Croydon", 2015),
        (OLD_24M, "Camden", 2018),
        (MID_2020, "Lambeth", 2019),
        (MID_2023, "Hackney", 2022),
        (HISTORICAL_NEW, "Southwark", 2019),
        (NEW_2025_12, "Newham", 2025),
    ],
)
def test_borough_year_total_matches_raw_file_in_each_header_generation(
    warehouse: Path, realdata: Path, relpath: str, borough: str, year: int
) -> None:
    path = realdata / relpath
    expected = wide_total(path, borough=borough, year=year)
    assert expected > 10_000
    assert vintage_total(warehouse, path, borough, year) == expected


@pytest.mark.parametrize("relpath", [HISTORIC_OLD, MID_2023, HISTORICAL_NEW, NEW_2025_12, WARD])
def test_every_published_cell_becomes_one_row(
    warehouse: Path, realdata: Path, relpath: str
) -> None:
    path = realdata / relpath
    header, rows = read_rows(path)
    months = sum(h.isdigit() for h in header)
    table = "crime_ward_all_vintages" if "Ward" in relpath else "crime_borough_all_vintages"
    count = scalar(
        warehouse, f"select count(*) from marts.{table} where source_file_id = ?", [file_id(path)]
    )
    assert count == len(rows) * months


def test_revised_cell_keeps_both_vintages_and_current_view_takes_newest(
    warehouse: Path, realdata: Path
) -> None:
    older_header, older = read_rows(realdata / NEW_2025_11)
    newer_header, newer = read_rows(realdata / NEW_2025_12)
    older_cells = {
        (r[0], r[1], r[2], m): int(r[i])
        for r in older
        for i, m in enumerate(older_header)
        if i > 2
    }
    revised = next(
        ((r[0], r[1], r[2], m), older_cells[(r[0], r[1], r[2], m)], int(r[i]))
        for r in newer
        for i, m in enumerate(newer_header)
        if i > 2
        and (r[0], r[1], r[2], m) in older_cells
        and older_cells[(r[0], r[1], r[2], m)] != int(r[i])
    )
    (major, minor, borough, month), old_value, new_value = revised
    when = dt.date(int(month[:4]), int(month[4:]), 1)
    values = {
        vintage: offences
        for vintage, offences in duckdb.connect(str(warehouse), read_only=True)
        .execute(
            "select vintage, offences from marts.crime_borough_all_vintages where month = ? "
            "and borough_name = ? and major_category = ? and minor_category = ?",
            [when, borough, major, minor],
        )
        .fetchall()
    }
    assert values == {"2025-11": old_value, "2025-12": new_value}
    current = scalar(
        warehouse,
        "select offences from marts.crime_borough_monthly where month = ? and borough_name = ? "
        "and major_category = ? and minor_category = ?",
        [when, borough, major, minor],
    )
    assert current == new_value


def test_current_view_switches_scheme_at_april_2010_whole_months(
    warehouse: Path, realdata: Path
) -> None:
    rows = (
        duckdb.connect(str(warehouse), read_only=True)
        .execute(
            "select month, count(distinct category_scheme), any_value(category_scheme), "
            "count(distinct source_file_id), sum(offences) from marts.crime_borough_monthly "
            "where month in ('2010-03-01', '2010-04-01') group by month order by month"
        )
        .fetchall()
    )
    (
        (march, n_schemes_m, scheme_m, n_files_m, total_m),
        (april, n_schemes_a, scheme_a, n_files_a, total_a),
    ) = rows
    assert (n_schemes_m, n_files_m, scheme_m) == (1, 1, "mps_old")
    assert (n_schemes_a, n_files_a, scheme_a) == (1, 1, "mps_2024")
    assert total_m == wide_total(realdata / HISTORIC_OLD, month="201003")
    assert total_a == wide_total(realdata / HISTORICAL_NEW, month="201004")


def test_current_view_never_mixes_publications_within_a_month(warehouse: Path) -> None:
    mixed = scalar(
        warehouse,
        "select count(*) from (select month from marts.crime_borough_monthly group by month "
        "having count(distinct source_file_id) > 1)",
    )
    assert mixed == 0
    chosen = dict(
        duckdb.connect(str(warehouse), read_only=True)
        .execute(
            "select distinct strftime(month, '%Y-%m'), vintage from marts.crime_borough_monthly "
            "where month in ('2017-06-01', '2023-12-01', '2024-01-01')"
        )
        .fetchall()
    )
    # 2017-06: the 2023-11 historical file is newer than the 2018-12 and 2016-12 files.
    assert chosen == {"2017-06": "2023-11", "2023-12": "2025-11", "2024-01": "2025-12"}


def test_london_month_total_equals_whole_file_column(warehouse: Path, realdata: Path) -> None:
    expected = wide_total(realdata / NEW_2025_12, month="202506")
    got = scalar(
        warehouse,
        "select sum(offences) from marts.crime_borough_monthly where month = '2025-06-01'",
    )
    assert got == expected


@pytest.mark.parametrize(
    ("relpath", "name", "year"),
    [
        (MID_2020, "London Heathrow and London City Airports", 2019),
        (NEW_2025_12, "Unknown", 2025),
    ],
)
def test_pseudo_boroughs_are_kept_and_flagged(
    warehouse: Path, realdata: Path, relpath: str, name: str, year: int
) -> None:
    expected = wide_total(realdata / relpath, borough=name, year=year)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        total, codes, flags = con.execute(
            "select sum(offences), count(borough_code), bool_or(is_borough) "
            "from marts.crime_borough_all_vintages "
            "where source_file_id = ? and borough_name = ? and year(month) = ?",
            [file_id(realdata / relpath), name, year],
        ).fetchall()[0]
    assert expected > 0
    assert (total, codes, flags) == (expected, 0, False)


def test_ward_totals_and_heathrow_villages_belong_to_hillingdon(
    warehouse: Path, realdata: Path
) -> None:
    path = realdata / WARD
    hillingdon_wards = wide_total(path, borough="Hillingdon", year=2025)
    heathrow = wide_total(path, ward_code="E05013570", year=2025)
    assert heathrow > 0
    with duckdb.connect(str(warehouse), read_only=True) as con:
        total = con.execute(
            "select sum(offences) from marts.crime_ward_monthly "
            "where borough_code = 'E09000017' and year(month) = 2025"
        ).fetchall()[0][0]
        published, name = con.execute(
            "select distinct borough_name_published, borough_name from marts.crime_ward_monthly "
            "where ward_code = 'E05013570'"
        ).fetchall()[0]
    assert total == hillingdon_wards + heathrow
    assert (published, name) == ("Aviation Security (SO18)", "Hillingdon")


def test_ward_file_total_matches_raw_file(warehouse: Path, realdata: Path) -> None:
    expected = wide_total(realdata / WARD, year=2024)
    got = scalar(
        warehouse,
        "select sum(offences) from marts.crime_ward_monthly where year(month) = 2024",
    )
    assert got == expected


@pytest.mark.parametrize(
    ("vintage", "month", "borough", "major", "minor", "value"),
    [
        # Typed in by hand from the first and last data lines of the published files.
        (
            "2018-12",
            "2017-01-01",
            "Barking and Dagenham",
            "BURGLARY",
            "BURGLARY - BUSINESS AND COMMUNITY",
            25,
        ),
        ("2020-06", "2018-07-01", "Barking and Dagenham", "ARSON AND CRIMINAL DAMAGE", "ARSON", 6),
        (
            "2025-12",
            "2025-12-01",
            "Westminster",
            "VIOLENCE AGAINST THE PERSON",
            "VIOLENCE WITHOUT INJURY",
            532,
        ),
    ],
)
def test_hand_typed_figures(
    warehouse: Path, vintage: str, month: str, borough: str, major: str, minor: str, value: int
) -> None:
    got = scalar(
        warehouse,
        "select offences from marts.crime_borough_all_vintages where vintage = ? and month = ? "
        "and borough_name = ? and major_category = ? and minor_category = ?",
        [vintage, month, borough, major, minor],
    )
    assert got == value


def test_month_is_a_date_everywhere(warehouse: Path) -> None:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        types = con.execute(
            "select table_name, data_type from information_schema.columns "
            "where table_schema = 'marts' and column_name = 'month'"
        ).fetchall()
    crime = {name for name, _ in types if name.startswith(("crime_borough", "crime_ward"))}
    assert len(crime) == 4
    assert {t for _, t in types} == {"DATE"}


def test_loads_record_every_file(warehouse: Path, realdata: Path) -> None:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        loads = con.execute(
            "select path, sha256, source, vintage, status from marts.loads order by load_seq"
        ).fetchall()
    assert len(loads) == 8
    by_name = {Path(p).name: (s, src, v, st) for p, s, src, v, st in loads}
    old = realdata / HISTORIC_OLD
    assert by_name[old.name] == (
        hashlib.sha256(old.read_bytes()).hexdigest(),
        "lds_borough_crime",
        "2016-12",
        "loaded",
    )
    assert by_name[Path(WARD).name][1:] == ("lds_ward_crime", "2025-12", "loaded")
