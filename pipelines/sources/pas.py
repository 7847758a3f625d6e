"""MOPAC Public Attitude Survey (PAS): the Trust & Confidence dashboard and neighbourhood files.

Three sources, each recognised by its header, never by its file name:

- ``pas_borough``: the dashboard's Borough sheet: ``Date, Survey, Borough, Measure, Proportion,
  MPS``, then trailing columns that are mostly blank but not always (ignored). Either the
  published workbook (the first sheet with that header; a notes sheet may come first) or a CSV
  re-save of the sheet (comma or semicolon separated, M/D/YYYY or D/M/YYYY dates, decimal
  points or commas). One row per quarter end, borough and measure; MPS is the London figure.
- ``pas_london``: the dashboard's London-wide series (``Date, Survey, Borough, Measure,
  Proportion`` with Borough always "MPS"). A workbook that also has the Borough sheet belongs
  to ``pas_borough``, whose MPS column carries the same London series.
- ``pas_neighbourhood``: neighbourhood indicator files: a row of questions, optionally a row
  of ethnic groups, then a row of response definitions ("% Excellent or Good"); the first
  column is "Borough - Sector". One row per neighbourhood, measure and group. Blank and "N/A"
  cells are missing values, never zero. Nothing inside these files says which survey period
  they cover: it comes from the ``period`` option, else the published file name ("2016-...",
  "2015-16 _to_2020-21 ..."), else the file is refused.

The date order is read from the values: a day over 12 decides it, and every quarter end does
(31/3, 30/6, 30/9, 31/12). A file mixing date orders, or ISO with slashed dates, is refused as
ambiguous, naming the line and column; so is one mixing decimal commas and points. Values stay
text (decimal commas made points) for the staged suites to judge; staging casts them.
Measures and their published labels are configuration (config/pas_measures.yaml).
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from oversight.reference import BoroughLookup
from oversight.settings import get_settings
from pipelines.errors import RefusedFile
from pipelines.inputs import InputFile
from pipelines.sources.base import (
    ParseContext,
    Parsed,
    Source,
    cell_text,
    decode,
    is_workbook,
    sheet_heads,
)

logger = logging.getLogger(__name__)

BOROUGH_HEADER = ("Date", "Survey", "Borough", "Measure", "Proportion", "MPS")
LONDON_HEADER = BOROUGH_HEADER[:5]
HEADER_SEARCH_ROWS = 4
MEASURES_FILE = "pas_measures.yaml"
MEASURE_KEYS = {"id", "label", "published", "description", "direction"}
DIRECTIONS = {"higher_is_better", "lower_is_better", "context"}
SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
DAY_MONTH_YEAR = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")
ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[ T]00:00(?::00)?)?$")
COMMA_DECIMAL = re.compile(r"^-?[0-9]*,[0-9]+$")
POINT_DECIMAL = re.compile(r"^-?[0-9]*\.[0-9]+$")
MISSING_TEXT = {"", "n/a"}
FINANCIAL_YEARS = re.compile(r"(?<!\d)(\d{4}-\d{2})[\s_]*to[\s_]*(\d{4}-\d{2})(?!\d)", re.I)
CALENDAR_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")
NEIGHBOURHOOD_IDS = {"neighbourhood": "neighbourhood", "code": "neighbourhood_code"}
NEIGHBOURHOOD_IDS_IGNORED = {"group"}  # the 2016 file's area cluster ("Group 7"), not ethnicity
SLASHED = {"dmy", "mdy", "either", "same"}
DATE_FORM_NAMES = {
    "iso": "YYYY-MM-DD",
    "dmy": "D/M/YYYY",
    "mdy": "M/D/YYYY",
    "either": "D/M or M/D",
    "same": "D/M or M/D",
}


# --- measures (config/pas_measures.yaml) -------------------------------------------------


@dataclass(frozen=True)
class Measure:
    """One PAS measure: stable id, display label, description and direction."""

    id: str
    label: str
    description: str
    direction: str


@dataclass(frozen=True)
class MeasureBook:
    """The configured PAS measures, found by any of their published labels."""

    measures: tuple[Measure, ...]
    by_key: dict[str, Measure]
    not_measures: frozenset[str]

    def find(self, published: str) -> Measure | None:
        """The measure a published label or question names, if known."""
        return self.by_key.get(label_key(published))

    def is_not_measure(self, published: str) -> bool:
        """Whether a published column is a known non-survey column (skipped on load)."""
        return label_key(published) in self.not_measures

    @property
    def labels(self) -> list[str]:
        return [m.label for m in self.measures]


def label_key(text: str) -> str:
    """Matching key for a label: case, punctuation, quotes and spacing ignored."""
    return " ".join(re.sub(r"[^0-9a-z]+", " ", str(text).casefold()).split())


def check_measure_entry(entry: dict[str, Any], seen: set[str]) -> Measure:
    """One configured measure, refusing unknown keys, bad ids and duplicate ids."""
    unknown = set(entry) - MEASURE_KEYS
    missing = MEASURE_KEYS - set(entry)
    if unknown or missing:
        raise ValueError(
            f"{MEASURES_FILE}: measure {entry.get('id')!r} has unknown keys {sorted(unknown)} "
            f"or lacks {sorted(missing)}"
        )
    if not SNAKE_CASE.match(str(entry["id"])) or entry["id"] in seen:
        raise ValueError(f"{MEASURES_FILE}: id {entry['id']!r} is not snake_case or repeats")
    if entry["direction"] not in DIRECTIONS:
        raise ValueError(f"{MEASURES_FILE}: {entry['id']}: unknown direction")
    seen.add(entry["id"])
    return Measure(entry["id"], entry["label"], entry["description"], entry["direction"])


@functools.cache
def load_measure_book(path: Path) -> MeasureBook:
    """Read and check the PAS measures file (cached per path)."""
    with path.open(encoding="utf-8") as f:
        config = yaml.safe_load(f)
    measures, by_key, seen = [], {}, set()
    for entry in config["measures"]:
        measure = check_measure_entry(entry, seen)
        measures.append(measure)
        for published in [entry["label"], *entry["published"]]:
            key = label_key(published)
            if by_key.setdefault(key, measure) != measure:
                raise ValueError(f"{MEASURES_FILE}: {published!r} names two measures")
    not_measures = frozenset(label_key(t) for t in config.get("not_measures", []))
    return MeasureBook(tuple(measures), by_key, not_measures)


def measure_book() -> MeasureBook:
    """The shipped PAS measures."""
    return load_measure_book(get_settings().config_dir / MEASURES_FILE)


# --- reading rows from CSV or a workbook sheet ---------------------------------------------


@dataclass(frozen=True)
class Row:
    """One row of a file: the 1-based line (or sheet row) and its cells."""

    line: int
    cells: list[Any]


def texts(cells: Iterable[Any]) -> list[str]:
    return [cell_text(c) for c in cells]


def is_blank(row: Row) -> bool:
    return all(text == "" for text in texts(row.cells))


def csv_rows(file: InputFile) -> list[Row]:
    """Every record of a comma- or semicolon-separated file with the line it starts on."""
    text = decode(file).text
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows, start = [], 1
    try:
        for cells in reader:
            rows.append(Row(start, [cell.strip() for cell in cells]))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise RefusedFile(file.name, f"is not well-formed CSV: {exc}", row=start) from exc
    return rows


def workbook_cell(value: Any) -> Any:
    """A sheet cell: text trimmed, empty cells "", dates and numbers kept typed."""
    if isinstance(value, str):
        return value.strip()
    return "" if pd.isna(value) else value


def has_header(rows: Iterable[list[str]], is_header: Callable[[list[str]], bool]) -> bool:
    return any(is_header(row) for row in list(rows)[:HEADER_SEARCH_ROWS])


def sheet_rows(file: InputFile, is_header: Callable[[list[str]], bool]) -> list[Row]:
    """The rows of the first sheet with the header, numbered as the spreadsheet numbers them."""
    try:
        book = pd.ExcelFile(io.BytesIO(file.data), engine="calamine")
        for name in book.sheet_names:
            head = pd.read_excel(
                book, sheet_name=name, header=None, nrows=HEADER_SEARCH_ROWS, dtype=object
            )
            if has_header((texts(r) for r in head.itertuples(index=False)), is_header):
                # header=None keeps leading blank rows, so index + 1 is the sheet's row number.
                frame = pd.read_excel(book, sheet_name=name, header=None, dtype=object)
                logger.info("%s: reading sheet %r", file.name, name)
                return [
                    Row(i + 1, [workbook_cell(v) for v in row])
                    for i, row in enumerate(frame.itertuples(index=False))
                ]
    except Exception as exc:  # calamine raises many types for a damaged workbook
        raise RefusedFile(file.name, f"is not a readable workbook ({exc})") from exc
    return []


def read_table(
    file: InputFile, is_header: Callable[[list[str]], bool], expected: str, width: int
) -> tuple[Row, list[Row]]:
    """The header row and the non-blank data rows after it; refuse rows that are too short."""
    rows = sheet_rows(file, is_header) if is_workbook(file.data) else csv_rows(file)
    index = next(
        (i for i, r in enumerate(rows[:HEADER_SEARCH_ROWS]) if is_header(texts(r.cells))), None
    )
    if index is None:
        raise RefusedFile(file.name, f"has no header (or sheet) starting {expected}", row=1)
    header, data = rows[index], []
    for row in rows[index + 1 :]:
        if is_blank(row):
            continue
        if len(row.cells) < width:
            raise RefusedFile(
                file.name,
                f"row has {len(row.cells)} fields; the first {width} columns are needed",
                row=row.line,
            )
        data.append(row)
    if not data:
        raise RefusedFile(file.name, "has a header but no data rows", row=header.line + 1)
    return header, data


# --- dates and numbers ----------------------------------------------------------------------


def date_form(value: Any) -> str:
    """How a Date cell is written: typed, iso, dmy, mdy, either (order unknown), same, bad."""
    if isinstance(value, dt.date):
        return "typed"
    text = cell_text(value)
    if ISO_DATE.match(text):
        return "iso"
    found = DAY_MONTH_YEAR.match(text)
    if not found:
        return "bad"
    first, second = int(found.group(1)), int(found.group(2))
    if first > 12 and second <= 12:
        return "dmy"
    if second > 12 and first <= 12:
        return "mdy"
    if first <= 12 and second <= 12:
        return "same" if first == second else "either"
    return "bad"


def forms_clash(a: str, b: str) -> bool:
    """Whether two date forms cannot come from one consistent format."""
    return {a, b} == {"dmy", "mdy"} or ("iso" in (a, b) and bool({a, b} & SLASHED))


def date_order(file: InputFile, values: list[Any], lines: list[int], column: str) -> str | None:
    """The file's day/month order ('dmy' or 'mdy'); refuse mixed or undecidable dates."""
    seen: dict[str, tuple[int, str]] = {}
    for value, line in zip(values, lines, strict=True):
        form = date_form(value)
        if form in ("typed", "bad"):
            continue
        clash = next((f for f in seen if forms_clash(f, form)), None)
        if clash is not None:
            first_line, first_value = seen[clash]
            raise RefusedFile(
                file.name,
                f"dates mix formats: {value!r} is {DATE_FORM_NAMES[form]} but line "
                f"{first_line} has {first_value!r} ({DATE_FORM_NAMES[clash]}); the date order "
                "is ambiguous",
                row=line,
                column=column,
            )
        seen.setdefault(form, (line, cell_text(value)))
    for order in ("dmy", "mdy"):
        if order in seen:
            return order
    if "either" in seen:
        line, value = seen["either"]
        raise RefusedFile(
            file.name,
            f"cannot tell D/M/YYYY from M/D/YYYY: no date has a day over 12 (e.g. {value!r})",
            row=line,
            column=column,
        )
    return None


