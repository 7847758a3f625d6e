"""Load published files into the warehouse: working copy, validate, build, publish atomically.

The live warehouse file is never opened for writing. A load copies it to a working file beside
it, inserts every new file (each validated by its staged suite first), rebuilds staging views
and mart tables, validates the marts, checkpoints and then ``os.replace()``s the working copy
over the live file. A refused file, a failed suite or a crash at any point leaves the live file
exactly as it was; refused files go to the quarantine folder with a report.

Suites run as DuckDB SQL compiled from their JSON (pipelines/validate.py): a staged file is
checked where its frame is and a mart inside the warehouse, so a ten-million-row mart never
has to fit in pandas. A load redoes only what it changed: a mart reading nothing it loaded is
kept, the row marts are updated for the files it loaded, and mart suites check only rows that
changed since they last passed (``build_models``, ``check_scope``, ``meta.mart_state``). Each
load adds up the seconds it spends per phase (``LoadResult.phases``, logged when it ends) for
the benchmarks in bench/.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import yaml

from oversight.reference import load_boroughs
from oversight.settings import Settings
from pipelines.errors import PipelineError, RefusedFile, ValidationFailed, WarehouseBusy
from pipelines.inputs import InputFile, Limits, is_documentation, iter_inputs
from pipelines.measure_values import build_measure_values
from pipelines.sources import detect_source
from pipelines.sources.base import ParseContext, Parsed, Source, default_context
from pipelines.validate import (
    ValidationReport,
    check_frame,
    check_table,
    covers,
    load_suite,
    month_key,
    resolved_suite,
)

logger = logging.getLogger(__name__)
SQL_DIR = Path(__file__).resolve().parent / "sql"
SCHEMAS = ("raw", "staging", "marts", "meta")
MEASURE_SUITE = "marts.measure_values"  # built from the other marts once they pass
# DuckDB's memory for a load: enough to build ten years of Met files without spilling, while
# leaving the machine to the dashboard (DuckDB would otherwise take up to 80% of it).
LOAD_MEMORY_LIMIT = "4GB"
# Staged rows per transaction: many files to a transaction lets DuckDB write them straight to
# the file rather than through its log first (about half the work), while what a transaction
# holds in memory, which its memory limit does not bound, stays a few hundred MB.
COMMIT_ROWS = 1_000_000
# How a load avoids redoing work on marts it did not change (see build_models, check_scope):
# SQL that makes an output row depend on other rows, and SQL whose result is not a function of
# the tables it reads.
NOT_PER_ROW = re.compile(
    r"\b(?:join|group\s+by|having|qualify|window|over|distinct|union|intersect|except|limit|"
    r"offset|order\s+by|using\s+sample|tablesample)\b"
    r"|\b(?:count|sum|avg|min|max|any_value|first|last|list|string_agg|array_agg|arg_min|"
    r"arg_max|median|quantile\w*|mode|bool_and|bool_or|row_number|rank|lag|lead)\s*\(",
    re.IGNORECASE,
)
NOT_REPRODUCIBLE = re.compile(
    r"\b(?:now|current_date|current_time|current_timestamp|get_current_time|random|uuid|"
    r"gen_random_uuid|setseed|nextval)\b",
    re.IGNORECASE,
)
# marts.loads columns a load never changes once written (status is updated on replacement).
FIXED_LOADS_COLUMNS = frozenset(
    {"source_file_id", "path", "sha256", "source", "rows", "published_rows", "vintage",
     "loaded_at", "synthetic", "load_seq"}
)  # fmt: skip
MART_STATE = """
create table if not exists meta.mart_state (
    mart varchar primary key,   -- a mart built from pipelines/sql/marts
    lineage varchar,            -- fingerprint of the SQL it was last built with (NULL: always
                                -- rebuild it)
    validated varchar           -- the suite and parameters all of its rows last passed (JSON)
)
"""
ACROSS_ROWS = ("expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique")
LOAD_CHANGES = (
    "create temp table if not exists load_changes (raw_table varchar, source_file_id varchar)"
)
MART_BUILDS = "create or replace temp table mart_builds (mart varchar, how varchar)"


def mart_suites(expectations_dir: Path) -> list[str]:
    """Every mart suite (expectations/marts.*.json); each mart table must have one."""
    return sorted(p.stem for p in expectations_dir.glob("marts.*.json"))


@dataclass
class FileOutcome:
    """What happened to one input file."""

    file: str
    source: str
    rows: int
    status: str
    message: str = ""


@dataclass
class LoadResult:
    """What a load did: one outcome per file and whether a new warehouse was published."""

    outcomes: list[FileOutcome] = field(default_factory=list)
    published: bool = False
    version: int | None = None
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def refused(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status == "refused"]

    @property
    def skipped(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status == "skipped"]

    @property
    def ok(self) -> bool:
        return not self.refused


@contextlib.contextmanager
def timed(phases: dict[str, float] | None, name: str) -> Iterator[None]:
    """Add the seconds the block takes to ``phases[name]`` (when timing is wanted)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        if phases is not None:
            phases[name] = phases.get(name, 0.0) + time.perf_counter() - start


