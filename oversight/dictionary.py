"""The data dictionary (config/dictionary.yaml): every mart and column, as frozen dataclasses.

Used by the analysts' pages and by ``python -m pipelines dictionary``. Reading rejects unknown
keys and missing required ones, so a typo in the YAML fails loudly instead of hiding a column.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from oversight.exports import csv_text

STATUSES = ("stable", "provisional")
MART_KEYS = {"title", "status", "grain", "source", "description", "caveats", "columns"}
MART_REQUIRED = {"title", "status", "grain", "source", "description", "columns"}
COLUMN_KEYS = {"type", "meaning", "source", "caveats"}
COLUMN_REQUIRED = {"type", "meaning"}
CSV_HEADER = ["mart", "column", "type", "meaning", "source", "caveats", "status"]


class DictionaryError(ValueError):
    """The dictionary file is not in the expected shape."""


@dataclass(frozen=True)
class Column:
    """One column of a mart."""

    name: str
    type: str
    meaning: str
    source: str
    caveats: str = ""


@dataclass(frozen=True)
class Mart:
    """One table of the ``marts`` schema."""

    name: str
    title: str
    status: str
    grain: str
    source: str
    description: str
    caveats: tuple[str, ...]
    columns: tuple[Column, ...]

    def column(self, name: str) -> Column:
        """The column called ``name``; KeyError if the mart has none."""
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"marts.{self.name} has no column {name!r} in the dictionary")


@dataclass(frozen=True)
class DataDictionary:
    """Every mart the dictionary describes, in file order."""

    marts: tuple[Mart, ...]

    def mart(self, name: str) -> Mart:
        """The mart called ``name`` (with or without the ``marts.`` prefix)."""
        bare = name.removeprefix("marts.")
        for mart in self.marts:
            if mart.name == bare:
                return mart
        raise KeyError(f"the dictionary has no mart {name!r}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(m.name for m in self.marts)


def check_keys(where: str, entry: Any, allowed: set[str], required: set[str]) -> dict:
    """The entry as a dict, refusing unknown or missing keys."""
    if not isinstance(entry, dict):
        raise DictionaryError(f"{where}: expected a mapping, got {type(entry).__name__}")
    unknown = set(entry) - allowed
    missing = required - set(entry)
    if unknown:
        raise DictionaryError(f"{where}: unknown key(s) {sorted(unknown)}")
    if missing:
        raise DictionaryError(f"{where}: missing key(s) {sorted(missing)}")
    return entry


def text_of(where: str, value: Any) -> str:
    """A required text value, trimmed; refuse blanks and non-text."""
    if not isinstance(value, str) or not value.strip():
        raise DictionaryError(f"{where}: expected text, got {value!r}")
    return value.strip()


def read_column(mart: str, name: str, entry: Any, default_source: str) -> Column:
    """One column entry; its source defaults to the mart's."""
    where = f"marts.{mart}.{name}"
    entry = check_keys(where, entry, COLUMN_KEYS, COLUMN_REQUIRED)
    return Column(
        name=name,
        type=text_of(f"{where}.type", entry["type"]).upper(),
        meaning=text_of(f"{where}.meaning", entry["meaning"]),
        source=text_of(f"{where}.source", entry.get("source", default_source)),
        caveats=text_of(f"{where}.caveats", entry["caveats"]) if "caveats" in entry else "",
    )


def read_mart(name: str, entry: Any) -> Mart:
    """One mart entry with its columns."""
    where = f"marts.{name}"
    entry = check_keys(where, entry, MART_KEYS, MART_REQUIRED)
    status = text_of(f"{where}.status", entry["status"])
    if status not in STATUSES:
        raise DictionaryError(f"{where}.status must be one of {', '.join(STATUSES)}")
    source = text_of(f"{where}.source", entry["source"])
    columns = entry["columns"]
    if not isinstance(columns, dict) or not columns:
        raise DictionaryError(f"{where}.columns: expected a mapping of columns")
    caveats = entry.get("caveats") or []
    if not isinstance(caveats, list):
        raise DictionaryError(f"{where}.caveats: expected a list")
    return Mart(
        name=name,
        title=text_of(f"{where}.title", entry["title"]),
        status=status,
        grain=text_of(f"{where}.grain", entry["grain"]),
        source=source,
        description=text_of(f"{where}.description", entry["description"]),
        caveats=tuple(text_of(f"{where}.caveats", c) for c in caveats),
        columns=tuple(read_column(name, c, e, source) for c, e in columns.items()),
    )


def load_dictionary(path: Path) -> DataDictionary:
    """Read and check the dictionary file."""
    with path.open(encoding="utf-8") as f:
        document = yaml.safe_load(f)
    document = check_keys(str(path), document, {"marts"}, {"marts"})
    marts = document["marts"]
    if not isinstance(marts, dict):
        raise DictionaryError(f"{path}: 'marts' must be a mapping of mart names")
    return DataDictionary(tuple(read_mart(str(n), e) for n, e in marts.items()))


def to_rows(dictionary: DataDictionary) -> list[dict[str, str]]:
    """One flat row per mart column (for CSV and tables)."""
    return [
        {
            "mart": f"marts.{mart.name}",
            "column": column.name,
            "type": column.type,
            "meaning": column.meaning,
            "source": column.source,
            "caveats": column.caveats,
            "status": mart.status,
        }
        for mart in dictionary.marts
        for column in mart.columns
    ]


def to_csv(dictionary: DataDictionary) -> str:
    """The dictionary as CSV, one row per mart column (written as every download is)."""
    return csv_text(pd.DataFrame(to_rows(dictionary), columns=CSV_HEADER))


def cell(text: str) -> str:
    """Text safe inside a Markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def mart_markdown(mart: Mart) -> list[str]:
    """One mart as a Markdown section."""
    lines = [
        f"## marts.{mart.name}: {mart.title}",
        "",
        mart.description,
        "",
        f"- Grain: {mart.grain}",
        f"- Source: {mart.source}",
        f"- Status: {mart.status}",
        *(f"- Caveat: {c}" for c in mart.caveats),
        "",
        "| column | type | meaning | source | caveats |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| `{c.name}` | {c.type} | {cell(c.meaning)} | {cell(c.source)} | {cell(c.caveats)} |"
        for c in mart.columns
    ]
    return [*lines, ""]


def to_markdown(dictionary: DataDictionary) -> str:
    """The dictionary as Markdown: one section per mart with a table of its columns."""
    lines = ["# Data dictionary", ""]
    for mart in dictionary.marts:
        lines += mart_markdown(mart)
    return "\n".join(lines)
