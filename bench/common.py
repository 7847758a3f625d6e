"""What every benchmark records (the machine, the commit, the date, where results go), and the
`streamlit run serve.py` server that the benchmarks and the browser tests start."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import resource
import socket
import subprocess
import sys
import time
import urllib.request
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


# --- a real server -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_streamlit(
    settings: dict[str, str],
    *,
    address: str = "127.0.0.1",
    keep_output: bool = False,
    script: str = "serve.py",
) -> tuple[subprocess.Popen, str]:
    """``streamlit run serve.py`` of this checkout on a free port, as the README runs it.

    ``settings`` are the OVERSIGHT_* variables; the mode and the development login are only
    what they say (never inherited). Waits up to 60 s for the health check; returns the
    process and its loopback URL. ``keep_output`` keeps the server's output for the error;
    ``script="app.py"`` starts Streamlit's plain server instead (no hidden paths).
    """
    port = free_port()
    env = {**os.environ, **settings}
    for name in ("OVERSIGHT_MODE", "OVERSIGHT_DEV_LOGIN"):
        if name not in settings:
            env.pop(name, None)
    command = [
        sys.executable, "-m", "streamlit", "run", script, "--server.headless", "true",
        "--server.address", address, "--server.port", str(port),
        "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    output = subprocess.PIPE if keep_output else subprocess.DEVNULL
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return process, base
        except OSError:
            time.sleep(0.3)
    stop(process)
    said = process.stdout.read().decode()[-2000:] if keep_output and process.stdout else ""
    raise RuntimeError(f"the app did not start within 60 s at {base}. {said}")


def stop(process: subprocess.Popen) -> None:
    """Ask a server to stop; kill it if it has not within 10 s."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
