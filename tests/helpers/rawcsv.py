"""Independent readings of the raw published files with the csv module only.

These helpers never import the project's parsers: they are the yardstick the marts are
measured against.
"""

from __future__ import annotations

import csv
from pathlib import Path


def read_rows(path: Path, encoding: str = "utf-8-sig") -> tuple[list[str], list[list[str]]]:
    """Header and data rows of a CSV file."""
    with path.open(newline="", encoding=encoding) as f:
        reader = csv.reader(f)
        header = next(reader)
        return header, list(reader)


def wide_total(
    path: Path,
    *,
    borough: str | None = None,
    year: int | None = None,
    month: str | None = None,
    major: str | None = None,
    ward_code: str | None = None,
) -> int:
    """Sum of a wide Datastore file's counts filtered by borough, year/month and major class."""
    header, rows = read_rows(path)
    borough_col = next(
        i for i, h in enumerate(header) if h in ("Borough", "LookUp_BoroughName", "BoroughName")
    )
    major_col = next(i for i, h in enumerate(header) if h in ("Major Category", "MajorText"))
    ward_col = header.index("WardCode") if "WardCode" in header else None
    months = [
        i
        for i, h in enumerate(header)
        if h.isdigit()
        and (year is None or h.startswith(str(year)))
        and (month is None or h == month)
    ]
    total = 0
    for row in rows:
        if borough is not None and row[borough_col] != borough:
            continue
        if major is not None and row[major_col].upper() != major.upper():
            continue
        if ward_code is not None and row[ward_col] != ward_code:
            continue
        total += sum(int(row[i]) for i in months)
    return total
