"""The reference CSVs against the published files they were transcribed from.

Expected values are computed here straight from the published files with the ``csv`` module;
the reference module is only the thing being checked. Tests taking the ``realdata`` fixture
are skipped when the published files are not available (and fail on CI).
"""

from __future__ import annotations

import csv
import json
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from oversight.reference import (
    REFERENCE_DIR,
    BoroughLookup,
    load_borough_lookup,
    load_boroughs,
    load_ethnicity_2011,
    load_ethnicity_2021,
    load_population,
    load_wards,
    normalise_name,
)

LONDON_TOTALS = {
    ("ons_mye_rebased", 2019): 8_889_743,
    ("ons_mye_original", 2019): 8_961_989,
    ("ons_mye_original", 2020): 9_002_488,
}
REBASED_YEARS = range(2011, 2023)
ORIGINAL_YEARS = (2019, 2020)

EXPECTED_BCUS = {
    "CE": ("Central East", {"Hackney", "Tower Hamlets"}),
    "CN": ("Central North", {"Camden", "Islington"}),
    "AS": ("Central South", {"Lambeth", "Southwark"}),
    "AW": ("Central West", {"Hammersmith and Fulham", "Kensington and Chelsea", "Westminster"}),
    "EA": ("East", {"Barking and Dagenham", "Havering", "Redbridge"}),
    "NA": ("North", {"Enfield", "Haringey"}),
    "NE": ("North East", {"Newham", "Waltham Forest"}),
    "NW": ("North West", {"Barnet", "Brent", "Harrow"}),
    "SN": ("South", {"Bromley", "Croydon", "Sutton"}),
    "SE": ("South East", {"Bexley", "Greenwich", "Lewisham"}),
    "SW": (
        "South West",
        {"Kingston upon Thames", "Merton", "Richmond upon Thames", "Wandsworth"},
    ),
    "WA": ("West", {"Ealing", "Hillingdon", "Hounslow"}),
}

# Spellings that differ from the London Borough Profiles names, with the borough they mean.
KNOWN_VARIANTS = {
    "City of Westminster": "E09000033",
    "Richmond Upon Thames": "E09000027",
    "Kingston Upon Thames": "E09000021",
    "Barking & Dagenham": "E09000002",
    "Kensington & Chelsea": "E09000020",
    "Hammersmith & Fulham": "E09000013",
}
PSEUDO_BOROUGHS = {
    "Unknown",
    "London Heathrow and London City Airports",
    "Aviation Security (SO18)",
    "Heathrow",
}
LONDON_WIDE = {"MPS"}

WARD_FILE = "lds_ward_crime/MPS Ward Level Crime (most recent 24 months)__2024-01_to_2025-12.csv"
LATEST_BOROUGH_FILE = (
    "lds_borough_crime/MPS Borough Level Crime (most recent 24 months)__2024-01_to_2025-12.csv"
)
POPULATION_TABLE6 = (
    "ons_population/population__ons_regional_gdp_table6_LA_population_1998-2022.csv"
)
HEATHROW_VILLAGES = "E05013570"
HILLINGDON = "E09000017"
CITY_OF_LONDON = "E09000001"
ALL_CODES = [f"E09{n:06d}" for n in range(1, 34)]

NAME_GROUPS = (
    "lds_borough_crime",
    "lds_ward_crime",
    "mopac_pas",
    "mps_homicide",
    "lds_reference",
    "ons_population",
    "ons_census_2011",
    "ons_census_2021",
    "boundaries",
)
REFERENCE_COLUMNS = {
    "boroughs.csv": [
        "borough_code",
        "borough_name",
        "bcu_code",
        "bcu_name",
        "inner_outer",
        "tile_x",
        "tile_y",
        "in_mps_area",
    ],
    "borough_names.csv": ["name", "borough_code", "kind", "seen_in"],
    "population.csv": ["geography_code", "year", "population", "series", "source"],
    "ethnicity_census2021.csv": [
        "borough_code",
        "population_total",
        "white_pct",
        "black_pct",
        "asian_pct",
        "mixed_pct",
        "other_pct",
    ],
    "ethnicity_census2011.csv": [
        "borough_code",
        "all_people",
        "white",
        "mixed",
        "asian",
        "black",
        "other",
    ],
    "wards.csv": ["ward_code", "ward_name", "borough_code"],
}


