"""Load benchmark: many people reading the public pages at once, in one real browser.

``python bench/load.py --warehouse FILE [--sessions 25] [--duration 60] [--out DIR]`` starts
the app in public mode on a loopback port (``streamlit run serve.py``, as the README does), or
uses a running one with ``--url``; launches one headless Chromium with one browser context per
session; and has every session go through the public pages in turn as a reader does: the first
page from a link (a new Streamlit session: page, websocket, app.py, the page script), then the
others by the sidebar. Sessions start spread over ``--ramp`` seconds and at different pages, so
they do not march in step; after the ramp all of them are reading at once.

A page load is timed from the navigation (or the click) to the last element drawn: a script run
started after it has finished, every Plotly chart has its traces, every table in view its grid,
and nothing has been added for half a second (the time reported is when the last element
arrived, not the end of that quiet spell). Before the clock starts one reader goes through every
page twice on its own (``--cold`` skips this): the first round fills the server's caches, so the
run measures a server that has been up a while; both rounds' times are reported
(``alone_first_visit_s``, ``alone_s``) as the yardstick for the times under load.

An error is a page that shows an exception, a navigation that fails or a page not drawn within
``--page-timeout`` seconds. No page is started after ``--duration`` seconds; pages still drawing
then are counted as cut off, not timed (``wall_s`` is that phase; ``total_s`` adds the start and
the warm-up). Prints the summary as JSON and, with ``--out``, writes ``load-<label>.json``
there. The client and the server share the machine: on two cores the times include Chromium
drawing every session's pages.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import machine, start_streamlit, stop, write_json  # noqa: E402
from oversight import navigation  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]  # fmt: skip
QUIET_MS = 500

# Records when the page last gained an element (ms since its navigation started) and counts the
# script runs Streamlit's frontend starts (the state it keeps on its root element).
WATCH_DRAWING = """
window.__lastDraw = 0;
window.__runs = 0;
new MutationObserver((records) => {
  for (const r of records) {
    if (r.type === 'childList') window.__lastDraw = performance.now();
    else if (r.target.getAttribute('data-test-script-state') === 'running'
             && r.oldValue !== 'running') window.__runs += 1;
  }
}).observe(document, {childList: true, subtree: true, attributes: true,
                      attributeOldValue: true, attributeFilter: ['data-test-script-state']});