def timed_iter(items: Iterable[Any], phases: dict[str, float], name: str) -> Iterator[Any]:
    """Yield from ``items``, adding the time spent producing each to ``phases[name]``."""
    iterator = iter(items)
    while True:
        with timed(phases, name):
            item = next(iterator, StopIteration)
        if item is StopIteration:
            return
        yield item


def read_yaml(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def pipeline_config(settings: Settings) -> dict[str, Any]:
    return read_yaml(settings.config_dir / "pipeline.yaml")


def categories_config(settings: Settings) -> dict[str, Any]:
    return read_yaml(settings.config_dir / "categories.yaml")


def limits_of(config: dict[str, Any]) -> Limits:
    return Limits(**{k: int(v) for k, v in config["limits"].items()})


def not_data_suffixes(config: dict[str, Any]) -> tuple[str, ...]:
    """The name endings of documentation files a load skips (pipeline.yaml not_data.suffixes)."""
    suffixes = (config.get("not_data") or {}).get("suffixes", [])
    if not isinstance(suffixes, list) or not all(
        isinstance(x, str) and x.startswith(".") for x in suffixes
    ):
        raise PipelineError(
            "config/pipeline.yaml: not_data.suffixes must be a list of endings such as .md, "
            f"got {suffixes!r}"
        )
    return tuple(x.lower() for x in suffixes)


def expectation_parameters(settings: Settings) -> dict[str, Any]:
    """Values the suites take from config, reference data and "today"."""
    config = pipeline_config(settings)
    categories = categories_config(settings)
    earliest = dt.datetime.strptime(str(config["months"]["earliest"]), "%Y-%m").date()
    names_file = settings.reference_dir / "borough_names.csv"
    names = pd.read_csv(names_file, dtype=str, keep_default_na=False)
    pseudo = names.loc[names["kind"] == "pseudo", "name"].tolist()
    keys = [
        f"{scheme}|{major}|{minor}"
        for scheme, spec in categories["schemes"].items()
        for major, minors in spec["majors"].items()
        for minor in minors
    ]
    return {
        "earliest_month": month_key(earliest),
        "latest_month": month_key(settings.today),
        "borough_names": sorted(set(load_boroughs()["borough_name"]) | set(pseudo)),
        "borough_codes": sorted(load_boroughs()["borough_code"]),
        "category_keys": keys,
        "category_schemes": list(categories["schemes"]),
        # PAS: the 32 MPS-area boroughs, configured measure labels, dates as YYYYMMDD integers
        "mps_borough_names": sorted(
            load_boroughs().loc[lambda b: b["in_mps_area"], "borough_name"]
        ),
        "pas_measure_labels": [
            m["label"] for m in read_yaml(settings.config_dir / "pas_measures.yaml")["measures"]
        ],
        "earliest_day": month_key(earliest) * 100 + 1,
        "latest_day": int(settings.today.strftime("%Y%m%d")),
        # police.uk forces (config/forces.yaml): stable ids and the names police.uk publishes
        "police_forces": [
            f["id"] for f in read_yaml(settings.config_dir / "forces.yaml")["forces"]
        ],
        "police_force_names": [
            name
            for f in read_yaml(settings.config_dir / "forces.yaml")["forces"]
            for name in f["published_names"]
        ],
        # measure extract: the 32 MPS-area boroughs' codes and the force area
        "measure_geographies": [
            *sorted(load_boroughs().loc[lambda b: b["in_mps_area"], "borough_code"]),
            "MPS",
        ],
    }


@contextlib.contextmanager
def warehouse_lock(live: Path) -> Iterator[None]:
    """Hold the loader's lock for the warehouse; a second loader is refused at once."""
    live.parent.mkdir(parents=True, exist_ok=True)
    with open(live.with_name(live.name + ".lock"), "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise WarehouseBusy(
                f"another load is running on {live}; try again when it ends"
            ) from exc
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def working_path(live: Path) -> Path:
    return live.with_name(f".{live.name}.work-{os.getpid()}")


def remove_stale_work(live: Path) -> None:
    """Delete working copies a crashed load left behind (called under the lock)."""
    for stale in live.parent.glob(f".{live.name}.work-*"):
        logger.info("removing stale working copy %s", stale.name)
        if stale.is_dir():  # DuckDB's spill folder beside a working copy
            shutil.rmtree(stale, ignore_errors=True)
        else:
            stale.unlink(missing_ok=True)


def known_hashes(live: Path) -> set[str]:
    """sha256 of every file the live warehouse already holds."""
    if not live.exists():
        return set()
    with duckdb.connect(str(live), read_only=True) as con:
        return {r[0] for r in con.sql("select sha256 from marts.loads").fetchall()}


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create schemas, the raw tables and the build's own record (idempotent)."""
    for schema in SCHEMAS:
        con.execute(f"create schema if not exists {schema}")
    for path in sorted((SQL_DIR / "raw").glob("*.sql")):
        con.execute(path.read_text(encoding="utf-8"))
    con.execute(MART_STATE)


def model_order(paths: list[Path], layer: str) -> list[Path]:
    """Models in an order where each comes after the models of its layer it reads from."""
    stems = {p.stem for p in paths}
    needs = {
        p.stem: {s for s in stems if s != p.stem and f"{layer}.{s}" in p.read_text()}
        for p in paths
    }
    ordered: list[Path] = []
    pending = sorted(paths)
    while pending:
        ready = [p for p in pending if needs[p.stem] <= {o.stem for o in ordered}]
        if not ready:
            raise PipelineError(f"{layer} models depend on each other in a cycle: {pending}")
        ordered += ready
        pending = [p for p in pending if p not in ready]
    return ordered


def build_models(con: duckdb.DuckDBPyConnection) -> None:
    """Rebuild staging views and mart tables from the raw tables, dependencies first.

    Within a load, a mart built by the same SQL as now is not rewritten where that gives the
    same rows: a mart reading nothing the load changed is kept as it is, and a row mart (one
    row per raw row, see :func:`row_source`) is updated for the files the load added or
    replaced. What happened to each mart is noted in ``mart_builds`` for :func:`check_scope`.
    """
    changed = load_changes(con)
    builds: dict[str, str] = {}
    for layer, kind in (("staging", "view"), ("marts", "table")):
        for path in model_order(list((SQL_DIR / layer).glob("*.sql")), layer):
            if layer == "marts" and (how := reuse_mart(con, path.stem, changed, builds)):
                builds[path.stem] = how
                continue
            logger.info("building %s.%s", layer, path.stem)
            con.execute(f"create or replace {kind} {layer}.{path.stem} as\n{path.read_text()}")
            if layer == "marts":
                builds[path.stem] = "rebuilt"
                record_mart_state(con, path.stem, mart_lineage(path.stem))
    con.execute(MART_BUILDS)
    con.executemany("insert into mart_builds values (?, ?)", list(builds.items()))


# --- marts a load need not rebuild ---------------------------------------------------------------


def sql_text(layer: str, name: str) -> str:
    return (SQL_DIR / layer / f"{name}.sql").read_text(encoding="utf-8")


def without_comments(sql: str) -> str:
    return re.sub(r"--[^\n]*", "", sql)


def references(sql: str) -> set[tuple[str, str]]:
    """The (schema, table) pairs a model's SQL reads."""
    pairs = re.findall(r"\b(raw|staging|marts|meta)\.(\w+)", without_comments(sql), re.I)
    return {(schema.lower(), name) for schema, name in pairs}


def is_model(schema: str, name: str) -> bool:
    return schema in ("staging", "marts") and (SQL_DIR / schema / f"{name}.sql").exists()


def reads_loads_fixed_columns(sql: str) -> bool:
    """Whether the SQL takes from marts.loads only columns a load never changes, joined on
    ``source_file_id`` (so only the rows of its own files)."""
    text = without_comments(sql).lower()
    if "marts.loads" not in text:
        return True
    selects = re.findall(r"\bselect\s+([\w\s,]*?)\s+from\s+marts\.loads\b", text)
    if len(selects) != len(re.findall(r"\bmarts\.loads\b", text)):
        return False
    for columns in selects:
        if not {c.strip() for c in columns.split(",")} <= FIXED_LOADS_COLUMNS:
            return False
    rest = re.sub(r"\bloads\s+as\s*\(|join\s+loads\s+using\s*\(\s*source_file_id\s*\)", "", text)
    rest = re.sub(r"\bloads\.\w+|marts\.loads", "", rest)
    return re.search(r"\bloads\b", rest) is None


def model_lineage(layer: str, name: str) -> str | None:
    """A fingerprint of a model's SQL and of everything it reads (None: not reproducible).

    Covers the SQL of the models it reads, recursively, and the raw tables' definitions.
    """
    sql = sql_text(layer, name)
    if NOT_REPRODUCIBLE.search(without_comments(sql)) or not reads_loads_fixed_columns(sql):
        return None
    parts = [sql]
    for schema, table in sorted(references(sql)):
        if is_model(schema, table):
            inner = model_lineage(schema, table)
            if inner is None:
                return None
            parts.append(inner)
        elif schema == "raw" and (SQL_DIR / "raw" / f"{table}.sql").exists():
            parts.append(sql_text("raw", table))
        else:
            parts.append(f"{schema}.{table}")
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def mart_lineage(mart: str) -> str | None:
    return model_lineage("marts", mart)


def model_inputs(layer: str, name: str) -> tuple[set[str], set[str]]:
    """The raw tables a model reads (through staging views) and the marts it reads."""
    raws: set[str] = set()
    marts: set[str] = set()
    for schema, table in references(sql_text(layer, name)):
        if schema == "raw":
            raws.add(table)
        elif schema == "staging" and is_model(schema, table):
            raws |= model_inputs(schema, table)[0]
        elif schema == "marts" and is_model(schema, table):
            marts.add(table)
    return raws, marts


def plain_projection(sql: str, schema: str, model: str) -> bool:
    """Whether ``sql`` computes each row from one row of ``schema.model`` alone."""
    text = without_comments(sql)
    return references(text) == {(schema, model)} and not NOT_PER_ROW.search(text)


def row_source(mart: str) -> str | None:
    """The raw table a row mart holds one row for each row of (None if not a row mart).

    A row mart selects from one staging view without joining, grouping or ordering, and that
    view does the same from one raw table: each mart row comes from one raw row alone.
    """
    refs = references(sql_text("marts", mart))
    if len(refs) != 1:
        return None
    schema, view = next(iter(refs))
    if schema != "staging" or not is_model("staging", view):
        return None
    inner = references(sql_text("staging", view))
    if len(inner) != 1 or next(iter(inner))[0] != "raw":
        return None
    raw = next(iter(inner))[1]
    sqls = (sql_text("marts", mart), sql_text("staging", view))
    if not (plain_projection(sqls[0], "staging", view) and plain_projection(sqls[1], "raw", raw)):
        return None
    return raw


def record_changes(con: duckdb.DuckDBPyConnection, table: str, file_ids: list[str]) -> None:
    """Note, for this load, the files whose rows of raw ``table`` it added or removed."""
    con.execute(LOAD_CHANGES)
    con.executemany("insert into load_changes values (?, ?)", [[table, f] for f in file_ids])


def temp_table_exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from duckdb_tables() where temporary and table_name = ?", [name]
        ).fetchall()[0][0]
    )


