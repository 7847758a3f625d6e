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

READ_CONFIG = {"threads": 2, "memory_limit": "1GB"}


class WarehouseMissing(FileNotFoundError):
    """No warehouse has been built yet at the configured path."""


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
    """A read-only connection to the warehouse, closed on exit."""
    if not path.exists():
        raise WarehouseMissing(f"No warehouse at {path}")
    con = duckdb.connect(str(path), read_only=True, config=READ_CONFIG)
    try:
        yield con
    finally:
        con.close()


def read_frame(path: Path, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
    """Run one query read-only and return a DataFrame."""
    with connect(path) as con:
        return con.execute(sql, params or []).df()
