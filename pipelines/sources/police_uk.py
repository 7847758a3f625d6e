"""police.uk street-level crime, outcomes and stop-and-search files (data.police.uk).

police.uk publishes one CSV per force, month and kind (``YYYY-MM-<force>-street.csv``,
``-outcomes.csv``, ``-stop-and-search.csv``), singly or in its archive zip (``YYYY-MM/...``).
Each is detected by its header, never its name. Rows are kept exactly as published:
anti-social behaviour rows have no Crime ID, some Crime IDs repeat within a month and some rows
are exact copies of others; none is dropped, so totals match the publisher's.

- Street and outcomes files name their force in ``Falls within``; the stable force id comes
  from config/forces.yaml. A file holds one force and one month, and loading that force's month
  again replaces it (``Parsed.replaces``), so re-downloads and overlapping archives never add a
  second copy.
- Stop-and-search files have no force column. The force is the ``<force>`` part of the
  published file name, or the ``force`` option (``--force``) for a renamed file, which is
  otherwise refused with that advice. ``Date`` is ISO-8601 with a UTC offset; ``month`` is the
  London local month (Europe/London: 2023-06-30T23:30:00+00:00 is July). The file's own month
  (``file_month``: from the name, else the London month most of its rows fall in) is what a
  later load of the same force and month replaces, since a file's rows may straddle two London
  months.

Values stay published text for the staged suites to judge. Helper columns hold a row's
published value only where it disagrees with the rest of its file (``other_month``,
``other_force``, ``outside_file_month``) or cannot be read (``date_unreadable``), so a failed
expectation names the line and the published value. Reading is vectorised with pyarrow's CSV
reader, which (unlike pandas) notices a row with too few fields; only a file with blank lines
or line breaks inside values takes a slower exact path to number its lines.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import yaml

from oversight.settings import get_settings
from pipelines.errors import RefusedFile
from pipelines.inputs import InputFile
from pipelines.sources.base import ParseContext, Parsed, Source, decode

BARE_CR = re.compile(r"\r(?!\n)")

logger = logging.getLogger(__name__)
LONDON = "Europe/London"
PUBLISHER = "data.police.uk (Home Office), from each police force's records"
MONTH_TEXT = r"[0-9]{4}-(?:0[1-9]|1[0-2])"
ISO_DATETIME = (
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
    r"(?:Z|[+-][0-9]{2}:?[0-9]{2})"
)
STOP_SEARCH_NAME = re.compile(
    rf"^({MONTH_TEXT})-([a-z0-9-]+?)-stop-and-search\.csv$", re.IGNORECASE
)

LOCATION_COLUMNS = {
    "crime_id": "Crime ID",
    "month_text": "Month",
    "reported_by": "Reported by",
    "falls_within": "Falls within",
    "longitude": "Longitude",
    "latitude": "Latitude",
    "location": "Location",
    "lsoa_code": "LSOA code",
    "lsoa_name": "LSOA name",
}
STREET_COLUMNS = {
    **LOCATION_COLUMNS,
    "crime_type": "Crime type",
    "last_outcome": "Last outcome category",
    "context": "Context",
}
OUTCOME_COLUMNS = {**LOCATION_COLUMNS, "outcome_type": "Outcome type"}
STOP_SEARCH_COLUMNS = {
    "type": "Type",
    "searched_at": "Date",
    "part_of_operation": "Part of a policing operation",
    "operation_name": "Policing operation",
    "latitude": "Latitude",
    "longitude": "Longitude",
    "gender": "Gender",
    "age_range": "Age range",
    "self_defined_ethnicity": "Self-defined ethnicity",
    "officer_defined_ethnicity": "Officer-defined ethnicity",
    "legislation": "Legislation",
    "object_of_search": "Object of search",
    "outcome": "Outcome",
    "outcome_linked": "Outcome linked to object of search",
    "more_than_outer_clothing_removed": "Removal of more than just outer clothing",
}
# Helper columns a failure is reported under: the published column they were derived from.
DERIVED_COLUMNS = {
    "month_key": "Month",
    "other_month": "Month",
    "other_force": "Falls within",
    "longitude_value": "Longitude",
    "latitude_value": "Latitude",
}
STOP_SEARCH_DERIVED = {
    "month_key": "Date",
    "date_unreadable": "Date",
    "outside_file_month": "Date",
    "longitude_value": "Longitude",
    "latitude_value": "Latitude",
}


@dataclass(frozen=True)
class Force:
    """A police force as config/forces.yaml describes it."""

    id: str
    name: str
    published_names: tuple[str, ...]
    slug: str


def forces_file() -> Path:
    return get_settings().config_dir / "forces.yaml"


def load_forces(path: Path | None = None) -> tuple[Force, ...]:
    """The forces the loader knows (config/forces.yaml)."""
    with (path or forces_file()).open(encoding="utf-8") as f:
        spec = yaml.safe_load(f)
    return tuple(
        Force(
            id=str(entry["id"]),
            name=str(entry["name"]),
            published_names=tuple(str(n) for n in entry["published_names"]),
            slug=str(entry["slug"]),
        )
        for entry in spec["forces"]
    )


def header_matches(rows: list[list[str]], columns: dict[str, str]) -> bool:
    """True if the first row is exactly the published header (in any order)."""
    if not rows:
        return False
    header = rows[0]
    return len(header) == len(columns) and set(header) == set(columns.values())


def matches_street(rows: list[list[str]]) -> bool:
    return header_matches(rows, STREET_COLUMNS)


def matches_outcomes(rows: list[list[str]]) -> bool:
    return header_matches(rows, OUTCOME_COLUMNS)


def matches_stop_search(rows: list[list[str]]) -> bool:
    return header_matches(rows, STOP_SEARCH_COLUMNS)


def check_header(file: InputFile, header: list[str], columns: dict[str, str]) -> None:
    """Refuse a header that is not the published one, naming what is missing or extra."""
    expected = set(columns.values())
    missing = sorted(expected - set(header))
    extra = sorted(set(header) - expected)
    if missing or extra or len(header) != len(expected):
        problems = []
        if missing:
            problems.append(f"missing {', '.join(missing)}")
        if extra:
            problems.append(f"unexpected {', '.join(extra)}")
        if not problems:
            problems.append("a column appears twice")
        raise RefusedFile(file.name, f"header is not police.uk's: {'; '.join(problems)}", row=1)


def first_ragged_line(text: str, width: int) -> tuple[int, int]:
    """The line and field count of the first record whose width differs (error path only)."""
    reader = csv.reader(io.StringIO(text, newline=""))
    start = 1
    for cells in reader:
        if cells and len(cells) != width:
            return start, len(cells)
        start = reader.line_num + 1
    return start, width


def record_lines(text: str) -> np.ndarray:
    """The line each non-empty data record starts on, counted exactly with the csv module.

    Used only for files with blank lines or line breaks inside values (none seen in real
    police.uk files), where a record's line is not simply its position plus one.
    """
    reader = csv.reader(io.StringIO(text, newline=""))
    lines, start = [], 1
    for cells in reader:
        if cells:
            lines.append(start)
        start = reader.line_num + 1
    return np.asarray(lines[1:], dtype="int64")


def source_lines(file: InputFile, data: bytes, text: str, rows: int) -> np.ndarray:
    """The 1-based line each data row starts on (the header is line 1)."""
    count = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    # Without blank lines, one line per row means no value spans lines: number by position.
    if count == rows + 1 and b"\n\n" not in data and b"\n\r\n" not in data:
        return np.arange(2, rows + 2, dtype="int64")
    lines = record_lines(text)
    if len(lines) != rows:
        raise RefusedFile(file.name, "is not well-formed CSV: its lines could not be numbered")
    return lines


def read_arrow(file: InputFile, data: bytes, text: str, header: list[str]) -> pa.Table:
    """Read every column as text with pyarrow; refuse ragged rows and unreadable CSV."""
    ragged: list[int] = []

    def note_ragged(row: pacsv.InvalidRow) -> str:
        ragged.append(row.actual_columns)
        return "skip"

    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            parse_options=pacsv.ParseOptions(
                newlines_in_values=True, invalid_row_handler=note_ragged
            ),
            convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(header, pa.string()), strings_can_be_null=False
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise RefusedFile(file.name, f"is not well-formed CSV: {exc}") from exc
    if ragged:
        line, width = first_ragged_line(text, len(header))
        raise RefusedFile(
            file.name,
            f"row has {width} fields where the header has {len(header)} "
            f"({len(ragged):,} such row(s))",
            row=line,
        )
    return table


def read_published(file: InputFile, columns: dict[str, str]) -> pd.DataFrame:
    """The file's rows as trimmed text under canonical names, with ``source_line``."""
    decoded = decode(file)
    text = decoded.text
    # pyarrow reads UTF-8 only: re-encode what decode() had to read as Windows-1252/latin-1.
    data = file.data if decoded.encoding == "utf-8" else text.encode("utf-8")
    if BARE_CR.search(text):  # old Mac line endings (CR only): read them as newlines
        text = BARE_CR.sub("\n", text)
        data = text.encode("utf-8")
    first_line = text.lstrip("\ufeff").partition("\n")[0].rstrip("\r")
    published = next(csv.reader([first_line]), [])
    check_header(file, [cell.strip() for cell in published], columns)
    table = read_arrow(file, data, text, published)
    if table.num_rows == 0:
        raise RefusedFile(file.name, "has a header but no data rows", row=2)
    frame = table.to_pandas()
    frame.columns = [str(c).strip() for c in frame.columns]
    frame = frame.rename(columns={v: k for k, v in columns.items()})[list(columns)]
    for column in frame.columns:
        frame[column] = frame[column].str.strip()
    frame["source_line"] = source_lines(file, data, text, len(frame))
    return frame