def load_changes(con: duckdb.DuckDBPyConnection) -> dict[str, set[str]] | None:
    """The files this load changed, by raw table (None outside a load: rebuild everything)."""
    if not temp_table_exists(con, "load_changes"):
        return None
    changed: dict[str, set[str]] = {}
    for table, file_id in con.execute("select * from load_changes").fetchall():
        changed.setdefault(table, set()).add(file_id)
    return changed


def mart_builds(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """What the last build_models did to each mart: rebuilt, updated or unchanged."""
    if not temp_table_exists(con, "mart_builds"):
        return {}
    return dict(con.execute("select mart, how from mart_builds").fetchall())


def mart_state(con: duckdb.DuckDBPyConnection, mart: str) -> tuple[str | None, str | None]:
    """The lineage a mart was last built with and the JSON of its last whole validation."""
    rows = con.execute(
        "select lineage, validated from meta.mart_state where mart = ?", [mart]
    ).fetchall()
    return rows[0] if rows else (None, None)


def record_mart_state(
    con: duckdb.DuckDBPyConnection, mart: str, lineage: str | None, validated: str | None = None
) -> None:
    con.execute(
        "insert or replace into meta.mart_state values (?, ?, ?)", [mart, lineage, validated]
    )


def reuse_mart(
    con: duckdb.DuckDBPyConnection,
    mart: str,
    changed: dict[str, set[str]] | None,
    builds: dict[str, str],
) -> str | None:
    """Keep or update a mart instead of rebuilding it: "unchanged", "updated" or None (rebuild).

    Only within a load, for a mart whose SQL (and everything it reads) is as it was built and
    gives the same result from the same tables: kept when none of the raw tables or marts it
    reads changed; a row mart is updated for the changed files' rows alone.
    """
    if changed is None:
        return None
    lineage = mart_lineage(mart)
    if lineage is None or mart_state(con, mart)[0] != lineage:
        return None
    raws, marts = model_inputs("marts", mart)
    if any(builds.get(m) != "unchanged" for m in marts):
        return None
    touched = raws & changed.keys()
    if not touched:
        logger.info("marts.%s unchanged: nothing it reads was loaded", mart)
        return "unchanged"
    raw = row_source(mart)
    if raw is None:
        return None
    these = "select source_file_id from load_changes where raw_table = ?"
    con.execute(f"delete from marts.{mart} where source_file_id in ({these})", [raw])
    con.execute(
        f"insert into marts.{mart} select * from (\n{sql_text('marts', mart)}\n) "
        f"where source_file_id in ({these})",
        [raw],
    )
    logger.info("updated marts.%s in place for %d changed file(s)", mart, len(changed[raw]))
    return "updated"


def mart_helpers(con: duckdb.DuckDBPyConnection, table: str) -> str:
    """The month helper columns a mart's suite checks, where the mart has a month column."""
    columns = {r[0] for r in con.sql(f"describe {table}").fetchall()}
    if "month" not in columns:
        return ""
    return ", year(month) * 100 + month(month) as month_key, day(month) as month_day"


def mart_frame(con: duckdb.DuckDBPyConnection, table: str) -> pd.DataFrame:
    """A mart as pandas, as its suite sees it (with the month helpers)."""
    return con.sql(f"select *{mart_helpers(con, table)} from {table}").df()


def validate_marts(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    parameters: dict[str, Any],
    suites: list[str] | None = None,
) -> list[ValidationReport]:
    """Run mart suites (default: all) inside the warehouse; the caller refuses to publish if
    any fails.

    Within a load, rows that passed the same suite before and have not changed since are not
    checked again (see :func:`check_scope`).
    """
    reports = []
    builds = mart_builds(con)
    for suite in suites or mart_suites(settings.expectations_dir):
        spec = load_suite(settings.expectations_dir, suite)
        mart = suite.removeprefix("marts.")
        report = check_table(
            con,
            suite,
            suite,
            expectations_dir=settings.expectations_dir,
            parameters=parameters,
            file=suite,
            extra=mart_helpers(con, suite),
            where=check_scope(con, mart, builds.get(mart), spec, parameters),
        )
        if report.success and mart in builds:
            checked = json.dumps(resolved_suite(spec, parameters), default=str)
            record_mart_state(con, mart, mart_state(con, mart)[0], checked)
        reports.append(report)
    return reports


def check_scope(
    con: duckdb.DuckDBPyConnection,
    mart: str,
    how: str | None,
    spec: dict[str, Any],
    parameters: dict[str, Any],
) -> str:
    """The rows of a mart its suite must check now: a ``where`` clause ("" for all).

    Every row passed this suite before, with parameters it still covers (:func:`covers`:
    only wider bounds or larger sets), in a mart kept unchanged: none is checked again. In a
    row mart updated in place: only the changed files' rows, unless the suite compares rows
    with each other (uniqueness). Anything else: all rows.
    """
    if how not in ("unchanged", "updated"):
        return ""
    lineage, validated = mart_state(con, mart)
    if validated is None or lineage is None or lineage != mart_lineage(mart):
        return ""
    if not covers(resolved_suite(spec, parameters), json.loads(validated)):
        return ""
    if how == "unchanged":
        logger.info("suite marts.%s: no row changed since it passed", mart)
        return "where false"
    raw = row_source(mart)
    if raw is None or any(e["type"] in ACROSS_ROWS for e in spec["expectations"]):
        return ""
    logger.info("suite marts.%s: checking the rows of this load's files only", mart)
    raw = raw.replace("'", "''")
    return (
        "where source_file_id in "
        f"(select source_file_id from load_changes where raw_table = '{raw}')"
    )


def refuse_failed(reports: list[ValidationReport]) -> None:
    """Raise if any mart suite failed: nothing is published."""
    failed = [r for r in reports if not r.success]
    if failed:
        raise PipelineError(
            "Mart validation failed; nothing was published:\n"
            + "\n".join(r.to_text() for r in failed)
        )


def insert_file(
    con: duckdb.DuckDBPyConnection,
    source: Source,
    file: InputFile,
    parsed: Parsed,
    report: ValidationReport,
    synthetic: bool = False,
) -> int:
    """Insert a parsed, validated file into its raw table and record it in marts.loads."""
    file_id = file.sha256[:16]
    raw_columns = [
        r[0]
        for r in con.sql(f"describe raw.{source.table}").fetchall()
        if r[0] != "source_file_id"
    ]
    frame = parsed.frame[raw_columns]
    replaced = replace_rows(con, source.table, parsed.replaces) if parsed.replaces else []
    record_changes(con, source.table, [file_id, *replaced])
    con.register("parsed_frame", frame)
    try:
        con.execute(
            f"insert into raw.{source.table} (source_file_id, {', '.join(raw_columns)}) "
            f"select ?, {', '.join(raw_columns)} from parsed_frame",
            [file_id],
        )
    finally:
        con.unregister("parsed_frame")
    seq = con.execute("select coalesce(max(load_seq), 0) + 1 from marts.loads").fetchall()[0][0]
    con.execute(
        "insert into marts.loads (load_seq, source_file_id, path, sha256, source, rows, "
        "published_rows, vintage, loaded_at, status, report, synthetic) "
        "values (?, ?, ?, ?, ?, ?, ?, ?, now(), 'loaded', ?, ?)",
        [
            seq,
            file_id,
            file.name,
            file.sha256,
            source.id,
            len(frame),
            parsed.published_rows,
            parsed.vintage,
            json.dumps(report.to_dict(), default=str),
            synthetic,
        ],
    )
    return seq


def replace_rows(con: duckdb.DuckDBPyConnection, table: str, key: dict[str, Any]) -> list[str]:
    """Delete what an earlier load held for this key (e.g. a force's month) before inserting.

    A file loaded earlier whose rows are all gone is marked 'superseded' in marts.loads.
    Returns the files that lost rows.
    """
    where = " and ".join(f"{column} = ?" for column in key)
    values = list(key.values())
    earlier = [
        r[0]
        for r in con.execute(
            f"select distinct source_file_id from raw.{table} where {where}", values
        ).fetchall()
    ]
    if not earlier:
        return []
    con.execute(f"delete from raw.{table} where {where}", values)
    for file_id in earlier:
        left = con.execute(
            f"select count(*) from raw.{table} where source_file_id = ?", [file_id]
        ).fetchall()[0][0]
        if left == 0:
            con.execute(
                "update marts.loads set status = 'superseded' where source_file_id = ?", [file_id]
            )
    logger.info("replaced rows of %s for %s from %d earlier file(s)", table, key, len(earlier))
    return earlier


def bump_version(con: duckdb.DuckDBPyConnection, note: str) -> int:
    version = con.execute("select coalesce(max(version), 0) + 1 from meta.warehouse").fetchall()[
        0
    ][0]
    con.execute("insert into meta.warehouse values (?, now(), ?)", [version, note])
    return version


def fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(work: Path, live: Path) -> None:
    """Atomically make the working copy the live warehouse."""
    fsync_path(work)
    os.replace(work, live)
    fsync_path(live.parent)


def safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)[-120:]


