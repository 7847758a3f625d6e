"""Read-only access to the published DuckDB warehouse.

The pipeline replaces the warehouse file atomically (``os.replace``); readers identify the
version by the file's inode and modification time, so a cache keyed on :func:`version_key`
picks up a newly published warehouse without a restart. Connections are read-only: a writer
in the app would block the pipeline (STACK.md, DuckDB locking).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

# DuckDB's memory per reading process. The app's own Python (Streamlit, pandas, Plotly) takes
# about 300 MB; 128MB more keeps a server at or under 500 MB (bench/RESULTS.md). A query that
# needs more, such as a pivot over ten million street crimes, spills to <warehouse>.tmp.
READ_CONFIG = {"threads": 2, "memory_limit": "128MB"}


class WarehouseMissing(FileNotFoundError):
    """No warehouse has been built yet at the configured path."""


class WarehouseCorrupt(RuntimeError):
    """The warehouse file is there but DuckDB cannot read it (damaged bytes, not a database)."""


class WarehouseBusy(RuntimeError):
    """Another process holds the warehouse file's write lock, so it cannot be opened to read."""


class WarehouseOutdated(RuntimeError):
    """The warehouse lacks marts or columns the data dictionary describes: an older build.

    ``gaps`` names each missing ``marts.<mart>`` or ``marts.<mart>.<column>``.
    """

    def __init__(self, path: Path, gaps: list[str]) -> None:
        shown = ", ".join(gaps[:5]) + (f" and {len(gaps) - 5} more" if len(gaps) > 5 else "")
        super().__init__(
            f"The warehouse {path} was built by an older version of the pipeline: it has no "
            f"{shown}. Run `python -m pipelines rebuild`."
        )
        self.gaps = gaps


REBUILD_ADVICE = (
    "Rebuild it from the downloaded files with `python -m pipelines rebuild` (see README, "
    "Refreshing from the publishers)."
)
# What DuckDB says about a file it cannot read as a database (not, e.g., a lock held elsewhere).
DAMAGE_MARKERS = (
    "not a valid duckdb database file",
    "corrupt database file",
    "checksum",
    "could not read enough bytes",
    "failed to deserialize",
    "serialization error",
)


# What DuckDB says when another process holds the file's write lock.
LOCK_MARKERS = ("could not set lock", "conflicting lock")


def lock_conflict(exc: BaseException, path: Path) -> WarehouseBusy | None:
    """A :class:`WarehouseBusy` if ``exc`` says another process holds the file's lock."""
    text = str(exc).lower()
    if not isinstance(exc, duckdb.Error) or not any(m in text for m in LOCK_MARKERS):
        return None
    return WarehouseBusy(f"The warehouse file {path} is locked by another process: {exc}")


def schema_gaps(con: duckdb.DuckDBPyConnection, expected: dict[str, list[str]]) -> list[str]:
    """The marts and columns of ``expected`` (mart -> columns) the warehouse does not have."""
    rows = con.execute(
        "select table_name, column_name from information_schema.columns "
        "where table_schema = 'marts'"
    ).fetchall()
    held: dict[str, set[str]] = {}
    for table, column in rows:
        held.setdefault(table, set()).add(column)
    gaps = []
    for mart, columns in expected.items():
        if mart not in held:
            gaps.append(f"marts.{mart}")
            continue
        gaps.extend(f"marts.{mart}.{c}" for c in columns if c not in held[mart])
    return gaps


def check_schema(
    con: duckdb.DuckDBPyConnection, path: Path, expected: dict[str, list[str]]
) -> None:
    """Raise :class:`WarehouseOutdated` when the warehouse lacks an expected mart or column."""
    gaps = schema_gaps(con, expected)
    if gaps:
        raise WarehouseOutdated(path, gaps)


def corruption(exc: BaseException, path: Path) -> WarehouseCorrupt | None:
    """A :class:`WarehouseCorrupt` with advice if ``exc`` says the file is damaged, else None."""
    text = str(exc)
    if not isinstance(exc, duckdb.Error) or not any(m in text.lower() for m in DAMAGE_MARKERS):
        return None
    detail = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return WarehouseCorrupt(
        f"The warehouse file {path} is damaged and cannot be read ({detail}). {REBUILD_ADVICE}"
    )


@dataclass(frozen=True)
class VersionKey:
    """Identifies one published warehouse file."""

    path: str
    inode: int
    mtime_ns: int
    size: int


def version_key(path: Path) -> VersionKey:
    """The key of the file currently published at ``path``."""
    try:
        stat = os.stat(path)
    except FileNotFoundError as exc:
        raise WarehouseMissing(f"No warehouse at {path}") from exc
    return VersionKey(str(path), stat.st_ino, stat.st_mtime_ns, stat.st_size)


@contextmanager
def connect(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the warehouse, closed on exit.

    Raises :class:`WarehouseCorrupt` (with advice) when DuckDB finds the file damaged, on
    opening or in a query, and :class:`WarehouseBusy` when another process holds its lock.
    """
    if not path.exists():
        raise WarehouseMissing(f"No warehouse at {path}")
    try:
        con = duckdb.connect(str(path), read_only=True, config=READ_CONFIG)
    except duckdb.Error as exc:
        named = corruption(exc, path) or lock_conflict(exc, path)
        if named is None:
            raise
        raise named from exc
    try:
        yield con
    except duckdb.Error as exc:
        damaged = corruption(exc, path)
        if damaged is None:
            raise
        raise damaged from exc
    finally:
        con.close()


def read_frame(path: Path, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
    """Run one query read-only and return a DataFrame."""
    with connect(path) as con:
        return con.execute(sql, params or []).df()
