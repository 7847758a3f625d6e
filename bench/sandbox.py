"""The SQL console's limits under hostile queries, and what a query's child process costs.

``python -m bench.sandbox`` runs, on a small throwaway warehouse and the limits in
config/sandbox.yaml: a small query with a fresh worker, with the spare worker and on a plain
in-process connection (the overhead), then each hostile query with the time taken, the
worker's peak resident memory and how much this (the app's) process grew. Prints JSON.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import threading
import time
from pathlib import Path

import duckdb
import psutil

from bench.common import machine
from oversight import sandbox

SMALL = "select count(*) as n from marts.t"
HOSTILE = [
    "select repeat('A', 1000000) as x from range(2000)",
    "select range(0, 100000000) as l",
    "select sum(a.range * b.range) from range(1000000) a, range(1000000) b",
    "select repeat('x', 10000) as s from range(100000)",
    "select repeat('x', 3000) as s from range(100000)",
]


def sample_peaks(stop: threading.Event, peaks: dict[str, float]) -> None:
    """Record the highest RSS of this process and of any child until ``stop`` is set."""
    me = psutil.Process()
    while not stop.is_set():
        peaks["app"] = max(peaks["app"], me.memory_info().rss / 2**20)
        for child in me.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                peaks["child"] = max(peaks["child"], child.memory_info().rss / 2**20)
        time.sleep(0.02)


def measure_query(warehouse: Path, sql: str, limits: sandbox.SandboxLimits) -> dict:
    """One query: outcome, seconds, the worker's and the app's peak memory."""
    start_mb = psutil.Process().memory_info().rss / 2**20
    peaks = {"app": start_mb, "child": 0.0}
    stop = threading.Event()
    sampler = threading.Thread(target=sample_peaks, args=(stop, peaks), daemon=True)
    sampler.start()
    started = time.monotonic()
    try:
        result = sandbox.run_query(warehouse, sql, limits)
        outcome, peak = f"{len(result.frame)} rows", result.peak_mb
    except sandbox.SandboxRefused as exc:
        outcome, peak = exc.reason, exc.peak_mb
    seconds = time.monotonic() - started
    stop.set()
    sampler.join()
    return {
        "query": sql,
        "outcome": outcome,
        "seconds": round(seconds, 2),
        "worker_peak_mb": peak,
        "worker_peak_sampled_mb": round(peaks["child"], 1),
        "app_growth_mb": round(peaks["app"] - start_mb, 1),
    }


def time_small(warehouse: Path, limits: sandbox.SandboxLimits) -> dict[str, list[float]]:
    """Seconds for a one-row query: fresh worker, spare worker, in-process (5 each)."""
    cold, warm, plain = [], [], []
    for _ in range(5):
        sandbox.POOL.close()
        started = time.monotonic()
        sandbox.run_query(warehouse, SMALL, limits, keep_warm=False)
        cold.append(round(time.monotonic() - started, 3))
    for _ in range(5):
        sandbox.POOL.refill()
        time.sleep(1.5)  # let the spare finish importing, as between a reader's queries
        started = time.monotonic()
        sandbox.run_query(warehouse, SMALL, limits)
        warm.append(round(time.monotonic() - started, 3))
    with duckdb.connect(str(warehouse), read_only=True) as con:
        for _ in range(5):
            started = time.monotonic()
            con.sql(SMALL).df()
            plain.append(round(time.monotonic() - started, 4))
    return {"fresh_worker_s": cold, "spare_worker_s": warm, "in_process_s": plain}


def main() -> None:
    limits = sandbox.load_limits()
    with tempfile.TemporaryDirectory() as folder:
        warehouse = Path(folder) / "oversight.duckdb"
        with duckdb.connect(str(warehouse)) as con:
            con.execute("create schema marts")
            con.execute("create table marts.t as select range as id from range(50)")
        report = {
            "machine": machine(),
            "limits": sandbox.asdict(limits),
            "small_query": time_small(warehouse, limits),
            "hostile": [measure_query(warehouse, sql, limits) for sql in HOSTILE],
        }
        sandbox.POOL.close()
    print(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
