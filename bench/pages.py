"""Page benchmark: server-side time of every page, a pandas baseline, memory and the browser.

``python bench/pages.py --warehouse W --out RESULTS [--data DIR] [--parts pages,baseline,browser]``

1. Server-side time of every page of ``oversight/navigation.py`` (both modes; internal pages
   with the local development login), each in a fresh process with Streamlit's AppTest:
   ``first`` is the first run in a new process (imports and empty caches), ``cold`` a run
   after clearing Streamlit's caches (a new warehouse version), ``warm`` the best of three
   runs after that. Two extra views are timed the same way: the explorer pivoting
   ``marts.street_crime`` by month and crime type, and the stop and search page.
2. The pandas baseline for those two views, as a typical crime dashboard computes them: read
   the published CSV files under ``DIR/full`` into pandas and aggregate, in a fresh process.
3. Memory and the browser: a ``streamlit run`` server on the warehouse while headless Chromium
   visits every page and the two views; the server's peak resident memory (psutil, every
   50 ms) and, per page, the time from navigation to the first chart drawn.

Results go to ``RESULTS/pages.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    machine,
    peak_rss_mb,
    run_child,
    start_streamlit,
    stop,
    write_json,
)

WARM_TARGET_S, COLD_TARGET_S = 1.0, 3.0
SPEEDUP_TARGET = 10.0
RSS_TARGET_MB = 500.0
PAGE_TIMEOUT_S = 600
CHART = '[data-testid="stPlotlyChart"] g.trace'
# Views compared with pandas: (name, page, query string, what the pandas baseline computes).
VIEWS = {
    "street_crime_by_month_and_type": (
        "pages/explorer.py",
        {"mart": "street_crime", "pivot_rows": "month", "pivot_columns": "crime_type"},
    ),
    "stop_search_page": ("pages/stop_search.py", {}),
}


def page_env(warehouse: Path, mode: str) -> dict[str, str]:
    env = {"OVERSIGHT_WAREHOUSE": str(warehouse), "OVERSIGHT_MODE": mode}
    if mode == "internal":
        env["OVERSIGHT_DEV_LOGIN"] = "1"
    return env


# --- 1. server-side time per page (AppTest, one fresh process per page) ----------------------


def time_pages_here(pages: list[str], query: dict[str, str], default_page: str) -> list[dict]:
    """In this process: first, cold-cache and warm server-side time of each page in turn."""
    import streamlit as st
    from streamlit import config as st_config
    from streamlit.testing.v1 import AppTest

    st_config.set_option("server.address", "127.0.0.1")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=PAGE_TIMEOUT_S)
    for key, value in query.items():
        at.query_params[key] = value

    def run() -> float:
        started = time.perf_counter()
        at.run()
        return time.perf_counter() - started

    results = []
    for number, page in enumerate(pages):
        if number or page != default_page:
            at.switch_page(page)
        first = run()
        errors = [str(e.value)[:300] for e in at.exception]
        charts = len(at.get("plotly_chart"))
        st.cache_data.clear()
        st.cache_resource.clear()
        cold = run()
        warm = min(run() for _ in range(3))
        results.append(
            {
                "first_s": round(first, 3),
                "cold_s": round(cold, 3),
                "warm_s": round(warm, 3),
                "charts": charts,
                "errors": errors,
                "peak_rss_mb": peak_rss_mb(),
            }
        )
    return results


def page_list(mode: str) -> list[tuple[str, str]]:
    from oversight import navigation

    available = {str(p.relative_to(ROOT)) for p in ROOT.glob("pages/*.py")}
    return [(p.path, p.url_path) for p in navigation.pages_for(mode, available)]


def time_pages(warehouse: Path, quick: bool = False) -> list[dict[str, Any]]:
    """Every page in both modes (internal pages once, in internal mode), then the views.

    Each page gets a fresh process; ``quick`` (the CI smoke test) times a mode's pages one
    after another in one process instead.
    """
    out = []
    seen: set[str] = set()
    for mode in ("public", "internal"):
        pages = [path for path, _ in page_list(mode) if path not in seen]
        seen.update(pages)
        default = page_list(mode)[0][0]
        groups = [pages] if quick else [[page] for page in pages]
        for group in groups:
            out += apptest_child(warehouse, mode, group, {}, default, group)
    default = page_list("public")[0][0]
    for name, (path, query) in VIEWS.items():
        out += apptest_child(warehouse, "public", [path], query, default, [name])
    return out


def apptest_child(
    warehouse: Path, mode: str, pages: list[str], query: dict, default: str, names: list[str]
) -> list[dict[str, Any]]:
    args = [
        "bench.pages",
        "--child",
        "apptest",
        "--default",
        default,
        "--query",
        json.dumps(query),
    ]
    args += [arg for page in pages for arg in ("--page", page)]
    try:
        results = run_child(args, PAGE_TIMEOUT_S * 3 * len(pages), page_env(warehouse, mode))
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        results = [{"errors": [str(exc)[-500:]]} for _ in pages]
    return [
        {"view": name, "page": page, "mode": mode, "query": query, **result}
        for name, page, result in zip(names, pages, results, strict=True)
    ]


# --- 2. the pandas baseline -------------------------------------------------------------------


def pandas_view(name: str, data: Path) -> dict[str, Any]:
    """Compute a view the way a pandas dashboard does: read every CSV, then aggregate."""
    import pandas as pd

    started = time.perf_counter()
    if name == "street_crime_by_month_and_type":
        files = sorted((data / "police_uk").glob("*/*-street.csv"))
        frame = pd.concat((pd.read_csv(f) for f in files), ignore_index=True)
        view = frame.groupby(["Month", "Crime type"]).size().unstack(fill_value=0)
    else:
        files = sorted((data / "police_uk").glob("*/*-stop-and-search.csv"))
        frame = pd.concat((pd.read_csv(f) for f in files), ignore_index=True)
        when = pd.to_datetime(frame["Date"], utc=True, format="ISO8601")
        frame["month"] = when.dt.tz_convert("Europe/London").dt.strftime("%Y-%m")
        by_ethnicity = frame.groupby(["month", "Officer-defined ethnicity"]).size()
        arrests = frame.assign(arrest=frame["Outcome"].eq("Arrest")).groupby("month")["arrest"]
        view = pd.concat([by_ethnicity.unstack(fill_value=0), arrests.mean()], axis=1)
    return {
        "seconds": round(time.perf_counter() - started, 2),
        "files": len(files),
        "rows": len(frame),
        "result_rows": len(view),
        "peak_rss_mb": peak_rss_mb(),
    }


def warehouse_view(warehouse: Path) -> dict[str, Any]:
    """The street-crime view as one query on the warehouse (what the explorer runs, bare)."""
    from oversight.warehouse import read_frame

    started = time.perf_counter()
    frame = read_frame(
        warehouse,
        "select month, crime_type, count(*) as n from marts.street_crime group by all",
    )
    return {"seconds": round(time.perf_counter() - started, 3), "result_rows": len(frame)}


# --- 3. server memory and the browser ---------------------------------------------------------


class RssSampler(threading.Thread):
    """Samples a process tree's resident memory every 50 ms; keeps the peak."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        import psutil

        self.process = psutil.Process(pid)
        self.peak = 0
        self.stop = threading.Event()

    def run(self) -> None:
        import psutil

        while not self.stop.is_set():
            try:
                procs = [self.process, *self.process.children(recursive=True)]
                self.peak = max(self.peak, sum(p.memory_info().rss for p in procs))
            except psutil.Error:
                pass
            time.sleep(0.05)