def quarantine(file: InputFile, error: RefusedFile, settings: Settings) -> Path:
    """Keep a refused file's bytes with a JSON and a readable report; return the report path."""
    folder = settings.quarantine_dir
    folder.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    stem = folder / f"{stamp}__{file.sha256[:12]}__{safe_name(file.basename)}"
    stem.with_name(stem.name + ".data").write_bytes(file.data)
    record = {
        "file": error.file,
        "sha256": file.sha256,
        "source": error.source,
        "row": error.row,
        "column": error.column,
        "reason": error.reason,
        "details": error.details,
        "refused_at": stamp,
    }
    stem.with_name(stem.name + ".json").write_text(json.dumps(record, indent=2, default=str))
    text = "\n".join([error.message, *error.details, ""])
    report = stem.with_name(stem.name + ".txt")
    report.write_text(text, encoding="utf-8")
    return report


def parse_and_validate(
    file: InputFile,
    ctx: ParseContext,
    settings: Settings,
    parameters: dict[str, Any],
    phases: dict[str, float] | None = None,
) -> tuple[Source, Parsed, ValidationReport]:
    """Detect, parse and validate one file; raise RefusedFile if it cannot be loaded."""
    with timed(phases, "parse"):
        source = detect_source(file)
        try:
            parsed = source.parse(file, ctx)
        except RefusedFile as exc:
            exc.source = source.id
            raise
    with timed(phases, "validate"):
        report = check_frame(
            parsed.frame,
            source.suite,
            expectations_dir=settings.expectations_dir,
            parameters=parameters,
            file=file.name,
            columns=parsed.columns,
        )
    if not report.success:
        first = report.failures[0]
        example = first.examples[0] if first.examples else {}
        raise ValidationFailed(
            file.name,
            f"{first.explanation} ({first.unexpected_count:,} row(s) fail "
            f"{first.expectation}; value {example.get('value')!r})",
            row=example.get("line"),
            column=example.get("column") or first.column,
            source=source.id,
            details=[f.sentence(file.name) for f in report.failures],
        )
    return source, parsed, report


