"""Expanding paths into files: folders, gzip and zip, with archive safety checks."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import pytest

from pipelines.errors import RefusedFile
from pipelines.inputs import Limits, iter_inputs

LIMITS = Limits(max_file_bytes=10_000, max_archive_bytes=50_000)


def make_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_folder_gz_and_zip_expand_in_a_stable_order(tmp_path: Path) -> None:
    (tmp_path / "b.csv").write_bytes(b"b\n")
    (tmp_path / "a.csv.gz").write_bytes(gzip.compress(b"a\n"))
    make_zip(
        tmp_path / "c.zip", {"2024-01/x.csv": b"x\n", "2024-01/y.csv.gz": gzip.compress(b"y\n")}
    )
    files = list(iter_inputs([tmp_path], LIMITS))
    names = [f.name.replace(str(tmp_path), "") for f in files]
    assert names == ["/a.csv", "/b.csv", "/c.zip!2024-01/x.csv", "/c.zip!2024-01/y.csv"]
    assert [f.data for f in files] == [b"a\n", b"b\n", b"x\n", b"y\n"]


@pytest.mark.parametrize("member", ["../evil.csv", "/etc/passwd", "ok/../../evil.csv", "C:/x.csv"])
def test_zip_members_escaping_the_folder_are_refused(tmp_path: Path, member: str) -> None:
    archive = make_zip(tmp_path / "bad.zip", {"fine.csv": b"a\n", member: b"b\n"})
    with pytest.raises(RefusedFile, match="absolute path or '..'"):
        list(iter_inputs([archive], LIMITS))


def test_zip_bomb_is_refused_before_expanding(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "bomb.zip", {"zeros.csv": b"0" * 200_000})
    assert archive.stat().st_size < 2_000
    with pytest.raises(RefusedFile, match="archive limit"):
        list(iter_inputs([archive], LIMITS))


def test_member_lying_about_its_size_is_capped(tmp_path: Path) -> None:
    big = gzip.compress(b"1" * 20_000)
    with pytest.raises(RefusedFile, match="limit for one file"):
        list(iter_inputs([_write(tmp_path / "big.csv.gz", big)], LIMITS))


def test_oversized_plain_file_is_refused_without_reading(tmp_path: Path) -> None:
    with pytest.raises(RefusedFile, match="over the limit"):
        list(iter_inputs([_write(tmp_path / "huge.csv", b"x" * 10_001)], LIMITS))


def test_corrupt_gzip_and_missing_path_are_refused(tmp_path: Path) -> None:
    with pytest.raises(RefusedFile, match="not a readable gzip"):
        list(iter_inputs([_write(tmp_path / "x.csv.gz", b"\x1f\x8b\x08garbage")], LIMITS))
    with pytest.raises(RefusedFile, match="does not exist"):
        list(iter_inputs([tmp_path / "nope.csv"], LIMITS))


def test_xlsx_is_not_unzipped(tmp_path: Path) -> None:
    make_zip(tmp_path / "book.xlsx", {"[Content_Types].xml": b"<x/>"})
    files = list(iter_inputs([tmp_path / "book.xlsx"], LIMITS))
    assert len(files) == 1
    assert files[0].name.endswith("book.xlsx")


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
