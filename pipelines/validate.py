"""Run a table's Great Expectations suite and turn the result into a readable report.

Suites live in expectations/ as GX 1.x JSON. Values that come from configuration or from
"today" (allowed categories, borough names, the latest possible month) are suite parameters
(``{"$PARAMETER": name}``) filled in here, so each fact has one home. Great Expectations is
imported lazily: it is slow to import and never needed on the app's page path.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd

logger = logging.getLogger(__name__)
EXAMPLES = 5


@dataclass
class Failure:
    """One failed expectation, with example rows in the file's own terms."""

    expectation: str
    column: str
    explanation: str
    unexpected_count: int
    examples: list[dict[str, Any]] = field(default_factory=list)

    def sentence(self, file: str) -> str:
        where = ", ".join(
            f"line {e['line']} column {e['column']!r} value {e['value']!r}"
            if e.get("line") is not None
            else f"{e['column']}={e['value']!r}"
            for e in self.examples
        )
        return (
            f"{file}: {self.explanation} ({self.expectation} on {self.column!r}) failed for "
            f"{self.unexpected_count:,} row(s); e.g. {where}"
        )


@dataclass
class ValidationReport:
    """What a suite found in one table."""

    suite: str
    file: str
    rows: int
    evaluated: int
    failures: list[Failure]

    @property
    def success(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "success": self.success}

    def to_text(self) -> str:
        head = (
            f"Suite {self.suite} on {self.file}: {self.rows:,} rows, "
            f"{self.evaluated} expectations, {len(self.failures)} failed."
        )
        return "\n".join([head, *(f"- {f.sentence(self.file)}" for f in self.failures)])


def suite_path(expectations_dir: Path, name: str) -> Path:
    return expectations_dir / f"{name}.json"


def load_suite(expectations_dir: Path, name: str) -> dict[str, Any]:
    """Read a suite's JSON."""
    with suite_path(expectations_dir, name).open(encoding="utf-8") as f:
        return json.load(f)


@cache
def gx_context() -> Any:
    """An ephemeral GX context with a pandas datasource, made once per process."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = context.data_sources.add_pandas("frames").add_dataframe_asset("frame")
    asset.add_batch_definition_whole_dataframe("whole")
    return context


@cache
def validation_definition(expectations_dir: Path, name: str) -> Any:
    """The suite registered with the context, ready to run on any frame."""
    import great_expectations as gx

    context = gx_context()
    suite = context.suites.add(gx.ExpectationSuite(**load_suite(expectations_dir, name)))
    batch = context.data_sources.get("frames").get_asset("frame").get_batch_definition("whole")
    return context.validation_definitions.add(
        gx.ValidationDefinition(name=f"validate_{name}", data=batch, suite=suite)
    )


def month_key(day: dt.date) -> int:
    return day.year * 100 + day.month


def examples_for(
    frame: pd.DataFrame, index: list[Any], column: str, columns: dict[str, str]
) -> list[dict[str, Any]]:
    """Example rows for a failure: file line, published column and value."""
    out = []
    for idx in index[:EXAMPLES]:
        row = frame.loc[idx]
        value = row[column] if column in frame.columns else None
        if "source_line" in frame.columns:
            published = (
                row["source_column"]
                if "source_column" in frame.columns and column in ("offences", "month_key")
                else columns.get(column, column)
            )
            out.append({"line": int(row["source_line"]), "column": published, "value": value})
        else:
            out.append({"line": None, "column": column, "value": value})
    return out


def jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if pd.isna(value) if not isinstance(value, list | tuple) else False:
        return None
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def validate_frame(
    frame: pd.DataFrame,
    suite: str,
    *,
    expectations_dir: Path,
    parameters: dict[str, Any],
    file: str,
    columns: dict[str, str] | None = None,
) -> ValidationReport:
    """Validate a frame with a suite and report failures naming rows and columns."""
    columns = columns or {}
    definition = validation_definition(expectations_dir, suite)
    frame = frame.reset_index(drop=True)
    result = definition.run(
        batch_parameters={"dataframe": frame},
        expectation_parameters=parameters,
        result_format="COMPLETE",
    )
    failures = []
    for res in result.results:
        if res.success:
            continue
        config = res.expectation_config
        kwargs = config.kwargs
        column = kwargs.get("column") or ",".join(kwargs.get("column_list", []))
        explanation = (config.meta or {}).get("explanation", config.type)
        info = res.exception_info or {}
        if info.get("raised_exception"):
            failures.append(
                Failure(config.type, column, f"{explanation}: {info.get('exception_message')}", 0)
            )
            continue
        index = res.result.get("unexpected_index_list") or []
        first_column = kwargs.get("column") or (kwargs.get("column_list") or [column])[0]
        examples = [
            {k: jsonable(v) for k, v in e.items()}
            for e in examples_for(frame, index, first_column, columns)
        ]
        if "unexpected_count" in res.result:
            count = int(res.result["unexpected_count"])
        else:  # a table-level expectation: report what was observed instead of rows
            count = 1
            explanation = f"{explanation}; observed {res.result.get('observed_value')!r}"
        failures.append(Failure(config.type, column, explanation, count, examples))
    report = ValidationReport(suite, file, len(frame), len(result.results), failures)
    logger.info("suite %s on %s: %d rows, %d failed", suite, file, len(frame), len(failures))
    return report
