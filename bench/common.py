"""What every benchmark records: the machine, the commit, the date, and where results go."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH_TODAY = dt.date(2026, 11, 23)  # "today" for the loader's month checks: reproducible runs


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gb() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return 0.0


def commit() -> str:
    """The commit benchmarked, with "+changes" when the working tree differs from it."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()

    head = git("rev-parse", "--short=12", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", "pipelines", "oversight")
    return head + ("+changes" if dirty else "")


def machine() -> dict[str, Any]:
    """Machine facts for a results file: cores, memory, CPU model, load at the start."""
    import duckdb

    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "nproc": os.cpu_count(),
        "memory_gb": memory_gb(),
        "cpu_model": cpu_model(),
        "load_average_1m_5m_15m": [round(x, 2) for x in load],
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "commit": commit(),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MB."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def cpu_seconds() -> float:
    """CPU time this process has used so far (user + system, every thread)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def write_json(folder: Path, name: str, data: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path


def run_child(args: list[str], timeout: float, env: dict[str, str] | None = None) -> dict:
    """Run ``python -m <args>`` from the project root; return the JSON it prints last."""
    done = subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def warm(paths: list[Path]) -> int:
    """Read files once so every contender starts with them in the page cache; bytes read."""
    total = 0
    for path in paths:
        with path.open("rb") as f:
            while chunk := f.read(1 << 24):
                total += len(chunk)
    return total
