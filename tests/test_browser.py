"""The app in a real browser: every page in both modes, screenshots and axe-core checks.

Starts the app as the README says (``streamlit run serve.py``) on a copy of the synthetic sample
warehouse, drives Debian's Chromium headless through playwright, waits for each page to finish
drawing, saves a screenshot (``OVERSIGHT_SCREENSHOTS`` folder, or a temporary one), and runs
axe-core (shipped in axe-playwright-python) on every public page against WCAG 2.2 A/AA.
Serious or critical violations fail the test unless their rule id is in the recorded baseline
of violations inside Streamlit's own widgets (tests/axe_baseline.json): a new one fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.common import start_streamlit, stop
from oversight import navigation
from tests.conftest import ROOT

CHROMIUM = Path("/usr/bin/chromium")
BASELINE = ROOT / "tests" / "axe_baseline.json"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists() and os.environ.get("CI") != "true",
        reason="Chromium is not installed (apt-get install chromium)",
    ),
]


def start_app(warehouse: Path, mode: str, state: Path) -> tuple[subprocess.Popen, str]:
    settings = {
        "OVERSIGHT_WAREHOUSE": str(warehouse),
        "OVERSIGHT_MODE": mode,
        "OVERSIGHT_STATE": str(state),
    }
    if mode == "internal":
        settings["OVERSIGHT_DEV_LOGIN"] = "1"
    return start_streamlit(settings, keep_output=True)


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = os.environ.get("OVERSIGHT_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as play:
        chromium = play.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync",
            ],
        )  # fmt: skip
        yield chromium
        chromium.close()


@pytest.fixture(scope="module", params=["public", "internal"])
def app_server(request, sample_warehouse: Path, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp(f"browser-{request.param}")
    warehouse = folder / "oversight.duckdb"
    shutil.copyfile(sample_warehouse, warehouse)
    process, base = start_app(warehouse, request.param, folder / "state.sqlite")
    yield request.param, base
    stop(process)


def settle(page) -> None:
    """Wait until the script has finished and every chart has drawn."""
    page.wait_for_selector('[data-testid="stMain"]', timeout=60_000)
    # Finished: no running indicator, no element still faded as stale from a rerun, a heading.
    done = (
        "() => !document.querySelector('[data-testid=\"stStatusWidgetRunningIcon\"]')"
        " && !document.querySelector('[data-stale=\"true\"]')"
        " && document.querySelectorAll('h1').length > 0"
    )
    page.wait_for_function(done, timeout=90_000)
    page.wait_for_timeout(800)
    charts = page.locator('[data-testid="stPlotlyChart"]')
    for index in range(charts.count()):
        charts.nth(index).locator("g.trace, g.barlayer, .scatterlayer").first.wait_for(
            state="attached", timeout=60_000
        )
    page.wait_for_timeout(500)


def visit(browser, base: str, spec: navigation.PageSpec, shots: Path, mode: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{base}/{spec.url_path}", wait_until="domcontentloaded")
    settle(page)
    page.screenshot(path=str(shots / f"{mode}-{spec.url_path}.png"), full_page=True)
    return page


def test_every_page_draws_in_both_modes(app_server, browser, shots: Path) -> None:
    mode, base = app_server
    specs = navigation.pages_for(mode)
    if mode == "internal":
        assert any(p.internal for p in specs)
    for spec in specs:
        page = visit(browser, base, spec, shots, mode)
        try:
            assert page.locator('[data-testid="stException"]').count() == 0, spec.path
            heading = page.locator("h1").first.inner_text()
            assert heading.strip(), spec.path
            body = page.locator('[data-testid="stMain"]').inner_text()
            assert "Traceback" not in body, spec.path
            # The synthetic sample is labelled on every page.
            assert "Synthetic sample data" in body, spec.path
        finally:
            page.close()


def test_public_server_does_not_serve_internal_pages(app_server, browser, shots: Path) -> None:
    mode, base = app_server
    if mode != "public":
        pytest.skip("public mode only")
    internal = [p for p in navigation.PAGES if p.internal]
    for spec in internal:
        page = browser.new_page()
        page.goto(f"{base}/{spec.url_path}", wait_until="domcontentloaded")
        settle(page)
        body = page.locator('[data-testid="stMain"]').inner_text()
        links = page.locator('[data-testid="stSidebarNav"]').inner_text()
        page.close()
        assert spec.title not in links
        assert spec.title not in page.url
        assert "Challenge points" not in body or spec.url_path != "challenge"


def load_baseline() -> dict[str, str]:
    return json.loads(BASELINE.read_text())["rules"]


def test_public_pages_pass_axe(app_server, browser, shots: Path) -> None:
    from axe_playwright_python.sync_playwright import Axe

    mode, base = app_server
    if mode != "public":
        pytest.skip("axe runs on the public pages")
    allowed = load_baseline()
    axe = Axe()
    found: dict[str, list[str]] = {}
    for spec in navigation.pages_for("public"):
        page = visit(browser, base, spec, shots, "axe")
        try:
            options = {"runOnly": {"type": "tag", "values": AXE_TAGS}}
            results = axe.run(page, options=options).response
            if results["violations"]:
                # A violation must still be there once the page has settled again: a colour
                # read while Streamlit fades an element for a rerun is not the page's colour.
                settle(page)
                again = axe.run(page, options=options).response
                lasting = {v["id"] for v in again["violations"]}
                results["violations"] = [v for v in results["violations"] if v["id"] in lasting]
        finally:
            page.close()
        for violation in results["violations"]:
            if violation["impact"] not in ("serious", "critical"):
                continue
            targets = [
                ", ".join(map(str, node["target"]))
                + " | "
                + " ".join(check["message"] for check in node["any"] + node["all"])[:200]
                for node in violation["nodes"]
            ]
            found.setdefault(violation["id"], []).extend(f"{spec.url_path}: {t}" for t in targets)
    (shots / "axe-violations.json").write_text(json.dumps(found, indent=2))
    new = {rule: where for rule, where in found.items() if rule not in allowed}
    assert not new, json.dumps(new, indent=2)[:4000]


def test_first_request_to_an_internal_url_on_a_fresh_public_server(
    sample_warehouse: Path, browser, tmp_path: Path
) -> None:
    # Streamlit serves pages/ scripts directly until app.py's navigation first runs; the very
    # first request of a fresh server must still go through app.py's mode gate.
    warehouse = tmp_path / "oversight.duckdb"
    shutil.copyfile(sample_warehouse, warehouse)
    process, base = start_app(warehouse, "public", tmp_path / "state.sqlite")
    try:
        page = browser.new_page()
        page.goto(f"{base}/challenge", wait_until="domcontentloaded")
        settle(page)
        heading = page.locator("h1").first.inner_text()
        nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
        page.close()
    finally:
        stop(process)
    assert "Challenge" not in heading
    assert "Challenge points" not in nav
    assert "Plan scorecard" in nav