def load_paths(
    paths: list[str | Path],
    settings: Settings,
    options: dict[str, Any] | None = None,
    progress: Any = None,
) -> LoadResult:
    """Load files, folders and archives; publish a new warehouse only if all are accepted."""
    live = settings.warehouse
    config = pipeline_config(settings)
    ctx = default_context(categories_config(settings), settings.today, **(options or {}))
    parameters = expectation_parameters(settings)
    result = LoadResult()
    phases = result.phases
    with warehouse_lock(live):
        remove_stale_work(live)
        seen = known_hashes(live)
        work = working_path(live)
        con: duckdb.DuckDBPyConnection | None = None
        staged = 0
        try:
            files = skip_documents(
                iter_with_refusals(paths, limits_of(config), result, settings),
                not_data_suffixes(config),
                result,
            )

            def parse(file: InputFile) -> tuple[Source, Parsed, ValidationReport]:
                return parse_and_validate(file, ctx, settings, parameters, phases)

            hashed = timed_iter(with_digests(files), phases, "read")
            for file, parsing in parsed_ahead(hashed, seen, parse):
                if progress is not None:
                    progress(file.name)
                if parsing is None:
                    result.outcomes.append(FileOutcome(file.name, "", 0, "already loaded"))
                    continue
                try:
                    source, parsed, report = parsing.result()
                except RefusedFile as exc:
                    record_refusal(file, exc, result, settings)
                    continue
                if result.refused:
                    result.outcomes.append(
                        FileOutcome(file.name, source.id, len(parsed.frame), "not loaded")
                    )
                    continue
                with timed(phases, "stage"):
                    if con is None:
                        con = open_working_copy(live, work)
                    synthetic = bool(ctx.options.get("synthetic"))
                    insert_file(con, source, file, parsed, report, synthetic)
                    staged = commit_if_large(con, staged + len(parsed.frame))
                result.outcomes.append(
                    FileOutcome(file.name, source.id, len(parsed.frame), "loaded")
                )
            if con is None or result.refused:
                mark_not_loaded(result)
                return result
            result.version = finish_build(con, settings, parameters, phases)
            with timed(phases, "publish"):
                con.close()
                con = None
                logger.info("publishing %s", live)
                publish(work, live)
            result.published = True
            logger.info("published %s version %s", live, result.version)
            return result
        finally:
            if con is not None:
                con.close()
            work.unlink(missing_ok=True)
            work.with_name(work.name + ".wal").unlink(missing_ok=True)
            logger.info(
                "load phases (s): %s", ", ".join(f"{k} {v:.2f}" for k, v in phases.items())
            )


