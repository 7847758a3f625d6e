"""The bad-input catalogue: hostile or broken mutations of real files, and awkward valid ones.

Every broken input must give a non-zero exit, a message naming the file (and the line and
column where the problem sits in one place), and leave the live warehouse byte-identical.
The awkward-but-valid inputs must load with exactly the figures of the original file.
"""

from __future__ import annotations

import gzip
import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

import pipelines.build as build
from pipelines.__main__ import main
from tests.conftest import sha256_of
from tests.helpers.rawcsv import read_rows

pytestmark = pytest.mark.realdata

BASE = "lds_borough_crime/MPS Borough Level Crime (most recent 24 months)__2023-12_to_2025-11.csv"
OTHER = "lds_borough_crime/MPS Borough Level Crime (most recent 24 months)__2017-01_to_2018-12.csv"
WARD = "lds_ward_crime/MPS Ward Level Crime (most recent 24 months)__2024-01_to_2025-12.csv"
LF_FILE = "lds_borough_crime/MPS Borough Level Crime (Historical).csv"


def text_of(path: Path) -> str:
    return path.read_bytes().decode("utf-8")


def lines_of(path: Path, limit: int | None = None) -> list[str]:
    lines = text_of(path).splitlines()
    return lines if limit is None else lines[: limit + 1]


def with_cell(lines: list[str], line_no: int, column: int, value: str) -> str:
    out = list(lines)
    cells = out[line_no - 1].split(",")
    cells[column] = value
    out[line_no - 1] = ",".join(cells)
    return "\n".join(out) + "\n"


