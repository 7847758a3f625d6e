"""What a source is, and the text handling every CSV source shares."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from oversight.reference import BoroughLookup, load_borough_lookup, load_wards
from pipelines.errors import RefusedFile
from pipelines.inputs import InputFile

HEAD_BYTES = 65536


@dataclass(frozen=True)
class Text:
    """A file decoded to text, with the encoding that worked."""

    text: str
    encoding: str


@dataclass(frozen=True)
class ParseContext:
    """What a parser may need besides the file: reference lookups, config and options."""

    borough_lookup: BoroughLookup
    ward_boroughs: dict[str, str]
    categories: dict
    today: dt.date
    options: dict = field(default_factory=dict)


@dataclass
class Parsed:
    """A file parsed to its tidy table, ready for validation and loading.

    ``frame`` has the source's canonical columns plus ``source_line`` (the 1-based line of the
    file a row came from) and, where a row's values come from several published columns,
    ``source_column``. ``columns`` maps canonical names to the published headers so that a
    failed expectation can be reported in the file's own words.
    """

    frame: pd.DataFrame
    vintage: str
    published_rows: int
    columns: dict[str, str]
    replaces: dict[str, str] | None = None


@dataclass(frozen=True)
class Source:
    """A published data source: how to recognise its files and parse them."""

    id: str
    label: str
    table: str
    suite: str
    matches: Callable[[list[list[str]]], bool]
    parse: Callable[[InputFile, ParseContext], Parsed]
    publisher: str = ""


def decode(file: InputFile) -> Text:
    """Decode a file's bytes: UTF-8 (with or without BOM), else Windows-1252/latin-1."""
    data = file.data
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise RefusedFile(file.name, "is UTF-16 encoded; save it as UTF-8 CSV and load it again")
    if b"\x00" in data[:HEAD_BYTES]:
        raise RefusedFile(file.name, "is binary, not a text file")
    try:
        return Text(data.decode("utf-8-sig"), "utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return Text(data.decode("cp1252"), "cp1252")
    except UnicodeDecodeError:
        return Text(data.decode("latin-1"), "latin-1")


class HeadRows(list):
    """Detection rows of a workbook: its first non-empty sheet's, with every sheet's in ``sheets``.

    Matchers written for CSV headers keep working on the list; a workbook source looks at
    ``sheet_heads(rows)`` to find its sheet wherever it is in the workbook.
    """

    def __init__(self, sheets: dict[str, list[list[str]]] | None = None) -> None:
        self.sheets = sheets or {}
        super().__init__(next((rows for rows in self.sheets.values() if rows), []))


def is_workbook(data: bytes) -> bool:
    """Whether bytes look like a spreadsheet workbook (xlsx/xlsm/ods zip, or legacy xls)."""
    return data[:4] == b"PK\x03\x04" or data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def cell_text(value: object) -> str:
    """A workbook cell as trimmed text; empty cells become ""."""
    return "" if pd.isna(value) else str(value).strip()


def workbook_head_rows(file: InputFile, n: int) -> HeadRows:
    """The first ``n`` rows of every sheet of a workbook, by sheet name, in workbook order."""
    try:
        book = pd.ExcelFile(io.BytesIO(file.data), engine="calamine")
        sheets = {
            str(name): [
                [cell_text(v) for v in row]
                for row in pd.read_excel(
                    book, sheet_name=name, header=None, nrows=n, dtype=object
                ).itertuples(index=False)
            ]
            for name in book.sheet_names
        }
    except Exception:  # calamine raises many types; an unreadable workbook just isn't detected
        return HeadRows()
    return HeadRows(sheets=sheets)


def sheet_heads(rows: list[list[str]]) -> dict[str, list[list[str]]]:
    """The per-sheet head rows of a workbook (empty for text files)."""
    return getattr(rows, "sheets", {})


def head_rows(file: InputFile, n: int = 4) -> list[list[str]]:
    """The first ``n`` CSV rows of a text file (comma or semicolon), for detection.

    A workbook gives its first non-empty sheet's rows, and every sheet's in ``sheets``.
    """
    if is_workbook(file.data):
        return workbook_head_rows(file, n)
    try:
        text = decode(InputFile(file.name, file.path, file.data[:HEAD_BYTES])).text
    except RefusedFile:
        return []
    lines = text.splitlines()[:n]
    delimiter = ";" if lines and lines[0].count(";") > lines[0].count(",") else ","
    try:
        return [[cell.strip() for cell in row] for row in csv.reader(lines, delimiter=delimiter)]
    except csv.Error:
        return []


def read_csv_text(file: InputFile, text: str, header: int = 0, sep: str = ",") -> pd.DataFrame:
    """Read CSV text to a frame of strings, turning parser errors into refusals."""
    try:
        return pd.read_csv(
            io.StringIO(text),
            dtype=str,
            keep_default_na=False,
            header=header,
            sep=sep,
            skip_blank_lines=True,
        )
    except pd.errors.EmptyDataError as exc:
        raise RefusedFile(file.name, "is empty") from exc
    except pd.errors.ParserError as exc:
        found = re.search(r"line (\d+)", str(exc))
        row = int(found.group(1)) if found else None
        raise RefusedFile(file.name, f"is not well-formed CSV: {exc}", row=row) from exc


def default_context(categories: dict, today: dt.date, **options: object) -> ParseContext:
    """Build a parse context with the shipped reference lookups."""
    wards = load_wards()
    ward_boroughs = dict(zip(wards["ward_code"], wards["borough_code"], strict=True))
    return ParseContext(load_borough_lookup(), ward_boroughs, categories, today, dict(options))