def with_digests(files: Iterable[InputFile]) -> Iterator[InputFile]:
    """Yield files with their sha256 computed (it names them in marts.loads)."""
    for file in files:
        _ = file.sha256
        yield file


def parsed_ahead(
    files: Iterable[InputFile], seen: set[str], parse: Callable[[InputFile], Any]
) -> Iterator[tuple[InputFile, Future | None]]:
    """Yield each file with its parse (None for bytes already loaded), one file ahead.

    The next new file is parsed and validated in a worker thread while the caller stages the
    one before (DuckDB and pyarrow release the interpreter lock), in file order throughout.
    """
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="parse") as pool:
        waiting: list[tuple[InputFile, Future | None]] = []
        for file in files:
            if file.sha256 in seen:
                waiting.append((file, None))
                continue
            seen.add(file.sha256)
            waiting.append((file, pool.submit(parse, file)))
            while len([f for _, f in waiting if f is not None]) > 1:
                yield waiting.pop(0)
        yield from waiting


def iter_with_refusals(
    paths: list[str | Path], limits: Limits, result: LoadResult, settings: Settings
) -> Iterator[InputFile]:
    """Yield input files; a path or archive that cannot be opened is refused and recorded."""
    for path in paths:
        try:
            yield from iter_inputs([path], limits)
        except RefusedFile as exc:
            given = Path(path)
            small = given.is_file() and given.stat().st_size <= limits.max_file_bytes
            data = given.read_bytes() if small else b""  # never copy an oversized file
            record_refusal(InputFile(str(path), str(path), data), exc, result, settings)