def most_common(values: pd.Series) -> Any:
    """The most frequent value (ties go to the latest), or None for an empty series."""
    counts = values.value_counts()
    if counts.empty:
        return None
    return max(counts.items(), key=lambda item: (item[1], item[0]))[0]


def add_coordinates(frame: pd.DataFrame) -> None:
    """Numeric helper columns for the range checks; text that is not a number becomes null."""
    for axis in ("longitude", "latitude"):
        frame[f"{axis}_value"] = pd.to_numeric(frame[axis], errors="coerce")


def add_months(frame: pd.DataFrame) -> str | None:
    """Parse ``Month`` (YYYY-MM); return the file's month, the one most rows carry."""
    text = frame["month_text"]
    valid = text.str.fullmatch(MONTH_TEXT)
    file_month = most_common(text[valid])
    month = pd.to_datetime(text.where(valid), format="%Y-%m", errors="coerce")
    frame["month"] = month
    frame["month_key"] = month.dt.year * 100 + month.dt.month
    frame["other_month"] = text.where(valid & (text != file_month))
    return file_month


def add_forces(frame: pd.DataFrame, forces: tuple[Force, ...]) -> str | None:
    """Map ``Falls within`` to force ids; return the file's force, the one most rows name."""
    ids = {name: force.id for force in forces for name in force.published_names}
    frame["force"] = frame["falls_within"].map(ids)
    known = frame["force"].notna()
    file_force = most_common(frame.loc[known, "force"])
    frame["other_force"] = frame["falls_within"].where(known & (frame["force"] != file_force))
    return file_force


