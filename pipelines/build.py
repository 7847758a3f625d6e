"""Load published files into the warehouse: working copy, validate, build, publish atomically.

The live warehouse file is never opened for writing. A load copies it to a working file beside
it, inserts every new file (each validated by its staged suite first), rebuilds staging views
and mart tables, validates the marts, checkpoints and then ``os.replace()``s the working copy
over the live file. A refused file, a failed suite or a crash at any point leaves the live file
exactly as it was; refused files go to the quarantine folder with a report.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import yaml

from oversight.reference import load_boroughs
from oversight.settings import Settings
from pipelines.errors import PipelineError, RefusedFile, ValidationFailed, WarehouseBusy
from pipelines.inputs import InputFile, Limits, iter_inputs
from pipelines.measure_values import build_measure_values
from pipelines.sources import detect_source
from pipelines.sources.base import ParseContext, Parsed, Source, default_context
from pipelines.validate import ValidationReport, month_key, validate_frame

logger = logging.getLogger(__name__)
SQL_DIR = Path(__file__).resolve().parent / "sql"
SCHEMAS = ("raw", "staging", "marts", "meta")


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

    @property
    def refused(self) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status == "refused"]

    @property
    def ok(self) -> bool:
        return not self.refused


def read_yaml(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def pipeline_config(settings: Settings) -> dict[str, Any]:
    return read_yaml(settings.config_dir / "pipeline.yaml")


def categories_config(settings: Settings) -> dict[str, Any]:
    return read_yaml(settings.config_dir / "categories.yaml")


def limits_of(config: dict[str, Any]) -> Limits:
    return Limits(**{k: int(v) for k, v in config["limits"].items()})


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
        stale.unlink(missing_ok=True)


def known_hashes(live: Path) -> set[str]:
    """sha256 of every file the live warehouse already holds."""
    if not live.exists():
        return set()
    with duckdb.connect(str(live), read_only=True) as con:
        return {r[0] for r in con.sql("select sha256 from marts.loads").fetchall()}


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create schemas and the raw tables (idempotent)."""
    for schema in SCHEMAS:
        con.execute(f"create schema if not exists {schema}")
    for path in sorted((SQL_DIR / "raw").glob("*.sql")):
        con.execute(path.read_text(encoding="utf-8"))


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
    """Rebuild staging views and mart tables from the raw tables, dependencies first."""
    for layer, kind in (("staging", "view"), ("marts", "table")):
        for path in model_order(list((SQL_DIR / layer).glob("*.sql")), layer):
            logger.info("building %s.%s", layer, path.stem)
            con.execute(f"create or replace {kind} {layer}.{path.stem} as\n{path.read_text()}")


def mart_frame(con: duckdb.DuckDBPyConnection, table: str) -> pd.DataFrame:
    """A mart as pandas for validation, with month helpers where it has a month column."""
    columns = {r[0] for r in con.sql(f"describe {table}").fetchall()}
    extra = (
        ", year(month) * 100 + month(month) as month_key, day(month) as month_day"
        if "month" in columns
        else ""
    )
    return con.sql(f"select *{extra} from {table}").df()


def validate_marts(
    con: duckdb.DuckDBPyConnection, settings: Settings, parameters: dict[str, Any]
) -> list[ValidationReport]:
    """Run every mart suite; the caller refuses to publish if any fails."""
    reports = []
    for suite in mart_suites(settings.expectations_dir):
        frame = mart_frame(con, suite)
        reports.append(
            validate_frame(
                frame,
                suite,
                expectations_dir=settings.expectations_dir,
                parameters=parameters,
                file=suite,
            )
        )
    return reports


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
    if parsed.replaces:
        replace_rows(con, source.table, parsed.replaces)
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


def replace_rows(con: duckdb.DuckDBPyConnection, table: str, key: dict[str, Any]) -> None:
    """Delete what an earlier load held for this key (e.g. a force's month) before inserting.

    A file loaded earlier whose rows are all gone is marked 'superseded' in marts.loads.
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
        return
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
    file: InputFile, ctx: ParseContext, settings: Settings, parameters: dict[str, Any]
) -> tuple[Source, Parsed, ValidationReport]:
    """Detect, parse and validate one file; raise RefusedFile if it cannot be loaded."""
    source = detect_source(file)
    try:
        parsed = source.parse(file, ctx)
    except RefusedFile as exc:
        exc.source = source.id
        raise
    report = validate_frame(
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
    with warehouse_lock(live):
        remove_stale_work(live)
        seen = known_hashes(live)
        work = working_path(live)
        con: duckdb.DuckDBPyConnection | None = None
        try:
            for file in iter_with_refusals(paths, limits_of(config), result, settings):
                if progress is not None:
                    progress(file.name)
                if file.sha256 in seen:
                    result.outcomes.append(FileOutcome(file.name, "", 0, "already loaded"))
                    continue
                seen.add(file.sha256)
                try:
                    source, parsed, report = parse_and_validate(file, ctx, settings, parameters)
                except RefusedFile as exc:
                    record_refusal(file, exc, result, settings)
                    continue
                if result.refused:
                    result.outcomes.append(
                        FileOutcome(file.name, source.id, len(parsed.frame), "not loaded")
                    )
                    continue
                if con is None:
                    con = open_working_copy(live, work)
                insert_file(con, source, file, parsed, report, bool(ctx.options.get("synthetic")))
                result.outcomes.append(
                    FileOutcome(file.name, source.id, len(parsed.frame), "loaded")
                )
            if con is None or result.refused:
                mark_not_loaded(result)
                return result
            result.version = finish_build(con, settings, parameters)
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
    con = duckdb.connect(str(work))
    ensure_schema(con)
    return con


def finish_build(
    con: duckdb.DuckDBPyConnection, settings: Settings, parameters: dict[str, Any]
) -> int:
    """Rebuild models, validate marts, record the version and checkpoint."""
    build_models(con)
    build_measure_values(con, settings)
    failed = [r for r in validate_marts(con, settings, parameters) if not r.success]
    if failed:
        raise PipelineError(
            "Mart validation failed; nothing was published:\n"
            + "\n".join(r.to_text() for r in failed)
        )
    version = bump_version(con, "load")
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
