"""Ingest benchmark: a full load and one incremental month, each against plain DuckDB.

``python bench/ingest.py --data DIR --out RESULTS [--work WORK]`` takes what
``bench/generate.py`` wrote under DIR and times, each in a fresh process:

1. plain DuckDB: ``create table ... as select * from read_csv(...)`` of the same CSV files
   (one table per kind of file) into a new database file, checkpointed;
2. the pipeline: ``load_paths`` of ``DIR/full`` into a new warehouse (parse, validate, stage,
   marts, measures, mart validation, publish), with its per-phase seconds;
3. the incremental month ``DIR/next`` both ways, on top of what step 1 and 2 built.

Before each step the files are read once (so every contender finds them in the page cache) and
the disk is flushed (so none pays for the previous step's writes). The PAS workbook is loaded
by the pipeline but has no plain-DuckDB counterpart (DuckDB cannot read xlsx offline); it is a
few thousand rows. Results go to ``RESULTS/ingest.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    BENCH_TODAY,
    cpu_seconds,
    machine,
    peak_rss_mb,
    run_child,
    warm,
    write_json,
)

FULL_RATIO_TARGET = 1.5
INCREMENTAL_TARGET_S = 30.0
TIMEOUT_S = 6 * 3600

# One plain-DuckDB table per kind of published CSV: (table, glob under a data folder).
PLAIN_TABLES = (
    ("street", "police_uk/*/*-street.csv"),
    ("outcomes", "police_uk/*/*-outcomes.csv"),
    ("stop_search", "police_uk/*/*-stop-and-search.csv"),
    ("borough", "london_datastore/MPS Borough Level Crime*.csv"),
    ("ward", "london_datastore/MPS Ward Level Crime*.csv"),
    ("measure_extract", "mps/*.csv"),
)


def plain_load(db: Path, folder: Path, append: bool) -> dict[str, Any]:
    """Load every CSV under ``folder`` with DuckDB's read_csv: new tables, or appended rows."""
    import duckdb

    started = time.perf_counter()
    con = duckdb.connect(str(db))
    tables = {r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()}
    rows = {}
    for table, pattern in PLAIN_TABLES:
        if not list(folder.glob(pattern)):
            continue
        source = f"read_csv('{folder / pattern}', union_by_name = true)"
        if append and table in tables:
            con.execute(f"insert into {table} by name select * from {source}")
        else:
            con.execute(f"create or replace table {table} as select * from {source}")
        rows[table] = con.execute(f"select count(*) from {table}").fetchall()[0][0]
    con.execute("checkpoint")
    con.close()
    return {"seconds": time.perf_counter() - started, "rows": rows}


def pipeline_load(warehouse: Path, folder: Path) -> dict[str, Any]:
    """Load ``folder`` with the pipeline; return the time, its phases and what it loaded."""
    from oversight.settings import get_settings
    from pipelines.build import load_paths

    settings = get_settings().with_warehouse(warehouse).with_today(BENCH_TODAY)
    started = time.perf_counter()
    result = load_paths([folder], settings)
    seconds = time.perf_counter() - started
    if not result.published:
        problems = [f"{o.file}: {o.status} {o.message}" for o in result.outcomes]
        raise RuntimeError("the load published nothing:\n" + "\n".join(problems[:20]))
    return {
        "seconds": seconds,
        "phases": {k: round(v, 2) for k, v in result.phases.items()},
        "files": len(result.outcomes),
        "rows": sum(o.rows for o in result.outcomes),
    }


def child(args: argparse.Namespace) -> int:
    """One timed step in this fresh process; prints its JSON."""
    logging.basicConfig(level=logging.WARNING)
    target, folder = Path(args.target), Path(args.folder)
    # Modules are imported before the clock starts, for both contenders.
    import duckdb  # noqa: F401

    if args.child == "ours":
        import pipelines.build  # noqa: F401
    cpu = cpu_seconds()
    if args.child == "duckdb":
        out = plain_load(target, folder, append=args.append)
    else:
        out = pipeline_load(target, folder)
    out["cpu_s"] = round(cpu_seconds() - cpu, 2)
    out["peak_rss_mb"] = peak_rss_mb()
    out["size_mb"] = round(target.stat().st_size / 2**20, 1)
    print(json.dumps(out))
    return 0


def step(kind: str, target: Path, folder: Path, append: bool = False) -> dict[str, Any]:
    """Time one load in a fresh process, its files in the page cache and the disk at rest (the
    previous step's writes flushed, as a monthly load finds the warehouse)."""
    warm([p for p in folder.rglob("*") if p.is_file()])
    os.sync()
    args = ["bench.ingest", "--child", kind, "--target", str(target), "--folder", str(folder)]
    return run_child(args + (["--append"] if append else []), TIMEOUT_S)


def summary(plain: dict[str, Any], ours: dict[str, Any]) -> dict[str, Any]:
    return {
        "duckdb_s": round(plain["seconds"], 2),
        "ours_s": round(ours["seconds"], 2),
        "ratio": round(ours["seconds"] / plain["seconds"], 2),
        "duckdb_cpu_s": plain["cpu_s"],
        "ours_cpu_s": ours["cpu_s"],
        "cpu_ratio": round(ours["cpu_s"] / max(plain["cpu_s"], 0.01), 2),
        "phases_s": ours["phases"],
        "files": ours["files"],
        "rows": ours["rows"],
        "duckdb_rows": plain["rows"],
        "ours_peak_rss_mb": ours["peak_rss_mb"],
        "duckdb_peak_rss_mb": plain["peak_rss_mb"],
        "ours_size_mb": ours["size_mb"],
        "duckdb_size_mb": plain["size_mb"],
    }


def run(data: Path, out: Path, work: Path) -> dict[str, Any]:
    """Run the whole ingest benchmark; returns (and writes) its results."""
    started = machine()
    work.mkdir(parents=True, exist_ok=True)
    plain_db, warehouse = work / "plain.duckdb", work / "warehouse" / "oversight.duckdb"
    for old in (plain_db, warehouse.parent):
        if old.is_dir():
            shutil.rmtree(old)
        else:
            old.unlink(missing_ok=True)
    full, nxt = data / "full", data / "next"
    full_plain = step("duckdb", plain_db, full)
    full_ours = step("ours", warehouse, full)
    next_plain = step("duckdb", plain_db, nxt, append=True)
    next_ours = step("ours", warehouse, nxt)
    manifest = json.loads((data / "manifest.json").read_text())
    result = {
        "machine": started,
        "load_average_at_end": machine()["load_average_1m_5m_15m"],
        "manifest": manifest,
        "full": summary(full_plain, full_ours),
        "incremental": summary(next_plain, next_ours),
        "targets": {
            "full_ratio_max": FULL_RATIO_TARGET,
            "incremental_seconds_max": INCREMENTAL_TARGET_S,
        },
    }
    result["full"]["meets_target"] = result["full"]["ratio"] <= FULL_RATIO_TARGET
    result["incremental"]["meets_target"] = result["incremental"]["ours_s"] <= INCREMENTAL_TARGET_S
    result["warehouse"] = str(warehouse)
    write_json(out, "ingest.json", result)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="what bench/generate.py wrote")
    parser.add_argument("--out", type=Path, help="folder for ingest.json")
    parser.add_argument("--work", type=Path, help="folder for the databases (default DATA/work)")
    parser.add_argument("--child", choices=("duckdb", "ours"), help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    parser.add_argument("--append", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    if args.data is None or args.out is None:
        parser.error("--data and --out are required")
    result = run(args.data, args.out, args.work or args.data / "work")
    print(json.dumps({k: result[k] for k in ("full", "incremental")}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
