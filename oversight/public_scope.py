"""What public mode may show of the marts (config/public.yaml): the open-data allow-list.

The public Data explorer lists only the marts whose sources are published open data, and shows
server paths (a load's ``path``, its validation report's ``file``) as file names only. This
module reads and checks that configuration and writes the SQL that applies it; the explorer
(oversight.explore) reads every mart through :func:`public_source` in public mode.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from oversight.settings import PROJECT_ROOT

logger = logging.getLogger(__name__)

KEYS = {"open_data_marts", "path_columns", "report_columns"}
# Everything after the last / or \ of a path (DuckDB regular expression, in a SQL literal).
BASENAME_PATTERN = r"'[^/\\]*$'"


class PublicScopeError(ValueError):
    """config/public.yaml is not in the expected shape; the message names the key."""


@dataclass(frozen=True)
class PublicScope:
    """The marts public mode lists, and per mart the columns holding server paths."""

    open_data_marts: tuple[str, ...]
    path_columns: dict[str, tuple[str, ...]]
    report_columns: dict[str, tuple[str, ...]]

    def allows(self, mart: str) -> bool:
        """Whether public mode may show ``marts.<mart>``."""
        return mart in self.open_data_marts


def names_of(raw: Any, where: str) -> tuple[str, ...]:
    """A list of names from the YAML, checked; the error names the key."""
    if not isinstance(raw, list) or not all(isinstance(n, str) and n for n in raw):
        raise PublicScopeError(f"{where}: expected a list of names, got {raw!r}")
    if len(set(raw)) != len(raw):
        raise PublicScopeError(f"{where}: a name is listed twice")
    return tuple(raw)


def columns_of(raw: Any, key: str, marts: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    """A mapping mart -> column names, every mart on the allow-list; the error names the key."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise PublicScopeError(f"public.yaml: {key} must map mart names to lists of columns")
    outside = sorted(set(raw) - set(marts))
    if outside:
        raise PublicScopeError(
            f"public.yaml: {key} names mart(s) {outside} that are not in open_data_marts"
        )
    return {mart: names_of(columns, f"public.yaml: {key}.{mart}") for mart, columns in raw.items()}


def read_public_scope(path: Path) -> PublicScope:
    """Read and check config/public.yaml; errors name the file and the key."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(raw, dict):
        raise PublicScopeError(f"{path.name}: expected a mapping")
    unknown = sorted(set(raw) - KEYS)
    if unknown:
        raise PublicScopeError(f"{path.name}: unknown key(s) {unknown}")
    if "open_data_marts" not in raw:
        raise PublicScopeError(f"{path.name}: open_data_marts is required")
    marts = names_of(raw["open_data_marts"], f"{path.name}: open_data_marts")
    scope = PublicScope(
        open_data_marts=marts,
        path_columns=columns_of(raw.get("path_columns"), "path_columns", marts),
        report_columns=columns_of(raw.get("report_columns"), "report_columns", marts),
    )
    logger.info("public scope: %d open-data marts", len(marts))
    return scope


@functools.cache
def load_public_scope(path: Path | None = None) -> PublicScope:
    """The project's public scope (config/public.yaml), read once per process."""
    return read_public_scope(path or PROJECT_ROOT / "config" / "public.yaml")


def quote(name: str) -> str:
    """A SQL identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def basename_sql(column: str) -> str:
    """SQL for a path column shown as its file name only."""
    return f"regexp_extract({quote(column)}, {BASENAME_PATTERN})"


def report_sql(column: str) -> str:
    """SQL for a JSON report column with its ``file`` key shown as the file name only."""
    name = quote(column)
    file_name = f"regexp_extract(json_extract_string({name}, '$.file'), {BASENAME_PATTERN})"
    return (
        f"case when json_extract_string({name}, '$.file') is null then {name} "
        f"else json_merge_patch({name}, json_object('file', {file_name}))::varchar end"
    )


def public_source(mart: str, scope: PublicScope) -> str:
    """SQL for ``marts.<mart>`` as public mode shows it; PublicScopeError if it is not open data.

    The result is a table name or a parenthesised subquery, usable after ``from``.
    """
    if not scope.allows(mart):
        raise PublicScopeError(
            f"marts.{mart} is not published open data; the public dashboard does not offer it"
        )
    replaced = [f"{basename_sql(c)} as {quote(c)}" for c in scope.path_columns.get(mart, ())]
    replaced += [f"{report_sql(c)} as {quote(c)}" for c in scope.report_columns.get(mart, ())]
    table = f"marts.{quote(mart)}"
    if not replaced:
        return table
    return f"(select * replace ({', '.join(replaced)}) from {table})"