def skip_documents(
    files: Iterable[InputFile], suffixes: tuple[str, ...], result: LoadResult
) -> Iterator[InputFile]:
    """Yield the data files; documentation (a README, SOURCES.md) is recorded as skipped."""
    for file in files:
        if is_documentation(file.name, suffixes):
            logger.info("skipping %s: documentation, not data", file.name)
            result.outcomes.append(
                FileOutcome(file.name, "", 0, "skipped", "documentation, not data")
            )
            continue
        yield file


def record_refusal(
    file: InputFile, exc: RefusedFile, result: LoadResult, settings: Settings
) -> None:
    report = quarantine(file, exc, settings)
    logger.warning("%s (report: %s)", exc.message, report)
    result.outcomes.append(FileOutcome(exc.file, exc.source or "", 0, "refused", exc.message))


def mark_not_loaded(result: LoadResult) -> None:
    """When any file is refused, the files accepted alongside it are not published either."""
    if result.refused:
        for outcome in result.outcomes:
            if outcome.status == "loaded":
                outcome.status = "not loaded"
                outcome.message = "another file in this load was refused"


def open_working_copy(live: Path, work: Path) -> duckdb.DuckDBPyConnection:
    """Copy the live warehouse (if any) and open the copy for writing."""
    if live.exists():
        shutil.copyfile(live, work)
    con = duckdb.connect(str(work), config={"memory_limit": LOAD_MEMORY_LIMIT})
    ensure_schema(con)
    # Work in transactions (see COMMIT_ROWS); a failed load leaves nothing behind to undo.
    con.execute("begin transaction")
    return con


def commit_if_large(con: duckdb.DuckDBPyConnection, staged: int) -> int:
    """Commit and begin again once ``staged`` rows are pending; returns the rows still pending."""
    if staged < COMMIT_ROWS:
        return staged
    con.execute("commit")
    con.execute("begin transaction")
    return 0


