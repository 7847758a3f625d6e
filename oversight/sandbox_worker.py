"""One SQL console query in its own process, within the sandbox's limits (oversight.sandbox).

Started by :func:`oversight.sandbox.start_worker` as ``python -m oversight.sandbox_worker``. It
waits for one job on stdin (a JSON line: warehouse, sql, limits), runs it and exits. The reply
on stdout is a JSON header line (column types, whether rows were cut, peak memory, or the
refusal) followed by the rows as an Arrow IPC stream.

Once the warehouse is open, the process's address space may grow by at most
``process_memory_limit`` (``RLIMIT_AS``); the result is fetched in small Arrow batches and
stopped at ``row_cap`` rows or ``result_limit`` bytes. The time limit is the caller's: it kills
this process when the time is up. pandas is never imported here.
"""

from __future__ import annotations

import io
import json
import logging
import resource
import sys
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.ipc

from oversight.sandbox import (
    SandboxLimits,
    SandboxRefused,
    check_statement,
    explain_error,
    memory_refusal,
    open_sandbox,
    result_refusal,
)

logger = logging.getLogger(__name__)
# Rows per Arrow batch: small enough that one batch of wide rows stays far below the limits.
BATCH_ROWS = 256


def address_space() -> int | None:
    """This process's current address-space size in bytes (Linux), or None."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def cap_address_space(allowance: int) -> None:
    """Let the address space grow by at most ``allowance`` bytes from now (RLIMIT_AS)."""
    current = address_space()
    if current is None:
        logger.warning("address space unknown here: the console's process limit is not set")
        return
    limit = current + allowance
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def peak_mb() -> float:
    """This process's peak resident memory so far, in MB (ru_maxrss is in KB on Linux)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def fetch_bounded(
    con: duckdb.DuckDBPyConnection, sql: str, limits: SandboxLimits
) -> tuple[list[pa.RecordBatch], list[str], bool]:
    """The query's first ``row_cap`` rows as Arrow batches, its column types and whether cut.

    Raises the result-limit refusal as soon as the batches fetched pass ``result_limit``.
    """
    relation = con.sql(sql)
    if relation is None:
        raise SandboxRefused("The statement returned no rows to show.")
    types = [str(t) for t in relation.types]
    reader = relation.limit(limits.row_cap + 1).to_arrow_reader(BATCH_ROWS)
    batches: list[pa.RecordBatch] = []
    rows = size = 0
    for batch in reader:
        batch = batch.slice(0, limits.row_cap + 1 - rows)
        size += batch.get_total_buffer_size()
        if size > limits.result_bytes:
            raise result_refusal(limits)
        batches.append(batch)
        rows += batch.num_rows
        if rows > limits.row_cap:
            break
    truncated = rows > limits.row_cap
    if truncated:
        batches[-1] = batches[-1].slice(0, batches[-1].num_rows - 1)
    if not batches:
        batches = [pa.RecordBatch.from_pylist([], schema=reader.schema)]
    return batches, types, truncated


def ipc_bytes(batches: list[pa.RecordBatch]) -> bytes:
    """Batches as one Arrow IPC stream."""
    sink = io.BytesIO()
    with pyarrow.ipc.new_stream(sink, batches[0].schema) as writer:
        for batch in batches:
            writer.write_batch(batch)
    return sink.getvalue()


def run_job(job: dict[str, Any], limits: SandboxLimits) -> tuple[dict[str, Any], bytes]:
    """Run one job; the reply header and the Arrow IPC body (empty for a refusal)."""
    try:
        con = open_sandbox(Path(job["warehouse"]), limits)
        try:
            cap_address_space(limits.process_bytes)
            check_statement(con, job["sql"])
            batches, types, truncated = fetch_bounded(con, job["sql"], limits)
            body = ipc_bytes(batches)
        finally:
            con.close()
    except SandboxRefused as exc:
        return refusal_reply(exc), b""
    except (duckdb.Error, MemoryError, OSError) as exc:
        return refusal_reply(explain_error(exc, limits, 0.0)), b""
    if len(body) > limits.result_bytes:
        return refusal_reply(result_refusal(limits)), b""
    return {"types": types, "truncated": truncated, "peak_mb": peak_mb()}, body


def refusal_reply(exc: SandboxRefused) -> dict[str, Any]:
    """The reply header for a refused or stopped query."""
    return {"refused": exc.message, "reason": exc.reason, "peak_mb": peak_mb()}


def main() -> int:
    """Wait for one job on stdin, write the reply on stdout; exit 0 also when stdin closes."""
    line = sys.stdin.buffer.readline()
    if not line.strip():
        return 0
    job = json.loads(line)
    limits = SandboxLimits(**job["limits"])
    try:
        header, body = run_job(job, limits)
    except MemoryError:
        header, body = refusal_reply(memory_refusal(limits)), b""
    out = sys.stdout.buffer
    out.write(json.dumps(header).encode("utf-8") + b"\n")
    out.write(body)
    out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
