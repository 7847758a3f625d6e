"""Public mode's Data explorer: open-data marts only, server paths as file names.

config/public.yaml holds the allow-list (oversight.public_scope). The public explorer lists no
mart outside it, so ``marts.measure_extract`` (figures the MPS supplies outside its open data)
is never offered; internal mode lists every mart. A load's ``path`` and its report's ``file``
are absolute paths on the server: the public explorer and its downloads show the file name.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from oversight import explore, public_scope
from oversight.dictionary import load_dictionary
from tests.conftest import ROOT
from tests.helpers import apptest

PAGE = "pages/explorer.py"


def held_marts(warehouse: Path) -> set[str]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(
            "select table_name from duckdb_tables() where schema_name = 'marts'"
        ).fetchall()
    finally:
        con.close()
    return {r[0] for r in rows}


def offered_marts(at) -> set[str]:
    """The marts the explorer's table choice offers, read from its labels."""
    options = at.selectbox(key="param_mart").options
    return {re.search(r"\(marts\.(\w+),", o).group(1) for o in options}


def test_allow_list_names_only_described_marts_and_columns() -> None:
    scope = public_scope.load_public_scope()
    dictionary = load_dictionary(ROOT / "config" / "dictionary.yaml")
    assert set(scope.open_data_marts) <= set(dictionary.names)
    assert "measure_extract" not in scope.open_data_marts
    for mapping in (scope.path_columns, scope.report_columns):
        for mart, columns in mapping.items():
            described = {c.name for c in dictionary.mart(mart).columns}
            assert set(columns) <= described, mart


def test_allow_list_is_checked(tmp_path: Path) -> None:
    path = tmp_path / "public.yaml"
    path.write_text("open_data_marts: [loads]\nopen_marts: [x]\n")
    with pytest.raises(public_scope.PublicScopeError, match="unknown key.*open_marts"):
        public_scope.read_public_scope(path)
    path.write_text("open_data_marts: [loads]\npath_columns: {measure_extract: [path]}\n")
    with pytest.raises(public_scope.PublicScopeError, match="path_columns.*measure_extract"):
        public_scope.read_public_scope(path)
    path.write_text("path_columns: {}\n")
    with pytest.raises(public_scope.PublicScopeError, match="open_data_marts is required"):
        public_scope.read_public_scope(path)


def test_public_explorer_lists_only_open_data_marts(
    monkeypatch: pytest.MonkeyPatch, sample_warehouse: Path
) -> None:
    allowed = set(public_scope.load_public_scope().open_data_marts)
    at = apptest.open_page(monkeypatch, sample_warehouse, PAGE, "public")
    offered = offered_marts(at)
    assert offered
    assert offered <= allowed
    assert "measure_extract" not in offered
    # Asking for it by link does not show it either.
    at = apptest.open_page(monkeypatch, sample_warehouse, PAGE, "public", mart="measure_extract")
    assert not any("marts.measure_extract" in s.value for s in at.subheader)


def test_internal_explorer_lists_every_mart(
    monkeypatch: pytest.MonkeyPatch, sample_warehouse: Path, local_server: None
) -> None:
    at = apptest.open_page(monkeypatch, sample_warehouse, PAGE, "internal")
    assert offered_marts(at) == held_marts(sample_warehouse)
    assert "measure_extract" in offered_marts(at)


def test_public_logic_refuses_a_mart_outside_the_allow_list(sample_warehouse: Path) -> None:
    con = duckdb.connect(str(sample_warehouse), read_only=True)
    try:
        assert explore.count_rows(con, "measure_extract", (), False) > 0
        with pytest.raises(explore.ExploreError, match="not published open data"):
            explore.count_rows(con, "measure_extract", (), True)
    finally:
        con.close()
    with pytest.raises(explore.ExploreError, match="not published open data"):
        explore.export_filtered(sample_warehouse, "measure_extract", (), "csv", 10, True)


def test_public_explorer_shows_file_names_not_server_paths(
    monkeypatch: pytest.MonkeyPatch, sample_warehouse: Path
) -> None:
    at = apptest.open_page(monkeypatch, sample_warehouse, PAGE, "public", mart="loads")
    shown = at.dataframe[0].value
    assert len(shown)
    assert not shown["path"].str.contains("/").any()
    reports = [json.loads(r) for r in shown["report"].dropna()]
    assert reports
    assert all("/" not in r["file"] for r in reports)
    # The file names are the stored paths' last parts, row for row.
    con = duckdb.connect(str(sample_warehouse), read_only=True)
    try:
        stored = con.execute("select path from marts.loads").df()["path"]
    finally:
        con.close()
    assert sorted(shown["path"]) == sorted(Path(p).name for p in stored)


@pytest.mark.parametrize("mart", ["loads", "police_uk_files"])
def test_public_downloads_show_file_names_internal_the_paths(
    sample_warehouse: Path, mart: str
) -> None:
    public = explore.export_filtered(sample_warehouse, mart, (), "csv", 10_000, True)
    rows = list(csv.DictReader(io.StringIO(public.decode("utf-8"), newline="")))
    assert rows
    assert all("/" not in r["path"] and r["path"] for r in rows)
    text = public.decode("utf-8")
    assert str(sample_warehouse.parent) not in text
    parquet = explore.export_filtered(sample_warehouse, mart, (), "parquet", 10_000, True)
    assert not pd.read_parquet(io.BytesIO(parquet))["path"].str.contains("/").any()
    internal = explore.export_filtered(sample_warehouse, mart, (), "csv", 10_000, False)
    assert all(
        r["path"].startswith("/")
        for r in csv.DictReader(io.StringIO(internal.decode("utf-8"), newline=""))
    )