def month_text_of(key: float | None) -> str | None:
    """A month key (YYYYMM) as YYYY-MM."""
    return None if key is None else f"{int(key) // 100:04d}-{int(key) % 100:02d}"


def month_date(month: str | None) -> pd.Timestamp | None:
    return None if month is None else pd.Timestamp(f"{month}-01")


def parse_located(file: InputFile, columns: dict[str, str]) -> Parsed:
    """Parse a street or outcomes file: one force and one month, replacing earlier copies."""
    frame = read_published(file, columns)
    file_month = add_months(frame)
    file_force = add_forces(frame, load_forces())
    add_coordinates(frame)
    replaces = None
    if file_force is not None and file_month is not None:
        replaces = {"force": file_force, "month": f"{file_month}-01"}
    logger.info("%s: %s %s, %d rows", file.name, file_force, file_month, len(frame))
    return Parsed(
        frame,
        vintage=file_month or "",
        published_rows=len(frame),
        columns={**columns, **DERIVED_COLUMNS},
        replaces=replaces,
    )


def parse_street(file: InputFile, ctx: ParseContext) -> Parsed:
    """Parse a street-level crime file (``YYYY-MM-<force>-street.csv``)."""
    return parse_located(file, STREET_COLUMNS)


def parse_outcomes(file: InputFile, ctx: ParseContext) -> Parsed:
    """Parse an outcomes file (``YYYY-MM-<force>-outcomes.csv``)."""
    return parse_located(file, OUTCOME_COLUMNS)


def force_for_option(file: InputFile, option: str, forces: tuple[Force, ...]) -> Force:
    """The force the ``--force`` option names (by id or file-name slug); refuse an unknown one."""
    wanted = option.strip().lower()
    for force in forces:
        if wanted in (force.id.lower(), force.slug.lower()):
            return force
    known = ", ".join(f.id for f in forces)
    raise RefusedFile(
        file.name, f"--force {option!r} is not a force in config/forces.yaml (known: {known})"
    )


