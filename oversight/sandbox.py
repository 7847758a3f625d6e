"""The analysts' read-only SQL sandbox: one query, on the published warehouse, within limits.

Used by the internal SQL console (Data explorer page) and ``python -m oversight sql``. A query
passes two gates. Before anything runs, the text must be a single statement that starts with
SELECT, WITH, DESCRIBE, SHOW, EXPLAIN, SUMMARIZE or FROM and that DuckDB's parser reads as a
query. It then runs on a locked-down connection (STACK.md, sandboxed analyst connection): the
warehouse read-only, no external access (files, COPY, ATTACH, extensions), no extension
autoinstall/autoload, no community extensions, two threads, a memory limit, and the
configuration locked so no statement can loosen it.

The query runs in a child process (``oversight.sandbox_worker``), never in the caller's: the
console sits inside the Streamlit server, so one runaway query must not be able to take the app
down for everyone. The limits cover the whole of a query's life, not only DuckDB's execution:

* the child's address space may grow by at most ``process_memory_limit`` once it has opened the
  warehouse (``RLIMIT_AS``), on top of DuckDB's own ``memory_limit``;
* the child fetches the result in small Arrow batches and stops once it passes ``row_cap`` rows
  or ``result_limit`` bytes, so what comes back to the caller (Arrow IPC bytes, then a pandas
  frame, then a table on the page) is bounded too;
* the caller kills the child when ``time_limit_seconds`` has passed, however far it got.

Starting a child costs a fraction of a second (bench/RESULTS.md, SQL console limits), so one
spare worker is kept started and waiting; each worker runs one query and exits, which hands its
memory back to the system.

The connection is its own in-memory DuckDB instance with the warehouse attached read-only,
rather than ``duckdb.connect(warehouse, read_only=True, config=...)``. DuckDB shares one
instance per database file within a process and refuses a second connection to it with a
different configuration, so a console query opened that way would make the app's own cached
reads fail while it runs (and theirs would make the console fail). The settings are the same.
"""

from __future__ import annotations

import atexit
import io
import json
import logging
import re
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import yaml

from oversight.settings import PROJECT_ROOT

if TYPE_CHECKING:  # pandas is imported where frames are made: the worker never needs it
    import pandas as pd

logger = logging.getLogger(__name__)

ALLOWED_KEYWORDS = ("select", "with", "describe", "show", "explain", "summarize", "from")
ALLOWED_TYPES = {"SELECT", "EXPLAIN"}
LIMIT_KEYS = {
    "row_cap",
    "time_limit_seconds",
    "memory_limit",
    "threads",
    "result_limit",
    "process_memory_limit",
}
MEMORY = re.compile(r"^(\d+(?:\.\d+)?)\s*(KB|MB|GB|KiB|MiB|GiB)$", re.IGNORECASE)
UNITS = {"kb": 1000, "mb": 1000**2, "gb": 1000**3, "kib": 1024, "mib": 1024**2, "gib": 1024**3}
WORKER_MODULE = "oversight.sandbox_worker"
# Whitespace, comments and opening brackets that may come before a statement's first word.
LEADING = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/|\()*", re.DOTALL)
WORD = re.compile(r"[A-Za-z_]+")
EXPLAIN_PREFIX = re.compile(r"explain(?:\s+analy[sz]e)?\b", re.IGNORECASE)
DATABASE_ALIAS = "warehouse"
WIDE_INTEGERS = {"HUGEINT", "UHUGEINT"}