def to_date(value: Any, order: str | None) -> dt.date | None:
    """A Date cell as a date under the file's order; None if it is not a valid date."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = cell_text(value)
    try:
        if found := ISO_DATE.match(text):
            return dt.date(int(found.group(1)), int(found.group(2)), int(found.group(3)))
        if found := DAY_MONTH_YEAR.match(text):
            first, second, year = (int(g) for g in found.groups())
            day, month = (second, first) if order == "mdy" else (first, second)
            return dt.date(year, month, day)
    except ValueError:
        return None
    return None


def period_columns(
    file: InputFile, values: list[Any], lines: list[int], column: str
) -> pd.DataFrame:
    """period_end and the integer helpers the staged suites check (quarter end, range)."""
    order = date_order(file, values, lines, column)
    days = [to_date(v, order) for v in values]
    return pd.DataFrame(
        {
            "period_end": days,
            "period_mmdd": [d.month * 100 + d.day if d else float("nan") for d in days],
            "period_day_key": [
                d.year * 10000 + d.month * 100 + d.day if d else float("nan") for d in days
            ],
        }
    )


def decimal_mark(file: InputFile, columns: dict[str, list[Any]], lines: list[int]) -> str:
    """The file's decimal mark, from its text numbers; refuse a file that mixes the two."""
    first: dict[str, tuple[int, str]] = {}
    for column, values in columns.items():
        for value, line in zip(values, lines, strict=True):
            if not isinstance(value, str):
                continue
            mark = "," if COMMA_DECIMAL.match(value) else "." if POINT_DECIMAL.match(value) else ""
            if mark and (mark not in first or line < first[mark][0]):
                first[mark] = (line, column)
    if len(first) == 2:
        line, column = max(first.values())
        raise RefusedFile(
            file.name,
            "numbers mix decimal commas and decimal points; the number format is ambiguous",
            row=line,
            column=column,
        )
    return next(iter(first), ".")