# --- reading the published files -----------------------------------------------------------


def read_rows(
    path: Path, encoding: str = "utf-8-sig", skip: int = 0, delimiter: str = ","
) -> Iterator[dict[str, str]]:
    """Rows of a published CSV as dicts, after ``skip`` leading lines."""
    with path.open(encoding=encoding, newline="") as handle:
        for _ in range(skip):
            next(handle)
        yield from csv.DictReader(handle, delimiter=delimiter)


def read_matrix(path: Path) -> list[list[str]]:
    """All rows of a CSV as lists (for files with several header lines)."""
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def read_reference(filename: str) -> list[dict[str, str]]:
    """Rows of one shipped reference CSV, read with the csv module."""
    return list(read_rows(REFERENCE_DIR / filename, encoding="utf-8"))


def load_json(path: Path) -> dict:
    """A parsed JSON file."""
    return json.loads(path.read_text(encoding="utf-8"))


def scan_names(root: Path) -> tuple[dict[str, set[str]], list[tuple[str, str, str]]]:
    """Every stripped borough spelling per file group, plus (group, name, code) where coded."""
    seen: dict[str, set[str]] = defaultdict(set)
    coded: list[tuple[str, str, str]] = []

    def add(group: str, name: str, code: str | None = None) -> None:
        seen[group].add(name.strip())
        if code is not None:
            coded.append((group, name.strip(), code))

    for path in sorted((root / "lds_borough_crime").glob("*.csv")):
        for row in read_rows(path):
            for column in ("Borough", "LookUp_BoroughName", "BoroughName"):
                if column in row:
                    add("lds_borough_crime", row[column])
    for path in sorted((root / "lds_ward_crime").glob("*.csv")):
        for row in read_rows(path):
            add("lds_ward_crime", row["LookUp_BoroughName"])
    for path in sorted((root / "mopac_pas").glob("PAS_*")):
        delimiter = ";" if "semicolon" in path.name else ","
        for row in read_rows(path, delimiter=delimiter):
            add("mopac_pas", row["Borough"])
    for path in sorted((root / "mps_homicide").glob("*.csv")):
        for row in read_rows(path):
            add("mps_homicide", row["Borough"])
    for row in read_rows(root / "lds_reference/london-borough-profiles.csv", encoding="latin-1"):
        if row["Code"].startswith("E09"):
            add("lds_reference", row["Area_name"], row["Code"])
    for row in read_rows(root / POPULATION_TABLE6, skip=1):
        if row["LA code"].startswith("E09"):
            add("ons_population", row["LA name"], row["LA code"])
    for year in ORIGINAL_YEARS:
        for row in read_rows(root / f"ons_population/london-mid{year}-pop.csv"):
            add("ons_population", row["LAD11NM"], row["LAD11CD"])
    for row in read_rows(root / "ons_census_2011/la-ethnic-groups.csv"):
        if row["geography code"].startswith("E09"):
            add("ons_census_2011", row["geography"], row["geography code"])
    for row in read_rows(root / "ons_census_2021/census-quiz-data-2021-v9.csv"):
        if row["code"].startswith("E09"):
            add("ons_census_2021", row["name"], row["code"])
    geojson = load_json(root / "boundaries/london-boroughs_1179.geojson")
    for feature in geojson["features"]:
        add("boundaries", feature["properties"]["name"], feature["properties"]["code"])
    topo = load_json(root / "boundaries/lad-topo-2021.json")
    for geometry in topo["objects"]["geog"]["geometries"]:
        if geometry["properties"]["areacd"].startswith("E09"):
            add("boundaries", geometry["properties"]["areanm"], geometry["properties"]["areacd"])
    return dict(seen), coded


@pytest.fixture(scope="module")
def profiles(realdata: Path) -> dict[str, dict[str, str]]:
    """London Borough Profiles rows by GSS code (the 33 boroughs only)."""
    path = realdata / "lds_reference/london-borough-profiles.csv"
    rows = read_rows(path, encoding="latin-1")
    return {row["Code"]: row for row in rows if row["Code"].startswith("E09")}


