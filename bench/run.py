"""Every benchmark in one command: generate, ingest, pages, and a Markdown summary.

``python -m bench.run --scale 1.0 --work /tmp/bench`` writes the data under ``WORK/data``, the
databases under ``WORK/ingest`` and the results (``ingest.json``, ``pages.json``,
``summary.md``, screenshots) under ``WORK/results``. Data already generated for the same
scale is reused, and ``--parts`` runs some of ingest, pages, baseline and browser (the summary
takes the others from the previous run). Keep WORK outside the repository: scale 1.0 is about
5 GB of CSV.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import generate, ingest, pages  # noqa: E402


def ok(met: bool | None) -> str:
    return "n/a" if met is None else ("met" if met else "**missed**")


def render(ingested: dict[str, Any], paged: dict[str, Any]) -> str:
    """The results as Markdown tables (what bench/RESULTS.md quotes)."""
    facts = ingested.get("machine") or paged.get("machine") or {}
    manifest = ingested.get("manifest", {})
    lines = [
        f"Commit `{facts.get('commit')}`, {facts.get('date')}; {facts.get('nproc')} cores, "
        f"{facts.get('memory_gb')} GB, {facts.get('cpu_model')}; Python {facts.get('python')}, "
        f"DuckDB {facts.get('duckdb')}. Load average at start "
        f"{facts.get('load_average_1m_5m_15m')} (a shared machine).",
        "",
        f"Data: scale {manifest.get('scale')}, {manifest.get('months')} months "
        f"{manifest.get('first_month')}..{manifest.get('last_month')}, rows "
        + ", ".join(f"{k} {v:,}" for k, v in manifest.get("rows", {}).items()),
        "",
    ]
    if ingested:
        lines += [
            "| load | plain DuckDB s | ours s | ratio | CPU s (DuckDB / ours) | target | |",
            "|---|---|---|---|---|---|---|",
        ]
        targets = ingested["targets"]
        for name, target in (
            ("full", f"ratio <= {targets['full_ratio_max']}"),
            ("incremental", f"ours <= {targets['incremental_seconds_max']} s"),
        ):
            r = ingested[name]
            lines.append(
                f"| {name} | {r['duckdb_s']} | {r['ours_s']} | {r['ratio']} | "
                f"{r['duckdb_cpu_s']} / {r['ours_cpu_s']} | {target} | {ok(r['meets_target'])} |"
            )
        lines += ["", "| phase (s) | full | incremental |", "|---|---|---|"]
        phases = dict.fromkeys(
            [*ingested["full"]["phases_s"], *ingested["incremental"]["phases_s"]]
        )
        for phase in phases:
            lines.append(
                f"| {phase} | {ingested['full']['phases_s'].get(phase, '')} | "
                f"{ingested['incremental']['phases_s'].get(phase, '')} |"
            )
        lines += [
            "",
            f"Peak RSS of the load: full {ingested['full']['ours_peak_rss_mb']} MB, incremental "
            f"{ingested['incremental']['ours_peak_rss_mb']} MB. Warehouse "
            f"{ingested['incremental']['ours_size_mb']} MB (plain DuckDB tables "
            f"{ingested['incremental']['duckdb_size_mb']} MB).",
            "",
        ]
    if paged.get("pages"):
        t = paged["targets"]
        lines += [
            f"| page | mode | first run s | cold s (<= {t['cold_s_max']}) | "
            f"warm s (<= {t['warm_s_max']}) | charts | errors |",
            "|---|---|---|---|---|---|---|",
        ]
        for p in paged["pages"]:
            cold, warm = p.get("cold_s"), p.get("warm_s")
            flag = "" if cold is not None and cold <= t["cold_s_max"] else " (missed)"
            wflag = "" if warm is not None and warm <= t["warm_s_max"] else " (missed)"
            lines.append(
                f"| {p['view']} | {p['mode']} | {p.get('first_s')} | {cold}{flag} | "
                f"{warm}{wflag} | {p.get('charts')} | {len(p.get('errors', []))} |"
            )
        lines.append("")
    for name, b in paged.get("pandas_baseline", {}).items():
        lines.append(
            f"- {name}: pandas {b['pandas']['seconds']} s ({b['pandas']['rows']:,} rows from "
            f"{b['pandas']['files']} files, peak {b['pandas']['peak_rss_mb']} MB); ours cold "
            f"{b['ours_cold_s']} s, warm {b['ours_warm_s']} s: {b['speedup_cold']}x faster cold"
            + (
                f"; the bare warehouse query {b['warehouse_query']['seconds']} s"
                if "warehouse_query" in b
                else ""
            )
        )
    if "browser" in paged:
        b = paged["browser"]
        lines += [
            "",
            f"Server RSS: idle {b['server_idle_rss_mb']} MB, peak {b['server_peak_rss_mb']} MB "
            "while Chromium visited every page "
            f"(target <= {paged['targets']['server_rss_mb_max']} MB).",
            "",
            "| page | first chart s | settled s |",
            "|---|---|---|",
            *(f"| {v['page']} | {v['first_chart_s']} | {v['settled_s']} |" for v in b["visits"]),
        ]
    return "\n".join(lines) + "\n"


def earlier(path: Path) -> dict[str, Any]:
    """Results a previous run wrote, for a summary of parts not run again."""
    return json.loads(path.read_text()) if path.exists() else {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = ten Met-sized years")
    parser.add_argument("--work", type=Path, required=True, help="a folder outside the repo")
    parser.add_argument("--parts", default="ingest,pages,baseline,browser")
    parser.add_argument(
        "--quick", action="store_true", help="time pages in one process per mode (smoke test)"
    )
    args = parser.parse_args(argv)
    parts = set(args.parts.split(","))
    data, results = args.work / "data", args.work / "results"
    manifest = data / "manifest.json"
    if not manifest.exists() or json.loads(manifest.read_text())["scale"] != args.scale:
        generate.generate(args.scale, data)
    ingested = (
        ingest.run(data, results, args.work / "ingest")
        if "ingest" in parts
        else earlier(results / "ingest.json")
    )
    warehouse = args.work / "ingest" / "warehouse" / "oversight.duckdb"
    page_parts = tuple(p for p in pages.PARTS if p in parts)
    paged = (
        pages.run(warehouse, results, data, page_parts, args.quick)
        if page_parts
        else earlier(results / "pages.json")
    )
    summary = render(ingested, paged)
    (results / "summary.md").write_text(summary)
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
