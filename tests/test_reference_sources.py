"""The reference sources load from the real published files, and every staged expectation bites.

Mart figures are compared with figures computed here from the raw files with the ``csv``
module only. Each staged expectation has a mutation of a real file that violates exactly that
expectation: the mutated file must be refused with a message naming the file, line and
column, and the live warehouse must stay byte-identical.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from oversight.settings import Settings, get_settings
from pipelines.build import LoadResult, load_paths
from tests.helpers.gx import assert_refused, suite_keys

pytestmark = pytest.mark.realdata

TODAY = dt.date(2026, 11, 23)
POP_LA = "ons_population/population__ons_regional_gdp_table6_LA_population_1998-2022.csv"
SAPE_2019 = "ons_population/london-mid2019-pop.csv"
SAPE_2020 = "ons_population/london-mid2020-pop.csv"
CENSUS_2011 = "ons_census_2011/la-ethnic-groups.csv"
CENSUS_2021 = "ons_census_2021/census-quiz-data-2021-v9.csv"
PROFILES = "lds_reference/london-borough-profiles.csv"
ALL_FILES = (POP_LA, SAPE_2019, SAPE_2020, CENSUS_2011, CENSUS_2021, PROFILES)
ENCODING = {PROFILES: "latin-1"}
CITY = "E09000001"
SUITE_OF = {
    POP_LA: "stg_ons_population_la",
    SAPE_2019: "stg_ons_sape_lsoa",
    CENSUS_2011: "stg_census_2011_ethnic",
    CENSUS_2021: "stg_census_2021_indicators",
    PROFILES: "stg_lds_borough_profiles",
}
# The warehouse a mutated file is loaded over: a different real file of the same source
# where the mutation could leave the bytes unchanged (a renamed file).
BASELINE_OF = {SAPE_2019: SAPE_2020}


def settings_for(folder: Path) -> Settings:
    """Settings for a fresh warehouse in ``folder`` with a fixed "today"."""
    return get_settings().with_warehouse(folder / "w.duckdb").with_today(TODAY)


def read_table(path: Path, header_line: int = 1) -> list[dict[str, str]]:
    """Rows of a published CSV as dicts, read independently with the csv module."""
    encoding = "latin-1" if path.name == Path(PROFILES).name else "utf-8"
    with path.open(newline="", encoding=encoding) as handle:
        rows = list(csv.reader(handle))
    header = rows[header_line - 1]
    return [dict(zip(header, row, strict=True)) for row in rows[header_line:] if any(row)]


def query(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    """Rows of a query on a warehouse, opened read-only."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def scalar(warehouse: Path, sql: str, params: list | None = None) -> object:
    """The first value of a query's first row."""
    return query(warehouse, sql, params)[0][0]


