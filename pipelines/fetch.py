"""Download the published files from the publishers' servers into data/raw, safely.

Every file listed in config/sources.yaml is downloaded into a hidden ``.part`` file in its
source's folder, checked, and only then renamed to ``data/raw/<source>/<fetched-at>/<name>``,
so the loader never reads half a file. The checks: the HTTP status, the content type the server
declares (a web page served instead of a CSV is refused), the first bytes (sniffed, because
servers mislabel), the size against ``max_bytes`` (Content-Length first, then while reading), a
connect and a read timeout (a stalled server is abandoned) and completeness (fewer bytes than
Content-Length is refused). A download cut short is kept and resumed with an HTTP range request
the next time, when the server sent a validator (ETag or Last-Modified) to resume against.
A file with the same bytes as the last fetch is not stored again, and a server that answers
"not modified" is not downloaded from. Each file gets a line in ``data/raw/.fetch.log``.

Standard library only (``http.client`` and ``urllib.parse``): no dependency to install.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import fnmatch
import hashlib
import http.client
import json
import logging
import os
import re
import ssl
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import yaml

from pipelines.errors import PipelineError, RefusedFile
from pipelines.inputs import check_member_name

logger = logging.getLogger(__name__)

CHUNK = 1 << 16
HEAD_BYTES = 4096
MAX_REDIRECTS = 5
REDIRECTS = frozenset({301, 302, 303, 307, 308})
STATE_FILE = ".fetch-state.json"
LOG_FILE = ".fetch.log"
LOCK_FILE = ".fetch.lock"

KINDS = ("csv", "xlsx", "zip")
ACCEPT = {
    "csv": "text/csv, application/csv;q=0.9, */*;q=0.1",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet, */*;q=0.1",
    "zip": "application/zip, */*;q=0.1",
}
# What servers declare for each kind; a generic binary type is accepted and the bytes decide.
CONTENT_TYPES = {
    "csv": {
        "text/csv",
        "application/csv",
        "application/x-csv",
        "text/comma-separated-values",
        "text/plain",
        "application/vnd.ms-excel",
    },
    "xlsx": {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/zip",
    },
    "zip": {"application/zip", "application/x-zip-compressed", "application/x-zip"},
}
GENERIC_TYPES = {"application/octet-stream", "binary/octet-stream", "application/download"}
PAGE_TYPES = {"text/html", "application/xhtml+xml"}
HTML_MARKERS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<script", b"<title")
ZIP_MAGIC = b"PK\x03\x04"

SOURCE_KEYS = {"label", "publisher", "landing", "as_at", "files"}
FILE_KEYS = {"name", "url", "type", "max_bytes", "members", "note"}
DEFAULT_KEYS = {"connect_timeout_s", "read_timeout_s", "max_seconds", "max_bytes", "user_agent"}


class FetchError(PipelineError):
    """A download refused or not finished; nothing of it is where the loader reads.

    ``keep_partial`` says whether the bytes that did arrive are worth resuming from (a stall or
    a cut connection) or are not the file at all (a web page, a file too large).
    """

    def __init__(self, url: str, reason: str, *, keep_partial: bool = False) -> None:
        self.url = url
        self.reason = reason
        self.keep_partial = keep_partial
        super().__init__(f"{url}: {reason}")


# --- configuration -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """Timeouts and size limit for downloads."""

    connect_timeout_s: float
    read_timeout_s: float
    max_seconds: float
    max_bytes: int
    user_agent: str


@dataclass(frozen=True)
class RemoteFile:
    """One file a publisher serves, and where it goes under data/raw."""

    source: str
    name: str
    url: str
    kind: str
    max_bytes: int
    landing: str
    members: tuple[str, ...] = ()
    note: str = ""


@dataclass(frozen=True)
class SourcesConfig:
    """config/sources.yaml, checked."""

    limits: Limits
    files: tuple[RemoteFile, ...]

    @property
    def sources(self) -> list[str]:
        return list(dict.fromkeys(f.source for f in self.files))

    def select(self, only: list[str] | None) -> list[RemoteFile]:
        """The files of the named sources (all when ``only`` is empty); refuse unknown names."""
        if not only:
            return list(self.files)
        unknown = sorted(set(only) - set(self.sources))
        if unknown:
            raise PipelineError(
                f"unknown source(s) {', '.join(unknown)}; config/sources.yaml lists: "
                f"{', '.join(self.sources)}"
            )
        return [f for f in self.files if f.source in only]


def refuse_keys(where: str, given: dict[str, Any], allowed: set[str], path: Path) -> None:
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise PipelineError(f"{path}: {where} has unknown key(s) {', '.join(unknown)}")


def read_sources(path: Path) -> SourcesConfig:
    """Read and check the list of files to fetch; name the file and key of any mistake."""
    with path.open(encoding="utf-8") as f:
        config = yaml.safe_load(f) or {}
    refuse_keys("the file", config, {"defaults", "sources"}, path)
    defaults = config.get("defaults") or {}
    refuse_keys("defaults", defaults, DEFAULT_KEYS, path)
    missing = sorted(DEFAULT_KEYS - set(defaults))
    if missing:
        raise PipelineError(f"{path}: defaults needs {', '.join(missing)}")
    limits = Limits(
        connect_timeout_s=float(defaults["connect_timeout_s"]),
        read_timeout_s=float(defaults["read_timeout_s"]),
        max_seconds=float(defaults["max_seconds"]),
        max_bytes=int(defaults["max_bytes"]),
        user_agent=str(defaults["user_agent"]),
    )
    files = []
    for source, spec in (config.get("sources") or {}).items():
        if not re.fullmatch(r"[a-z0-9_]+", str(source)):
            raise PipelineError(f"{path}: source id {source!r} must be lower case, digits and _")
        refuse_keys(f"source {source}", spec, SOURCE_KEYS, path)
        if not spec.get("landing") or not spec.get("files"):
            raise PipelineError(f"{path}: source {source} needs a landing page and files")
        for item in spec["files"]:
            refuse_keys(f"a file of {source}", item, FILE_KEYS, path)
            files.append(remote_file(str(source), spec, item, limits, path))
    names = [(f.source, f.name) for f in files]
    if len(names) != len(set(names)):
        raise PipelineError(f"{path}: a source lists the same file name twice")
    return SourcesConfig(limits, tuple(files))


def remote_file(
    source: str, spec: dict[str, Any], item: dict[str, Any], limits: Limits, path: Path
) -> RemoteFile:
    name, url, kind = str(item.get("name", "")), str(item.get("url", "")), item.get("type")
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise PipelineError(f"{path}: {source}: file name {name!r} must be a plain file name")
    if urlsplit(url).scheme not in ("http", "https"):
        raise PipelineError(f"{path}: {source}: {name}: url must be an http(s) link")
    if kind not in KINDS:
        raise PipelineError(f"{path}: {source}: {name}: type must be one of {', '.join(KINDS)}")
    members = tuple(str(m) for m in item.get("members") or ())
    if (kind == "zip") != bool(members):
        raise PipelineError(f"{path}: {source}: {name}: a zip (and only a zip) lists members")
    return RemoteFile(
        source=source,
        name=name,
        url=url,
        kind=kind,
        max_bytes=int(item.get("max_bytes", limits.max_bytes)),
        landing=str(spec["landing"]),
        members=members,
        note=str(item.get("note", "")),
    )


def rebase(url: str, base: str | None) -> str:
    """The URL on another server (a mirror, or a test server): scheme and host from ``base``."""
    if not base:
        return url
    new, old = urlsplit(base), urlsplit(url)
    if new.scheme not in ("http", "https") or not new.netloc:
        raise PipelineError(f"the base URL must be an http(s) address, got {base!r}")
    return urlunsplit((new.scheme, new.netloc, new.path.rstrip("/") + old.path, old.query, ""))


# --- HTTP ----------------------------------------------------------------------------------------


def stalled(url: str, limits: Limits) -> FetchError:
    return FetchError(
        url,
        f"stalled: the server sent nothing for {limits.read_timeout_s:g} s (read timeout) and "
        "was abandoned; what arrived is kept for the next fetch to resume where it can",
        keep_partial=True,
    )


def open_url(
    url: str, headers: dict[str, str], limits: Limits
) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse, str]:
    """Send a GET, following redirects; return the connection, response and final URL."""
    for _ in range(MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError(url, "is not an http(s) link")
        if parts.scheme == "https":
            conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                parts.hostname,
                parts.port,
                timeout=limits.connect_timeout_s,
                context=ssl.create_default_context(),
            )
        else:
            conn = http.client.HTTPConnection(
                parts.hostname, parts.port, timeout=limits.connect_timeout_s
            )
        try:
            conn.connect()
        except TimeoutError as exc:
            conn.close()
            raise FetchError(
                url,
                f"could not connect to {parts.netloc} within {limits.connect_timeout_s:g} s "
                "(connect timeout)",
                keep_partial=True,
            ) from exc
        except OSError as exc:
            conn.close()
            raise FetchError(
                url, f"could not connect to {parts.netloc} ({exc})", keep_partial=True
            ) from exc
        conn.sock.settimeout(limits.read_timeout_s)
        try:
            conn.request(
                "GET", urlunsplit(("", "", parts.path or "/", parts.query, "")), None, headers
            )
            response = conn.getresponse()
        except TimeoutError as exc:
            conn.close()
            raise stalled(url, limits) from exc
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise FetchError(url, f"the connection failed ({exc})", keep_partial=True) from exc
        if response.status in REDIRECTS:
            location = response.getheader("Location")
            response.close()
            conn.close()
            if not location:
                raise FetchError(url, f"redirect {response.status} without a Location")
            url = urljoin(url, location)
            continue
        return conn, response, url
    raise FetchError(url, f"more than {MAX_REDIRECTS} redirects", keep_partial=True)


def header_int(response: http.client.HTTPResponse, name: str) -> int | None:
    value = response.getheader(name)
    return int(value) if value and value.strip().isdigit() else None


def content_range(response: http.client.HTTPResponse, url: str) -> tuple[int, int | None]:
    """Start and total size from ``Content-Range: bytes START-END/TOTAL``."""
    found = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+|\*)", response.getheader("Content-Range", ""))
    if not found:
        raise FetchError(url, "answered a range request without a usable Content-Range")
    total = found.group(3)
    return int(found.group(1)), None if total == "*" else int(total)


def check_content_type(response: http.client.HTTPResponse, remote: RemoteFile, url: str) -> None:
    """Refuse a web page or any type that is not the expected kind (none declared: sniff)."""
    declared = (response.getheader("Content-Type") or "").split(";")[0].strip().lower()
    if not declared:
        return
    if declared in PAGE_TYPES:
        raise FetchError(url, f"the server sent a web page ({declared}) {instead(remote)}")
    if declared not in CONTENT_TYPES[remote.kind] | GENERIC_TYPES:
        raise FetchError(
            url, f"the server sent {declared}, which is not a {remote.kind.upper()} file"
        )


def instead(remote: RemoteFile) -> str:
    return (
        f"instead of the {remote.kind.upper()} file. The link probably leads to a page now, not "
        f"the file: find the current link at {remote.landing} and update config/sources.yaml"
    )


def sniff(head: bytes, remote: RemoteFile) -> str | None:
    """Why the first bytes cannot be a file of the expected kind, or None if they can."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if not text:
        return "is empty"
    if text.startswith(b"<"):
        what = "a web page (HTML)" if any(m in text for m in HTML_MARKERS) else "markup"
        return f"is {what} {instead(remote)}"
    if remote.kind in ("zip", "xlsx"):
        if not head.startswith(ZIP_MAGIC):
            return f"does not start like a {remote.kind} file (a zip archive)"
    elif head.startswith((ZIP_MAGIC, b"\x1f\x8b")) or b"\x00" in head:
        return "holds binary bytes (an archive or a spreadsheet?), not CSV text"
    return None


