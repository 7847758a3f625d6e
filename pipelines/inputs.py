"""Expand what a user points the loader at into files: folders, zips, gzip, plain files.

Archives are opened defensively: members with absolute paths or ``..`` are refused, and the
bytes a member or a whole archive may expand to are capped (config/pipeline.yaml), so a zip
bomb is refused before it fills memory or disk.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path, PurePosixPath

from pipelines.errors import RefusedFile

CHUNK = 1 << 20


@dataclass(frozen=True)
class Limits:
    """Size limits on one file and on everything one archive may expand to."""

    max_file_bytes: int
    max_archive_bytes: int


@dataclass(frozen=True)
class InputFile:
    """One published file's bytes and where they came from."""

    name: str
    path: str
    data: bytes

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def basename(self) -> str:
        return PurePosixPath(self.name.split("!")[-1]).name


def is_documentation(name: str, suffixes: tuple[str, ...]) -> bool:
    """Whether a file (or archive member) is plainly documentation, by its name's ending."""
    return PurePosixPath(name.split("!")[-1].replace("\\", "/")).name.lower().endswith(suffixes)


def read_capped(stream: io.BufferedIOBase, limit: int, name: str) -> bytes:
    """Read a stream, refusing it once it passes ``limit`` bytes."""
    buf = bytearray()
    while chunk := stream.read(CHUNK):
        buf.extend(chunk)
        if len(buf) > limit:
            raise RefusedFile(
                name, f"expands to more than {limit:,} bytes, the limit for one file"
            )
    return bytes(buf)


def gunzip(data: bytes, name: str, limits: Limits) -> bytes:
    """Decompress gzip bytes within the size limit."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as gz:
            return read_capped(gz, limits.max_file_bytes, name)
    except (OSError, EOFError) as exc:
        raise RefusedFile(name, f"is not a readable gzip file ({exc})") from exc


def check_member_name(archive: str, member: str) -> None:
    """Refuse archive members that would escape the folder they are extracted to."""
    parts = PurePosixPath(member.replace("\\", "/")).parts
    if member.startswith(("/", "\\")) or (parts and ":" in parts[0]) or ".." in parts:
        raise RefusedFile(
            archive, f"member {member!r} has an absolute path or '..'; the archive is refused"
        )


def iter_zip(data: bytes, name: str, limits: Limits) -> Iterator[InputFile]:
    """Yield the data files inside a zip archive, safely."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except zipfile.BadZipFile as exc:
        raise RefusedFile(name, f"is not a readable zip archive ({exc})") from exc
    for info in infos:
        check_member_name(name, info.filename)
    declared = sum(info.file_size for info in infos)
    if declared > limits.max_archive_bytes:
        raise RefusedFile(
            name,
            f"would expand to {declared:,} bytes, over the archive limit of "
            f"{limits.max_archive_bytes:,}",
        )
    total = 0
    for info in sorted(infos, key=lambda i: i.filename):
        if info.is_dir() or PurePosixPath(info.filename).name.startswith("."):
            continue
        member = f"{name}!{info.filename}"
        with archive.open(info) as stream:
            content = read_capped(stream, limits.max_file_bytes, member)
        total += len(content)
        if total > limits.max_archive_bytes:
            raise RefusedFile(
                name, f"expands past the archive limit of {limits.max_archive_bytes:,}"
            )
        yield from expand_bytes(content, member, name, limits)


def expand_bytes(data: bytes, name: str, path: str, limits: Limits) -> Iterator[InputFile]:
    """Turn bytes into data files, unpacking gzip and zip by their magic numbers."""
    if data[:2] == b"\x1f\x8b":
        inner = name[:-3] if name.lower().endswith(".gz") else name
        yield from expand_bytes(gunzip(data, name, limits), inner, path, limits)
    elif data[:4] == b"PK\x03\x04" and not name.lower().endswith((".xlsx", ".xlsm", ".ods")):
        yield from iter_zip(data, name, limits)
    else:
        yield InputFile(name=name, path=path, data=data)


def iter_inputs(paths: list[str | Path], limits: Limits) -> Iterator[InputFile]:
    """Yield every data file under the given paths, in a stable order."""
    for given in paths:
        path = Path(given)
        if path.is_dir():
            files = sorted(
                p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")
            )
        elif path.is_file():
            files = [path]
        else:
            raise RefusedFile(str(given), "does not exist")
        for file in files:
            size = file.stat().st_size
            if size > limits.max_file_bytes:
                raise RefusedFile(
                    str(file), f"is {size:,} bytes, over the limit of {limits.max_file_bytes:,}"
                )
            yield from expand_bytes(file.read_bytes(), str(file), str(file), limits)
