"""MPS measure extract: figures the MPS supplies outside its open data (docs/measure_extract.md).

A long CSV, one row per measure, period and geography, with exactly this header::

    measure_id,period_start,period_end,geography_code,value,numerator,denominator,unit,source

It carries figures such as 999 answer times, I-grade attendance, victim satisfaction and
positive outcomes. Dates are ISO (YYYY-MM-DD); geography_code is a borough's E09 code or
"MPS" for the force area. Values stay text; the helper columns the suite checks
(``period_days``, ``period_end_key`` and the numeric ``value_number`` and
``denominator_number``) are missing where the text does not parse, so that each problem fails
one expectation, not several.
"""

from __future__ import annotations

import logging

import pandas as pd

from pipelines.inputs import InputFile
from pipelines.sources.base import ParseContext, Parsed, Source
from pipelines.sources.records import pick_columns, split_table

logger = logging.getLogger(__name__)

HEADER = [
    "measure_id",
    "period_start",
    "period_end",
    "geography_code",
    "value",
    "numerator",
    "denominator",
    "unit",
    "source",
]
HELPER_COLUMNS = {
    "period_days": "period_end",
    "period_end_key": "period_end",
    "value_number": "value",
    "denominator_number": "denominator",
}


def is_extract_header(cells: list[str]) -> bool:
    return cells == HEADER


def matches_extract(rows: list[list[str]]) -> bool:
    """The documented measure-extract header, exactly."""
    return bool(rows) and is_extract_header(rows[0])


def iso_dates(values: pd.Series) -> pd.Series:
    """ISO dates as timestamps; anything else (or an impossible date) is missing."""
    return pd.to_datetime(values, format="%Y-%m-%d", errors="coerce")


def numbers(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values, errors="coerce")


def add_helpers(frame: pd.DataFrame) -> pd.DataFrame:
    """Parsed forms of the dates and numbers for the suite's range checks."""
    start, end = iso_dates(frame["period_start"]), iso_dates(frame["period_end"])
    frame["period_days"] = (end - start).dt.days.astype("Int64")
    frame["period_end_key"] = (end.dt.year * 100 + end.dt.month).astype("Int64")
    frame["value_number"] = numbers(frame["value"])
    frame["denominator_number"] = numbers(frame["denominator"])
    return frame


def vintage_of(frame: pd.DataFrame) -> str:
    """The extract's vintage: the last period end it gives."""
    ends = iso_dates(frame["period_end"]).dropna()
    return ends.max().date().isoformat() if len(ends) else "unknown"


def parse_extract(file: InputFile, ctx: ParseContext) -> Parsed:
    """Parse a measure extract: one row per measure, period and geography."""
    table = split_table(file, is_extract_header, ",".join(HEADER))
    frame = add_helpers(pick_columns(file, table, {c: c for c in HEADER}))
    vintage = vintage_of(frame)
    logger.info("%s: %d measure values up to %s", file.name, len(frame), vintage)
    columns = {**{c: c for c in HEADER}, **HELPER_COLUMNS}
    return Parsed(frame, vintage, len(table.rows), columns)


MEASURE_EXTRACT = Source(
    id="mps_measure_extract",
    label="MPS measure extract (999 answer times, attendance, satisfaction, outcomes)",
    table="mps_measure_extract",
    suite="stg_mps_measure_extract",
    matches=matches_extract,
    parse=parse_extract,
    publisher="Metropolitan Police Service (supplied to MOPAC)",
)
