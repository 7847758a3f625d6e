"""``python -m pipelines fetch``: downloads from the publishers, checked, resumable, then loaded.

A local HTTP server on 127.0.0.1 (random port, in a thread) serves the real published files
from ../shared/realdata at the paths config/sources.yaml names, plus handlers that stall,
truncate, serve a web page instead of a CSV and answer range requests. No other network is
used. Every failure must give a clear message, exit non-zero, leave nothing where the loader
reads and leave the warehouse byte-identical.
"""

from __future__ import annotations

import hashlib
import io
import threading
import zipfile
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import duckdb
import pandas as pd
import pytest
import yaml

from pipelines.__main__ import main
from pipelines.fetch import STATE_FILE, read_sources
from pipelines.inputs import Limits, iter_inputs
from tests.conftest import ROOT, TODAY, sha256_of

pytestmark = [pytest.mark.realdata]

BOROUGH_24 = (
    "lds_borough_crime/MPS Borough Level Crime (most recent 24 months)__2024-01_to_2025-12.csv"
)
BOROUGH_HISTORICAL = "lds_borough_crime/MPS Borough Level Crime (Historical).csv"
HOMICIDE = "mps_homicide/Homicides_2003_2023.csv"
PAS_LONDON = "mopac_pas/PAS_TandC_dashboard_MPS_total__semicolon_eu_decimal.csv"
CITY = "police_uk/city_of_london_street/2023-{:02d}-city-of-london-street.csv"
HTML = b"<!DOCTYPE html>\n<html><head><title>Dataset</title></head><body>Download</body></html>\n"
LOADER_LIMITS = Limits(max_file_bytes=1 << 30, max_archive_bytes=1 << 33)


# --- the local server ----------------------------------------------------------------------------


@dataclass
class Route:
    """What the server does for one path."""

    data: bytes = b""
    content_type: str = "text/csv"
    mode: str = "file"  # file | stall | stall_headers | truncate | redirect | no_range
    cut: int = 0  # truncate/stall: bytes sent before stopping
    validators: bool = True  # send ETag and Last-Modified
    location: str = ""


@dataclass
class Server:
    base: str
    routes: dict[str, Route]
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)


def make_handler(server: Server, release: threading.Event) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep test output quiet
            pass

        def do_GET(self) -> None:
            server.requests.append((self.path, dict(self.headers.items())))
            route = server.routes.get(self.path)
            if route is None:
                self.send_error(404, "Not Found")
                return
            if route.mode == "redirect":
                self.send_response(302)
                self.send_header("Location", route.location)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if route.mode == "stall_headers":
                release.wait(30)
                return
            etag = '"' + hashlib.sha256(route.data).hexdigest()[:16] + '"'
            if route.validators and self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.end_headers()
                return
            start = 0
            wanted = self.headers.get("Range", "")
            fresh = self.headers.get("If-Range") in (None, etag)
            if route.mode != "no_range" and wanted.startswith("bytes=") and fresh:
                start = int(wanted[6:].split("-")[0])
            body = route.data[start:]
            self.send_response(206 if start else 200)
            self.send_header("Content-Type", route.content_type)
            self.send_header("Content-Length", str(len(body)))
            if start:
                total = len(route.data)
                self.send_header("Content-Range", f"bytes {start}-{total - 1}/{total}")
            if route.validators:
                self.send_header("ETag", etag)
                self.send_header("Last-Modified", "Tue, 01 Dec 2025 09:00:00 GMT")
            self.end_headers()
            if route.mode in ("truncate", "stall"):
                self.wfile.write(body[: route.cut])
                self.wfile.flush()
                if route.mode == "stall":
                    release.wait(30)
                self.close_connection = True
                return
            self.wfile.write(body)

    return Handler


@pytest.fixture
def server():
    """A local HTTP server on a random port; its routes are set by each test."""
    release = threading.Event()
    state = Server(base="", routes={})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(state, release))
    httpd.daemon_threads = True
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    release.set()
    httpd.shutdown()
    httpd.server_close()