# --- one download --------------------------------------------------------------------------------


@dataclass
class Download:
    """A complete, checked download still in its hidden ``.part`` file."""

    part: Path
    size: int
    sha256: str
    etag: str | None
    last_modified: str | None
    resumed_from: int = 0
    not_modified: bool = False


def part_paths(folder: Path, remote: RemoteFile) -> tuple[Path, Path]:
    """The hidden partial file and its note (URL, validator, size) for resuming."""
    return folder / f".{remote.name}.part", folder / f".{remote.name}.part.json"


def discard(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def write_json(path: Path, data: dict[str, Any]) -> None:
    """Write JSON atomically (a temporary file renamed over the old one)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def download(
    remote: RemoteFile,
    url: str,
    folder: Path,
    limits: Limits,
    conditional: dict[str, Any] | None = None,
) -> Download:
    """Download ``url`` into the hidden part file, resuming one left by an earlier attempt."""
    folder.mkdir(parents=True, exist_ok=True)
    part, note_path = part_paths(folder, remote)
    note = read_json(note_path) if part.exists() else {}
    resumable = part.exists() and note.get("url") == url and note.get("validator")
    offset = part.stat().st_size if resumable else 0
    if not offset:
        discard(part, note_path)
    headers = {"User-Agent": limits.user_agent, "Accept": ACCEPT[remote.kind]}
    if offset:
        headers["Range"] = f"bytes={offset}-"
        headers["If-Range"] = note["validator"]
    elif conditional:
        if conditional.get("etag"):
            headers["If-None-Match"] = conditional["etag"]
        if conditional.get("last_modified"):
            headers["If-Modified-Since"] = conditional["last_modified"]
    conn, response, final_url = open_url(url, headers, limits)
    try:
        status = response.status
        if status == 304 and not offset:
            return Download(part, 0, "", None, None, not_modified=True)
        if status == 416 and offset:
            logger.info("%s: the partial download no longer fits; starting again", url)
            discard(part, note_path)
            response.close()
            conn.close()
            return download(remote, url, folder, limits)
        if status == 206 and offset:
            start, total = content_range(response, url)
            if start != offset or (note.get("total") and total != note["total"]):
                discard(part, note_path)
                raise FetchError(
                    url, "the file changed on the server during the download; fetch again"
                )
        elif status == 200:
            if offset:
                logger.info("%s: the server ignored the range request; starting again", url)
            offset = 0
            total = header_int(response, "Content-Length")
        else:
            raise FetchError(url, http_refusal(status, response.reason, remote), keep_partial=True)
        check_content_type(response, remote, url)
        if total is not None and total > remote.max_bytes:
            raise FetchError(
                url,
                f"is {total:,} bytes, over the limit of {remote.max_bytes:,} "
                "(max_bytes in config/sources.yaml); nothing was downloaded",
            )
        etag, modified = response.getheader("ETag"), response.getheader("Last-Modified")
        write_json(note_path, {"url": url, "validator": etag or modified, "total": total})
        body = header_int(response, "Content-Length")
        received = stream_to(response, part, offset, remote, url, limits)
    finally:
        response.close()
        conn.close()
    size = part.stat().st_size
    if (body is not None and received < body) or (total is not None and size < total):
        expected = total if total is not None else offset + (body or 0)
        then = (
            "the part is kept and the next fetch resumes it"
            if etag or modified
            else "the next fetch starts again (the server gives nothing to resume against)"
        )
        raise FetchError(
            url,
            f"truncated: the server sent {size:,} of {expected:,} bytes and closed the "
            f"connection; {then}",
            keep_partial=bool(etag or modified),
        )
    if total is not None and size > total:
        raise FetchError(url, f"the server sent {size:,} bytes, more than the {total:,} announced")
    with part.open("rb") as f:
        reason = sniff(f.read(HEAD_BYTES), remote)
    if reason:
        raise FetchError(url, reason)
    if final_url != url:
        logger.info("%s was served from %s", url, final_url)
    return Download(part, size, sha256_file(part), etag, modified, resumed_from=offset)


def http_refusal(status: int, reason: str, remote: RemoteFile) -> str:
    if status in (404, 410):
        return (
            f"HTTP {status} {reason}: the file is not at this link any more; find the current "
            f"link at {remote.landing} and update config/sources.yaml"
        )
    return f"HTTP {status} {reason}"


def stream_to(
    response: http.client.HTTPResponse,
    part: Path,
    offset: int,
    remote: RemoteFile,
    url: str,
    limits: Limits,
) -> int:
    """Append the body to the part file within the size and time limits; return bytes read."""
    deadline = time.monotonic() + limits.max_seconds
    received = 0
    with part.open("ab" if offset else "wb") as out:
        while True:
            try:
                chunk = response.read1(CHUNK)
            except TimeoutError as exc:
                raise stalled(url, limits) from exc
            except (OSError, http.client.HTTPException) as exc:
                raise FetchError(
                    url,
                    f"the connection broke after {offset + received:,} bytes ({exc}); the part "
                    "is kept and the next fetch resumes it",
                    keep_partial=True,
                ) from exc
            if not chunk:
                break
            if not offset and not received and (reason := sniff(chunk[:HEAD_BYTES], remote)):
                raise FetchError(url, reason)
            out.write(chunk)
            received += len(chunk)
            if offset + received > remote.max_bytes:
                raise FetchError(
                    url,
                    f"passed the limit of {remote.max_bytes:,} bytes (max_bytes in "
                    "config/sources.yaml) and was abandoned",
                )
            if time.monotonic() > deadline:
                raise FetchError(
                    url,
                    f"took longer than {limits.max_seconds:g} s (max_seconds) and was abandoned; "
                    "the part is kept and the next fetch resumes it",
                    keep_partial=True,
                )
        out.flush()
        os.fsync(out.fileno())
    return received


# --- storing what arrived ------------------------------------------------------------------------


@dataclass
class FetchOutcome:
    """What happened to one configured file."""

    source: str
    name: str
    url: str
    status: str
    bytes: int = 0
    sha256: str = ""
    paths: list[Path] = field(default_factory=list)
    message: str = ""

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    def log_line(self) -> str:
        line = f"{self.status} {self.url} bytes={self.bytes} sha256={self.sha256 or '-'}"
        return f"{line} {self.message}" if self.message else line


@dataclass
class FetchResult:
    """Every file's outcome; ``paths`` are the files the loader should be given."""

    outcomes: list[FetchOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[FetchOutcome]:
        return [o for o in self.outcomes if o.failed]

    @property
    def paths(self) -> list[Path]:
        return [p for o in self.outcomes if not o.failed for p in o.paths]


def stamp_folder(folder: Path, stamp: str) -> Path:
    """A new folder named by the fetch time (never one an earlier fetch filled)."""
    candidate, n = folder / stamp, 1
    while candidate.exists() and any(candidate.iterdir()):
        n += 1
        candidate = folder / f"{stamp}-{n}"
    return candidate


def place(part: Path, dest: Path) -> Path:
    """Move a checked download to where the loader reads it, in one rename."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.replace(part, dest)
    return dest


def unpack(
    archive: Path,
    remote: RemoteFile,
    url: str,
    dest: Path,
    raw_dir: Path,
    known: dict[str, dict[str, Any]],
) -> dict[str, dict[str, Any]]:
    """Extract the configured members; a member with the same bytes as last time is not kept.

    Members are written to hidden part files and renamed into place, like downloads; names
    that would escape the folder are refused (pipelines.inputs.check_member_name).
    """
    kept: dict[str, dict[str, Any]] = {}
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
            for info in infos:
                check_member_name(remote.name, info.filename)
            chosen = [
                i for i in infos if any(fnmatch.fnmatchcase(i.filename, p) for p in remote.members)
            ]
            if not chosen:
                raise FetchError(url, f"holds no member matching {', '.join(remote.members)}")
            for info in chosen:
                kept[info.filename] = extract_member(zf, info, remote, url, dest, raw_dir, known)
    except RefusedFile as exc:
        raise FetchError(url, exc.message) from exc
    except zipfile.BadZipFile as exc:
        raise FetchError(url, f"is not a readable zip archive ({exc})") from exc
    return kept


def extract_member(
    zf: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    remote: RemoteFile,
    url: str,
    dest: Path,
    raw_dir: Path,
    known: dict[str, dict[str, Any]],
) -> dict[str, Any]:
    tmp = dest.parent / f".{Path(info.filename).name}.part"
    digest, size = hashlib.sha256(), 0
    with zf.open(info) as src, tmp.open("wb") as out:
        while chunk := src.read(1 << 20):
            size += len(chunk)
            if size > remote.max_bytes:
                discard(tmp)
                raise FetchError(url, f"member {info.filename} expands past {remote.max_bytes:,}")
            digest.update(chunk)
            out.write(chunk)
    sha = digest.hexdigest()
    before = known.get(info.filename)
    if before and before.get("sha256") == sha and (raw_dir / before["path"]).exists():
        discard(tmp)
        return before
    final = place(tmp, dest / info.filename)
    return {"sha256": sha, "bytes": size, "path": final.relative_to(raw_dir).as_posix()}


def fetch_file(
    remote: RemoteFile,
    url: str,
    raw_dir: Path,
    limits: Limits,
    state: dict[str, Any],
    stamp: str,
) -> FetchOutcome:
    """Download one file and keep it if it is new; update ``state`` (its source's record)."""
    folder = raw_dir / remote.source
    before = state.get(remote.name) or {}
    earlier = [raw_dir / p for p in before.get("paths", [])]
    have_earlier = bool(earlier) and all(p.exists() for p in earlier)
    conditional = before if before.get("url") == url and have_earlier else None
    got = download(remote, url, folder, limits, conditional)
    outcome = FetchOutcome(remote.source, remote.name, url, "new", got.size, got.sha256)
    if got.not_modified or (have_earlier and got.sha256 == before.get("sha256")):
        discard(*part_paths(folder, remote))
        outcome.status, outcome.paths = "unchanged", earlier
        outcome.bytes, outcome.sha256 = before.get("bytes", 0), before.get("sha256", "")
        return outcome
    dest = stamp_folder(folder, stamp)
    if remote.kind == "zip":
        members = unpack(got.part, remote, url, dest, raw_dir, before.get("members") or {})
        discard(got.part)
        paths = [raw_dir / m["path"] for m in members.values()]
        added = sum(1 for m in members.values() if (dest in (raw_dir / m["path"]).parents))
        outcome.message = f"{added} of {len(members)} member(s) new"
    else:
        members = {}
        paths = [place(got.part, dest / remote.name)]
    discard(part_paths(folder, remote)[1])
    if got.resumed_from:
        outcome.status = "new (resumed)"
    outcome.paths = paths
    state[remote.name] = {
        "url": url,
        "sha256": got.sha256,
        "bytes": got.size,
        "etag": got.etag,
        "last_modified": got.last_modified,
        "paths": [p.relative_to(raw_dir).as_posix() for p in paths],
        "members": members,
        "fetched_at": stamp,
    }
    return outcome


@contextlib.contextmanager
def fetch_lock(raw_dir: Path) -> Iterator[None]:
    """One fetch at a time per data/raw folder."""
    raw_dir.mkdir(parents=True, exist_ok=True)
    with open(raw_dir / LOCK_FILE, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise PipelineError(f"another fetch is running into {raw_dir}") from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def append_log(raw_dir: Path, outcome: FetchOutcome) -> None:
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    with (raw_dir / LOG_FILE).open("a", encoding="utf-8") as log:
        log.write(f"{now} {outcome.source} {outcome.log_line()}\n")


def fetch_all(
    config: SourcesConfig,
    raw_dir: Path,
    *,
    only: list[str] | None = None,
    base: str | None = None,
    echo: Callable[[str], None] = print,
) -> FetchResult:
    """Fetch every selected file in turn; a failure is recorded and the others still run."""
    files = config.select(only)
    result = FetchResult()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    with fetch_lock(raw_dir):
        for remote in files:
            url = rebase(remote.url, base)
            folder = raw_dir / remote.source
            state_path = folder / STATE_FILE
            state = read_json(state_path).get("files", {})
            try:
                outcome = fetch_file(remote, url, raw_dir, config.limits, state, stamp)
            except OSError as exc:  # writing the download (a full disk): resumable later
                reason = f"could not write the download into {folder} ({exc.strerror or exc})"
                outcome = FetchOutcome(remote.source, remote.name, url, "failed", message=reason)
            except FetchError as exc:
                if not exc.keep_partial:
                    discard(*part_paths(folder, remote))
                outcome = FetchOutcome(
                    remote.source, remote.name, url, "failed", message=exc.reason
                )
            else:
                write_json(state_path, {"files": state})
            append_log(raw_dir, outcome)
            echo(f"{remote.source}: {outcome.log_line()}")
            result.outcomes.append(outcome)
    return result


def plan_lines(config: SourcesConfig, raw_dir: Path, only: list[str] | None, base: str | None):
    """What a fetch would do, without any network access (``--dry-run``)."""
    for remote in config.select(only):
        size = f"up to {remote.max_bytes:,} bytes"
        what = f"{remote.kind}, {size}"
        if remote.members:
            what += f"; keeps members {', '.join(remote.members)}"
        yield f"{remote.source}: {rebase(remote.url, base)}"
        yield f"    -> {raw_dir / remote.source}/<fetched-at>/{remote.name} ({what})"