class SandboxRefused(Exception):
    """A query the sandbox will not run, or that it stopped; the message is for the user.

    ``reason`` is one of: ``refused`` (not a single read-only query), ``time_limit``,
    ``memory_limit``, ``result_limit`` (the result would be larger than the console returns),
    ``not_allowed`` (reached outside the warehouse), ``error`` (DuckDB could not run it) or
    ``no_warehouse``. ``peak_mb`` is the query process's peak resident memory, when known.
    """

    def __init__(
        self, message: str, reason: str = "refused", peak_mb: float | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.peak_mb = peak_mb


@dataclass(frozen=True)
class SandboxLimits:
    """How much one query may return and use (config/sandbox.yaml)."""

    row_cap: int = 10_000
    time_limit_seconds: float = 10.0
    memory_limit: str = "512MB"
    threads: int = 2
    result_limit: str = "32MB"
    process_memory_limit: str = "1GB"

    @property
    def result_bytes(self) -> int:
        return memory_bytes(self.result_limit)

    @property
    def process_bytes(self) -> int:
        return memory_bytes(self.process_memory_limit)


@dataclass(frozen=True)
class SandboxResult:
    """The rows a query returned (at most ``row_cap``) and whether more were cut off.

    ``peak_mb`` is the peak resident memory of the process that ran the query.
    """

    frame: pd.DataFrame
    truncated: bool
    row_cap: int
    seconds: float
    peak_mb: float | None = None


def memory_bytes(text: str) -> int:
    """A size such as ``512MB`` or ``1GiB`` in bytes."""
    found = MEMORY.match(str(text).strip())
    if not found:
        raise ValueError(f"not a size like 512MB or 1GB: {text!r}")
    return int(float(found.group(1)) * UNITS[found.group(2).lower()])


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
    for key in ("memory_limit", "result_limit", "process_memory_limit"):
        if not MEMORY.match(str(getattr(limits, key))):
            raise ValueError(f"{path.name}: {key} must look like 512MB or 1GB")
    if not isinstance(limits.threads, int) or limits.threads < 1:
        raise ValueError(f"{path.name}: threads must be a positive whole number")
    if limits.result_bytes >= limits.process_bytes:
        raise ValueError(f"{path.name}: result_limit must be smaller than process_memory_limit")
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


def time_refusal(limits: SandboxLimits, peak_mb: float | None = None) -> SandboxRefused:
    """The sentence for a query stopped at the time limit."""
    return SandboxRefused(
        f"The query was stopped after {limits.time_limit_seconds:g} s, the console's time "
        "limit. Narrow it (filter, aggregate or add LIMIT) and run it again.",
        reason="time_limit",
        peak_mb=peak_mb,
    )


def memory_refusal(limits: SandboxLimits, peak_mb: float | None = None) -> SandboxRefused:
    """The sentence for a query that needed more memory than the console allows."""
    return SandboxRefused(
        f"The query was stopped: it needed more memory than the console allows "
        f"({limits.memory_limit} for DuckDB, {limits.process_memory_limit} in all). "
        "Aggregate in the query or add LIMIT.",
        reason="memory_limit",
        peak_mb=peak_mb,
    )


def result_refusal(limits: SandboxLimits, peak_mb: float | None = None) -> SandboxRefused:
    """The sentence for a result larger than the console returns."""
    return SandboxRefused(
        f"The query was stopped: the result would exceed {limits.result_limit}, the most the "
        "console returns. Select fewer or narrower columns, add LIMIT or aggregate.",
        reason="result_limit",
        peak_mb=peak_mb,
    )


def explain_error(exc: BaseException, limits: SandboxLimits, seconds: float) -> SandboxRefused:
    """A DuckDB error (or running out of memory) as a sentence for the user."""
    if isinstance(exc, duckdb.InterruptException) or seconds >= limits.time_limit_seconds:
        return time_refusal(limits)
    if isinstance(exc, duckdb.OutOfMemoryException | MemoryError) or (
        isinstance(exc, OSError) and "out of memory" in str(exc).lower()
    ):
        return memory_refusal(limits)
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
    return readable_frame(relation.df(), [str(t) for t in relation.types])


def readable_frame(frame: pd.DataFrame, types: list[str]) -> pd.DataFrame:
    """``frame`` (from DuckDB's ``df()``) with wide integers as Int64 and DATEs as dates.

    ``types`` are the DuckDB type names of the columns, in order.
    """
    for position, type_name in enumerate(types):
        values = frame.iloc[:, position]
        if type_name in WIDE_INTEGERS:
            finite = values.dropna()
            if (finite.abs() < 2**53).all() and (finite == finite.round()).all():
                frame.isetitem(position, values.astype("Int64"))
        elif type_name == "DATE":
            frame.isetitem(position, values.dt.date.where(values.notna(), None))
    return frame


# --- the child process ------------------------------------------------------------------------


def worker_command() -> list[str]:
    """The command that starts one query worker (``python -m oversight.sandbox_worker``)."""
    return [sys.executable, "-m", WORKER_MODULE]


def start_worker() -> subprocess.Popen[bytes]:
    """A worker process, started and waiting on its stdin for one job."""
    return subprocess.Popen(
        worker_command(),
        cwd=PROJECT_ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=None,  # the worker's own complaints go to the server's log
    )


class WorkerPool:
    """At most one spare worker, started ahead so a query does not wait for Python to start.

    Each worker runs one query and exits; :meth:`take` hands the spare out (or starts one) and
    :meth:`refill` starts the next spare after a query has finished.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spare: subprocess.Popen[bytes] | None = None

    def take(self) -> subprocess.Popen[bytes]:
        """A worker for one query: the spare if it is still waiting, else a new one."""
        with self._lock:
            spare, self._spare = self._spare, None
        if spare is not None and spare.poll() is None:
            return spare
        return start_worker()

    def refill(self) -> None:
        """Start a spare worker if there is none."""
        with self._lock:
            if self._spare is None or self._spare.poll() is not None:
                self._spare = start_worker()

    def close(self) -> None:
        """Let the spare worker go (it exits when its stdin closes)."""
        with self._lock:
            spare, self._spare = self._spare, None
        if spare is not None and spare.stdin is not None:
            spare.stdin.close()
            try:
                spare.wait(timeout=5)
            except subprocess.TimeoutExpired:
                spare.kill()


POOL = WorkerPool()
atexit.register(POOL.close)


def peak_of(pid: int) -> float | None:
    """The peak resident memory (VmHWM) of a running process in MB, if the system says."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError, IndexError):
        return None
    return None


def run_in_worker(
    worker: subprocess.Popen[bytes], job: dict, limits: SandboxLimits
) -> tuple[dict, bytes]:
    """Send one job to a worker; its reply header and Arrow IPC bytes, killed at the limit."""
    payload = (json.dumps(job) + "\n").encode("utf-8")
    try:
        out, _ = worker.communicate(payload, timeout=limits.time_limit_seconds)
    except subprocess.TimeoutExpired:
        peak = peak_of(worker.pid)
        worker.kill()
        worker.communicate()
        logger.info("console query stopped at %g s (peak %s MB)", limits.time_limit_seconds, peak)
        raise time_refusal(limits, peak) from None
    header, _, body = out.partition(b"\n")
    try:
        reply = json.loads(header)
    except ValueError:
        # No reply: the worker died, most often when the address-space limit stopped an
        # allocation that DuckDB or Arrow could not recover from.
        logger.warning("console query worker ended with code %s and no reply", worker.returncode)
        raise memory_refusal(limits) from None
    return reply, body


def frame_from_ipc(body: bytes, types: list[str]) -> pd.DataFrame:
    """The worker's Arrow IPC stream as the DataFrame the console shows."""
    import pyarrow as pa
    import pyarrow.ipc

    table = pyarrow.ipc.open_stream(io.BytesIO(body)).read_all()
    # Decimals (and so 128-bit integers) as floats, as relation.df() gives them; the rest
    # converts straight from Arrow, which costs far less memory than going through DuckDB.
    for position, field in enumerate(table.schema):
        if pa.types.is_decimal(field.type):
            column = table.column(position).cast(pa.float64(), safe=False)
            table = table.set_column(position, field.name, column)
    frame = table.to_pandas(date_as_object=False)
    odd = [
        position
        for position, field in enumerate(table.schema)
        if pa.types.is_interval(field.type) or isinstance(field.type, pa.ExtensionType)
    ]
    if odd:  # intervals, UUIDs and the like: DuckDB's own conversion, as relation.df()
        con = duckdb.connect(":memory:", config={"threads": 1})
        try:
            converted = con.from_arrow(table.select(odd)).df()
        finally:
            con.close()
        for place, position in enumerate(odd):
            frame.isetitem(position, converted.iloc[:, place])
    return readable_frame(frame, types)


def check_text(sql: str) -> None:
    """The statement check on a bare parser connection, before any worker is used."""
    con = duckdb.connect(":memory:", config={"enable_external_access": False, "threads": 1})
    try:
        check_statement(con, sql)
    finally:
        con.close()


def run_query(
    warehouse: Path,
    sql: str,
    limits: SandboxLimits | None = None,
    *,
    keep_warm: bool = True,
) -> SandboxResult:
    """Run one read-only query on the warehouse within the limits; SandboxRefused if not.

    The query runs in a worker process; ``keep_warm`` starts the next spare worker afterwards
    (the command line, which runs one query, turns it off).
    """
    limits = limits or load_limits()
    warehouse = Path(warehouse)
    if not warehouse.is_file():
        raise SandboxRefused(f"No warehouse at {warehouse}.", reason="no_warehouse")
    check_text(sql)
    started = time.monotonic()
    worker = POOL.take()
    try:
        job = {"warehouse": str(warehouse), "sql": sql, "limits": asdict(limits)}
        reply, body = run_in_worker(worker, job, limits)
    finally:
        if keep_warm:
            POOL.refill()
    peak = reply.get("peak_mb")
    if "refused" in reply:
        raise SandboxRefused(reply["refused"], reason=reply["reason"], peak_mb=peak)
    frame = frame_from_ipc(body, reply["types"])
    truncated = bool(reply["truncated"])
    return SandboxResult(frame, truncated, limits.row_cap, time.monotonic() - started, peak)


def describe_limits(limits: SandboxLimits) -> str:
    """The limits as a sentence for the console and the CLI's help."""
    return (
        f"Read-only; one SELECT, WITH, DESCRIBE, SHOW, EXPLAIN, SUMMARIZE or FROM statement; "
        f"at most {limits.row_cap:,} rows and {limits.result_limit} of results; stopped after "
        f"{limits.time_limit_seconds:g} s; memory limit {limits.memory_limit} "
        f"({limits.process_memory_limit} for the query's whole process)."
    )