@pytest.fixture(scope="module")
def code_by_profile_name(profiles: dict[str, dict[str, str]]) -> dict[str, str]:
    """GSS code by the London Borough Profiles name."""
    return {row["Area_name"]: code for code, row in profiles.items()}


@pytest.fixture(scope="module")
def scanned(realdata: Path) -> tuple[dict[str, set[str]], list[tuple[str, str, str]]]:
    """Borough spellings found in the published files."""
    return scan_names(realdata)


@pytest.fixture(scope="module")
def boundaries(realdata: Path) -> dict[str, dict]:
    """Simplified borough boundary features by GSS code."""
    geojson = load_json(realdata / "boundaries/london-boroughs_1179.geojson")
    return {feature["properties"]["code"]: feature for feature in geojson["features"]}


@pytest.fixture
def lookup() -> BoroughLookup:
    """The shipped borough lookup."""
    return load_borough_lookup()


def expected_code(name: str, code_by_profile_name: dict[str, str]) -> str | None:
    """The code a published spelling should resolve to, from the profiles and known variants."""
    if name in PSEUDO_BOROUGHS or name in LONDON_WIDE:
        return None
    return code_by_profile_name.get(name) or KNOWN_VARIANTS[name]


# --- normalise_name and BoroughLookup (no published files needed) ---------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Brent ", "brent"),
        ("  Heathrow  ", "heathrow"),
        ("Barking & Dagenham", "barking and dagenham"),
        ("Barking&Dagenham", "barking and dagenham"),
        ("Kingston Upon Thames", "kingston upon thames"),
        ("Hammersmith  and\tFulham", "hammersmith and fulham"),
        ("WESTMINSTER", "westminster"),
        ("Richmond\u00a0upon Thames", "richmond upon thames"),
        ("", ""),
    ],
)
def test_normalise_name(raw: str, expected: str) -> None:
    assert normalise_name(raw) == expected


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Brent ", "E09000005"),
        ("Ealing ", "E09000009"),
        ("Barking & Dagenham", "E09000002"),
        ("Kensington & Chelsea", "E09000020"),
        ("Hammersmith  &  Fulham", "E09000013"),
        ("Kingston Upon Thames", "E09000021"),
        ("richmond upon thames", "E09000027"),
        ("Richmond Upon Thames ", "E09000027"),
        ("City of Westminster", "E09000033"),
        ("WESTMINSTER", "E09000033"),
        ("City of London", "E09000001"),
    ],
)
def test_lookup_resolves_spellings(lookup: BoroughLookup, name: str, code: str) -> None:
    assert lookup.code_for(name) == code
    assert lookup.kind_for(name) == "borough"
    assert lookup.is_known(name)


@pytest.mark.parametrize(
    "name",
    [
        "Heathrow ",
        "Unknown",
        "Aviation Security (SO18)",
        "London Heathrow and London City Airports",
    ],
)
def test_lookup_pseudo_boroughs_have_no_code(lookup: BoroughLookup, name: str) -> None:
    assert lookup.kind_for(name) == "pseudo"
    assert lookup.code_for(name) is None
    assert lookup.is_known(name)


def test_lookup_london_wide_figure(lookup: BoroughLookup) -> None:
    assert lookup.kind_for("MPS") == "london"
    assert lookup.kind_for(" mps ") == "london"
    assert lookup.code_for("MPS") is None


@pytest.mark.parametrize(
    "name", ["Atlantis", "", "   ", "Richmond", "Westminster Abbey", "E09000033", float("nan")]
)
def test_lookup_unknown_names(lookup: BoroughLookup, name: str) -> None:
    assert lookup.code_for(name) is None
    assert lookup.kind_for(name) is None
    assert not lookup.is_known(name)


def test_canonical_name(lookup: BoroughLookup) -> None:
    assert lookup.canonical_name("E09000001") == "City of London"
    assert lookup.canonical_name("E09000021") == "Kingston upon Thames"
    assert lookup.canonical_name(" e09000033 ") == "Westminster"
    with pytest.raises(KeyError, match="E09000034"):
        lookup.canonical_name("E09000034")


def test_canonical_names_round_trip(lookup: BoroughLookup) -> None:
    for code in lookup.borough_codes:
        assert lookup.code_for(lookup.canonical_name(code)) == code


