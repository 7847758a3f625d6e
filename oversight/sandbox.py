"""The analysts' read-only SQL sandbox: one query, on the published warehouse, within limits.

Used by the internal SQL console (Data explorer page) and ``python -m oversight sql``. A query
passes two gates. Before anything runs, the text must be a single statement that starts with
SELECT, WITH, DESCRIBE, SHOW, EXPLAIN, SUMMARIZE or FROM and that DuckDB's parser reads as a
query. It then runs on a locked-down connection (STACK.md, sandboxed analyst connection): the
warehouse read-only, no external access (files, COPY, ATTACH, extensions), no extension
autoinstall/autoload, no community extensions, two threads, a memory limit, and the
configuration locked so no statement can loosen it. A timer interrupts a query that runs past
the time limit, and at most ``row_cap`` rows come back.

The connection is its own in-memory DuckDB instance with the warehouse attached read-only,
rather than ``duckdb.connect(warehouse, read_only=True, config=...)``. DuckDB shares one
instance per database file within a process and refuses a second connection to it with a
different configuration, so a console query opened that way would make the app's own cached
reads fail while it runs (and theirs would make the console fail). The settings are the same.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pandas as pd
import yaml

from oversight.settings import PROJECT_ROOT

ALLOWED_KEYWORDS = ("select", "with", "describe", "show", "explain", "summarize", "from")
ALLOWED_TYPES = {"SELECT", "EXPLAIN"}
LIMIT_KEYS = {"row_cap", "time_limit_seconds", "memory_limit", "threads"}
MEMORY = re.compile(r"^\d+(\.\d+)?\s*(KB|MB|GB|KiB|MiB|GiB)$", re.IGNORECASE)
# Whitespace, comments and opening brackets that may come before a statement's first word.
LEADING = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/|\()*", re.DOTALL)
WORD = re.compile(r"[A-Za-z_]+")
EXPLAIN_PREFIX = re.compile(r"explain(?:\s+analy[sz]e)?\b", re.IGNORECASE)
DATABASE_ALIAS = "warehouse"
WIDE_INTEGERS = {"HUGEINT", "UHUGEINT"}


class SandboxRefused(Exception):
    """A query the sandbox will not run, or that it stopped; the message is for the user.

    ``reason`` is one of: ``refused`` (not a single read-only query), ``time_limit``,
    ``memory_limit``, ``not_allowed`` (reached outside the warehouse), ``error`` (DuckDB could
    not run it) or ``no_warehouse``.
    """

    def __init__(self, message: str, reason: str = "refused") -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


@dataclass(frozen=True)
class SandboxLimits:
    """How much one query may return and use (config/sandbox.yaml)."""

    row_cap: int = 10_000
    time_limit_seconds: float = 10.0
    memory_limit: str = "512MB"
    threads: int = 2


@dataclass(frozen=True)
class SandboxResult:
    """The rows a query returned (at most ``row_cap``) and whether more were cut off."""

    frame: pd.DataFrame
    truncated: bool
    row_cap: int
    seconds: float


def load_limits(path: Path | None = None) -> SandboxLimits:
    """Read and check config/sandbox.yaml, naming the key that is wrong."""
    path = path or PROJECT_ROOT / "config" / "sandbox.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"{path.name}: expected a mapping of limits")
    unknown = set(raw) - LIMIT_KEYS
    if unknown:
        raise ValueError(f"{path.name}: unknown key(s) {sorted(unknown)}")
    limits = SandboxLimits(**raw)
    if not isinstance(limits.row_cap, int) or limits.row_cap < 1:
        raise ValueError(f"{path.name}: row_cap must be a positive whole number")
    if not isinstance(limits.time_limit_seconds, int | float) or limits.time_limit_seconds <= 0:
        raise ValueError(f"{path.name}: time_limit_seconds must be a positive number")
    if not MEMORY.match(str(limits.memory_limit)):
        raise ValueError(f"{path.name}: memory_limit must look like 512MB or 1GB")
    if not isinstance(limits.threads, int) or limits.threads < 1:
        raise ValueError(f"{path.name}: threads must be a positive whole number")
    return limits


def first_keyword(sql: str) -> str:
    """The first word of a statement, lower case, after comments and opening brackets."""
    rest = sql[LEADING.match(sql).end() :]
    word = WORD.match(rest)
    return word.group(0).lower() if word else ""


def open_sandbox(warehouse: Path, limits: SandboxLimits) -> duckdb.DuckDBPyConnection:
    """A locked-down connection with the warehouse attached read-only as the default database."""
    if not Path(warehouse).is_file():
        raise SandboxRefused(f"No warehouse at {warehouse}.", reason="no_warehouse")
    con = duckdb.connect(
        ":memory:",
        config={
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "allow_community_extensions": False,
            "threads": limits.threads,
            "memory_limit": limits.memory_limit,
            "temp_directory": "",  # never spill a console query to disk
        },
    )
    try:
        con.execute(f"attach ? as {DATABASE_ALIAS} (read_only)", [str(warehouse)])
        con.execute(f"use {DATABASE_ALIAS}")
        con.execute("set enable_external_access = false")
        con.execute("set lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def statement_types(con: duckdb.DuckDBPyConnection, sql: str) -> list[str]:
    """The type of each statement DuckDB's parser finds in ``sql``."""
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise SandboxRefused(f"The query could not be read: {first_line(exc)}") from exc
    return [s.type.name for s in statements]


