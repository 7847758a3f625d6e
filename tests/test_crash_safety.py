"""Killing the loader (SIGKILL) at any step leaves the live warehouse intact and loadable.

The loader runs as a subprocess with step logging on; the test kills it the moment a chosen
step is logged, checks the live file is byte-identical, then loads again and checks the
result has no duplicates.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.conftest import sha256_of

ROOT = Path(__file__).resolve().parents[1]
FIRST = "lds_borough_crime/MPS Borough Level Crime (most recent 24 months)__2023-12_to_2025-11.csv"
SECOND = [
    "lds_borough_crime/MPS Borough Level Crime (most recent 24 months)__2024-01_to_2025-12.csv",
    "lds_borough_crime/MPS Borough Level Crime (most recent 24 months)__2017-01_to_2018-12.csv",
]

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


def loader(warehouse: Path, paths: list[Path]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pipelines",
            "-v",
            "--warehouse",
            str(warehouse),
            "load",
            "--today",
            "2026-11-23",
            *map(str, paths),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_at(process: subprocess.Popen[str], marker: str) -> bool:
    """Kill the process when a log line containing ``marker`` appears; True if it did."""
    assert process.stderr is not None
    for line in process.stderr:
        if marker in line:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=30)
            return True
    process.wait(timeout=30)
    return False


@pytest.mark.parametrize(
    "marker",
    [
        "suite stg_lds_borough_crime on",  # a file validated, not yet inserted
        "building staging.",  # files inserted into the working copy
        "building marts.crime_borough_monthly",  # marts half rebuilt
        "suite marts.",  # mart validation running
        "publishing",  # checkpointed, about to replace the live file
    ],
)
def test_sigkill_at_any_step_leaves_live_warehouse_intact(
    realdata: Path, tmp_path: Path, marker: str
) -> None:
    warehouse = tmp_path / "oversight.duckdb"
    first = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines",
            "--warehouse",
            str(warehouse),
            "load",
            "--today",
            "2026-11-23",
            str(realdata / FIRST),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert first.returncode == 0, first.stderr
    before = sha256_of(warehouse)

    assert kill_at(loader(warehouse, [realdata / p for p in SECOND]), marker)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        loaded = con.execute("select count(*) from marts.loads").fetchall()[0][0]
    if marker == "publishing" and loaded == 3:
        # The kill landed after os.replace(): the new warehouse is live, whole.
        assert sha256_of(warehouse) != before
    else:
        assert sha256_of(warehouse) == before
        assert loaded == 1

    again = loader(warehouse, [realdata / p for p in SECOND])
    _, err = again.communicate(timeout=180)
    assert again.returncode == 0, err
    with duckdb.connect(str(warehouse), read_only=True) as con:
        files = con.execute("select count(*) from marts.loads").fetchall()[0][0]
        duplicates = con.execute(
            "select count(*) from (select source_file_id, month, borough_name, major_category, "
            "minor_category from raw.lds_borough_crime group by all having count(*) > 1)"
        ).fetchall()[0][0]
        rows = con.execute("select count(*) from raw.lds_borough_crime").fetchall()[0][0]
    assert files == 3
    assert duplicates == 0
    assert rows == 25_344 + 25_368 + 25_200
    assert list(tmp_path.glob(".*work*")) == []
