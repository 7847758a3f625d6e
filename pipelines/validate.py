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
import re
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
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
    """Example rows for a failure: file line, published column and value.

    ``frame`` holds the rows under their row numbers (its index), ``index`` the failing ones.
    """
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
    frame = numbered(frame)
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


def numbered(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with rows numbered 0..n-1 (its own index when it already is; no copy)."""
    index = frame.index
    if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1:
        return frame
    return frame.reset_index(drop=True)


# --- The same suites as DuckDB SQL ---------------------------------------------------------
#
# A suite's JSON stays the one statement of what is checked. For speed, each expectation is
# compiled to SQL that finds its unexpected rows exactly as Great Expectations' pandas engine
# defines them (nulls and NaN are skipped by value checks; a row condition is pandas' query;
# uniqueness counts every copy), and all of a table's row checks run in one scan. The report
# is the same: expectation, column, explanation, count of unexpected rows and the first five
# of them in row order. Anything the compiler cannot express exactly (an odd column type, a
# row condition beyond ``column ==/!= value``) is validated by Great Expectations instead.

ROW = "__row"
NUMERIC = {
    "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
    "UINTEGER", "UBIGINT", "UHUGEINT", "FLOAT", "DOUBLE",
}  # fmt: skip
FLOATING = {"FLOAT", "DOUBLE"}
CONDITION = re.compile(
    r"""^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(==|!=)\s*"""
    r"""("[^"\\]*"|'[^'\\]*'|True|False|-?[0-9]+(?:\.[0-9]+)?)\s*$"""
)


class NotExpressible(Exception):
    """An expectation the SQL checks cannot run exactly as Great Expectations would."""


@dataclass(frozen=True)
class Check:
    """One expectation compiled to SQL over a relation with a row number column."""

    expectation: str
    column: str
    explanation: str
    kind: str  # rows | unique | values | columns | missing
    unexpected: str = "false"  # rows: an unexpected row; values: the rows checked
    domain: str = "true"  # unique: the rows compared
    columns: tuple[str, ...] = ()
    accepts: Any = None  # values: test of one distinct published value
    passed: bool = True  # columns: whether the table's columns match
    observed: Any = None


def ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(value: Any) -> str:
    """A constant from a suite or its parameters as SQL."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float) and np.isfinite(value):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    raise NotExpressible(f"constant {value!r}")


def type_class(duck_type: str) -> str:
    """numeric, text, boolean or other."""
    if duck_type in NUMERIC or duck_type.startswith("DECIMAL"):
        return "numeric"
    if duck_type == "VARCHAR":
        return "text"
    if duck_type == "BOOLEAN":
        return "boolean"
    return "other"


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def present(column: str, duck_type: str) -> str:
    """SQL: the value is there (pandas' notna: neither NULL nor a floating NaN)."""
    c = ident(column)
    return f"({c} is not null and not isnan({c}))" if duck_type in FLOATING else f"{c} is not null"


def resolve(value: Any, parameters: dict[str, Any]) -> Any:
    if isinstance(value, dict) and "$PARAMETER" in value:
        return parameters[value["$PARAMETER"]]
    return value


def condition_sql(text: str, types: dict[str, str]) -> str:
    """A pandas ``row_condition`` of the form ``column == value`` or ``!=`` as SQL.

    pandas compares a missing value as unequal to anything, so ``!=`` keeps missing rows
    (``is distinct from``) and ``==`` drops them.
    """
    match = CONDITION.match(text)
    if not match or match.group(1) not in types:
        raise NotExpressible(f"row condition {text!r}")
    column, op, raw = match.groups()
    if raw[0] in "\"'":
        value: Any = raw[1:-1]
    elif raw in ("True", "False"):
        value = raw == "True"
    else:
        value = float(raw) if "." in raw else int(raw)
    kind = type_class(types[column])
    fits = (
        (kind == "text" and isinstance(value, str))
        or (kind == "boolean" and isinstance(value, bool))
        or (kind == "numeric" and is_number(value))
    )
    if not fits:
        raise NotExpressible(f"row condition {text!r} on a {types[column]} column")
    same = "is not distinct from" if op == "==" else "is distinct from"
    return f"({ident(column)} {same} {literal(value)})"


def python_dollar(pattern: str) -> str:
    """A regex whose ``$`` means what Python's does (end, or before a final newline) in RE2."""
    out, in_class, escaped = [], False, False
    for char in pattern:
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            out.append(char)
            escaped = True
        elif in_class:
            out.append(char)
            in_class = char != "]"
        elif char == "[":
            out.append(char)
            in_class = True
        elif char == "$":
            out.append("\\n?$")
        else:
            out.append(char)
    return "".join(out)


@cache
def re2_accepts(regex: str) -> bool:
    """Whether DuckDB's regular expressions (RE2) take this pattern."""
    try:
        duckdb.connect().execute("select regexp_matches('', ?)", [regex]).fetchall()
    except duckdb.Error:
        return False
    return True


def compile_check(
    expectation: dict[str, Any], types: dict[str, str], parameters: dict[str, Any]
) -> Check:
    """One suite entry as a :class:`Check` on a relation with these column types."""
    kind, kwargs = expectation["type"], expectation["kwargs"]
    column = kwargs.get("column") or ",".join(kwargs.get("column_list", []))
    base = {
        "expectation": kind,
        "column": column,
        "explanation": (expectation.get("meta") or {}).get("explanation", kind),
    }
    unknown = set(kwargs) - {
        "column", "column_list", "column_set", "exact_match", "value_set", "min_value",
        "max_value", "strict_min", "strict_max", "regex", "strftime_format", "row_condition",
        "condition_parser",
    }  # fmt: skip
    if unknown:
        raise NotExpressible(f"{kind} with {sorted(unknown)}")
    if kind == "expect_table_columns_to_match_set":
        wanted = set(resolve(kwargs["column_set"], parameters))
        have = set(types)
        exact = kwargs.get("exact_match", True)
        passed = have == wanted if exact else wanted <= have
        return Check(**base, kind="columns", passed=passed, observed=sorted(have))
    targets = kwargs.get("column_list") or [kwargs["column"]]
    if any(t not in types for t in targets):
        return Check(**base, kind="missing")
    domain = "true"
    if kwargs.get("row_condition"):
        if kwargs.get("condition_parser") != "pandas":
            raise NotExpressible("a row condition not in pandas syntax")
        domain = condition_sql(kwargs["row_condition"], types)
    if kind == "expect_compound_columns_to_be_unique":
        all_missing = " and ".join(f"not {present(t, types[t])}" for t in targets)
        return Check(
            **base,
            kind="unique",
            domain=f"{domain} and not ({all_missing})",
            columns=tuple(targets),
        )
    name = kwargs["column"]
    c, duck_type = ident(name), types[name]
    there = present(name, duck_type)
    checked = f"{domain} and {there}"
    if duck_type == '"NULL"':  # every value missing: only "not null" has anything to find
        missing = kind == "expect_column_values_to_not_be_null"
        return Check(**base, kind="rows", unexpected=domain if missing else "false")
    if kind == "expect_column_values_to_not_be_null":
        return Check(**base, kind="rows", unexpected=f"{domain} and not {there}")
    if kind == "expect_column_values_to_be_null":
        return Check(**base, kind="rows", unexpected=checked)
    if kind == "expect_column_values_to_be_unique":
        return Check(**base, kind="unique", domain=checked, columns=(name,))
    if kind == "expect_column_values_to_be_in_set":
        return Check(
            **base, kind="rows", unexpected=in_set_sql(c, duck_type, checked, kwargs, parameters)
        )
    if kind in ("expect_column_values_to_be_between", "expect_column_value_lengths_to_be_between"):
        lengths = kind == "expect_column_value_lengths_to_be_between"
        if type_class(duck_type) != ("text" if lengths else "numeric"):
            raise NotExpressible(f"{kind} on a {duck_type} column")
        value = f"length({c})" if lengths else c
        bounds = between_sql(value, kwargs, parameters)
        return Check(**base, kind="rows", unexpected=f"{checked} and not ({bounds})")
    if kind == "expect_column_values_to_match_regex":
        if type_class(duck_type) != "text":
            raise NotExpressible(f"{kind} on a {duck_type} column")
        regex = python_dollar(resolve(kwargs["regex"], parameters))
        if not re2_accepts(regex):
            raise NotExpressible(f"regex {regex!r} is not RE2 syntax")
        pattern = literal(regex)
        return Check(
            **base, kind="rows", unexpected=f"{checked} and not regexp_matches({c}, {pattern})"
        )
    if kind == "expect_column_values_to_match_strftime_format":
        if type_class(duck_type) != "text":
            raise NotExpressible(f"{kind} on a {duck_type} column")
        fmt = resolve(kwargs["strftime_format"], parameters)
        return Check(**base, kind="values", unexpected=checked, accepts=strftime_test(fmt))
    raise NotExpressible(kind)


def in_set_sql(
    c: str, duck_type: str, checked: str, kwargs: dict[str, Any], parameters: dict[str, Any]
) -> str:
    """SQL for an unexpected row of ``expect_column_values_to_be_in_set``.

    Like pandas' ``isin``, a number never equals text and text never equals a number.
    """
    values = list(resolve(kwargs["value_set"], parameters))
    kind = type_class(duck_type)
    if any(isinstance(v, bool) for v in values) and kind != "boolean":
        raise NotExpressible("a boolean in a value set")
    if kind == "numeric":
        keep = [v for v in values if is_number(v)]
    elif kind == "text":
        keep = [v for v in values if isinstance(v, str)]
    elif kind == "boolean" and all(isinstance(v, bool) for v in values):
        keep = values
    else:
        raise NotExpressible(f"a value set on a {duck_type} column")
    if not keep:
        return checked
    return f"{checked} and {c} not in ({', '.join(literal(v) for v in sorted(set(keep)))})"


def between_sql(value: str, kwargs: dict[str, Any], parameters: dict[str, Any]) -> str:
    low = resolve(kwargs.get("min_value"), parameters)
    high = resolve(kwargs.get("max_value"), parameters)
    if (low is None and high is None) or not all(
        is_number(b) for b in (low, high) if b is not None
    ):
        raise NotExpressible("bounds that are not numbers")
    parts = []
    if low is not None:
        parts.append(f"{value} {'>' if kwargs.get('strict_min') else '>='} {literal(low)}")
    if high is not None:
        parts.append(f"{value} {'<' if kwargs.get('strict_max') else '<='} {literal(high)}")
    return " and ".join(parts)


def strftime_test(fmt: str) -> Any:
    def accepts(value: str) -> bool:
        try:
            dt.datetime.strptime(value, fmt)
        except ValueError:
            return False
        return True

    return accepts


def resolved_suite(suite: dict[str, Any], parameters: dict[str, Any]) -> list[dict[str, Any]]:
    """A suite's expectations with their parameters filled in: what a validation checked."""
    return [
        {
            "type": e["type"],
            "kwargs": {k: resolve(v, parameters) for k, v in e["kwargs"].items()},
        }
        for e in suite["expectations"]
    ]


def covers(now: list[dict[str, Any]], before: list[dict[str, Any]]) -> bool:
    """Whether rows that passed ``before`` (a :func:`resolved_suite`) pass ``now`` too.

    True when the expectations are the same but for bounds that widened and value sets that
    grew (e.g. "no month after this month", checked again a month later).
    """
    if len(now) != len(before):
        return False
    for new, old in zip(now, before, strict=True):
        if new["type"] != old["type"]:
            return False
        a, b = new["kwargs"], old["kwargs"]
        for key in a.keys() | b.keys():
            if a.get(key) == b.get(key):
                continue
            if key == "value_set" and isinstance(a.get(key), list):
                if not set(map(repr, b.get(key) or [])) <= set(map(repr, a[key])):
                    return False
            elif key == "min_value":
                if a.get(key) is not None and not (
                    is_number(a[key]) and is_number(b.get(key)) and a[key] <= b[key]
                ):
                    return False
            elif key == "max_value":
                if a.get(key) is not None and not (
                    is_number(a[key]) and is_number(b.get(key)) and a[key] >= b[key]
                ):
                    return False
            else:
                return False
    return True


def compile_suite(
    suite: str, expectations_dir: Path, types: dict[str, str], parameters: dict[str, Any]
) -> list[Check]:
    """Every expectation of a suite as SQL checks; NotExpressible if any cannot be."""
    spec = load_suite(expectations_dir, suite)
    return [compile_check(e, types, parameters) for e in spec["expectations"]]


def relation_types(con: Any, relation: str) -> dict[str, str]:
    """Column name to DuckDB type of a relation, without its row number."""
    rel = con.sql(f"select * from {relation} limit 0")
    return {n: str(t) for n, t in zip(rel.columns, rel.types, strict=True) if n != ROW}


def run_checks(con: Any, relation: str, checks: list[Check]) -> tuple[int, list[tuple]]:
    """Row count and (check, unexpected count, first row numbers) of every failing check."""
    row_checks = [c for c in checks if c.kind == "rows"]
    counts = ", ".join(f"count(*) filter (where {c.unexpected})" for c in row_checks)
    totals = con.execute(f"select count(*){', ' + counts if counts else ''} from {relation}")
    first, *unexpected = totals.fetchall()[0]
    found = dict(zip(map(id, row_checks), unexpected, strict=True))
    failing = []
    for check in checks:
        if check.kind == "columns":
            if not check.passed:
                failing.append((check, 1, []))
            continue
        if check.kind == "missing":
            failing.append((check, 1, []))
            continue
        if check.kind == "rows":
            count, where = found[id(check)], check.unexpected
        elif check.kind == "unique":
            count, where = duplicate_rows(con, relation, check)
        else:
            count, where = rejected_values(con, relation, check)
        if count:
            rows = con.execute(
                f"select {ROW} from {relation} r where {where} order by {ROW} limit {EXAMPLES}"
            ).fetchall()
            failing.append((check, int(count), [r[0] for r in rows]))
    return int(first), failing


def duplicate_rows(con: Any, relation: str, check: Check) -> tuple[int, str]:
    """How many compared rows share their key with another (every copy counts)."""
    keys = ", ".join(ident(c) for c in check.columns)
    groups = f"select {keys} from {relation} where {check.domain} group by all having count(*) > 1"
    count = con.execute(
        f"select coalesce(sum(n), 0) from (select count(*) as n from {relation} "
        f"where {check.domain} group by {keys} having count(*) > 1)"
    ).fetchall()[0][0]
    if not count:
        return 0, "false"
    match = " and ".join(f"d.{ident(c)} is not distinct from r.{ident(c)}" for c in check.columns)
    return count, f"{check.domain} and exists (select 1 from ({groups}) d where {match})"


def rejected_values(con: Any, relation: str, check: Check) -> tuple[int, str]:
    """Rows whose value fails a Python test (run once per distinct value)."""
    column = ident(check.column)
    values = [
        r[0]
        for r in con.execute(
            f"select distinct {column} from {relation} where {check.unexpected}"
        ).fetchall()
    ]
    bad = [v for v in values if not check.accepts(v)]
    if not bad:
        return 0, "false"
    where = f"{check.unexpected} and {column} in ({', '.join(literal(v) for v in bad)})"
    count = con.execute(f"select count(*) from {relation} where {where}").fetchall()[0][0]
    return count, where


def report_of(
    suite: str,
    file: str,
    rows: int,
    checks: list[Check],
    failing: list[tuple],
    example_rows: Any,
    columns: dict[str, str],
) -> ValidationReport:
    """The report Great Expectations' results would give, from the SQL checks' findings."""
    failures = []
    for check, count, index in failing:
        explanation = check.explanation
        if check.kind == "columns":
            explanation = f"{explanation}; observed {check.observed!r}"
        elif check.kind == "missing":
            explanation = f"{explanation}; observed None"
        examples = []
        if index:
            first_column = check.column.split(",")[0]
            examples = [
                {k: jsonable(v) for k, v in e.items()}
                for e in examples_for(example_rows(index), index, first_column, columns)
            ]
        failures.append(Failure(check.expectation, check.column, explanation, count, examples))
    report = ValidationReport(suite, file, rows, len(checks), failures)
    logger.info("suite %s on %s: %d rows, %d failed", suite, file, rows, len(failures))
    return report


def check_frame(
    frame: pd.DataFrame,
    suite: str,
    *,
    expectations_dir: Path,
    parameters: dict[str, Any],
    file: str,
    columns: dict[str, str] | None = None,
) -> ValidationReport:
    """:func:`validate_frame`'s report, from the suite run as SQL over the frame in place.

    DuckDB scans the frame where it is (no copy). A suite the SQL checks cannot express
    exactly for this frame is run by Great Expectations instead.
    """
    columns = columns or {}
    frame = numbered(frame)
    con = duckdb.connect()
    try:
        con.register("frame_rows", frame.assign(**{ROW: np.arange(len(frame))}))
        try:
            checks = compile_suite(
                suite, expectations_dir, relation_types(con, "frame_rows"), parameters
            )
        except NotExpressible as exc:
            logger.info("suite %s on %s: run by Great Expectations (%s)", suite, file, exc)
            return validate_frame(
                frame,
                suite,
                expectations_dir=expectations_dir,
                parameters=parameters,
                file=file,
                columns=columns,
            )
        rows, failing = run_checks(con, "frame_rows", checks)
    finally:
        con.close()
    return report_of(suite, file, rows, checks, failing, lambda index: frame, columns)


def check_table(
    con: Any,
    table: str,
    suite: str,
    *,
    expectations_dir: Path,
    parameters: dict[str, Any],
    file: str,
    extra: str = "",
    where: str = "",
) -> ValidationReport:
    """:func:`validate_frame`'s report for a table on ``con`` (``extra``: derived columns).

    The rows never leave DuckDB; only the five example rows of a failure are fetched, by
    ``rowid`` (the order the table's rows are read in). ``where`` limits the rows checked
    (e.g. to those a load added). A suite the SQL checks cannot express is run by Great
    Expectations on the same rows.
    """
    select = f"select *{extra} from {table} {where}"
    relation = f"(select *{extra}, rowid as {ROW} from {table} {where})"
    try:
        checks = compile_suite(suite, expectations_dir, relation_types(con, relation), parameters)
    except NotExpressible as exc:
        logger.info("suite %s on %s: run by Great Expectations (%s)", suite, file, exc)
        return validate_frame(
            con.sql(select).df(),
            suite,
            expectations_dir=expectations_dir,
            parameters=parameters,
            file=file,
        )
    rows, failing = run_checks(con, relation, checks)

    def example_rows(index: list[int]) -> pd.DataFrame:
        listed = ", ".join(str(int(i)) for i in index)
        found = con.execute(f"select * from {relation} where {ROW} in ({listed})").df()
        return found.set_index(ROW)

    return report_of(suite, file, rows, checks, failing, example_rows, {})