def zipped(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


Maker = Callable[[Path], bytes]

# (id, file name, maker, text the message must contain, line, column, caught by GX)
BROKEN: list[tuple[str, str, Maker, str, int | None, str | None, bool]] = [
    (
        "wrong_header",
        "b.csv",
        lambda r: text_of(r / BASE).replace("MajorText", "Major", 1).encode(),
        "matches no known source",
        1,
        None,
        False,
    ),
    ("utf16", "b.csv", lambda r: text_of(r / BASE).encode("utf-16"), "UTF-16", None, None, False),
    (
        "truncated_mid_row",
        "b.csv",
        lambda r: text_of(r / BASE)[:-40].encode(),
        "whole number",
        1057,
        "202502",
        True,
    ),
    ("empty", "b.csv", lambda r: b"", "matches no known source", 1, None, False),
    (
        "header_only",
        "b.csv",
        lambda r: (lines_of(r / BASE)[0] + "\n").encode(),
        "no data rows",
        2,
        None,
        False,
    ),
    (
        "duplicate_rows",
        "b.csv",
        lambda r: ("\n".join(lines_of(r / BASE) + lines_of(r / BASE)[5:7]) + "\n").encode(),
        "must appear once",
        6,
        "202312",
        True,
    ),
    (
        "negative_count",
        "b.csv",
        lambda r: with_cell(lines_of(r / BASE), 12, 8, "-4").encode(),
        "whole number",
        12,
        "202405",
        True,
    ),
    (
        "non_numeric_count",
        "b.csv",
        lambda r: with_cell(lines_of(r / BASE), 13, 9, "twelve").encode(),
        "whole number",
        13,
        "202406",
        True,
    ),
    (
        "decimal_count",
        "b.csv",
        lambda r: with_cell(lines_of(r / BASE), 14, 10, "1.5").encode(),
        "whole number",
        14,
        "202407",
        True,
    ),
    (
        "unknown_borough",
        "b.csv",
        lambda r: with_cell(lines_of(r / BASE), 20, 2, "Gotham").encode(),
        "London borough",
        20,
        "BoroughName",
        True,
    ),
    (
        "future_month",
        "b.csv",
        lambda r: text_of(r / BASE).replace(",202511", ",202911", 1).encode(),
        "current month",
        2,
        "202911",
        True,
    ),
    (
        "month_not_a_month",
        "b.csv",
        lambda r: text_of(r / BASE).replace(",202511", ",202513", 1).encode(),
        "not a month",
        1,
        "202513",
        False,
    ),
    (
        "month_twice",
        "b.csv",
        lambda r: text_of(r / BASE).replace(",202511", ",202510", 1).encode(),
        "appears twice",
        1,
        None,
        False,
    ),
    (
        "ragged_row",
        "b.csv",
        lambda r: with_cell(lines_of(r / BASE), 8, 5, "4,4").encode(),
        "not well-formed CSV",
        8,
        None,
        False,
    ),
    (
        "unknown_category",
        "b.csv",
        lambda r: with_cell(lines_of(r / BASE), 9, 1, "HOVERCRAFT THEFT").encode(),
        "category scheme",
        9,
        "MajorText/MinorText",
        True,
    ),
    (
        "ward_unknown_ward_under_pseudo",
        "w.csv",
        lambda r: with_cell(lines_of(r / WARD, 50), 2, 3, "E05999999").encode(),
        "must belong to a borough",
        2,
        "LookUp_BoroughName",
        True,
    ),
    (
        "binary_garbage",
        "b.csv",
        lambda r: bytes(range(256)) * 64,
        "is binary",
        None,
        None,
        False,
    ),
    (
        "xlsx_not_a_workbook",
        "b.xlsx",
        lambda r: b"PK\x03\x04" + b"\x00" * 500,
        "is binary",
        None,
        None,
        False,
    ),
    (
        "zip_with_dotdot",
        "b.zip",
        lambda r: zipped({"../../etc/b.csv": (r / BASE).read_bytes()}),
        "absolute path or '..'",
        None,
        None,
        False,
    ),
    (
        "corrupt_gzip",
        "b.csv.gz",
        lambda r: gzip.compress((r / BASE).read_bytes())[:5000],
        "not a readable gzip",
        None,
        None,
        False,
    ),
]


@pytest.fixture
def live(settings, realdata: Path) -> Path:
    assert (
        main(
            [
                "--warehouse",
                str(settings.warehouse),
                "load",
                "--today",
                "2026-11-23",
                str(realdata / OTHER),
            ]
        )
        == 0
    )
    return settings.warehouse


def run_refused(settings, live: Path, bad: Path, capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    before = sha256_of(live)
    code = main(
        ["--warehouse", str(settings.warehouse), "load", "--today", "2026-11-23", str(bad)]
    )
    err = capsys.readouterr().err
    assert code == 2, err
    assert sha256_of(live) == before
    assert "warehouse is unchanged" in err
    return err


def test_catalogue_is_large_and_gx_catches_at_least_five() -> None:
    assert len(BROKEN) >= 20
    assert sum(case[-1] for case in BROKEN) >= 5


@pytest.mark.parametrize(
    ("name", "maker", "needle", "line", "column", "by_gx"),
    [pytest.param(*c[1:], id=c[0]) for c in BROKEN],
)
def test_broken_input_is_refused_and_nothing_changes(
    settings,
    live: Path,
    realdata: Path,
    tmp_path: Path,
    capsys,
    name,
    maker,
    needle,
    line,
    column,
    by_gx,
) -> None:
    bad = tmp_path / name
    bad.write_bytes(maker(realdata))
    err = run_refused(settings, live, bad, capsys)
    assert str(bad) in err
    assert needle in err
    if line is not None:
        assert f"line {line}" in err
    if column is not None:
        assert f"column {column!r}" in err
    assert ("expect_" in err) == by_gx


def test_zip_bomb_is_refused(settings, live: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    config = build.pipeline_config(settings)
    config["limits"] = {"max_file_bytes": 5_000_000, "max_archive_bytes": 10_000_000}
    monkeypatch.setattr(build, "pipeline_config", lambda s: config)
    bomb = tmp_path / "bomb.zip"
    bomb.write_bytes(zipped({f"{i}.csv": b"0" * 4_000_000 for i in range(4)}))
    assert bomb.stat().st_size < 100_000
    err = run_refused(settings, live, bomb, capsys)
    assert "bomb.zip" in err
    assert "over the archive limit" in err


def test_file_far_larger_than_any_real_one_is_refused_unread(
    settings, live: Path, tmp_path: Path, capsys
) -> None:
    huge = tmp_path / "huge.csv"
    with huge.open("wb") as f:
        f.truncate(2 * 1024**3)  # sparse: two gigabytes on paper, nothing on disk
    err = run_refused(settings, live, huge, capsys)
    assert "huge.csv" in err
    assert "over the limit" in err


def month_totals(warehouse: Path) -> dict[str, int]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "select strftime(month, '%Y%m'), sum(offences) from marts.crime_borough_monthly "
            "group by all"
        ).fetchall()
    return dict(rows)


def raw_month_totals(path: Path) -> dict[str, int]:
    header, rows = read_rows(path)
    return {h: sum(int(r[i]) for r in rows) for i, h in enumerate(header) if h.isdigit()}


def reorder_months(text: str) -> str:
    lines = text.splitlines()
    table = [line.split(",") for line in lines]
    order = [0, 1, 2, *reversed(range(3, len(table[0])))]
    return "\n".join(",".join(row[i] for i in order) for row in table) + "\n"


VALID: list[tuple[str, str, Callable[[bytes], bytes]]] = [
    ("bom", BASE, lambda b: b"\xef\xbb\xbf" + b),
    ("crlf", LF_FILE, lambda b: b.replace(b"\n", b"\r\n")),
    ("lf", BASE, lambda b: b.replace(b"\r\n", b"\n")),
    ("reordered_months", BASE, lambda b: reorder_months(b.decode()).encode()),
    ("gzipped", BASE, gzip.compress),
    ("zipped_in_folder", BASE, lambda b: zipped({"2025-11/borough.csv": b})),
    ("trailing_blank_lines", BASE, lambda b: b + b"\n\n"),
]


@pytest.mark.parametrize(("relpath", "transform"), [pytest.param(*c[1:], id=c[0]) for c in VALID])
def test_awkward_but_valid_input_loads_exact_figures(
    settings, realdata: Path, tmp_path: Path, relpath: str, transform
) -> None:
    source = realdata / relpath
    awkward = tmp_path / "awkward_download"
    awkward.write_bytes(transform(source.read_bytes()))
    result = build.load_paths([awkward], settings)
    assert result.published, [o.message for o in result.outcomes]
    assert month_totals(settings.warehouse) == raw_month_totals(source)