def number_text(value: Any, mark: str) -> str:
    """A number cell as text with a decimal point; other text is kept for the suite to judge."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return repr(float(value)) if isinstance(value, float) else str(value)
    text = cell_text(value)
    return text.replace(",", ".") if mark == "," and COMMA_DECIMAL.match(text) else text


def numbers(values: list[Any], mark: str) -> tuple[list[str], pd.Series]:
    """Number cells as normalised text and as floats (NaN where the text is not a number)."""
    text = [number_text(v, mark) for v in values]
    return text, pd.to_numeric(pd.Series(text, dtype=object), errors="coerce").astype(float)


# --- boroughs and measures on a frame -------------------------------------------------------


def attach_boroughs(frame: pd.DataFrame, published: pd.Series, lookup: BoroughLookup) -> None:
    """Add borough_code and canonical borough_name; unknown names stay for validation."""
    names = {n: lookup.code_for(n) for n in published.unique()}
    frame["borough_code"] = published.map(names)
    frame["borough_name"] = published.map(
        {n: lookup.canonical_name(c) if c else n for n, c in names.items()}
    )


def attach_measures(frame: pd.DataFrame, published: pd.Series, book: MeasureBook) -> None:
    """Add measure_id and the configured measure_label; unknown labels stay for validation."""
    found = {label: book.find(label) for label in published.unique()}
    frame["measure_id"] = published.map({k: m.id if m else None for k, m in found.items()})
    frame["measure_label"] = published.map({k: m.label if m else k for k, m in found.items()})


def vintage_of(days: pd.Series) -> str:
    """A dashboard file's vintage: the last quarter it covers, as YYYY-MM."""
    valid = [d for d in days if isinstance(d, dt.date)]
    return max(valid).strftime("%Y-%m") if valid else "unknown"