def test_borough_and_mps_codes(lookup: BoroughLookup) -> None:
    assert list(lookup.borough_codes) == ALL_CODES
    assert list(lookup.mps_codes) == [code for code in ALL_CODES if code != CITY_OF_LONDON]


def test_lookup_is_cached_and_hashable() -> None:
    assert load_borough_lookup() is load_borough_lookup()
    assert hash(load_borough_lookup()) == hash(load_borough_lookup())


@pytest.mark.parametrize(
    "names",
    [
        (("Brent", "E09000009", "borough"),),
        (("Heathrow", "E09000017", "pseudo"),),
        (("Nowhere", None, "borough"),),
        (("Elsewhere", "E09000099", "borough"),),
        (("MPS", None, "force"),),
        (("Barking & Dagenham", "E09000002", "borough"), ("barking and dagenham", None, "pseudo")),
    ],
)
def test_lookup_rejects_inconsistent_entries(names: tuple) -> None:
    boroughs = (
        ("E09000002", "Barking and Dagenham", True),
        ("E09000005", "Brent", True),
        ("E09000009", "Ealing", True),
        ("E09000017", "Hillingdon", True),
    )
    with pytest.raises(ValueError, match="conflicts|does not fit|unknown kind"):
        BoroughLookup(names=names, boroughs=boroughs)


def test_load_population_rejects_unknown_series() -> None:
    with pytest.raises(ValueError, match="series must be one of"):
        load_population("census")


@pytest.mark.parametrize(("filename", "columns"), sorted(REFERENCE_COLUMNS.items()))
def test_reference_files_have_their_columns(filename: str, columns: list[str]) -> None:
    with (REFERENCE_DIR / filename).open(encoding="utf-8", newline="") as handle:
        assert next(csv.reader(handle)) == columns
    readme = (REFERENCE_DIR / "README.md").read_text(encoding="utf-8")
    assert f"`{filename}`" in readme


def test_loaders_return_typed_frames() -> None:
    boroughs = load_boroughs()
    assert boroughs["in_mps_area"].dtype == bool
    assert boroughs["tile_x"].dtype == "int64"
    assert pd.isna(boroughs.set_index("borough_code").loc[CITY_OF_LONDON, "bcu_code"])
    for series in ("ons_mye_rebased", "ons_mye_original"):
        population = load_population(series)
        assert set(population["series"]) == {series}
        assert population["population"].dtype == "int64"
        assert population["year"].dtype == "int64"
    assert load_ethnicity_2021()["white_pct"].dtype == "float64"
    assert load_ethnicity_2011()["white"].dtype == "int64"
    assert load_wards()["ward_code"].is_unique


# --- boroughs.csv ------------------------------------------------------------------------------


def test_boroughs_match_borough_profiles(profiles: dict[str, dict[str, str]]) -> None:
    boroughs = load_boroughs()
    assert list(boroughs["borough_code"]) == ALL_CODES
    assert sorted(profiles) == ALL_CODES
    for row in boroughs.itertuples(index=False):
        profile = profiles[row.borough_code]
        assert row.borough_name == profile["Area_name"]
        assert f"{row.inner_outer} London" == profile["Inner/_Outer_London"]


def test_inner_outer_agrees_with_boundaries(boundaries: dict[str, dict]) -> None:
    for row in load_boroughs().itertuples(index=False):
        inner = boundaries[row.borough_code]["properties"]["inner_statistical"]
        assert (row.inner_outer == "Inner") is inner, row.borough_name


def test_borough_names_are_the_mps_crime_file_spelling(realdata: Path) -> None:
    published = {row["BoroughName"].strip() for row in read_rows(realdata / LATEST_BOROUGH_FILE)}
    boroughs = load_boroughs()
    mps_names = set(boroughs.loc[boroughs["in_mps_area"], "borough_name"])
    assert mps_names == published - PSEUDO_BOROUGHS


def test_bcus_cover_the_32_mps_boroughs() -> None:
    boroughs = load_boroughs()
    city = boroughs[boroughs["borough_code"] == CITY_OF_LONDON].iloc[0]
    assert not city["in_mps_area"]
    assert pd.isna(city["bcu_code"])
    assert pd.isna(city["bcu_name"])
    mps = boroughs[boroughs["in_mps_area"]]
    assert len(mps) == 32
    assert mps["bcu_code"].notna().all()
    actual = {
        code: (group["bcu_name"].iloc[0], set(group["borough_name"]))
        for code, group in mps.groupby("bcu_code")
    }
    assert actual == EXPECTED_BCUS
    assert mps.groupby("bcu_code")["bcu_name"].nunique().eq(1).all()


