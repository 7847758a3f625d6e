"""Reference sources: ONS population estimates, Census 2011 and 2021, GLA Borough Profiles.

Each is detected by its header, never its file name, and parsed to text values that the staged
suite checks before staging casts them. The national files (ONS local-authority population,
both censuses) are kept whole, as published; the marts pick out the London boroughs.

- ``ons_population_la``: ONS "Regional gross domestic product: local authorities", Table 6
  (mid-year population estimates for every UK local authority, the series rebased after
  Census 2021), exported to CSV with a title line above the header ``ITL1 Region,LA code,
  LA name,1998,...,2022``. One row per authority and year.
- ``ons_sape_lsoa``: ONS small-area population estimates for London's 2011 LSOAs (the original,
  pre-Census-2021 series: the rebased SAPE use 2021 LSOAs). Nothing in the file says which
  mid-year it is for: the two published years have the same header and the same LSOAs in the
  same order. The year is taken from the ``year`` option (``--year``), else from the published
  file name (``...mid2019...``), else the file is refused asking for ``--year``.
- ``census_2011_ethnic``: Census 2011 QS201EW "Ethnic group" Nomis export, all local
  authorities: the five high-level groups and the total (counts).
- ``census_2021_indicators``: the ONS census-quiz indicator file for Census 2021 local
  authorities: usual residents and four ethnic-group percentages ("other" is the rest).
- ``lds_borough_profiles``: GLA London Borough Profiles (2017 estimates; latin-1, "NaN"
  strings, thousands separators, trailing fully empty rows, which are skipped).
"""

from __future__ import annotations

import logging
import re

import pandas as pd

from pipelines.errors import RefusedFile
from pipelines.inputs import InputFile
from pipelines.sources.base import ParseContext, Parsed, Source
from pipelines.sources.records import Table, number_text, pick_columns, split_table

logger = logging.getLogger(__name__)
YEAR_HEADER = re.compile(r"^[0-9]{4}$")
YEAR_IN_NAME = re.compile(r"mid-?([0-9]{4})", re.IGNORECASE)
ONS = "Office for National Statistics"

POPULATION_LA_IDS = {"itl1_region": "ITL1 Region", "la_code": "LA code", "la_name": "LA name"}
SAPE_COLUMNS = {
    "lsoa_code": "LSOA11CD",
    "lsoa_name": "LSOA11NM",
    "msoa_code": "MSOA11CD",
    "msoa_name": "MSOA11NM",
    "lad_code": "LAD11CD",
    "lad_name": "LAD11NM",
    "persons": "Persons_All-Ages",
}
CENSUS_2011_LEAD = ["date", "geography", "geography code", "Rural Urban"]
CENSUS_2011_COLUMNS = {
    "census_date": "date",
    "geography_name": "geography",
    "geography_code": "geography code",
    "rural_urban": "Rural Urban",
    "all_people": "Ethnic Group: All categories: Ethnic group; measures: Value",
    "white": "Ethnic Group: White; measures: Value",
    "mixed": "Ethnic Group: Mixed; measures: Value",
    "asian": "Ethnic Group: Asian; measures: Value",
    "black": "Ethnic Group: Black; measures: Value",
    "other": "Ethnic Group: Other; measures: Value",
}
CENSUS_2011_COUNTS = ("all_people", "white", "mixed", "asian", "black", "other")
CENSUS_2021_COLUMNS = {
    "geography_code": "code",
    "geography_name": "name",
    "population_total": "population_total",
    "asian_pct": "ethnicity_asian_perc",
    "black_pct": "ethnicity_black_perc",
    "mixed_pct": "ethnicity_mixed_perc",
    "white_pct": "ethnicity_white_perc",
}
CENSUS_2021_NUMBERS = ("population_total", "asian_pct", "black_pct", "mixed_pct", "white_pct")
PROFILES_COLUMNS = {
    "borough_code": "Code",
    "borough_name": "Area_name",
    "inner_outer": "Inner/_Outer_London",
    "gla_population_2017": "GLA_Population_Estimate_2017",
}


def mid_year_key(years: pd.Series) -> pd.Series:
    """The YYYYMM of each estimate's reference date (30 June), for the month-range check."""
    return years.astype("int64") * 100 + 6