# --- the dashboard sources (Borough sheet and London series) --------------------------------


def is_borough_header(cells: list[str]) -> bool:
    return tuple(cells[: len(BOROUGH_HEADER)]) == BOROUGH_HEADER


def is_london_header(cells: list[str]) -> bool:
    return tuple(cells[: len(LONDON_HEADER)]) == LONDON_HEADER and cells[5:6] != ["MPS"]


def head_tables(rows: list[list[str]]) -> list[list[list[str]]]:
    """The head rows to test: each sheet's for a workbook, else the file's own."""
    sheets = sheet_heads(rows)
    return list(sheets.values()) if sheets else [rows]


def matches_borough_sheet(rows: list[list[str]]) -> bool:
    return any(has_header(table, is_borough_header) for table in head_tables(rows))


def matches_london(rows: list[list[str]]) -> bool:
    """The London series; a workbook that also has the Borough sheet is the Borough source's."""
    tables = head_tables(rows)
    return any(has_header(t, is_london_header) for t in tables) and not any(
        has_header(t, is_borough_header) for t in tables
    )


def dashboard_frame(
    file: InputFile, ctx: ParseContext, header: Row, rows: list[Row], with_london: bool
) -> tuple[pd.DataFrame, dict[str, str]]:
    """The dashboard rows as a tidy frame and the published name of each checked column."""
    names = texts(header.cells)
    lines = [r.line for r in rows]
    width = len(BOROUGH_HEADER) if with_london else len(LONDON_HEADER)
    cell = {h: [r.cells[i] for r in rows] for i, h in enumerate(BOROUGH_HEADER[:width])}
    frame = period_columns(file, cell["Date"], lines, names[0])
    frame["source_line"] = lines
    frame["survey"] = texts(cell["Survey"])
    frame["borough_published"] = pd.Series(texts(cell["Borough"]), dtype=object)
    frame["measure_published"] = pd.Series(texts(cell["Measure"]), dtype=object)
    attach_measures(frame, frame["measure_published"], measure_book())
    number_columns = {"Proportion": cell["Proportion"]}
    if with_london:
        number_columns["MPS"] = cell["MPS"]
    mark = decimal_mark(file, number_columns, lines)
    frame["proportion"], frame["proportion_value"] = numbers(cell["Proportion"], mark)
    columns = {
        "period_end": names[0],
        "period_mmdd": names[0],
        "period_day_key": names[0],
        "survey": names[1],
        "borough_published": names[2],
        "borough_name": names[2],
        "measure_label": names[3],
        "proportion": names[4],
        "proportion_value": names[4],
    }
    if with_london:
        attach_boroughs(frame, frame["borough_published"], ctx.borough_lookup)
        frame["london_proportion"], frame["london_value"] = numbers(cell["MPS"], mark)
        columns |= {"london_proportion": names[5], "london_value": names[5]}
    return frame, columns