def finish_build(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    parameters: dict[str, Any],
    phases: dict[str, float] | None = None,
) -> int:
    """Rebuild models, validate marts, record the version and checkpoint.

    The plan measures are computed only from marts that passed their suites, and then
    checked by their own.
    """
    suites = mart_suites(settings.expectations_dir)
    with timed(phases, "marts"):
        build_models(con)
    with timed(phases, "validate_marts"):
        refuse_failed(
            validate_marts(con, settings, parameters, [s for s in suites if s != MEASURE_SUITE])
        )
    with timed(phases, "measures"):
        build_measure_values(con, settings)
    with timed(phases, "validate_marts"):
        refuse_failed(validate_marts(con, settings, parameters, [MEASURE_SUITE]))
    with timed(phases, "publish"):
        version = bump_version(con, "load")
        con.execute("commit")
        con.execute("checkpoint")
    return version


def rebuild_marts(settings: Settings) -> int:
    """Rebuild models on a copy of the live warehouse and publish it (after a SQL change)."""
    live = settings.warehouse
    parameters = expectation_parameters(settings)
    with warehouse_lock(live):
        remove_stale_work(live)
        work = working_path(live)
        con = open_working_copy(live, work)
        try:
            version = finish_build(con, settings, parameters)
            con.close()
            publish(work, live)
            return version
        finally:
            con.close()
            work.unlink(missing_ok=True)


# --- rebuild from the files on disk --------------------------------------------------------------

# Sources whose loader took a value from the file name or an option record it as the vintage,
# so a rebuild can give the same value back as an option (a file renamed since still loads).
PERIOD_SOURCES = frozenset(
    {"pas_neighbourhood", "home_office_uof_tactics_csv", "home_office_uof_incidents_csv"}
)


@dataclass
class RebuildBatch:
    """Files loaded together with the same options, in the order they were first loaded."""

    paths: list[Path]
    options: dict[str, Any]


def recorded_options(
    source: str, vintage: str | None, synthetic: bool, force: str | None
) -> dict[str, Any]:
    """The options a recorded file needs to load again exactly as it did."""
    options: dict[str, Any] = {"synthetic": bool(synthetic)}
    if source == "police_uk_stop_search" and force:
        options["force"] = force
    elif source in PERIOD_SOURCES and vintage:
        options["period"] = vintage
    elif source == "ons_sape_lsoa" and vintage and (year := re.search(r"(\d{4})$", vintage)):
        options["year"] = int(year.group(1))
    return options


def recorded_files(live: Path) -> list[tuple[str, dict[str, Any]]]:
    """Every file the warehouse records loading (path as given, options), in load order."""
    with duckdb.connect(str(live), read_only=True) as con:
        rows = con.execute(
            "select l.path, l.source, l.vintage, l.synthetic, f.force from marts.loads l "
            "left join (select source_file_id, any_value(force) as force "
            "from marts.police_uk_files group by source_file_id) f using (source_file_id) "
            "order by l.load_seq"
        ).fetchall()
    return [(path, recorded_options(s, v, syn, force)) for path, s, v, syn, force in rows]


def on_disk(recorded: str, root: Path) -> Path | None:
    """Where a recorded file is now: its archive for a member, the .gz of an unpacked gzip."""
    outer = Path(recorded.split("!")[0])
    for folder in (Path.cwd(), root):
        path = outer if outer.is_absolute() else folder / outer
        for candidate in (path, path.with_name(path.name + ".gz")):
            if candidate.is_file():
                return candidate
    return None


def rebuild_batches(files: list[tuple[Path, dict[str, Any]]]) -> list[RebuildBatch]:
    """Group consecutive files whose options agree; a path given twice is loaded once."""
    batches: list[RebuildBatch] = []
    seen: set[Path] = set()
    for path, options in files:
        if path in seen:
            continue
        seen.add(path)
        options = {"synthetic": False, **options}
        last = batches[-1] if batches else None
        if last is not None and all(
            last.options[key] == options[key] for key in last.options.keys() & options.keys()
        ):
            last.options.update(options)
            last.paths.append(path)
        else:
            batches.append(RebuildBatch([path], options))
    return batches


def rebuild_warehouse(
    settings: Settings, batches: list[RebuildBatch], progress: Any = None
) -> list[LoadResult]:
    """Load the batches into a new file and publish it over the live one, atomically.

    Runs under the live warehouse's lock, so no load publishes in between. The new file is a
    working file beside the live one (a crash leaves it for the next load to remove); if any
    file is refused, nothing is published and the live warehouse is left as it was.
    """
    live = settings.warehouse
    results: list[LoadResult] = []
    with warehouse_lock(live):
        remove_stale_work(live)
        target = live.with_name(f".{live.name}.work-rebuild-{os.getpid()}")
        leftovers = [target.with_name(target.name + suffix) for suffix in (".wal", ".lock")]
        try:
            for batch in batches:
                result = load_paths(
                    batch.paths, settings.with_warehouse(target), batch.options, progress
                )
                results.append(result)
                if result.refused:
                    return results
            if not target.exists():
                raise PipelineError("no file could be loaded; nothing was published")
            logger.info("publishing the rebuilt warehouse over %s", live)
            publish(target, live)
            return results
        finally:
            for path in (target, *leftovers):
                path.unlink(missing_ok=True)