def is_population_la_header(cells: list[str]) -> bool:
    """Whether a row is the Table 6 header: the three identifiers, then years."""
    return cells[:3] == list(POPULATION_LA_IDS.values()) and bool(
        len(cells) > 3 and YEAR_HEADER.match(cells[3])
    )


def matches_population_la(rows: list[list[str]]) -> bool:
    """The ONS Table 6 header, on the first line or under a title line."""
    return any(is_population_la_header(row) for row in rows[:3])


def year_headers(file: InputFile, table: Table) -> list[str]:
    """The year columns after the identifiers; refuse a header that is not a year."""
    years = table.header.cells[len(POPULATION_LA_IDS) :]
    for year in years:
        if not YEAR_HEADER.match(year):
            raise RefusedFile(
                file.name, "header is not a year as YYYY", row=table.header.line, column=year
            )
    if len(set(years)) != len(years):
        raise RefusedFile(file.name, "a year column appears twice", row=table.header.line)
    return years


def melt_years(ids: pd.DataFrame, table: Table, years: list[str]) -> pd.DataFrame:
    """One row per authority and year, population as published text."""
    start = len(POPULATION_LA_IDS)
    frames = []
    for offset, year in enumerate(years, start=start):
        frame = ids.copy()
        frame["year"] = int(year)
        frame["source_column"] = year
        frame["population"] = [record.cells[offset] for record in table.rows]
        frames.append(frame)
    long = pd.concat(frames, ignore_index=True)
    long["population"] = long["population"].map(number_text)
    long["mid_year_key"] = mid_year_key(long["year"])
    return long.sort_values(["source_line", "year"], kind="stable").reset_index(drop=True)


def parse_population_la(file: InputFile, ctx: ParseContext) -> Parsed:
    """Parse ONS Table 6: every local authority, one row per year."""
    table = split_table(file, is_population_la_header, "ITL1 Region,LA code,LA name,YYYY...")
    years = year_headers(file, table)
    frame = melt_years(pick_columns(file, table, POPULATION_LA_IDS), table, years)
    span = f"{years[0]}..{years[-1]}"
    columns = {**POPULATION_LA_IDS, "population": span, "year": span, "mid_year_key": span}
    vintage = f"mye_rebased_{years[0]}-{years[-1]}"
    return Parsed(frame, vintage, len(table.rows), columns)


def matches_sape(rows: list[list[str]]) -> bool:
    """The London LSOA small-area estimates header (2011 LSOAs, persons of all ages)."""
    header = rows[0] if rows else []
    lead = [SAPE_COLUMNS[k] for k in ("lsoa_code", "lsoa_name", "msoa_code", "msoa_name")]
    return header[:4] == lead and SAPE_COLUMNS["persons"] in header


def year_option(file: InputFile, ctx: ParseContext) -> int | None:
    """The ``year`` option as an integer, if given; refuse one that is not a year."""
    option = ctx.options.get("year")
    if option is None:
        return None
    if not YEAR_HEADER.match(str(option).strip()):
        raise RefusedFile(file.name, f"--year must be a year as YYYY, got {option!r}")
    return int(str(option).strip())


def sape_year(file: InputFile, ctx: ParseContext) -> int:
    """The mid-year: the ``year`` option, else the published file name; otherwise refuse."""
    option = year_option(file, ctx)
    named = YEAR_IN_NAME.search(file.basename)
    if option is not None:
        if named and int(named.group(1)) != option:
            logger.warning(
                "%s: using --year %s, not %s from the name", file.name, option, named.group(1)
            )
        return option
    if named:
        logger.info("%s: mid-year %s taken from the file name", file.name, named.group(1))
        return int(named.group(1))
    raise RefusedFile(
        file.name,
        "small-area population files do not say which mid-year they are for, and the file "
        "name has no 'midYYYY'; load it again with --year YYYY",
    )


def parse_sape(file: InputFile, ctx: ParseContext) -> Parsed:
    """Parse London LSOA population estimates (one row per LSOA) for one mid-year."""
    table = split_table(file, lambda cells: matches_sape([cells]), "LSOA11CD,LSOA11NM,...")
    year = sape_year(file, ctx)
    frame = pick_columns(file, table, SAPE_COLUMNS, numbers=("persons",))
    frame["year"] = year
    frame["mid_year_key"] = mid_year_key(frame["year"])
    source = "year (from --year or the file name)"
    columns = {**SAPE_COLUMNS, "year": source, "mid_year_key": source}
    return Parsed(frame, f"mye_original_mid-{year}", len(table.rows), columns)