def parse_borough_sheet(file: InputFile, ctx: ParseContext) -> Parsed:
    """Parse the dashboard's Borough sheet (workbook or CSV re-save)."""
    header, rows = read_table(file, is_borough_header, ", ".join(BOROUGH_HEADER), 6)
    frame, columns = dashboard_frame(file, ctx, header, rows, with_london=True)
    return Parsed(frame, vintage_of(frame["period_end"]), len(rows), columns)


def parse_london(file: InputFile, ctx: ParseContext) -> Parsed:
    """Parse the dashboard's London-wide (MPS) series."""
    header, rows = read_table(file, is_london_header, ", ".join(LONDON_HEADER), 5)
    frame, columns = dashboard_frame(file, ctx, header, rows, with_london=False)
    return Parsed(frame, vintage_of(frame["period_end"]), len(rows), columns)


# --- neighbourhood indicator files ----------------------------------------------------------


@dataclass(frozen=True)
class IndicatorColumn:
    """One published indicator column: where it is and what it measures, for which group."""

    position: int
    question: str
    measure: Measure
    group: str
    response_definition: str


def matches_neighbourhood(rows: list[list[str]]) -> bool:
    """A 'neighbourhood' first column, then header rows with a blank first cell and '%...'."""
    if len(rows) < 2 or not rows[0] or rows[0][0].casefold() != "neighbourhood":
        return False
    return any(row and row[0] == "" and any(c.startswith("%") for c in row) for row in rows[1:3])


