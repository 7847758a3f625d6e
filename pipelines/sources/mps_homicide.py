"""MPS Homicide Dashboard data (London Datastore): one row per homicide victim.

The victim-level file (``Homicides_2003_2023.csv``) gives, per victim, the month the homicide
was recorded ("Jan-03", i.e. ``%b-%y``), the borough, age group, sex, method, domestic abuse
flag, offence type, solved status and officer-observed ethnicity. ``Count of Victims`` is
always 1 in the published file; it is kept and summed rather than assumed.

Published quirks handled here: borough names with trailing spaces ("Brent ", "Heathrow "),
"&" for "and" ("Barking & Dagenham"), "Upon" with a capital U (all resolved by the shared
borough lookup); the pseudo-borough "Heathrow" is kept, flagged ``is_borough = false`` with no
borough code, never dropped; the age group "13 to19" is written "13 to 19". Everything else
stays as published text for the staged suite (``stg_mps_homicide``) to judge.
"""

from __future__ import annotations

import logging
import re

import pandas as pd

from pipelines.inputs import InputFile
from pipelines.sources.base import ParseContext, Parsed, Source
from pipelines.sources.records import pick_columns, split_table

logger = logging.getLogger(__name__)

HOMICIDE_COLUMNS = {
    "victims": "Count of Victims",
    "age_group": "Age Group",
    "sex": "Sex",
    "method": "Method of Killing",
    "domestic_abuse": "Domestic Abuse",
    "recorded_date": "Recorded Date",
    "offence_type": "Homicide Offence Type",
    "solved_status": "Solved Status",
    "borough_name_published": "Borough",
    "officer_observed_ethnicity": "Officer Observed Ethnicity",
}
SIGNATURE = ("Count of Victims", "Recorded Date", "Homicide Offence Type", "Borough")
MISSING_SPACE = re.compile(r"\bto(?=[0-9])")
FRAME_COLUMNS = [
    "month",
    "month_key",
    "recorded_date",
    "borough_name_published",
    "borough_name",
    "borough_code",
    "is_borough",
    "age_group",
    "sex",
    "method",
    "domestic_abuse",
    "offence_type",
    "solved_status",
    "officer_observed_ethnicity",
    "victims",
    "source_line",
]


def is_homicide_header(cells: list[str]) -> bool:
    return set(SIGNATURE) <= set(cells)


def matches_homicide(rows: list[list[str]]) -> bool:
    """The victim-level homicide header (by its distinctive column names)."""
    return bool(rows) and is_homicide_header(rows[0])


def parse_months(recorded: pd.Series) -> pd.Series:
    """'Jan-03' -> the first of that month; text that is not a month stays missing."""
    parsed = pd.to_datetime(recorded, format="%b-%y", errors="coerce")
    return parsed.dt.date.astype(object).where(parsed.notna(), None)


def month_keys(months: pd.Series) -> pd.Series:
    """YYYYMM of each month (missing where the month did not parse), for the range check."""
    return months.map(lambda d: None if d is None else d.year * 100 + d.month).astype("Int64")


def attach_boroughs(frame: pd.DataFrame, ctx: ParseContext) -> pd.DataFrame:
    """Resolve each spelling to a GSS code and canonical name; unknown names stay as written."""
    lookup = ctx.borough_lookup
    published = frame["borough_name_published"]
    names = published.unique()
    codes = {n: lookup.code_for(n) for n in names}
    canonical = {n: lookup.canonical_name(codes[n]) if codes[n] else n for n in names}
    frame["borough_code"] = published.map(codes)
    frame["borough_name"] = published.map(canonical)
    frame["is_borough"] = published.map({n: lookup.kind_for(n) for n in names}).eq("borough")
    return frame


def parse_homicide(file: InputFile, ctx: ParseContext) -> Parsed:
    """Parse the victim-level homicide file: one row per victim, as published."""
    table = split_table(file, is_homicide_header, ",".join(SIGNATURE))
    frame = pick_columns(file, table, HOMICIDE_COLUMNS)
    frame["age_group"] = frame["age_group"].str.replace(MISSING_SPACE, "to ", regex=True)
    frame["month"] = parse_months(frame["recorded_date"])
    frame["month_key"] = month_keys(frame["month"])
    frame = attach_boroughs(frame, ctx)
    keys = frame["month_key"].dropna()
    vintage = f"{keys.max() // 100:04d}-{keys.max() % 100:02d}" if len(keys) else "unknown"
    columns = dict(HOMICIDE_COLUMNS)
    columns |= {"month": "Recorded Date", "month_key": "Recorded Date"}
    columns |= {"borough_name": "Borough", "borough_code": "Borough"}
    logger.info("%s: %d victims, last month %s", file.name, len(frame), vintage)
    return Parsed(frame[FRAME_COLUMNS], vintage, len(table.rows), columns)


HOMICIDE = Source(
    id="mps_homicide",
    label="MPS Homicide Dashboard data, victim level (London Datastore)",
    table="mps_homicide",
    suite="stg_mps_homicide",
    matches=matches_homicide,
    parse=parse_homicide,
    publisher="Metropolitan Police Service, via the London Datastore",
)