@pytest.fixture(scope="module")
def warehouse(realdata: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One warehouse holding every real reference file."""
    folder = tmp_path_factory.mktemp("reference")
    result = load_paths([realdata / f for f in ALL_FILES], settings_for(folder))
    assert result.ok, [o.message for o in result.refused]
    assert result.published
    return folder / "w.duckdb"


def test_every_file_loads_as_its_source(warehouse: Path) -> None:
    loads = dict(query(warehouse, "select vintage, source from marts.loads"))
    assert loads == {
        "mye_rebased_1998-2022": "ons_population_la",
        "mye_original_mid-2019": "ons_sape_lsoa",
        "mye_original_mid-2020": "ons_sape_lsoa",
        "census_2011_qs201ew": "census_2011_ethnic",
        "census_2021_indicators": "census_2021_indicators",
        "gla_profiles_2017": "lds_borough_profiles",
    }


def test_population_table_is_kept_whole(realdata: Path, warehouse: Path) -> None:
    rows = read_table(realdata / POP_LA, header_line=2)
    years = [h for h in rows[0] if h.isdigit()]
    assert scalar(warehouse, "select count(*) from raw.ons_population_la") == len(rows) * len(
        years
    )
    assert scalar(warehouse, "select count(distinct la_code) from raw.ons_population_la") == len(
        rows
    )


def test_westminster_2022_population(realdata: Path, warehouse: Path) -> None:
    row = next(r for r in read_table(realdata / POP_LA, 2) if r["LA code"] == "E09000033")
    got = query(
        warehouse,
        "select geography_name, population, vintage from marts.population "
        "where geography_code = 'E09000033' and year = 2022 and series = 'ons_mye_rebased'",
    )
    assert got == [("Westminster", int(row["2022"]), "mye_rebased_1998-2022")]


def test_mps_rebased_2019_is_32_boroughs(realdata: Path, warehouse: Path) -> None:
    boroughs = [r for r in read_table(realdata / POP_LA, 2) if r["LA code"].startswith("E09")]
    expected = sum(int(r["2019"]) for r in boroughs if r["LA code"] != CITY)
    assert len(boroughs) == 33
    got = query(
        warehouse,
        "select geography_name, population from marts.population "
        "where geography_code = 'MPS' and year = 2019 and series = 'ons_mye_rebased'",
    )
    assert got == [("London (MPS area)", expected)]


@pytest.mark.parametrize(("path", "year"), [(SAPE_2019, 2019), (SAPE_2020, 2020)])
def test_mps_original_is_lsoa_sum_without_city(
    realdata: Path, warehouse: Path, path: str, year: int
) -> None:
    rows = read_table(realdata / path)
    expected = sum(int(r["Persons_All-Ages"]) for r in rows if r["LAD11CD"] != CITY)
    got = scalar(
        warehouse,
        "select population from marts.population "
        "where geography_code = 'MPS' and year = ? and series = 'ons_mye_original'",
        [year],
    )
    assert got == expected


def test_croydon_2020_original_is_its_lsoas(realdata: Path, warehouse: Path) -> None:
    rows = read_table(realdata / SAPE_2020)
    expected = sum(int(r["Persons_All-Ages"]) for r in rows if r["LAD11CD"] == "E09000008")
    got = query(
        warehouse,
        "select population, vintage from marts.population "
        "where geography_code = 'E09000008' and year = 2020 and series = 'ons_mye_original'",
    )
    assert got == [(expected, "mye_original_mid-2020")]


def test_population_mart_shape(realdata: Path, warehouse: Path) -> None:
    years = len([h for h in read_table(realdata / POP_LA, 2)[0] if h.isdigit()])
    counts = dict(
        query(warehouse, "select series, count(*) from marts.population group by series")
    )
    assert counts == {"ons_mye_rebased": 34 * years, "ons_mye_original": 34 * 2}
    codes = scalar(warehouse, "select count(distinct geography_code) from marts.population")
    assert codes == 34


def test_newham_2011_black_count(realdata: Path, warehouse: Path) -> None:
    row = next(r for r in read_table(realdata / CENSUS_2011) if r["geography code"] == "E09000025")
    black = int(row["Ethnic Group: Black; measures: Value"])
    total = int(row["Ethnic Group: All categories: Ethnic group; measures: Value"])
    got = query(
        warehouse,
        "select people, share, population_total from marts.census_ethnicity "
        "where census_year = 2011 and borough_code = 'E09000025' and ethnic_group = 'black'",
    )
    assert got == [(black, pytest.approx(black / total), total)]


def test_2011_shares_add_up_for_every_borough(warehouse: Path) -> None:
    sums = query(
        warehouse,
        "select borough_code, sum(share), sum(people) = any_value(population_total) "
        "from marts.census_ethnicity where census_year = 2011 group by borough_code",
    )
    assert len(sums) == 33
    assert all(ok and total == pytest.approx(1) for _, total, ok in sums)


def test_tower_hamlets_2021_asian_share(realdata: Path, warehouse: Path) -> None:
    row = next(r for r in read_table(realdata / CENSUS_2021) if r["code"] == "E09000030")
    got = dict(
        query(
            warehouse,
            "select ethnic_group, share from marts.census_ethnicity "
            "where census_year = 2021 and borough_code = 'E09000030'",
        )
    )
    published = [float(row[f"ethnicity_{g}_perc"]) for g in ("asian", "black", "mixed", "white")]
    assert got["asian"] == pytest.approx(float(row["ethnicity_asian_perc"]) / 100)
    assert got["other"] == pytest.approx((100 - sum(published)) / 100)
    people = scalar(
        warehouse,
        "select count(people) from marts.census_ethnicity where census_year = 2021",
    )
    assert people == 0


def test_city_of_london_2021_population(realdata: Path, warehouse: Path) -> None:
    row = next(r for r in read_table(realdata / CENSUS_2021) if r["code"] == CITY)
    got = query(
        warehouse,
        "select distinct population_total from marts.census_ethnicity "
        "where census_year = 2021 and borough_code = ?",
        [CITY],
    )
    assert got == [(int(row["population_total"]),)]


def test_census_mart_has_33_boroughs_each(warehouse: Path) -> None:
    got = query(
        warehouse,
        "select census_year, count(distinct borough_code), count(*) from marts.census_ethnicity "
        "group by census_year order by census_year",
    )
    assert got == [(2011, 33, 165), (2021, 33, 165)]


@pytest.mark.parametrize(("code", "expected"), [("E09000012", "Inner"), ("E09000006", "Outer")])
def test_profiles_inner_outer(realdata: Path, warehouse: Path, code: str, expected: str) -> None:
    row = next(r for r in read_table(realdata / PROFILES) if r["Code"] == code)
    assert row["Inner/_Outer_London"] == f"{expected} London"
    got = query(
        warehouse,
        "select borough_name, inner_outer, gla_population_2017 from marts.borough_profiles "
        "where borough_code = ?",
        [code],
    )
    assert got == [(row["Area_name"], expected, int(row["GLA_Population_Estimate_2017"]))]


def test_profiles_skip_only_empty_rows(realdata: Path, warehouse: Path) -> None:
    rows = read_table(realdata / PROFILES)
    assert scalar(warehouse, "select count(*) from marts.borough_profiles") == len(rows) == 33
    lines = query(
        warehouse, "select min(source_line), max(source_line) from raw.lds_borough_profiles"
    )
    assert lines == [(2, 34)]


def test_source_line_is_the_file_line(realdata: Path, warehouse: Path) -> None:
    lines = (realdata / POP_LA).read_text(encoding="utf-8").splitlines()
    expected = next(i for i, line in enumerate(lines, 1) if ",E09000033," in line)
    got = query(
        warehouse,
        "select distinct source_line from raw.ons_population_la where la_code = 'E09000033'",
    )
    assert got == [(expected,)]


# --- loads beyond the real files as published -------------------------------------------------


def load(paths: list[Path], folder: Path, **options: object) -> LoadResult:
    """Load files into the warehouse in ``folder`` with load options."""
    return load_paths(paths, settings_for(folder), options)


def copy_renamed(source: Path, folder: Path, name: str) -> Path:
    """A byte-identical copy of a published file under another name."""
    target = folder / "in" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(source.read_bytes())
    return target


@pytest.mark.parametrize("path", [POP_LA, CENSUS_2011, CENSUS_2021, PROFILES])
def test_detected_by_header_not_name(realdata: Path, tmp_path: Path, path: str) -> None:
    renamed = copy_renamed(realdata / path, tmp_path, "download (3).csv")
    result = load([renamed], tmp_path)
    assert result.ok
    assert result.published
    assert result.outcomes[0].source == SUITE_OF[path].removeprefix("stg_")


def test_sape_without_year_is_refused_asking_for_year(realdata: Path, tmp_path: Path) -> None:
    renamed = copy_renamed(realdata / SAPE_2019, tmp_path, "london-pop.csv")
    result = load([renamed], tmp_path)
    assert len(result.refused) == 1
    assert "--year" in result.refused[0].message
    assert not (tmp_path / "w.duckdb").exists()


def test_sape_year_option_wins(realdata: Path, tmp_path: Path) -> None:
    renamed = copy_renamed(realdata / SAPE_2019, tmp_path, "london-pop.csv")
    result = load([renamed], tmp_path, year="2019")
    assert result.ok
    assert result.published
    warehouse = tmp_path / "w.duckdb"
    assert scalar(warehouse, "select vintage from marts.loads") == "mye_original_mid-2019"
    years = query(warehouse, "select distinct year from marts.population")
    assert years == [(2019,)]


def test_sape_bad_year_option_is_refused(realdata: Path, tmp_path: Path) -> None:
    result = load([realdata / SAPE_2019], tmp_path, year="19")
    assert len(result.refused) == 1
    assert "--year must be a year" in result.refused[0].message


def test_newest_load_wins(realdata: Path, tmp_path: Path) -> None:
    first = load([realdata / POP_LA], tmp_path)
    assert first.published
    text = (realdata / POP_LA).read_text(encoding="utf-8")
    revised, line = edit_cell(text, "LA code", "E09000033", "2022", "211366")
    newer = tmp_path / "in" / "revised.csv"
    newer.parent.mkdir()
    newer.write_text(revised, encoding="utf-8")
    assert load([newer], tmp_path).published
    warehouse = tmp_path / "w.duckdb"
    newest_id = scalar(warehouse, "select source_file_id from marts.loads where load_seq = 2")
    got = query(
        warehouse,
        "select population, source_file_id from marts.population "
        "where geography_code = 'E09000033' and year = 2022",
    )
    assert got == [(211366, newest_id)]
    assert scalar(warehouse, "select count(*) from marts.population where year = 2022") == 34
    mps_2022 = scalar(
        warehouse,
        "select population from marts.population where geography_code = 'MPS' and year = 2022",
    )
    rows = read_table(realdata / POP_LA, 2)
    published = sum(
        int(r["2022"]) for r in rows if r["LA code"].startswith("E09") and r["LA code"] != CITY
    )
    assert mps_2022 == published + 1


def test_thousands_separator_is_read(realdata: Path, tmp_path: Path) -> None:
    text = (realdata / PROFILES).read_text(encoding="latin-1")
    edited, _ = edit_cell(text, "Code", "E09000012", "GLA_Population_Estimate_2017", "274,300")
    path = tmp_path / "in" / "profiles.csv"
    path.parent.mkdir()
    path.write_text(edited, encoding="latin-1", newline="")
    assert load([path], tmp_path).published
    got = scalar(
        tmp_path / "w.duckdb",
        "select gla_population_2017 from marts.borough_profiles where borough_code = 'E09000012'",
    )
    assert got == 274300


def test_partly_empty_row_is_not_skipped(realdata: Path, tmp_path: Path) -> None:
    lines = (realdata / PROFILES).read_text(encoding="latin-1").splitlines(keepends=True)
    cells = next(csv.reader([lines[-1]]))
    cells[3] = "1000"
    lines[-1] = ",".join(cells) + "\r\n"
    path = tmp_path / "in" / "profiles.csv"
    path.parent.mkdir()
    path.write_text("".join(lines), encoding="latin-1", newline="")
    result = load([path], tmp_path)
    assert len(result.refused) == 1
    assert f"line {len(lines)}," in result.refused[0].message


def test_ragged_row_is_refused(realdata: Path, tmp_path: Path) -> None:
    lines = (realdata / CENSUS_2011).read_text(encoding="utf-8").splitlines(keepends=True)
    lines[9] = lines[9].rstrip("\n") + ",1\n"
    path = tmp_path / "in" / "census.csv"
    path.parent.mkdir()
    path.write_text("".join(lines), encoding="utf-8")
    result = load([path], tmp_path)
    assert len(result.refused) == 1
    assert "line 10" in result.refused[0].message
    assert "fields" in result.refused[0].message


# --- one mutation per staged expectation --------------------------------------------------------

Edit = Callable[[str], tuple[str, int]]


def header_line_of(lines: list[str], column: str) -> int:
    """The 1-based line of the header holding ``column`` (among the first lines)."""
    return next(i for i, line in enumerate(lines[:4], 1) if column in next(csv.reader([line])))


def write_cells(cells: list[str], ending: str) -> str:
    """One CSV line from cells, with the given line ending."""
    out = io.StringIO()
    csv.writer(out, lineterminator=ending).writerow(cells)
    return out.getvalue()


def line_ending(line: str) -> str:
    """The line ending a line uses (CRLF or LF)."""
    return "\r\n" if line.endswith("\r\n") else "\n"


def edit_cell(text: str, key_column: str, key: str, column: str, value: str) -> tuple[str, int]:
    """Set one cell of the row whose ``key_column`` is ``key``; return the text and its line."""
    lines = text.splitlines(keepends=True)
    header_no = header_line_of(lines, key_column)
    header = next(csv.reader([lines[header_no - 1]]))
    for number in range(header_no + 1, len(lines) + 1):
        cells = next(csv.reader([lines[number - 1]]), [])
        if cells and cells[header.index(key_column)] == key:
            cells[header.index(column)] = value
            lines[number - 1] = write_cells(cells, line_ending(lines[number - 1]))
            return "".join(lines), number
    raise AssertionError(f"{key} not found")


def set_cell(key_column: str, key: str, column: str, value: str) -> Edit:
    """An edit setting one cell of the row keyed ``key``."""
    return lambda text: edit_cell(text, key_column, key, column, value)


def duplicate_row(key_column: str, key: str) -> Edit:
    """Append a copy of a row; the refusal names the original (first) row."""

    def edit(text: str) -> tuple[str, int]:
        lines = text.splitlines(keepends=True)
        _, number = edit_cell(text, key_column, key, key_column, key)
        if not lines[-1].endswith("\n"):
            lines[-1] += line_ending(lines[number - 1])
        return "".join([*lines, lines[number - 1]]), number

    return edit


def set_header(old: str, new: str) -> Edit:
    """Rename a header cell; the refusal names the first data line."""

    def edit(text: str) -> tuple[str, int]:
        lines = text.splitlines(keepends=True)
        number = header_line_of(lines, old)
        cells = [new if c == old else c for c in next(csv.reader([lines[number - 1]]))]
        lines[number - 1] = write_cells(cells, line_ending(lines[number - 1]))
        return "".join(lines), number + 1

    return edit


def unchanged(text: str) -> tuple[str, int]:
    """No change to the bytes (the mutation is in the file name); names the first data line."""
    return text, 2


@dataclass(frozen=True)
class Mutation:
    """A change to a real file that violates exactly one staged expectation."""

    file: str
    expectation: str
    column: str
    published: str
    edit: Edit
    name: str | None = None


REGEX = "expect_column_values_to_match_regex"
IN_SET = "expect_column_values_to_be_in_set"
LENGTHS = "expect_column_value_lengths_to_be_between"
BETWEEN = "expect_column_values_to_be_between"
COMPOUND = "expect_compound_columns_to_be_unique"
UNIQUE = "expect_column_values_to_be_unique"
C11 = "Ethnic Group: {}; measures: Value"
LA = ("LA code", "E09000033")
LSOA = ("LSOA11CD", "E01033745")
NEWHAM = ("geography code", "E09000025")
TOWER = ("code", "E09000030")
HACKNEY = ("Code", "E09000012")

MUTATIONS = {
    "la_code": Mutation(POP_LA, REGEX, "la_code", "LA code", set_cell(*LA, "LA code", "E9000033")),
    "la_name": Mutation(POP_LA, LENGTHS, "la_name", "LA name", set_cell(*LA, "LA name", "")),
    "itl1_region": Mutation(
        POP_LA,
        IN_SET,
        "itl1_region",
        "ITL1 Region",
        set_cell(*LA, "ITL1 Region", "Greater London"),
    ),
    "la_population": Mutation(
        POP_LA, REGEX, "population", "1998..2022", set_cell(*LA, "2019", "[x]")
    ),
    "la_future_year": Mutation(
        POP_LA, BETWEEN, "mid_year_key", "1998..2099", set_header("2022", "2099")
    ),
    "la_duplicate": Mutation(POP_LA, COMPOUND, "la_code,year", "LA code", duplicate_row(*LA)),
    "lsoa_code": Mutation(
        SAPE_2019, REGEX, "lsoa_code", "LSOA11CD", set_cell(*LSOA, "LSOA11CD", "E0103374")
    ),
    "lsoa_name": Mutation(
        SAPE_2019, LENGTHS, "lsoa_name", "LSOA11NM", set_cell(*LSOA, "LSOA11NM", "")
    ),
    "msoa_code": Mutation(
        SAPE_2019, REGEX, "msoa_code", "MSOA11CD", set_cell(*LSOA, "MSOA11CD", "E2000314")
    ),
    "lad_not_london": Mutation(
        SAPE_2019, IN_SET, "lad_code", "LAD11CD", set_cell(*LSOA, "LAD11CD", "E06000001")
    ),
    "lsoa_persons": Mutation(
        SAPE_2019,
        REGEX,
        "persons",
        "Persons_All-Ages",
        set_cell(*LSOA, "Persons_All-Ages", "2047.5"),
    ),
    "lsoa_future_year": Mutation(
        SAPE_2019,
        BETWEEN,
        "mid_year_key",
        "year (from --year or the file name)",
        unchanged,
        name="london-mid2099-pop.csv",
    ),
    "lsoa_duplicate": Mutation(
        SAPE_2019, COMPOUND, "lsoa_code,year", "LSOA11CD", duplicate_row(*LSOA)
    ),
    "census_date": Mutation(
        CENSUS_2011, IN_SET, "census_date", "date", set_cell(*NEWHAM, "date", "2021")
    ),
    "c11_code": Mutation(
        CENSUS_2011,
        REGEX,
        "geography_code",
        "geography code",
        set_cell(*NEWHAM, "geography code", "E09-25"),
    ),
    "c11_name": Mutation(
        CENSUS_2011, LENGTHS, "geography_name", "geography", set_cell(*NEWHAM, "geography", "")
    ),
    "rural_urban": Mutation(
        CENSUS_2011,
        IN_SET,
        "rural_urban",
        "Rural Urban",
        set_cell(*NEWHAM, "Rural Urban", "Urban"),
    ),
    "c11_all": Mutation(
        CENSUS_2011,
        REGEX,
        "all_people",
        C11.format("All categories: Ethnic group"),
        set_cell(*NEWHAM, C11.format("All categories: Ethnic group"), ""),
    ),
    "c11_white": Mutation(
        CENSUS_2011,
        REGEX,
        "white",
        C11.format("White"),
        set_cell(*NEWHAM, C11.format("White"), "89216.0"),
    ),
    "c11_mixed": Mutation(
        CENSUS_2011,
        REGEX,
        "mixed",
        C11.format("Mixed"),
        set_cell(*NEWHAM, C11.format("Mixed"), "-1"),
    ),
    "c11_asian": Mutation(
        CENSUS_2011,
        REGEX,
        "asian",
        C11.format("Asian"),
        set_cell(*NEWHAM, C11.format("Asian"), "n/a"),
    ),
    "c11_black": Mutation(
        CENSUS_2011,
        REGEX,
        "black",
        C11.format("Black"),
        set_cell(*NEWHAM, C11.format("Black"), "6O256"),
    ),
    "c11_other": Mutation(
        CENSUS_2011,
        REGEX,
        "other",
        C11.format("Other"),
        set_cell(*NEWHAM, C11.format("Other"), "10 672"),
    ),
    "c11_duplicate": Mutation(
        CENSUS_2011,
        COMPOUND,
        "geography_code,rural_urban",
        "geography code",
        duplicate_row(*NEWHAM),
    ),
    "c21_code": Mutation(
        CENSUS_2021, REGEX, "geography_code", "code", set_cell(*TOWER, "code", "E9000030")
    ),
    "c21_name": Mutation(
        CENSUS_2021, LENGTHS, "geography_name", "name", set_cell(*TOWER, "name", "")
    ),
    "c21_population": Mutation(
        CENSUS_2021,
        REGEX,
        "population_total",
        "population_total",
        set_cell(*TOWER, "population_total", "310306.0"),
    ),
    "c21_asian": Mutation(
        CENSUS_2021,
        REGEX,
        "asian_pct",
        "ethnicity_asian_perc",
        set_cell(*TOWER, "ethnicity_asian_perc", "104.4"),
    ),
    "c21_black": Mutation(
        CENSUS_2021,
        REGEX,
        "black_pct",
        "ethnicity_black_perc",
        set_cell(*TOWER, "ethnicity_black_perc", "7,3"),
    ),
    "c21_mixed": Mutation(
        CENSUS_2021,
        REGEX,
        "mixed_pct",
        "ethnicity_mixed_perc",
        set_cell(*TOWER, "ethnicity_mixed_perc", "-5"),
    ),
    "c21_white": Mutation(
        CENSUS_2021,
        REGEX,
        "white_pct",
        "ethnicity_white_perc",
        set_cell(*TOWER, "ethnicity_white_perc", ""),
    ),
    "c21_duplicate": Mutation(
        CENSUS_2021, UNIQUE, "geography_code", "code", duplicate_row(*TOWER)
    ),
    "profile_code": Mutation(
        PROFILES, IN_SET, "borough_code", "Code", set_cell(*HACKNEY, "Code", "E09000034")
    ),
    "profile_name": Mutation(
        PROFILES, LENGTHS, "borough_name", "Area_name", set_cell(*HACKNEY, "Area_name", "")
    ),
    "profile_inner_outer": Mutation(
        PROFILES,
        IN_SET,
        "inner_outer",
        "Inner/_Outer_London",
        set_cell(*HACKNEY, "Inner/_Outer_London", "Inner"),
    ),
    "profile_population": Mutation(
        PROFILES,
        REGEX,
        "gla_population_2017",
        "GLA_Population_Estimate_2017",
        set_cell(*HACKNEY, "GLA_Population_Estimate_2017", "NaN"),
    ),
    "profile_duplicate": Mutation(
        PROFILES, UNIQUE, "borough_code", "Code", duplicate_row(*HACKNEY)
    ),
}


@pytest.mark.parametrize("suite", sorted(set(SUITE_OF.values())))
def test_every_expectation_has_a_mutation(suite: str) -> None:
    covered = {(m.expectation, m.column) for m in MUTATIONS.values() if SUITE_OF[m.file] == suite}
    assert covered == set(suite_keys(suite))


@pytest.fixture(scope="module")
def baselines(realdata: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A live warehouse per source, built from a good real file, to load mutations over."""
    out = {}
    for path in SUITE_OF:
        folder = tmp_path_factory.mktemp("baseline")
        result = load_paths([realdata / BASELINE_OF.get(path, path)], settings_for(folder))
        assert result.published, [o.message for o in result.refused]
        out[path] = folder / "w.duckdb"
    return out


@pytest.mark.parametrize("case", list(MUTATIONS), ids=list(MUTATIONS))
def test_mutation_is_refused(
    case: str, realdata: Path, baselines: dict[str, Path], tmp_path: Path
) -> None:
    mutation = MUTATIONS[case]
    encoding = ENCODING.get(mutation.file, "utf-8")
    original = (realdata / mutation.file).read_bytes().decode(encoding)
    text, line = mutation.edit(original)
    target = tmp_path / "in" / (mutation.name or Path(mutation.file).name)
    target.parent.mkdir()
    target.write_bytes(text.encode(encoding))
    settings = settings_for(tmp_path)
    shutil.copyfile(baselines[mutation.file], settings.warehouse)

    assert_refused(
        settings,
        target,
        mutation.expectation,
        line,
        mutation.published,
        source=SUITE_OF[mutation.file].removeprefix("stg_"),
        checked=mutation.column,
    )