def header_depth(file: InputFile, rows: list[Row]) -> int:
    """How many header rows: 2 (questions, definitions) or 3 (questions, groups, definitions)."""
    depth = 1
    while depth < len(rows) and depth < 3 and cell_text(rows[depth].cells[0]) == "":
        depth += 1
    if depth not in (2, 3):
        raise RefusedFile(
            file.name,
            "expected a row of questions, optionally a row of groups, then a row of response "
            "definitions, each with a blank first cell",
            row=1,
        )
    return depth


def id_positions(file: InputFile, header: list[Row]) -> tuple[dict[str, int], int]:
    """Positions of the identifying columns before the indicators, and where those start."""
    names = texts(header[0].cells)
    known = {*NEIGHBOURHOOD_IDS, *NEIGHBOURHOOD_IDS_IGNORED}
    start = 0
    while (
        start < len(names)
        and names[start].casefold() in known
        and not any(cell_text(r.cells[start]) for r in header[1:])
    ):
        start += 1
    positions = {
        NEIGHBOURHOOD_IDS[names[i].casefold()]: i
        for i in range(start)
        if names[i].casefold() in NEIGHBOURHOOD_IDS
    }
    if positions.get("neighbourhood") != 0:
        raise RefusedFile(file.name, "first column must be 'neighbourhood'", row=1)
    return positions, start


def indicator_columns(
    file: InputFile, header: list[Row], start: int, book: MeasureBook
) -> list[IndicatorColumn]:
    """The indicator columns; refuse an unknown question or a missing group or definition."""
    questions = texts(header[0].cells)
    definitions = texts(header[-1].cells)
    groups = texts(header[1].cells) if len(header) == 3 else ["all"] * len(questions)
    out = []
    for i in range(start, len(questions)):
        question = questions[i]
        if book.is_not_measure(question):
            logger.info("%s: skipping %r, not a survey measure", file.name, question)
            continue
        measure = book.find(question)
        if measure is None:
            raise RefusedFile(
                file.name,
                "is not a known PAS question (add it to config/pas_measures.yaml)",
                row=header[0].line,
                column=question,
            )
        if groups[i] == "":
            raise RefusedFile(file.name, "has no group", row=header[1].line, column=question)
        if definitions[i] == "":
            raise RefusedFile(
                file.name, "has no response definition", row=header[-1].line, column=question
            )
        out.append(IndicatorColumn(i, question, measure, groups[i], definitions[i]))
    return out


def neighbourhood_period(file: InputFile, ctx: ParseContext) -> str:
    """The survey period: the ``period`` option, else the published file name; else refuse."""
    option = ctx.options.get("period")
    if option:
        return str(option).strip()
    if found := FINANCIAL_YEARS.search(file.basename):
        return f"{found.group(1)} to {found.group(2)}"
    if found := CALENDAR_YEAR.search(file.basename):
        return found.group(1)
    raise RefusedFile(
        file.name,
        "neighbourhood indicator files do not say which survey period they cover and the "
        "file name has no year; load it again with the period option (e.g. period='2016')",
    )