def test_tiles_are_unique_and_connected() -> None:
    boroughs = load_boroughs()
    cells = {(row.tile_x, row.tile_y) for row in boroughs.itertuples(index=False)}
    assert len(cells) == len(boroughs) == 33
    assert all(x >= 0 and y >= 0 for x, y in cells)
    assert min(x for x, _ in cells) == 0
    assert min(y for _, y in cells) == 0
    start = next(iter(cells))
    reached, frontier = {start}, [start]
    while frontier:
        x, y = frontier.pop()
        for cell in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)):
            if cell in cells and cell not in reached:
                reached.add(cell)
                frontier.append(cell)
    assert reached == cells


def centroid(feature: dict) -> tuple[float, float]:
    """Mean (lon, lat) of a feature's exterior-ring vertices."""
    geometry = feature["geometry"]
    polygons = geometry["coordinates"]
    if geometry["type"] == "Polygon":
        polygons = [polygons]
    points = [point for polygon in polygons for point in polygon[0]]
    return (
        statistics.fmean(point[0] for point in points),
        statistics.fmean(point[1] for point in points),
    )


def test_tiles_follow_geography(boundaries: dict[str, dict]) -> None:
    boroughs = load_boroughs()
    centres = [centroid(boundaries[code]) for code in boroughs["borough_code"]]
    east = statistics.correlation(list(boroughs["tile_x"]), [lon for lon, _ in centres])
    south = statistics.correlation(list(boroughs["tile_y"]), [-lat for _, lat in centres])
    assert east > 0.9
    assert south > 0.9


# --- borough_names.csv ---------------------------------------------------------------------


@pytest.mark.parametrize("group", NAME_GROUPS)
def test_every_published_name_resolves(
    scanned: tuple[dict[str, set[str]], list],
    code_by_profile_name: dict[str, str],
    lookup: BoroughLookup,
    group: str,
) -> None:
    names = scanned[0][group]
    assert names
    for name in names:
        assert lookup.is_known(name), f"{group}: {name!r} not in borough_names.csv"
        assert lookup.code_for(name) == expected_code(name, code_by_profile_name), name
        if name in PSEUDO_BOROUGHS:
            assert lookup.kind_for(name) == "pseudo"
        elif name in LONDON_WIDE:
            assert lookup.kind_for(name) == "london"
        else:
            assert lookup.kind_for(name) == "borough"


def test_raw_spellings_with_stray_spaces_resolve(realdata: Path, lookup: BoroughLookup) -> None:
    raw = {row["Borough"] for row in read_rows(realdata / "mps_homicide/Homicides_2003_2023.csv")}
    padded = {name for name in raw if name != name.strip()}
    assert padded, "the homicide file was expected to carry trailing spaces"
    for name in raw:
        assert lookup.is_known(name), repr(name)


def test_coded_files_agree_with_lookup(
    scanned: tuple[dict[str, set[str]], list], lookup: BoroughLookup
) -> None:
    coded = scanned[1]
    assert coded
    for group, name, code in coded:
        assert lookup.code_for(name) == code, f"{group}: {name!r}"
        assert lookup.canonical_name(code) == name, f"{group}: {name!r}"


def test_borough_names_csv_is_exactly_the_published_spellings(
    scanned: tuple[dict[str, set[str]], list], code_by_profile_name: dict[str, str]
) -> None:
    groups_by_name: dict[str, set[str]] = defaultdict(set)
    for group, names in scanned[0].items():
        for name in names:
            groups_by_name[name].add(group)
    rows = read_reference("borough_names.csv")
    assert len({row["name"] for row in rows}) == len(rows)
    assert {row["name"] for row in rows} == set(groups_by_name)
    for row in rows:
        name = row["name"]
        assert name == name.strip()
        assert set(row["seen_in"].split("; ")) == groups_by_name[name], name
        assert (row["borough_code"] or None) == expected_code(name, code_by_profile_name)
        if name in PSEUDO_BOROUGHS:
            assert row["kind"] == "pseudo"
        elif name in LONDON_WIDE:
            assert row["kind"] == "london"
        else:
            assert row["kind"] == "borough"