def matches_census_2011(rows: list[list[str]]) -> bool:
    """The Nomis QS201EW export header."""
    header = rows[0] if rows else []
    return header[:4] == CENSUS_2011_LEAD and CENSUS_2011_COLUMNS["all_people"] in header


def parse_census_2011(file: InputFile, ctx: ParseContext) -> Parsed:
    """Parse Census 2011 QS201EW: total and five high-level ethnic groups per area."""
    table = split_table(file, lambda cells: matches_census_2011([cells]), "date,geography,...")
    frame = pick_columns(file, table, CENSUS_2011_COLUMNS, numbers=CENSUS_2011_COUNTS)
    return Parsed(frame, "census_2011_qs201ew", len(table.rows), dict(CENSUS_2011_COLUMNS))


def matches_census_2021(rows: list[list[str]]) -> bool:
    """The census-quiz indicator header: code, name, then the indicators we use among others."""
    header = rows[0] if rows else []
    needed = set(CENSUS_2021_COLUMNS.values())
    return header[:2] == ["code", "name"] and needed <= set(header)


def parse_census_2021(file: InputFile, ctx: ParseContext) -> Parsed:
    """Parse the Census 2021 indicators: usual residents and ethnic-group percentages."""
    table = split_table(file, lambda cells: matches_census_2021([cells]), "code,name,...")
    frame = pick_columns(file, table, CENSUS_2021_COLUMNS, numbers=CENSUS_2021_NUMBERS)
    return Parsed(frame, "census_2021_indicators", len(table.rows), dict(CENSUS_2021_COLUMNS))


def matches_profiles(rows: list[list[str]]) -> bool:
    """The London Borough Profiles header (edition with 2017 GLA estimates)."""
    header = rows[0] if rows else []
    return header[:4] == list(PROFILES_COLUMNS.values())


def parse_profiles(file: InputFile, ctx: ParseContext) -> Parsed:
    """Parse the borough profiles: code, name, inner/outer and 2017 population per borough."""
    table = split_table(file, lambda cells: matches_profiles([cells]), "Code,Area_name,...")
    frame = pick_columns(file, table, PROFILES_COLUMNS, numbers=("gla_population_2017",))
    return Parsed(frame, "gla_profiles_2017", len(table.rows), dict(PROFILES_COLUMNS))


POPULATION_LA = Source(
    id="ons_population_la",
    label="ONS mid-year population estimates by local authority (Regional GDP Table 6)",
    table="ons_population_la",
    suite="stg_ons_population_la",
    matches=matches_population_la,
    parse=parse_population_la,
    publisher=ONS,
)
SAPE_LSOA = Source(
    id="ons_sape_lsoa",
    label="ONS small-area population estimates, London LSOAs (2011 LSOAs)",
    table="ons_sape_lsoa",
    suite="stg_ons_sape_lsoa",
    matches=matches_sape,
    parse=parse_sape,
    publisher=ONS,
)
CENSUS_2011_ETHNIC = Source(
    id="census_2011_ethnic",
    label="Census 2011 QS201EW ethnic group by local authority (Nomis)",
    table="census_2011_ethnic",
    suite="stg_census_2011_ethnic",
    matches=matches_census_2011,
    parse=parse_census_2011,
    publisher=ONS,
)
CENSUS_2021_INDICATORS = Source(
    id="census_2021_indicators",
    label="Census 2021 local authority indicators (ONS census quiz data)",
    table="census_2021_indicators",
    suite="stg_census_2021_indicators",
    matches=matches_census_2021,
    parse=parse_census_2021,
    publisher=ONS,
)
BOROUGH_PROFILES = Source(
    id="lds_borough_profiles",
    label="London Borough Profiles (GLA, London Datastore)",
    table="lds_borough_profiles",
    suite="stg_lds_borough_profiles",
    matches=matches_profiles,
    parse=parse_profiles,
    publisher="Greater London Authority, via the London Datastore",
)
REFERENCE_SOURCES = (
    POPULATION_LA,
    SAPE_LSOA,
    CENSUS_2011_ETHNIC,
    CENSUS_2021_INDICATORS,
    BOROUGH_PROFILES,
)