@contextlib.contextmanager
def streamlit_server(warehouse: Path, mode: str):
    """A ``streamlit run`` server on a free local port; yields (url, pid)."""
    server, url = start_streamlit(page_env(warehouse, mode))
    try:
        yield url, server.pid
    finally:
        stop(server)


def browse(warehouse: Path, screenshots: Path | None = None, quiet: float = 1.5) -> dict[str, Any]:
    """Visit every page (internal mode) in headless Chromium; server peak RSS and chart times."""
    from urllib.parse import urlencode

    from playwright.sync_api import sync_playwright

    pages = page_list("internal")
    url_paths = dict(pages)
    views = [
        (name, f"{url_paths[path]}?{urlencode(query)}") for name, (path, query) in VIEWS.items()
    ]
    visits = []
    with streamlit_server(warehouse, "internal") as (url, pid):
        sampler = RssSampler(pid)
        sampler.start()
        time.sleep(0.5)
        idle = sampler.peak  # started, before any visit
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium",
                headless=True,
                args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                      "--no-first-run", "--disable-background-networking",
                      "--disable-component-update", "--disable-sync"],
            )  # fmt: skip
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            for number, (path, url_path) in enumerate([*pages, *views]):
                target = url if number == 0 else f"{url}/{url_path}"
                started = time.perf_counter()
                page.goto(target, wait_until="domcontentloaded")
                first_chart, done = watch(page, started, quiet)
                visit: dict[str, Any] = {
                    "page": path,
                    "first_chart_s": first_chart,
                    "settled_s": done,
                }
                if screenshots is not None:
                    screenshots.mkdir(parents=True, exist_ok=True)
                    name = url_path.split("?")[0] if number < len(pages) else path
                    page.screenshot(path=str(screenshots / f"{name}.png"))
                visit["server_rss_mb_so_far"] = round(sampler.peak / 2**20, 1)
                visits.append(visit)
            browser.close()
        sampler.stop.set()
        sampler.join()
    return {
        "server_idle_rss_mb": round(idle / 2**20, 1),
        "server_peak_rss_mb": round(sampler.peak / 2**20, 1),
        "visits": visits,
    }