def test_every_borough_has_its_canonical_spelling() -> None:
    rows = read_reference("borough_names.csv")
    canonical = {
        row["borough_code"]: row["borough_name"] for row in read_reference("boroughs.csv")
    }
    listed = {(row["borough_code"], row["name"]) for row in rows if row["kind"] == "borough"}
    assert set(canonical.items()) <= listed


@pytest.mark.parametrize(
    ("filename", "header_lines"),
    [
        ("2016-police-perceptions.csv", 2),
        ("2015-16 _to_2020-21_inclusive_neighbourhood_indicators_final_221221.csv", 3),
    ],
)
def test_pas_neighbourhood_prefixes_resolve(
    realdata: Path, lookup: BoroughLookup, filename: str, header_lines: int
) -> None:
    rows = read_matrix(realdata / "mopac_pas" / filename)[header_lines:]
    prefixes = {row[0].split(" - ")[0] for row in rows if row and row[0]}
    assert len(prefixes) == 32
    assert {lookup.code_for(prefix) for prefix in prefixes} == set(lookup.mps_codes)


# --- population.csv ------------------------------------------------------------------------


def test_rebased_population_matches_table6(realdata: Path) -> None:
    expected = {
        (row["LA code"], year): int(row[str(year)])
        for row in read_rows(realdata / POPULATION_TABLE6, skip=1)
        if row["LA code"].startswith("E09")
        for year in REBASED_YEARS
    }
    assert len(expected) == 33 * len(REBASED_YEARS)
    population = load_population("ons_mye_rebased")
    actual = {
        (row.geography_code, row.year): row.population
        for row in population.itertuples(index=False)
    }
    assert len(actual) == len(population)
    assert actual == expected


def lsoa_sums(realdata: Path) -> dict[tuple[str, int], int]:
    """Original mid-year estimates by borough: LSOA persons summed by LAD11CD."""
    sums: Counter[tuple[str, int]] = Counter()
    for year in ORIGINAL_YEARS:
        for row in read_rows(realdata / f"ons_population/london-mid{year}-pop.csv"):
            sums[(row["LAD11CD"], year)] += int(row["Persons_All-Ages"])
    return dict(sums)


def test_original_population_matches_lsoa_sums(realdata: Path) -> None:
    expected = lsoa_sums(realdata)
    assert len(expected) == 33 * len(ORIGINAL_YEARS)
    population = load_population("ons_mye_original")
    actual = {
        (row.geography_code, row.year): row.population
        for row in population.itertuples(index=False)
    }
    assert len(actual) == len(population)
    assert actual == expected


@pytest.mark.parametrize(("series", "year"), sorted(LONDON_TOTALS))
def test_london_totals(realdata: Path, series: str, year: int) -> None:
    if series == "ons_mye_rebased":
        raw_total = sum(
            int(row[str(year)])
            for row in read_rows(realdata / POPULATION_TABLE6, skip=1)
            if row["LA code"].startswith("E09")
        )
    else:
        raw_total = sum(v for (_, y), v in lsoa_sums(realdata).items() if y == year)
    population = load_population(series)
    shipped_total = int(population.loc[population["year"] == year, "population"].sum())
    assert raw_total == LONDON_TOTALS[(series, year)]
    assert shipped_total == LONDON_TOTALS[(series, year)]


def test_population_rows_are_complete_and_sourced() -> None:
    rows = read_reference("population.csv")
    assert all(row["population"].isdigit() and row["year"].isdigit() for row in rows)
    assert all(row["source"].startswith("ONS ") for row in rows)
    keys = [(row["geography_code"], row["year"], row["series"]) for row in rows]
    assert len(keys) == len(set(keys))
    for series, years in (
        ("ons_mye_rebased", REBASED_YEARS),
        ("ons_mye_original", ORIGINAL_YEARS),
    ):
        assert {(c, int(y)) for c, y, s in keys if s == series} == {
            (code, year) for code in ALL_CODES for year in years
        }


# --- ethnicity_census2021.csv / ethnicity_census2011.csv -----------------------------------