def check_statement(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Refuse anything but a single read-only query, before it runs."""
    types = statement_types(con, sql) if sql.strip() else []
    if not types:
        raise SandboxRefused("Enter a query to run.")
    if len(types) > 1:
        raise SandboxRefused(
            f"Only one statement can run at a time; this text holds {len(types)}. "
            "Remove the others (and any ';' between them)."
        )
    check_read_only(sql, types[0])
    if types[0] == "EXPLAIN":
        inner = sql[LEADING.match(sql).end() :]
        inner = inner[EXPLAIN_PREFIX.match(inner).end() :]
        if first_keyword(inner) == "explain":
            raise SandboxRefused("EXPLAIN must be followed by a query, not another EXPLAIN.")
        inner_types = statement_types(con, inner)
        if len(inner_types) != 1:
            raise SandboxRefused("EXPLAIN must be followed by one query.")
        check_read_only(inner, inner_types[0])


def check_read_only(sql: str, statement_type: str) -> None:
    """Refuse a statement whose first word or parsed type is not a read-only query."""
    allowed = ", ".join(k.upper() for k in ALLOWED_KEYWORDS)
    keyword = first_keyword(sql)
    if keyword not in ALLOWED_KEYWORDS:
        shown = keyword.upper() or "no keyword"
        raise SandboxRefused(
            f"Only read-only queries can run here: a statement starting with {allowed}. "
            f"This one starts with {shown}."
        )
    if statement_type not in ALLOWED_TYPES:
        raise SandboxRefused(
            "Only read-only queries can run here; DuckDB reads this one as a statement of "
            f"type {statement_type}."
        )


def first_line(exc: BaseException) -> str:
    """The first line of an error message (DuckDB adds hints and context below it)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def explain_error(exc: duckdb.Error, limits: SandboxLimits, seconds: float) -> SandboxRefused:
    """A DuckDB error as a sentence for the user."""
    if isinstance(exc, duckdb.InterruptException) or seconds >= limits.time_limit_seconds:
        return SandboxRefused(
            f"The query was stopped after {limits.time_limit_seconds:g} s, the console's time "
            "limit. Narrow it (filter, aggregate or add LIMIT) and run it again.",
            reason="time_limit",
        )
    if isinstance(exc, duckdb.OutOfMemoryException):
        return SandboxRefused(
            f"The query needed more than the console's memory limit ({limits.memory_limit}) "
            "and was stopped. Aggregate in the query or add LIMIT.",
            reason="memory_limit",
        )
    if isinstance(exc, duckdb.PermissionException):
        return SandboxRefused(
            "The query tried to reach something outside the warehouse (a file, a setting or "
            "an extension), which the console does not allow. Query the marts.* tables.",
            reason="not_allowed",
        )
    return SandboxRefused(f"DuckDB could not run the query: {first_line(exc)}", reason="error")


def frame_of(relation: duckdb.DuckDBPyRelation) -> pd.DataFrame:
    """A relation's rows as a DataFrame with the types a reader expects.

    DuckDB hands 128-bit integers (every SUM of integers) to pandas as floats and DATEs as
    midnight timestamps; whole numbers and plain dates read better in tables, CSV and JSON.
    """
    types = [str(t) for t in relation.types]
    frame = relation.df()
    for position, type_name in enumerate(types):
        values = frame.iloc[:, position]
        if type_name in WIDE_INTEGERS:
            finite = values.dropna()
            if (finite.abs() < 2**53).all() and (finite == finite.round()).all():
                frame.isetitem(position, values.astype("Int64"))
        elif type_name == "DATE":
            frame.isetitem(position, values.dt.date.where(values.notna(), None))
    return frame


def execute_capped(
    con: duckdb.DuckDBPyConnection, sql: str, limits: SandboxLimits
) -> SandboxResult:
    """Run a checked query with the time limit and row cap."""
    timer = threading.Timer(limits.time_limit_seconds, con.interrupt)
    timer.daemon = True
    started = time.monotonic()
    timer.start()
    try:
        relation = con.sql(sql)
        if relation is None:
            raise SandboxRefused("The statement returned no rows to show.")
        frame = frame_of(relation.limit(limits.row_cap + 1))
    except duckdb.Error as exc:
        raise explain_error(exc, limits, time.monotonic() - started) from exc
    finally:
        timer.cancel()
    truncated = len(frame) > limits.row_cap
    if truncated:
        frame = frame.head(limits.row_cap)
    return SandboxResult(frame, truncated, limits.row_cap, time.monotonic() - started)


def run_query(warehouse: Path, sql: str, limits: SandboxLimits | None = None) -> SandboxResult:
    """Run one read-only query on the warehouse within the limits; SandboxRefused if not."""
    limits = limits or load_limits()
    con = open_sandbox(Path(warehouse), limits)
    try:
        check_statement(con, sql)
        return execute_capped(con, sql, limits)
    finally:
        con.close()


def describe_limits(limits: SandboxLimits) -> str:
    """The limits as a sentence for the console and the CLI's help."""
    return (
        f"Read-only; one SELECT, WITH, DESCRIBE, SHOW, EXPLAIN, SUMMARIZE or FROM statement; "
        f"at most {limits.row_cap:,} rows; stopped after {limits.time_limit_seconds:g} s; "
        f"memory limit {limits.memory_limit}."
    )