def stop_search_force(file: InputFile, ctx: ParseContext) -> tuple[str, str | None]:
    """The force and month of a stop-and-search file, from ``--force`` or its published name."""
    forces = load_forces()
    match = STOP_SEARCH_NAME.match(file.basename)
    named_month = match.group(1) if match else None
    slug = match.group(2).lower() if match else None
    named = next((f for f in forces if f.slug.lower() == slug), None)
    option = ctx.options.get("force")
    if option:
        chosen = force_for_option(file, str(option), forces)
        if named is not None and named.id != chosen.id:
            raise RefusedFile(
                file.name,
                f"its name says force {named.id!r} but --force says {chosen.id!r}; "
                "load it without --force, or rename it",
            )
        return chosen.id, named_month
    known = ", ".join(f.id for f in forces)
    if match is None:
        raise RefusedFile(
            file.name,
            "stop-and-search files have no force column and this file's name is not the "
            "published YYYY-MM-<force>-stop-and-search.csv; load it again with "
            f"--force NAME (one of: {known})",
        )
    if named is None:
        raise RefusedFile(
            file.name,
            f"its name names force {slug!r}, which is not in config/forces.yaml (known: "
            f"{known}); add the force there, or load the file with --force NAME",
        )
    return named.id, named_month


def add_search_times(frame: pd.DataFrame, named_month: str | None) -> str | None:
    """Parse ``Date`` to UTC and take the London month; return the file's month."""
    text = frame["searched_at"]
    well_formed = text.str.fullmatch(ISO_DATETIME)
    when = pd.to_datetime(text.where(well_formed), utc=True, format="ISO8601", errors="coerce")
    local = when.dt.tz_convert(LONDON)
    frame["month"] = local.dt.tz_localize(None).dt.to_period("M").dt.start_time
    frame["month_key"] = local.dt.year * 100 + local.dt.month
    frame["date_unreadable"] = text.where(when.isna())
    file_month = named_month or month_text_of(most_common(frame["month_key"].dropna()))
    if file_month is None:
        frame["outside_file_month"] = pd.Series(np.nan, index=frame.index, dtype=object)
        return None
    # A day's grace either side: a file cut by UTC month still belongs to its London month.
    start = pd.Timestamp(f"{file_month}-01", tz=LONDON)
    end = start + pd.offsets.MonthBegin(1)
    grace = pd.Timedelta(days=1)
    outside = when.notna() & ((local < start - grace) | (local >= end + grace))
    frame["outside_file_month"] = text.where(outside)
    return file_month


def parse_stop_search(file: InputFile, ctx: ParseContext) -> Parsed:
    """Parse a stop-and-search file (``YYYY-MM-<force>-stop-and-search.csv``)."""
    force, named_month = stop_search_force(file, ctx)
    frame = read_published(file, STOP_SEARCH_COLUMNS)
    file_month = add_search_times(frame, named_month)
    frame["force"] = force
    frame["file_month"] = month_date(file_month)
    add_coordinates(frame)
    replaces = None
    if file_month is not None:
        replaces = {"force": force, "file_month": f"{file_month}-01"}
    logger.info("%s: %s %s, %d searches", file.name, force, file_month, len(frame))
    return Parsed(
        frame,
        vintage=file_month or "",
        published_rows=len(frame),
        columns={**STOP_SEARCH_COLUMNS, **STOP_SEARCH_DERIVED},
        replaces=replaces,
    )


def police_source(
    id_: str,
    label: str,
    matches: Callable[[list[list[str]]], bool],
    parse: Callable[[InputFile, ParseContext], Parsed],
) -> Source:
    """A police.uk source; its raw table and staged suite are named after its id."""
    return Source(
        id=id_,
        label=label,
        table=id_,
        suite=f"stg_{id_}",
        matches=matches,
        parse=parse,
        publisher=PUBLISHER,
    )


STREET = police_source(
    "police_uk_street", "police.uk street-level crime", matches_street, parse_street
)
OUTCOMES = police_source(
    "police_uk_outcomes", "police.uk outcomes", matches_outcomes, parse_outcomes
)
STOP_SEARCH = police_source(
    "police_uk_stop_search", "police.uk stop and search", matches_stop_search, parse_stop_search
)
POLICE_UK_SOURCES = (STREET, OUTCOMES, STOP_SEARCH)