def path_of(url: str) -> str:
    return urlsplit(url).path


def configured(source: str) -> list:
    return [f for f in read_sources(ROOT / "config" / "sources.yaml").files if f.source == source]


def write_sources(tmp_path: Path, files: list[dict], **defaults: object) -> Path:
    """A sources file for one test, with short timeouts."""
    config = {
        "defaults": {
            "connect_timeout_s": 2,
            "read_timeout_s": 1,
            "max_seconds": 20,
            "max_bytes": 10_000_000,
            "user_agent": "oversight-tests",
            **defaults,
        },
        "sources": {
            "test_source": {"landing": "https://example.org/dataset/landing", "files": files}
        },
    }
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


# --- warehouses ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_warehouse(realdata: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real warehouse holding one small file (the PAS London series)."""
    warehouse = tmp_path_factory.mktemp("fetchwh") / "oversight.duckdb"
    code = main(
        [
            "--warehouse",
            str(warehouse),
            "load",
            "--today",
            TODAY.isoformat(),
            str(realdata / PAS_LONDON),
        ]
    )
    assert code == 0
    return warehouse


@pytest.fixture
def warehouse(small_warehouse: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "wh" / "oversight.duckdb"
    copy.parent.mkdir()
    copy.write_bytes(small_warehouse.read_bytes())
    return copy


def fetch(warehouse: Path, raw: Path, *args: str) -> int:
    return main(
        [
            "--warehouse",
            str(warehouse),
            "fetch",
            "--raw-dir",
            str(raw),
            "--today",
            TODAY.isoformat(),
            *args,
        ]
    )


def visible_files(raw: Path) -> list[Path]:
    """What the loader would read from the raw folder."""
    return [Path(f.path) for f in iter_inputs([raw], LOADER_LIMITS)] if raw.exists() else []


# --- the configured sources ----------------------------------------------------------------------


def test_sources_config_lists_the_publishers_direct_links() -> None:
    config = read_sources(ROOT / "config" / "sources.yaml")
    assert set(config.sources) == {
        "lds_borough_crime",
        "lds_ward_crime",
        "mps_homicide",
        "mopac_pas",
        "police_uk",
    }
    for remote in config.files:
        parts = urlsplit(remote.url)
        assert parts.scheme == "https", remote.url
        assert parts.hostname in {"data.london.gov.uk", "data.police.uk"}, remote.url
        assert urlsplit(remote.landing).scheme == "https"
    kinds = {f.source: f.kind for f in config.files}
    assert kinds["police_uk"] == "zip"
    assert kinds["mopac_pas"] == "xlsx"


def test_sources_config_refuses_unknown_keys(tmp_path: Path) -> None:
    path = write_sources(
        tmp_path, [{"name": "a.csv", "url": "https://x.org/a.csv", "type": "csv", "sha": "x"}]
    )
    with pytest.raises(Exception, match="unknown key"):
        read_sources(path)


def test_dry_run_lists_the_links_and_touches_nothing(
    server: Server, warehouse: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = sha256_of(warehouse)
    raw = tmp_path / "raw"
    code = fetch(warehouse, raw, "--dry-run", "--base-url", server.base)
    out = capsys.readouterr().out
    assert code == 0
    for remote in read_sources(ROOT / "config" / "sources.yaml").files:
        assert server.base + path_of(remote.url) in out
    assert server.requests == []
    assert not raw.exists()
    assert sha256_of(warehouse) == before


# --- a good fetch --------------------------------------------------------------------------------


@pytest.mark.slow
def test_fetch_downloads_checks_and_loads_the_published_files(
    server: Server,
    warehouse: Path,
    realdata: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    borough_24, historical = configured("lds_borough_crime")
    (homicide,) = configured("mps_homicide")
    served = {
        path_of(borough_24.url): realdata / BOROUGH_24,
        path_of(historical.url): realdata / BOROUGH_HISTORICAL,
        path_of(homicide.url): realdata / HOMICIDE,
    }
    server.routes.update({p: Route(f.read_bytes()) for p, f in served.items()})
    # The historical file is served without validators: unchanged bytes are found by sha256.
    server.routes[path_of(historical.url)].validators = False
    monkeypatch.setenv("OVERSIGHT_FETCH_BASE", server.base)
    raw = tmp_path / "raw"

    code = fetch(warehouse, raw, "--only", "lds_borough_crime", "--only", "mps_homicide")
    out = capsys.readouterr().out
    assert code == 0, out

    # Each file is kept under its publisher's name, byte for byte, in a folder per fetch.
    for remote, original in (
        (borough_24, BOROUGH_24),
        (historical, BOROUGH_HISTORICAL),
        (homicide, HOMICIDE),
    ):
        (kept,) = (raw / remote.source).glob(f"*/{remote.name}")
        assert sha256_of(kept) == sha256_of(realdata / original)
    assert not list(raw.rglob("*.part"))
    log = (raw / ".fetch.log").read_text().splitlines()
    assert len(log) == 3
    first = next(line for line in log if path_of(borough_24.url) in line)
    digest = sha256_of(realdata / BOROUGH_24)
    size = (realdata / BOROUGH_24).stat().st_size
    assert f" new {server.base}" in first
    assert f"bytes={size}" in first
    assert f"sha256={digest}" in first

    # Loaded: the warehouse records the three files, and a month's total is the file's.
    with duckdb.connect(str(warehouse), read_only=True) as con:
        loaded = {r[0] for r in con.sql("select sha256 from marts.loads").fetchall()}
        december = con.execute(
            "select sum(offences) from marts.crime_borough_monthly where month = '2025-12-01'"
        ).fetchall()[0][0]
        victims = con.execute("select count(*) from marts.homicide_victims").fetchall()[0][0]
    assert {sha256_of(realdata / f) for f in (BOROUGH_24, BOROUGH_HISTORICAL, HOMICIDE)} <= loaded
    published = pd.read_csv(realdata / BOROUGH_24, dtype={"202512": "Int64"})
    assert december == published["202512"].sum()
    assert victims == len(pd.read_csv(realdata / HOMICIDE))

    # A second fetch finds nothing new (304 or same sha256) and publishes nothing.
    before = sha256_of(warehouse)
    code = fetch(warehouse, raw, "--only", "lds_borough_crime", "--only", "mps_homicide")
    out = capsys.readouterr().out
    assert code == 0
    assert out.count(" unchanged ") == 3
    assert "Nothing new to load; the warehouse is unchanged." in out
    assert sha256_of(warehouse) == before
    assert len(list((raw / "lds_borough_crime").glob("*/*.csv"))) == 2
    conditional = [h for p, h in server.requests[-3:] if "If-None-Match" in h]
    assert len(conditional) == 2  # the two files served with an ETag


def test_police_uk_archive_keeps_only_the_configured_forces(
    server: Server, warehouse: Path, realdata: Path, tmp_path: Path
) -> None:
    (archive,) = configured("police_uk")
    members = {
        f"2023-{m:02d}/2023-{m:02d}-city-of-london-street.csv": realdata / CITY.format(m)
        for m in (1, 2)
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, path in members.items():
            zf.writestr(name, path.read_bytes())
        zf.writestr("2023-02/2023-02-another-force-street.csv", b"Crime ID,Month\n")
    server.routes[path_of(archive.url)] = Route(mode="redirect", location="/archive/2023-02.zip")
    server.routes["/archive/2023-02.zip"] = Route(buffer.getvalue(), "application/zip")
    raw = tmp_path / "raw"
    before = sha256_of(warehouse)

    assert (
        fetch(warehouse, raw, "--only", "police_uk", "--no-load", "--base-url", server.base) == 0
    )
    kept = {
        p.relative_to(next((raw / "police_uk").glob("2*"))).as_posix(): p
        for p in (raw / "police_uk").rglob("*.csv")
    }
    assert set(kept) == set(members)
    for name, original in members.items():
        assert sha256_of(kept[name]) == sha256_of(original)
    assert not list((raw / "police_uk").glob("*.zip"))
    assert not list(raw.rglob("*.part"))
    state = (raw / "police_uk" / STATE_FILE).read_text()
    assert "2023-02-another-force" not in state
    assert sha256_of(warehouse) == before


def test_archive_with_a_member_escaping_its_folder_is_refused(
    server: Server, warehouse: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (archive,) = configured("police_uk")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("../2023-01/2023-01-metropolitan-street.csv", b"Crime ID,Month\n")
    server.routes[path_of(archive.url)] = Route(buffer.getvalue(), "application/zip")
    raw = tmp_path / "raw"
    assert fetch(warehouse, raw, "--only", "police_uk", "--base-url", server.base) == 1
    assert "'..'" in capsys.readouterr().err
    assert visible_files(raw) == []


# --- refusals ------------------------------------------------------------------------------------


def refused(
    warehouse: Path, raw: Path, sources: Path, capsys: pytest.CaptureFixture[str], base: str
) -> str:
    """Fetch; check it failed, left nothing for the loader and left the warehouse as it was."""
    before = sha256_of(warehouse)
    code = fetch(warehouse, raw, "--sources", str(sources), "--base-url", base)
    err = capsys.readouterr().err
    assert code == 1
    assert "Nothing was loaded; the warehouse is unchanged." in err
    assert visible_files(raw) == []
    assert sha256_of(warehouse) == before
    return err


def one_file(tmp_path: Path, path: str, kind: str = "csv", **defaults: object) -> Path:
    url = f"https://data.london.gov.uk{path}"
    return write_sources(tmp_path, [{"name": "file.csv", "url": url, "type": kind}], **defaults)


@pytest.mark.parametrize("mode", ["stall", "stall_headers"])
def test_a_stalled_server_is_abandoned(
    mode: str,
    server: Server,
    warehouse: Path,
    realdata: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = (realdata / HOMICIDE).read_bytes()
    server.routes["/slow.csv"] = Route(data, mode=mode, cut=1000)
    sources = one_file(tmp_path, "/slow.csv")
    err = refused(warehouse, tmp_path / "raw", sources, capsys, server.base)
    assert "stalled: the server sent nothing for 1 s (read timeout)" in err


def test_a_truncated_body_is_refused_and_kept_to_resume(
    server: Server,
    warehouse: Path,
    realdata: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = (realdata / HOMICIDE).read_bytes()
    server.routes["/cut.csv"] = Route(data, mode="truncate", cut=5000)
    raw = tmp_path / "raw"
    err = refused(warehouse, raw, one_file(tmp_path, "/cut.csv"), capsys, server.base)
    assert f"truncated: the server sent 5,000 of {len(data):,} bytes" in err
    (part,) = raw.rglob("*.part")
    assert part.name.startswith(".")
    assert part.stat().st_size == 5000


@pytest.mark.parametrize(
    ("content_type", "message"),
    [
        ("text/html; charset=utf-8", "the server sent a web page (text/html) instead of the CSV"),
        ("text/csv", "is a web page (HTML) instead of the CSV file"),
    ],
)
def test_a_web_page_instead_of_a_csv_is_refused(
    content_type: str,
    message: str,
    server: Server,
    warehouse: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server.routes["/page.csv"] = Route(HTML, content_type)
    raw = tmp_path / "raw"
    err = refused(warehouse, raw, one_file(tmp_path, "/page.csv"), capsys, server.base)
    assert message in err
    assert "https://example.org/dataset/landing" in err  # where to find the current link
    assert not list(raw.rglob("*.part"))  # a web page is not worth resuming


def test_a_csv_where_a_workbook_is_expected_is_refused(
    server: Server, warehouse: Path, realdata: Path, tmp_path: Path, capsys
) -> None:
    server.routes["/book.xlsx"] = Route((realdata / PAS_LONDON).read_bytes(), "text/csv")
    sources = one_file(tmp_path, "/book.xlsx", kind="xlsx")
    err = refused(warehouse, tmp_path / "raw", sources, capsys, server.base)
    assert "the server sent text/csv, which is not a XLSX file" in err


def test_a_file_over_the_size_limit_is_refused_before_download(
    server: Server, warehouse: Path, realdata: Path, tmp_path: Path, capsys
) -> None:
    data = (realdata / HOMICIDE).read_bytes()
    server.routes["/big.csv"] = Route(data)
    sources = one_file(tmp_path, "/big.csv", max_bytes=1000)
    err = refused(warehouse, tmp_path / "raw", sources, capsys, server.base)
    assert f"is {len(data):,} bytes, over the limit of 1,000" in err


def test_a_missing_file_names_the_landing_page(
    server: Server, warehouse: Path, tmp_path: Path, capsys
) -> None:
    err = refused(
        warehouse, tmp_path / "raw", one_file(tmp_path, "/gone.csv"), capsys, server.base
    )
    assert "HTTP 404" in err
    assert "https://example.org/dataset/landing" in err


# --- resuming ------------------------------------------------------------------------------------


@pytest.mark.parametrize("second", ["file", "no_range"])
def test_an_interrupted_download_resumes(
    second: str,
    server: Server,
    warehouse: Path,
    realdata: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = (realdata / HOMICIDE).read_bytes()
    server.routes["/big.csv"] = Route(data, mode="truncate", cut=len(data) // 3)
    sources = one_file(tmp_path, "/big.csv")
    raw = tmp_path / "raw"
    refused(warehouse, raw, sources, capsys, server.base)

    server.routes["/big.csv"] = Route(data, mode=second)
    code = fetch(warehouse, raw, "--sources", str(sources), "--base-url", server.base, "--no-load")
    out = capsys.readouterr().out
    assert code == 0
    path, headers = server.requests[-1]
    assert headers.get("Range") == f"bytes={len(data) // 3}-"
    assert headers.get("If-Range")  # resumes only against the same version of the file
    (kept,) = visible_files(raw)
    assert hashlib.sha256(kept.read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()
    assert ("new (resumed)" in out) == (second == "file")
    assert not list(raw.rglob("*.part"))


def test_a_truncated_body_without_validators_is_not_kept(
    server: Server, warehouse: Path, realdata: Path, tmp_path: Path, capsys
) -> None:
    data = (realdata / HOMICIDE).read_bytes()
    server.routes["/cut.csv"] = Route(data, mode="truncate", cut=5000, validators=False)
    raw = tmp_path / "raw"
    err = refused(warehouse, raw, one_file(tmp_path, "/cut.csv"), capsys, server.base)
    assert "the next fetch starts again (the server gives nothing to resume against)" in err
    assert not list(raw.rglob("*.part"))


def test_a_fetch_into_a_damaged_warehouse_keeps_the_files_and_advises_rebuild(
    server: Server, warehouse: Path, realdata: Path, tmp_path: Path, capsys
) -> None:
    (homicide,) = configured("mps_homicide")
    server.routes[path_of(homicide.url)] = Route((realdata / HOMICIDE).read_bytes())
    warehouse.write_bytes(b"\x00" * 4096)
    raw = tmp_path / "raw"
    code = fetch(warehouse, raw, "--only", "mps_homicide", "--base-url", server.base)
    err = capsys.readouterr().err
    assert code == 1
    assert f"The warehouse file {warehouse} is damaged" in err
    assert "python -m pipelines rebuild" in err
    assert warehouse.read_bytes() == b"\x00" * 4096
    (kept,) = visible_files(raw)  # ready for the rebuild
    assert hashlib.sha256(kept.read_bytes()).hexdigest() == sha256_of(realdata / HOMICIDE)
