"""The data dictionary describes every mart column of a freshly built warehouse, and no more."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import duckdb
import pytest

from oversight.dictionary import DictionaryError, load_dictionary, to_csv, to_markdown
from oversight.settings import get_settings
from pipelines.__main__ import main
from pipelines.build import load_paths
from tests.conftest import TODAY

ROOT = Path(__file__).resolve().parents[1]
DICTIONARY = ROOT / "config" / "dictionary.yaml"
EXAMPLE = ROOT / "docs" / "examples" / "mps_measure_extract_example.csv"
FILES = (
    "lds_borough_crime/MPS Borough Level Crime (most recent 24 months)__2023-12_to_2025-11.csv",
    "mps_homicide/Homicides_2003_2023.csv",
    "home_office_use_of_force/incidents__april2019-march2020.csv",
)


@pytest.fixture(scope="module")
def mart_columns(realdata: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Columns and types of every table in the marts schema of a freshly built warehouse."""
    path = tmp_path_factory.mktemp("dictionary") / "oversight.duckdb"
    settings = get_settings().with_warehouse(path).with_today(TODAY)
    result = load_paths([*(realdata / f for f in FILES), EXAMPLE], settings)
    assert result.published, [o.message for o in result.refused]
    with duckdb.connect(str(path), read_only=True) as con:
        tables = con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'"
        ).fetchall()
        return {
            name: [(r[0], r[1]) for r in con.execute(f"describe marts.{name}").fetchall()]
            for (name,) in tables
        }


@pytest.mark.realdata
def test_every_mart_column_is_in_the_dictionary(mart_columns: dict) -> None:
    dictionary = load_dictionary(DICTIONARY)
    missing = [
        f"marts.{mart}.{column} ({kind})"
        for mart, columns in mart_columns.items()
        for column, kind in columns
        if mart not in dictionary.names
        or column not in {c.name for c in dictionary.mart(mart).columns}
    ]
    assert not missing, "describe these in config/dictionary.yaml: " + ", ".join(missing)


@pytest.mark.realdata
@pytest.mark.parametrize("mart", load_dictionary(DICTIONARY).names)
def test_every_dictionary_entry_exists_with_its_type(mart_columns: dict, mart: str) -> None:
    if mart not in mart_columns:
        pytest.skip(f"marts.{mart} is not built by this version of the pipelines")
    entry = load_dictionary(DICTIONARY).mart(mart)
    described = [(c.name, c.type) for c in entry.columns]
    assert described == mart_columns[mart]


def test_every_stable_mart_has_a_meaning_and_source_for_each_column() -> None:
    dictionary = load_dictionary(DICTIONARY)
    assert {"homicide_victims", "use_of_force_tactics", "measure_extract"} <= set(dictionary.names)
    for mart in dictionary.marts:
        assert mart.columns, mart.name
        for column in mart.columns:
            where = (mart.name, column.name)
            assert column.meaning, where
            assert column.source, where
            assert column.type, where


def test_unknown_keys_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "dictionary.yaml"
    bad.write_text(
        "marts:\n  x:\n    title: X\n    status: stable\n    grain: g\n    source: s\n"
        "    description: d\n    columns:\n      a:\n        type: DATE\n"
        "        meaning: m\n        meanig: typo\n"
    )
    with pytest.raises(DictionaryError, match="meanig"):
        load_dictionary(bad)


def test_cli_prints_markdown_and_csv(capsys: pytest.CaptureFixture[str]) -> None:
    dictionary = load_dictionary(DICTIONARY)
    assert main(["dictionary"]) == 0
    markdown = capsys.readouterr().out
    assert markdown == to_markdown(dictionary)
    assert "## marts.use_of_force_tactics" in markdown
    assert main(["dictionary", "--format", "csv"]) == 0
    text = capsys.readouterr().out
    assert text == to_csv(dictionary)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == sum(len(m.columns) for m in dictionary.marts)
    heathrow = next(
        r for r in rows if r["mart"] == "marts.homicide_victims" and r["column"] == "borough_code"
    )
    assert "Heathrow" in heathrow["meaning"]
