"""Security: a public server shows nothing internal whatever the URL says, an internal server
refuses anyone it cannot authorise, and the server settings are conservative.

- Public mode, in AppTest: every public page is run with every query parameter any page reads
  set to normal, bogus and hostile values (path traversal, markup and script, SQL, NUL, very
  long, repeated). No exception, nothing internal, the hostile value neither shown nor kept:
  the page falls back to its default view. Switching to an internal page is not possible.
- Public mode over HTTP, in Chromium: an internal page's URL opens no internal page, the
  sidebar lists only public pages, a hostile query string runs no script, and the page fetches
  nothing from anywhere but the server itself. Without a browser: no path traversal, no
  upload, no cross-site websocket.
- Internal mode bound to every interface (0.0.0.0), without login and with the local-only
  development flag: every URL shows the refusal and nothing internal.
- Settings: no upload widget; ``.streamlit/config.toml`` caps uploads and keeps XSRF and CORS
  protection on, and Streamlit reads it.
- The load benchmark (bench/load.py) runs briefly against a public server without errors.
"""

from __future__ import annotations

import ast
import http.client
import json
import os
import shutil
import subprocess
import sys
import tomllib
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.protobuf import text_format
from streamlit.testing.v1 import AppTest

from bench.common import start_streamlit, stop
from oversight import navigation
from tests import test_browser
from tests.conftest import ROOT
from tests.test_browser import CHROMIUM, settle, start_app

browser = test_browser.browser  # the module-scoped headless Chromium fixture

APP = str(ROOT / "app.py")
PUBLIC = navigation.pages_for("public")
INTERNAL = tuple(p for p in navigation.PAGES if p.internal)
# What only internal pages show: their titles, and words from what they do.
INTERNAL_TEXT = (*(p.title for p in INTERNAL), "Draft question", "SQL console", "Freeze figures")
INTERNAL_BUTTONS = {"Accept", "Dismiss", "Edit", "Freeze figures for this meeting", "Run query"}
GATE_TITLE = "London policing oversight (internal)"

# Valid values that differ from the defaults: a page must honour them.
NORMAL = {"plan": "pcp-2022-25", "area": "E09000033", "borough": "E09000033"}
KITCHEN_SINK = (
    "../../etc/passwd'\"; DROP TABLE marts.loads; --<script>window.__pwned=1</script>"
    '<img src=x onerror="window.__pwned=1">[x](javascript:alert(1))\u202e'
)
HOSTILE: list[str | list[str]] = [
    KITCHEN_SINK,
    "",
    "E09999999",  # the shape of a borough code, but none
    "\x00" + "A" * 5000,
    ["E09000033", KITCHEN_SINK],  # a repeated parameter: the last one counts
]
# Fragments of the hostile values that must never be drawn on a page.
NEVER_SHOWN = ("etc/passwd", "DROP TABLE", "__pwned", "javascript:", "E09999999", "A" * 100)

needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists() and os.environ.get("CI") != "true",
    reason="Chromium is not installed (apt-get install chromium)",
)


# --- what the pages read from the URL ------------------------------------------------------------


def param_select_keys(path: Path) -> set[str]:
    """The URL keys of every ``param_select`` call in a module (each must be a literal)."""
    keys = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "attr", getattr(node.func, "id", None))
        if name != "param_select":
            continue
        key = node.args[2] if len(node.args) > 2 else None
        key = next((k.value for k in node.keywords if k.arg == "key"), key)
        assert isinstance(key, ast.Constant), f"{path}:{node.lineno}: key is not a literal"
        keys.add(key.value)
    return keys