"""
# True once a script run started after ``runsBefore`` has finished, every chart has its traces,
# every table in view its grid, and nothing was added for ``quietMs``. Tables inside a closed
# "Show as table" expander are not drawn until opened.
DRAWN = """
([quietMs, runsBefore]) => {
  const app = document.querySelector('[data-testid="stApp"]');
  const main = document.querySelector('[data-testid="stMain"]');
  if (!app || !main || !main.querySelector('h1')) return false;
  if (window.__runs <= runsBefore) return false;
  if (app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  const charts = [...main.querySelectorAll('[data-testid="stPlotlyChart"]')];
  const drawn = 'g.trace, g.hm, path.choroplethlocation';
  if (!charts.every(c => c.querySelector(drawn))) return false;
  const tables = [...main.querySelectorAll('[data-testid="stDataFrame"]')]
    .filter(t => t.checkVisibility());
  if (!tables.every(t => t.querySelector('canvas, table'))) return false;
  return performance.now() - window.__lastDraw > quietMs;
}
"""


@dataclass(frozen=True)
class Plan:
    """What every session of a run does: the pages in turn, until the deadline."""

    base_url: str
    pages: tuple[navigation.PageSpec, ...]
    sessions: int
    start: float  # time.monotonic() when the run began
    deadline: float  # time.monotonic() after which no page is started
    ramp: float  # sessions start evenly spread over this many seconds
    page_timeout: float


@dataclass
class Tally:
    """Every page load of a run: times by page and by kind, errors, loads cut off."""

    times: dict[str, list[float]] = field(default_factory=dict)
    kinds: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    cut_off: int = 0
    wall_s: float = 0.0  # from the first session's start to the last one's end
    server_cpu_s: float | None = None  # CPU the app server used meanwhile, when it is ours
    machine_busy_pct: float | None = None  # all cores, busy meanwhile, by any process

    def add(self, page: str, kind: str, seconds: float) -> None:
        self.times.setdefault(page, []).append(seconds)
        self.kinds.setdefault(kind, []).append(seconds)

    @property
    def every(self) -> list[float]:
        return [t for times in self.times.values() for t in times]


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), linear between ranks; NaN when there are no values."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q) - 1]


def summary(values: list[float]) -> dict[str, Any]:
    return {
        "loads": len(values),
        "p50_s": round(percentile(values, 50), 2),
        "p95_s": round(percentile(values, 95), 2),
        "max_s": round(max(values), 2) if values else float("nan"),
    }


async def wait_drawn(page: Any, runs_before: int, timeout_s: float) -> float:
    """Wait for the page to finish drawing; return when its last element arrived (s)."""
    await page.wait_for_function(
        DRAWN, arg=[QUIET_MS, runs_before], polling=100, timeout=timeout_s * 1000
    )
    if await page.locator('[data-testid="stException"]').count():
        raise RuntimeError("the page shows an exception")
    return await page.evaluate("window.__lastDraw") / 1000


async def open_page(page: Any, url: str, timeout_s: float) -> float:
    """Follow a link to ``url`` (a new Streamlit session); seconds to the last element drawn."""
    await page.goto(url, wait_until="commit", timeout=timeout_s * 1000)
    return await wait_drawn(page, 0, timeout_s)


# Clicks the sidebar link titled ``title``; returns [script runs so far, the click's time].
CLICK_LINK = """
(title) => {
  const links = [...document.querySelectorAll('[data-testid="stSidebarNav"] a')];
  const link = links.find(a => a.innerText.trim() === title);
  if (!link) return null;
  const before = [window.__runs, performance.now()];
  link.click();
  return before;
}
"""


async def switch_page(page: Any, title: str, timeout_s: float) -> float:
    """Click the sidebar link to another page; seconds from the click to the last element.

    The click is the link's own (in the page), so it does not wait for Playwright's idea of a
    stable element while the sidebar is redrawn under load.
    """
    before = await page.evaluate(CLICK_LINK, title)
    if before is None:
        raise RuntimeError(f"no sidebar link {title!r}")
    runs, clicked = before
    return await wait_drawn(page, runs, timeout_s) - clicked / 1000


async def session(browser: Any, number: int, plan: Plan, tally: Tally, rounds: int = 0) -> None:
    """One reader: opens one page from a link, then goes through the others by the sidebar.

    Stops at the deadline, or after ``rounds`` rounds of every page when that is not 0. After
    an error the reader starts again from a link.
    """
    await asyncio.sleep(number * plan.ramp / max(plan.sessions, 1))
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    await context.add_init_script(WATCH_DRAWING)
    page = await context.new_page()
    step = number * len(plan.pages) // max(plan.sessions, 1)
    last = step + rounds * len(plan.pages) if rounds else None
    fresh = True
    try:
        while time.monotonic() < plan.deadline and (last is None or step < last):
            spec = plan.pages[step % len(plan.pages)]
            step += 1
            if fresh:
                kind, load = (
                    "opened",
                    open_page(page, f"{plan.base_url}/{spec.url_path}", plan.page_timeout),
                )
            else:
                kind, load = "switched", switch_page(page, spec.title, plan.page_timeout)
            try:
                seconds = await asyncio.wait_for(
                    load, timeout=max(plan.deadline - time.monotonic(), 0.1)
                )
            except TimeoutError:  # the run's deadline, not the page's own time limit
                tally.cut_off += 1
                break
            except Exception as exc:  # playwright raises its own types; each is an error here
                tally.errors.append(
                    f"session {number}, {spec.url_path}: {str(exc).splitlines()[0]}"
                )
                fresh = True
                continue
            tally.add(spec.url_path, kind, seconds)
            fresh = False
    finally:
        await context.close()


async def run_load(
    base_url: str,
    sessions: int,
    duration: float,
    page_timeout: float,
    ramp: float = 10.0,
    warm: bool = True,
    server_pid: int | None = None,
) -> tuple[Tally, Tally]:
    """Drive ``sessions`` readers against the app at ``base_url`` for ``duration`` seconds.

    With ``warm``, one reader first goes through every page twice, alone: the first round fills
    the server's caches, so the run measures a server that has been up for a while rather than
    the first visitors after a restart; the second gives each page's time with no other reader.
    That warm-up is returned as the first tally.
    """
    from playwright.async_api import async_playwright

    pages = navigation.pages_for("public")
    first, tally = Tally(), Tally()
    async with async_playwright() as play:
        browser = await play.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            if warm:
                now = time.monotonic()
                alone = Plan(base_url, pages, 1, now, now + 900, 0, page_timeout)
                await session(browser, 0, alone, first, rounds=2)
            now, cpu, ticks = time.monotonic(), cpu_seconds(server_pid), machine_ticks()
            plan = Plan(base_url, pages, sessions, now, now + duration, ramp, page_timeout)
            await asyncio.gather(*(session(browser, n, plan, tally) for n in range(sessions)))
            tally.wall_s = time.monotonic() - now
            if cpu is not None:
                tally.server_cpu_s = cpu_seconds(server_pid) - cpu
            if ticks is not None and (after := machine_ticks()) is not None:
                busy, total = after[0] - ticks[0], after[1] - ticks[1]
                tally.machine_busy_pct = 100 * busy / total if total else None
        finally:
            await browser.close()
    return first, tally


def cpu_seconds(pid: int | None) -> float | None:
    """User and system CPU seconds a process has used (Linux /proc), or None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, TypeError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_ticks() -> tuple[int, int] | None:
    """Busy and total CPU ticks of the whole machine so far (Linux /proc/stat), or None."""
    try:
        ticks = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return None
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + waiting for I/O
    return sum(ticks) - idle, sum(ticks)


def start_server(warehouse: Path, state: Path) -> tuple[subprocess.Popen, str]:
    """``streamlit run serve.py`` in public mode on a free loopback port; wait until healthy."""
    settings = {"OVERSIGHT_WAREHOUSE": str(warehouse), "OVERSIGHT_STATE": str(state)}
    return start_streamlit({**settings, "OVERSIGHT_MODE": "public"})


def rounded(value: float | None, digits: int = 0) -> float | None:
    return None if value is None else round(value, digits)


def report(first: Tally, tally: Tally, args: argparse.Namespace, total_s: float) -> dict[str, Any]:
    return {
        "label": args.label,
        "warehouse": str(args.warehouse) if args.warehouse else None,
        "sessions": args.sessions,
        "duration_s": args.duration,
        "wall_s": round(tally.wall_s, 1),
        "server_cpu_s": rounded(tally.server_cpu_s, 1),
        "machine_busy_pct": rounded(tally.machine_busy_pct),
        "total_s": round(total_s, 1),
        "ramp_s": args.ramp,
        "alone_first_visit_s": {page: round(t[0], 2) for page, t in first.times.items()},
        "alone_s": {page: round(t[-1], 2) for page, t in first.times.items() if len(t) > 1},
        "warm_up_errors": first.errors,
        "all_pages": summary(tally.every),
        "by_kind": {kind: summary(times) for kind, times in sorted(tally.kinds.items())},
        "by_page": {page: summary(times) for page, times in sorted(tally.times.items())},
        "errors": len(tally.errors),
        "error_examples": tally.errors[:10],
        "cut_off_at_deadline": tally.cut_off,
        "machine": machine(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--warehouse", type=Path, help="start the app on this warehouse")
    where.add_argument("--url", help="use an app already running here")
    parser.add_argument("--sessions", type=int, default=25)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds (default 60)")
    parser.add_argument("--page-timeout", type=float, default=45.0, help="seconds per page")
    parser.add_argument(
        "--ramp", type=float, default=10.0, help="start the sessions over this many seconds"
    )
    parser.add_argument(
        "--cold", action="store_true", help="no warm-up: measure the first visitors after a start"
    )
    parser.add_argument("--label", default="run", help="names the results file")
    parser.add_argument("--out", type=Path, help="folder for load-<label>.json")
    args = parser.parse_args(argv)

    process = None
    if args.url:
        base = args.url.rstrip("/")
    else:
        state = Path(os.environ.get("TMPDIR", "/tmp")) / f"load-state-{os.getpid()}.sqlite"
        process, base = start_server(args.warehouse.resolve(), state)
    started = time.monotonic()
    try:
        first, tally = asyncio.run(
            run_load(
                base,
                args.sessions,
                args.duration,
                args.page_timeout,
                args.ramp,
                not args.cold,
                process.pid if process is not None else None,
            )
        )
    finally:
        if process is not None:
            stop(process)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
    result = report(first, tally, args, time.monotonic() - started)
    if args.out:
        write_json(args.out, f"load-{args.label}.json", result)
    print(json.dumps(result, default=str))
    return 0 if not tally.errors else 1


if __name__ == "__main__":
    sys.exit(main())