def neighbourhood_long(
    rows: list[Row], ids: dict[str, int], indicators: list[IndicatorColumn], mark: str
) -> pd.DataFrame:
    """One row per neighbourhood and indicator column."""
    records = []
    for row in rows:
        cells = texts(row.cells)
        for column in indicators:
            value = cells[column.position]
            records.append(
                {
                    "neighbourhood": cells[ids["neighbourhood"]],
                    "neighbourhood_code": cells[ids["neighbourhood_code"]]
                    if "neighbourhood_code" in ids
                    else None,
                    "question": column.question,
                    "measure_id": column.measure.id,
                    "measure_label": column.measure.label,
                    "group_name": column.group,
                    "response_definition": column.response_definition,
                    # blank and "N/A" are missing values, never zero
                    "percent": ""
                    if value.casefold() in MISSING_TEXT
                    else number_text(value, mark),
                    "source_line": row.line,
                }
            )
    return pd.DataFrame.from_records(records)


def parse_neighbourhood(file: InputFile, ctx: ParseContext) -> Parsed:
    """Parse a PAS neighbourhood indicator file (all respondents, or by ethnic group)."""
    rows = [r for r in csv_rows(file) if r.cells]
    depth = header_depth(file, rows)
    header, data = rows[:depth], [r for r in rows[depth:] if not is_blank(r)]
    width = len(header[0].cells)
    for row in [*header, *data]:
        if len(row.cells) != width:
            raise RefusedFile(
                file.name,
                f"row has {len(row.cells)} fields where the header has {width}",
                row=row.line,
            )
    if not data:
        raise RefusedFile(file.name, "has a header but no data rows", row=depth + 1)
    ids, start = id_positions(file, header)
    indicators = indicator_columns(file, header, start, measure_book())
    period = neighbourhood_period(file, ctx)
    values = {c.question: [cell_text(r.cells[c.position]) for r in data] for c in indicators}
    mark = decimal_mark(file, values, [r.line for r in data])
    frame = neighbourhood_long(data, ids, indicators, mark)
    frame["period"] = period
    frame["percent_value"] = pd.to_numeric(frame["percent"], errors="coerce").astype(float)
    parts = frame["neighbourhood"].str.split(" - ", n=1).str[0].str.strip()
    attach_boroughs(frame, parts, ctx.borough_lookup)
    first = texts(header[0].cells)[0]
    span = f"indicator columns {column_letter(indicators[0].position)}.."
    span += column_letter(indicators[-1].position) if indicators else ""
    columns = {
        "neighbourhood": first,
        "borough_name": first,
        "percent": span,
        "percent_value": span,
    }
    return Parsed(frame, period, len(data), columns)


def column_letter(position: int) -> str:
    """A 0-based column position as a spreadsheet column letter (0 -> A, 26 -> AA)."""
    letters = ""
    position += 1
    while position:
        position, rest = divmod(position - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


PAS_BOROUGH = Source(
    id="pas_borough",
    label="MOPAC PAS Trust & Confidence dashboard, Borough sheet (workbook or CSV)",
    table="pas_borough",
    suite="stg_pas_borough",
    matches=matches_borough_sheet,
    parse=parse_borough_sheet,
    publisher="Mayor's Office for Policing and Crime, via the London Datastore",
)
PAS_LONDON = Source(
    id="pas_london",
    label="MOPAC PAS Trust & Confidence dashboard, London-wide (MPS) series",
    table="pas_london",
    suite="stg_pas_london",
    matches=matches_london,
    parse=parse_london,
    publisher="Mayor's Office for Policing and Crime, via the London Datastore",
)
PAS_NEIGHBOURHOOD = Source(
    id="pas_neighbourhood",
    label="MOPAC PAS neighbourhood indicators (all respondents or by ethnic group)",
    table="pas_neighbourhood",
    suite="stg_pas_neighbourhood",
    matches=matches_neighbourhood,
    parse=parse_neighbourhood,
    publisher="Mayor's Office for Policing and Crime",
)
PAS_SOURCES = (PAS_BOROUGH, PAS_LONDON, PAS_NEIGHBOURHOOD)