SOURCES = [ROOT / "app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "oversight").glob("*.py")]
SCANNED = [*sorted((ROOT / "pages").glob("*.py")), ROOT / "oversight" / "ui.py"]
URL_KEYS = sorted(set().union(*(param_select_keys(p) for p in SCANNED)))


def test_every_url_parameter_goes_through_param_select() -> None:
    # The crawl below sets every key param_select reads; a page reading st.query_params
    # itself would escape it.
    readers = {str(p.relative_to(ROOT)) for p in SOURCES if "query_params" in p.read_text()}
    assert readers == {"oversight/ui.py"}
    assert {"plan", "area", "as_at", "borough", "mart", "from", "to"} <= set(URL_KEYS)


# --- public mode in AppTest ------------------------------------------------------------------


def walk(node) -> Iterator:
    yield node
    for child in getattr(node, "children", {}).values():
        yield from walk(child)


def rendered_text(at: AppTest) -> str:
    """Everything the page sent to the browser, as text (labels, markdown, chart specs...)."""
    return "\n".join(
        text_format.MessageToString(node.proto, as_utf8=True)
        for node in walk(at._tree)
        if getattr(node, "proto", None) is not None
    )


def url_value(at: AppTest, key: str) -> str | None:
    value = at.query_params.get(key)
    return value[-1] if isinstance(value, list) else value


def titles(at: AppTest) -> list[str]:
    return [t.value for t in at.title]


def assert_public(at: AppTest, where: str) -> str:
    """No exception and nothing internal on the page; returns its text."""
    assert not at.exception, (where, [e.value for e in at.exception])
    text = rendered_text(at)
    shown = [word for word in INTERNAL_TEXT if word in text]
    assert not shown, (where, shown)
    assert not {b.label for b in at.button} & INTERNAL_BUTTONS, where
    assert not [t for t in at.text_area if t.key == "console_query"], where
    return text


@pytest.fixture
def public_app(monkeypatch: pytest.MonkeyPatch, sample_warehouse: Path, tmp_path: Path):
    monkeypatch.setenv("OVERSIGHT_WAREHOUSE", str(sample_warehouse))
    monkeypatch.setenv("OVERSIGHT_MODE", "public")
    monkeypatch.setenv("OVERSIGHT_STATE", str(tmp_path / "state.sqlite"))
    monkeypatch.delenv("OVERSIGHT_DEV_LOGIN", raising=False)

    def run(page: str, params: dict[str, str | list[str]]) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=120)
        for key, value in params.items():
            at.query_params[key] = value
        return at.switch_page(page).run()

    return run


@pytest.mark.parametrize("spec", PUBLIC, ids=lambda s: s.url_path)
def test_public_page_with_hostile_url_parameters(public_app, spec) -> None:
    baseline = public_app(spec.path, {})
    assert_public(baseline, "defaults")
    read = [k for k in URL_KEYS if url_value(baseline, k) is not None]  # what this page reads

    normal = public_app(spec.path, NORMAL)
    assert_public(normal, "normal values")
    for key in set(NORMAL) & set(read):
        assert url_value(normal, key) == NORMAL[key], key  # honoured, so the crawl reaches it

    # Every key gets every hostile value once, in a different mix on each run.
    for turn in range(len(HOSTILE)):
        params = {key: HOSTILE[(turn + i) % len(HOSTILE)] for i, key in enumerate(URL_KEYS)}
        at = public_app(spec.path, params)
        text = assert_public(at, f"hostile run {turn}")
        assert titles(at) == titles(baseline), turn  # the default view
        for key in read:
            assert url_value(at, key) == url_value(baseline, key), (turn, key)
        drawn = [fragment for fragment in NEVER_SHOWN if fragment in text]
        assert not drawn, (turn, drawn)


def test_internal_pages_cannot_be_switched_to_in_public_mode(public_app) -> None:
    default_title = titles(public_app(PUBLIC[0].path, {}))
    for spec in INTERNAL:
        at = public_app(spec.path, {})
        assert_public(at, spec.path)
        assert titles(at) == default_title, spec.path


# --- settings ------------------------------------------------------------------------------------

CONFIG = ROOT / ".streamlit" / "config.toml"
# A file_uploader must come with a test that a file over its limit is refused; list it here
# with that test's name once it has one.
UPLOADERS_WITH_SIZE_TESTS: dict[str, str] = {}


def test_no_upload_widget_and_uploads_capped() -> None:
    uploaders = {str(p.relative_to(ROOT)) for p in SOURCES if "file_uploader" in p.read_text()}
    assert uploaders <= set(UPLOADERS_WITH_SIZE_TESTS), (
        f"{sorted(uploaders)} add an upload widget: refuse files over a size limit, test it, "
        "and list the test in UPLOADERS_WITH_SIZE_TESTS"
    )
    config = tomllib.loads(CONFIG.read_text())
    assert config["server"]["maxUploadSize"] <= 1
    assert config["server"]["enableXsrfProtection"] is True
    assert config["server"]["enableCORS"] is True
    assert config["server"]["enableStaticServing"] is False
    assert config["browser"]["gatherUsageStats"] is False


