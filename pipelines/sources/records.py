"""Line-accurate CSV reading for the reference sources: records with their file line numbers.

pandas renumbers rows once it skips blank lines, so a failure could name the wrong line. These
helpers read with the ``csv`` module and keep, for every record, the 1-based line of the file
it starts on (header and title lines counted). Only structure is refused here (unreadable CSV,
a missing header, a row with more or fewer fields than its header); values stay text for the
staged suite to judge.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from pipelines.errors import RefusedFile
from pipelines.inputs import InputFile
from pipelines.sources.base import decode

logger = logging.getLogger(__name__)
THOUSANDS = re.compile(r"^[0-9]{1,3}(,[0-9]{3})+$")
HEADER_SEARCH_LINES = 4


@dataclass(frozen=True)
class Record:
    """One CSV record: the file line it starts on and its trimmed cells."""

    line: int
    cells: list[str]


@dataclass(frozen=True)
class Table:
    """A file's header record and the data records after it (fully empty rows dropped)."""

    header: Record
    rows: list[Record]
    skipped_empty: int


def read_records(file: InputFile) -> list[Record]:
    """Every CSV record of a file with the line it starts on; refuse unreadable CSV."""
    reader = csv.reader(io.StringIO(decode(file).text, newline=""))
    records: list[Record] = []
    start = 1
    try:
        for cells in reader:
            records.append(Record(start, [cell.strip() for cell in cells]))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise RefusedFile(file.name, f"is not well-formed CSV: {exc}", row=start) from exc
    return records


def is_empty(record: Record) -> bool:
    """Whether every cell of a record is blank (a spreadsheet's trailing empty row)."""
    return all(cell == "" for cell in record.cells)


def find_header(
    file: InputFile, records: list[Record], is_header: Callable[[list[str]], bool], expected: str
) -> int:
    """Index of the header record among the first lines; refuse the file if there is none."""
    for index, record in enumerate(records[:HEADER_SEARCH_LINES]):
        if is_header(record.cells):
            return index
    raise RefusedFile(file.name, f"has no header starting {expected}", row=1)


def split_table(file: InputFile, is_header: Callable[[list[str]], bool], expected: str) -> Table:
    """The header and data records of a file; a row whose width differs is refused."""
    records = read_records(file)
    index = find_header(file, records, is_header, expected)
    header = records[index]
    width = len(header.cells)
    rows, skipped = [], 0
    for record in records[index + 1 :]:
        if is_empty(record):
            skipped += 1
            continue
        if len(record.cells) != width:
            raise RefusedFile(
                file.name,
                f"row has {len(record.cells)} fields where the header has {width}",
                row=record.line,
            )
        rows.append(record)
    if skipped:
        logger.info("%s: skipped %d fully empty row(s)", file.name, skipped)
    if not rows:
        raise RefusedFile(file.name, "has a header but no data rows", row=header.line + 1)
    return Table(header, rows, skipped)


def column_positions(file: InputFile, header: Record, wanted: dict[str, str]) -> dict[str, int]:
    """Position of each wanted published column (canonical -> header); refuse if one is missing."""
    positions = {}
    for canonical, published in wanted.items():
        found = [i for i, cell in enumerate(header.cells) if cell == published]
        if len(found) != 1:
            problem = "has no column" if not found else "has more than one column"
            raise RefusedFile(file.name, f"{problem} {published!r}", row=header.line)
        positions[canonical] = found[0]
    return positions


def number_text(value: str) -> str:
    """Drop thousands separators from a well-formed number ("7,538"); leave other text as is."""
    return value.replace(",", "") if THOUSANDS.match(value) else value


def pick_columns(
    file: InputFile, table: Table, wanted: dict[str, str], numbers: tuple[str, ...] = ()
) -> pd.DataFrame:
    """A frame of the wanted columns as text, plus ``source_line``; numbers lose separators."""
    positions = column_positions(file, table.header, wanted)
    frame = pd.DataFrame(
        {
            canonical: [record.cells[position] for record in table.rows]
            for canonical, position in positions.items()
        },
        dtype=object,
    )
    for column in numbers:
        frame[column] = frame[column].map(number_text)
    frame["source_line"] = [record.line for record in table.rows]
    return frame