WATCH = """() => [
    !!document.querySelector('CHART'),
    !!document.querySelector('[data-testid="stStatusWidget"]')
        || !document.querySelector('[data-testid="stMain"]'),
]""".replace("CHART", CHART.replace('"', '\\"'))


def watch(
    page: Any, started: float, quiet: float = 1.5, limit: float = 180.0
) -> tuple[float | None, float]:
    """Seconds from ``started`` to the first chart drawn (None if none) and until the app
    has shown no "running" status for ``quiet`` seconds; polled every 0.1 s."""
    first_chart, last_busy = None, time.perf_counter()
    while (now := time.perf_counter()) - started < limit:
        chart, busy = page.evaluate(WATCH)
        if chart and first_chart is None:
            first_chart = round(now - started, 2)
        if busy:
            last_busy = now
        elif now - last_busy >= quiet:
            break
        time.sleep(0.1)
    return first_chart, round(last_busy - started, 2)


# --- putting it together -----------------------------------------------------------------------


PARTS = ("pages", "baseline", "browser")


def run(
    warehouse: Path,
    out: Path,
    data: Path | None,
    parts: tuple[str, ...] = PARTS,
    quick: bool = False,
) -> dict[str, Any]:
    started = machine()
    result: dict[str, Any] = {"machine": started, "warehouse": str(warehouse), "quick": quick}
    result["pages"] = time_pages(warehouse, quick) if "pages" in parts else []
    baselines = {}
    if data is not None and "baseline" in parts and result["pages"]:
        for name in VIEWS:
            pandas = run_child(
                ["bench.pages", "--child", "pandas", "--view", name, "--data", str(data / "full")],
                PAGE_TIMEOUT_S * 6,
            )
            ours = next(p for p in result["pages"] if p["view"] == name)
            baselines[name] = {
                "pandas": pandas,
                "ours_cold_s": ours.get("cold_s"),
                "ours_warm_s": ours.get("warm_s"),
                "speedup_cold": round(pandas["seconds"] / ours["cold_s"], 1)
                if ours.get("cold_s")
                else None,
            }
        baselines["street_crime_by_month_and_type"]["warehouse_query"] = run_child(
            ["bench.pages", "--child", "query", "--warehouse", str(warehouse)], PAGE_TIMEOUT_S
        )
    result["pandas_baseline"] = baselines
    if "browser" in parts:
        result["browser"] = browse(warehouse, out / "screenshots", quiet=0.5 if quick else 1.5)
    result["targets"] = {
        "warm_s_max": WARM_TARGET_S,
        "cold_s_max": COLD_TARGET_S,
        "speedup_min": SPEEDUP_TARGET,
        "server_rss_mb_max": RSS_TARGET_MB,
    }
    result["load_average_at_end"] = machine()["load_average_1m_5m_15m"]
    write_json(out, "pages.json", result)
    return result


def child(args: argparse.Namespace) -> int:
    if args.child == "apptest":
        out = time_pages_here(args.page, json.loads(args.query), args.default)
    elif args.child == "pandas":
        out = pandas_view(args.view, Path(args.data))
    else:
        out = warehouse_view(Path(args.warehouse))
    print(json.dumps(out))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, help="the warehouse to serve")
    parser.add_argument("--out", type=Path, help="folder for pages.json and screenshots")
    parser.add_argument("--data", type=Path, help="what bench/generate.py wrote (baseline)")
    parser.add_argument(
        "--parts", default=",".join(PARTS), help=f"what to run, of {','.join(PARTS)} (default all)"
    )
    parser.add_argument("--child", choices=("apptest", "pandas", "query"), help=argparse.SUPPRESS)
    parser.add_argument("--page", action="append", help=argparse.SUPPRESS)
    parser.add_argument("--default", help=argparse.SUPPRESS)
    parser.add_argument("--query", default="{}", help=argparse.SUPPRESS)
    parser.add_argument("--view", help=argparse.SUPPRESS)
    parser.add_argument(
        "--quick", action="store_true", help="one process per mode, not per page (smoke test)"
    )
    args = parser.parse_args(argv)
    if args.child:
        return child(args)
    if args.warehouse is None or args.out is None:
        parser.error("--warehouse and --out are required")
    parts = tuple(p for p in args.parts.split(",") if p)
    if set(parts) - set(PARTS):
        parser.error(f"--parts takes {', '.join(PARTS)}")
    result = run(args.warehouse, args.out, args.data, parts, args.quick)
    print(json.dumps({k: result[k] for k in ("pages", "pandas_baseline")}, indent=1)[:6000])
    return 0


if __name__ == "__main__":
    sys.exit(main())