def test_streamlit_reads_the_project_config() -> None:
    options = ["server.maxUploadSize", "server.enableXsrfProtection", "browser.gatherUsageStats"]
    script = (
        "import json; from streamlit import config; config.get_config_options(); "
        f"print(json.dumps([config.get_option(o) for o in {options!r}]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [1, True, False]


def test_login_secrets_are_never_committed() -> None:
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    done = subprocess.run(
        ["git", "check-ignore", "-q", ".streamlit/secrets.toml"], cwd=ROOT, check=False
    )
    assert done.returncode == 0


# --- real servers ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def public_server(sample_warehouse: Path, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("security-public")
    warehouse = folder / "oversight.duckdb"
    shutil.copyfile(sample_warehouse, warehouse)
    process, base = start_app(warehouse, "public", folder / "state.sqlite")
    yield base
    stop(process)


def start_on_every_interface(
    warehouse: Path, state: Path, dev_login: bool
) -> tuple[subprocess.Popen, str]:
    """Like tests.test_browser.start_app in internal mode, but bound to 0.0.0.0."""
    settings = {
        "OVERSIGHT_WAREHOUSE": str(warehouse),
        "OVERSIGHT_MODE": "internal",
        "OVERSIGHT_STATE": str(state),
    }
    if dev_login:
        settings["OVERSIGHT_DEV_LOGIN"] = "1"
    return start_streamlit(settings, address="0.0.0.0")


def auth_configured() -> bool:
    files = [ROOT / ".streamlit" / "secrets.toml", Path.home() / ".streamlit" / "secrets.toml"]
    return any(f.is_file() and "auth" in tomllib.loads(f.read_text()) for f in files)


REFUSALS = {
    "no_login": "Internal mode needs login",
    "dev_flag": "OVERSIGHT_DEV_LOGIN=1 is for local development only",
}


@pytest.fixture(scope="module", params=list(REFUSALS))
def gated_server(request, sample_warehouse: Path, tmp_path_factory: pytest.TempPathFactory):
    if request.param == "no_login" and auth_configured():
        pytest.skip("login is configured in a secrets.toml here")
    folder = tmp_path_factory.mktemp(f"security-{request.param}")
    warehouse = folder / "oversight.duckdb"
    shutil.copyfile(sample_warehouse, warehouse)
    process, base = start_on_every_interface(
        warehouse, folder / "state.sqlite", dev_login=request.param == "dev_flag"
    )
    yield request.param, base
    stop(process)


def open_page(browser, url: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url, wait_until="domcontentloaded")
    settle(page)
    return page


def page_facts(page) -> tuple[str, str, str]:
    """The first heading, the sidebar's page list and the whole page's text."""
    heading = page.locator("h1").first.inner_text()
    nav = page.locator('[data-testid="stSidebarNav"]')
    links = nav.inner_text() if nav.count() else ""
    return heading, links, page.locator("body").inner_text()


@pytest.mark.slow
@needs_chromium
@pytest.mark.parametrize("spec", INTERNAL, ids=lambda s: s.url_path)
def test_internal_url_on_a_public_server_opens_no_internal_page(
    public_server: str, browser, spec
) -> None:
    page = open_page(browser, f"{public_server}/{spec.url_path}")
    try:
        heading, links, body = page_facts(page)
    finally:
        page.close()
    assert heading != spec.title
    assert not [word for word in INTERNAL_TEXT if word in body]
    listed = {line.strip() for line in links.splitlines() if line.strip()}
    assert listed == {p.title for p in PUBLIC}


@pytest.mark.slow
@needs_chromium
def test_hostile_query_string_runs_no_script_and_fetches_nothing_else(
    public_server: str, browser
) -> None:
    query = urllib.parse.urlencode(
        {
            "plan": "<script>window.__pwned=1</script>",
            "area": '<img src=x onerror="window.__pwned=1">',
            "as_at": "../../etc/passwd",
            "embed_options": "<svg onload=window.__pwned=1>",
        }
    )
    origin = urllib.parse.urlsplit(public_server).netloc
    hosts: set[str] = set()
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.on("request", lambda r: hosts.add(urllib.parse.urlsplit(r.url).netloc))
    try:
        page.goto(f"{public_server}/scorecard?{query}", wait_until="domcontentloaded")
        settle(page)
        pwned = page.evaluate("window.__pwned")
        exceptions = page.locator('[data-testid="stException"]').count()
        heading, _, body = page_facts(page)
        url = page.url
    finally:
        page.close()
    assert pwned is None
    assert exceptions == 0
    assert heading.startswith("Police and Crime Plan for London")
    assert "etc/passwd" not in body
    assert "<script>" not in body
    assert "area=MPS" in url  # the hostile area was replaced by the default
    assert hosts - {""} == {origin}  # no usage statistics, fonts or scripts from elsewhere


def raw_request(base: str, method: str, path: str, headers: dict | None = None, body=None):
    """Send ``path`` exactly as written (no normalising of '..'); return status and body."""
    parts = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


TRAVERSALS = [
    "/../../../../etc/passwd",
    "/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/app/static/../../../../etc/passwd",
    "/media/../../../../etc/passwd",
    "/_stcore/../../../../etc/passwd",
    "/static/..%2f..%2f..%2f..%2fetc/passwd",
    "/component/..%2f..%2f..%2fetc/passwd",
    "/pages/challenge.py",
    "/.streamlit/config.toml",
    "/app.py",
]


@pytest.mark.slow
def test_server_refuses_traversal_uploads_and_foreign_websockets(public_server: str) -> None:
    for path in TRAVERSALS:
        status, body = raw_request(public_server, "GET", path)
        assert b"root:" not in body, path
        assert b"import streamlit" not in body, path
        assert b"maxUploadSize" not in body, path
    # No upload without the XSRF token, even to a made-up session.
    status, _ = raw_request(
        public_server, "PUT", "/_stcore/upload_file/session/file", body=b"x" * 2048
    )
    assert status == 403
    # The websocket that runs the app only opens for pages served by this server.
    handshake = {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Protocol": "streamlit",
    }
    foreign, _ = raw_request(
        public_server, "GET", "/_stcore/stream", {**handshake, "Origin": "https://evil.example"}
    )
    assert foreign == 403
    own, _ = raw_request(
        public_server, "GET", "/_stcore/stream", {**handshake, "Origin": public_server}
    )
    assert own == 101


# Streamlit's /_stcore/metrics lists cache function names (oversight.ui._cached_read, ...),
# session and memory figures; serve.py hides it (config/server.yaml, oversight/server.py).
METRICS_SPELLINGS = ["/_stcore/metrics", "/_stcore/metrics/", "/_stcore/METRICS",
                     "//_stcore//metrics", "/_stcore/metrics?families=cache_memory_bytes"]


@pytest.mark.slow
def test_public_server_hides_metrics_and_keeps_health(public_server: str) -> None:
    for path in METRICS_SPELLINGS:
        for method in ("GET", "HEAD", "OPTIONS"):
            status, body = raw_request(public_server, method, path)
            assert status == 404, (method, path, status)
            assert b"session" not in body, (method, path)
            assert b"cache" not in body, (method, path)
    status, body = raw_request(public_server, "GET", "/_stcore/health")
    assert (status, body) == (200, b"ok")


@pytest.mark.slow
@needs_chromium
def test_metrics_stay_hidden_once_pages_have_filled_the_caches(public_server: str, browser):
    page = open_page(browser, f"{public_server}/crime")
    try:
        heading, _, _ = page_facts(page)
    finally:
        page.close()
    assert heading.strip()  # the page drew through serve.py, so its caches hold entries
    status, body = raw_request(public_server, "GET", "/_stcore/metrics")
    assert status == 404
    assert b"_cached_read" not in body
    assert b"oversight" not in body


def test_hidden_paths_come_from_config(tmp_path: Path) -> None:
    from oversight.server import is_hidden, load_hidden_paths

    hidden = load_hidden_paths()
    assert hidden == ("_stcore/metrics",)
    assert is_hidden("/_stcore/metrics", hidden)
    assert is_hidden("/oversight/_stcore/Metrics/", hidden)  # under a base URL path
    assert not is_hidden("/_stcore/health", hidden)
    assert not is_hidden("/_stcore/metricsx", hidden)
    bad = tmp_path / "server.yaml"
    bad.write_text("hidden_path: [x]\n", encoding="utf-8")
    with pytest.raises(ValueError, match="hidden_paths"):
        load_hidden_paths(bad)


@pytest.mark.slow
@needs_chromium
def test_internal_server_on_every_interface_refuses_without_authorisation(
    gated_server, browser
) -> None:
    variant, base = gated_server
    for path in ["", *(p.url_path for p in INTERNAL), "explorer"]:
        page = open_page(browser, f"{base}/{path}")
        try:
            heading, links, body = page_facts(page)
            tables = page.locator('[data-testid="stDataFrame"]').count()
        finally:
            page.close()
        assert heading == GATE_TITLE, path
        assert REFUSALS[variant] in body, path
        assert not [word for word in INTERNAL_TEXT if word in body], path
        assert not [p.title for p in navigation.PAGES if p.title in links], path
        assert tables == 0, path


# --- load ------------------------------------------------------------------------------------


@pytest.mark.slow
@needs_chromium
def test_load_benchmark_smoke(public_server: str) -> None:
    done = subprocess.run(
        [sys.executable, "bench/load.py", "--url", public_server, "--sessions", "3",
         "--duration", "15", "--ramp", "2", "--label", "smoke"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:] + done.stdout[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    public = {spec.url_path for spec in PUBLIC}
    # The warm-up went through every public page (first by link, then by the sidebar).
    assert result["warm_up_errors"] == []
    assert set(result["alone_first_visit_s"]) == set(result["alone_s"]) == public
    assert result["errors"] == 0, result["error_examples"]
    assert result["all_pages"]["loads"] >= 1
    assert set(result["by_page"]) <= public
    assert 0 < result["all_pages"]["p50_s"] <= result["all_pages"]["max_s"] < 45
    assert result["wall_s"] < 15 + 5  # bounded: nothing is started after the duration