def test_census_2021_shares_match(realdata: Path) -> None:
    groups = ("white", "black", "asian", "mixed")
    expected = {}
    for row in read_rows(realdata / "ons_census_2021/census-quiz-data-2021-v9.csv"):
        if row["code"].startswith("E09"):
            shares = [Decimal(row[f"ethnicity_{group}_perc"]) for group in groups]
            other = Decimal(100) - sum(shares)
            expected[row["code"]] = (
                int(row["population_total"]),
                *map(float, shares),
                float(other),
            )
    assert sorted(expected) == ALL_CODES
    census = load_ethnicity_2021()
    columns = ["population_total", "white_pct", "black_pct", "asian_pct", "mixed_pct", "other_pct"]
    actual = {
        row[0]: tuple(row[1:])
        for row in census[["borough_code", *columns]].itertuples(index=False)
    }
    assert actual == expected
    assert (census[columns[1:]] >= 0).all().all()
    assert census[columns[1:]].sum(axis=1).round(1).eq(100.0).all()


def test_census_2011_counts_match(realdata: Path) -> None:
    column = "Ethnic Group: {}; measures: Value"
    groups = {
        "all_people": "All categories: Ethnic group",
        "white": "White",
        "mixed": "Mixed",
        "asian": "Asian",
        "black": "Black",
        "other": "Other",
    }
    expected = {
        row["geography code"]: {
            key: int(row[column.format(label)]) for key, label in groups.items()
        }
        for row in read_rows(realdata / "ons_census_2011/la-ethnic-groups.csv")
        if row["geography code"].startswith("E09")
    }
    assert sorted(expected) == ALL_CODES
    census = load_ethnicity_2011()
    actual = {
        row["borough_code"]: {key: int(row[key]) for key in groups}
        for row in census.to_dict("records")
    }
    assert actual == expected
    parts = census[["white", "mixed", "asian", "black", "other"]].sum(axis=1)
    assert parts.eq(census["all_people"]).all()


# --- wards.csv -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def published_wards(realdata: Path) -> dict[str, set[tuple[str, str]]]:
    """(ward name, published borough name) pairs by ward code in the ward crime file."""
    wards: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for row in read_rows(realdata / WARD_FILE):
        wards[row["WardCode"].strip()].add((row["WardName"].strip(), row["LookUp_BoroughName"]))
    return dict(wards)


def test_every_published_ward_is_transcribed(
    published_wards: dict[str, set[tuple[str, str]]],
) -> None:
    wards = load_wards()
    assert wards["ward_code"].is_unique
    assert set(wards["ward_code"]) == set(published_wards)
    names = dict(zip(wards["ward_code"], wards["ward_name"], strict=True))
    for code, pairs in published_wards.items():
        assert {name for name, _ in pairs} == {names[code]}, code


def test_ward_boroughs_match(
    published_wards: dict[str, set[tuple[str, str]]], code_by_profile_name: dict[str, str]
) -> None:
    shipped = dict(zip(load_wards()["ward_code"], load_wards()["borough_code"], strict=True))
    for code, pairs in published_wards.items():
        boroughs = {borough for _, borough in pairs}
        assert len(boroughs) == 1, f"{code} is published under {sorted(boroughs)}"
        (published,) = boroughs
        if published.strip() in PSEUDO_BOROUGHS:
            assert code == HEATHROW_VILLAGES, f"{code} is published under {published!r}"
            assert shipped[code] == HILLINGDON
        else:
            assert shipped[code] == code_by_profile_name[published.strip()], code


def test_heathrow_villages_is_a_hillingdon_ward(
    published_wards: dict[str, set[tuple[str, str]]],
) -> None:
    assert published_wards[HEATHROW_VILLAGES] == {
        ("Heathrow Villages", "Aviation Security (SO18)")
    }
    wards = load_wards().set_index("ward_code")
    assert wards.loc[HEATHROW_VILLAGES, "borough_code"] == HILLINGDON


def test_wards_cover_the_mps_boroughs(lookup: BoroughLookup) -> None:
    counts = load_wards()["borough_code"].value_counts()
    assert set(counts.index) == set(lookup.mps_codes)
    assert counts.sum() == 679
    assert counts[HILLINGDON] == 21
