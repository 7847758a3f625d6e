"""Level steps in London's monthly series: the plan measures' own series and the recorded-crime
categories they use, scanned by oversight/steps.py and matched against config/breaks.yaml.

Read functions take ``(con, ...)`` for ``ui.read``; config/steps.yaml says how the scan runs.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import yaml

from oversight import measures, steps
from oversight import plan as plan_mod
from oversight.plan import Break, Measure
from oversight.settings import PROJECT_ROOT

logger = logging.getLogger(__name__)

CRIME_MART = "crime_borough_monthly"
SCANNED_MARTS = (CRIME_MART, "homicide_monthly", "measure_extract", "stop_search")
COLUMNS = (
    "series", "kind", "mart", "first_month", "last_month", "months", "step_month", "ratio",
    "lower", "upper", "p_value", "found", "confirmed_by", "note",
)  # fmt: skip


class StepConfigError(ValueError):
    """config/steps.yaml is not in the expected shape; the message names the key."""


@dataclass(frozen=True)
class StepConfig:
    """config/steps.yaml: the scan's window, the detector's settings and the matching rule."""

    window_months: int
    confirm_within: int
    scheme: str
    settings: steps.StepSettings


@dataclass(frozen=True)
class Series:
    """One London monthly series to scan: what it is and its counts, oldest month first."""

    label: str
    kind: str
    mart: str
    months: tuple[dt.date, ...]
    counts: tuple[float, ...]
    measure_ids: tuple[str, ...] = ()


def load_step_config(root: Path | None = None) -> StepConfig:
    """Read and check config/steps.yaml, naming the key that is wrong."""
    path = (root or PROJECT_ROOT) / "config" / "steps.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    detector = {f.name for f in fields(steps.StepSettings)}
    known = detector | {"window_months", "confirm_within", "scheme"}
    if not isinstance(raw, dict):
        raise StepConfigError(f"{path.name}: expected a mapping")
    unknown, missing = set(raw) - known, known - set(raw)
    if unknown or missing:
        raise StepConfigError(
            f"{path.name}: unknown key(s) {sorted(unknown)}, missing key(s) {sorted(missing)}"
        )
    for key in known - {"scheme", "level", "confidence"}:
        if isinstance(raw[key], bool) or not isinstance(raw[key], int) or raw[key] < 0:
            raise StepConfigError(f"{path.name}: {key} must be a whole number, got {raw[key]!r}")
    for key in ("level", "confidence"):
        if not isinstance(raw[key], float) or not 0 < raw[key] < 1:
            raise StepConfigError(f"{path.name}: {key} must be in (0, 1), got {raw[key]!r}")
    if raw["window_months"] < 2 * raw["min_segment"] + 1:
        raise StepConfigError(f"{path.name}: window_months must exceed twice min_segment")
    return StepConfig(
        window_months=raw["window_months"],
        confirm_within=raw["confirm_within"],
        scheme=str(raw["scheme"]),
        settings=steps.StepSettings(**{k: raw[k] for k in detector}),
    )


# --- the series --------------------------------------------------------------------------


def complete_months(frame: pd.DataFrame) -> tuple[tuple[dt.date, ...], tuple[float, ...]]:
    """Months and counts with every month between the first and last (a missing month is 0)."""
    monthly = frame.groupby(pd.to_datetime(frame["month"]).dt.to_period("M"))["value"].sum()
    if monthly.empty:
        return (), ()
    span = pd.period_range(monthly.index.min(), monthly.index.max(), freq="M")
    monthly = monthly.reindex(span, fill_value=0.0)
    return (
        tuple(p.to_timestamp().date() for p in monthly.index),
        tuple(float(v) for v in monthly.to_numpy()),
    )


def category_filters(plans: list[plan_mod.Plan]) -> set[tuple[str, str]]:
    """The (column, category) pairs the plans' crime measures filter on."""
    pairs = set()
    for plan in plans:
        for measure in plan.measures:
            if measure.source.mart != CRIME_MART:
                continue
            for column, values in measure.source.filter:
                if column in ("major_category", "minor_category"):
                    pairs.update((column, str(v)) for v in values)
    return pairs


def read_categories(
    con: duckdb.DuckDBPyConnection, column: str, scheme: str, wanted: set[str] | None
) -> list[Series]:
    """London's monthly offences per major (or minor) category of one scheme."""
    frame = con.execute(
        f"select {column} as category, month, sum(offences)::double as value "
        f"from marts.{CRIME_MART} where category_scheme = ? group by all order by all",
        [scheme],
    ).df()
    kind = "major category" if column == "major_category" else "minor category"
    out = []
    for category, rows in frame.groupby("category", sort=True):
        if wanted is not None and category not in wanted:
            continue
        months, counts = complete_months(rows)
        out.append(Series(str(category).capitalize(), kind, CRIME_MART, months, counts))
    return out


def read_measure_series(con: duckdb.DuckDBPyConnection, measure: Measure) -> Series | None:
    """A count measure's own London series, or None where its mart holds nothing."""
    if not measures.table_exists(con, measure.source.mart):
        return None
    frame = measures.read_series(con, measure)
    frame = frame[frame["geography_code"] == measures.LONDON]
    months, counts = complete_months(frame)
    if not months:
        return None
    return Series(
        measure.label, "plan measure", measure.source.mart, months, counts, (measure.id,)
    )


def gather_series(
    con: duckdb.DuckDBPyConnection, plans: list[plan_mod.Plan], scheme: str
) -> list[Series]:
    """Every count measure of the plans (once per source), then the crime categories."""
    seen: dict[tuple, Series] = {}
    for plan in plans:
        for measure in plan.measures:
            if measure.unit != "count" or measure.source.mart not in SCANNED_MARTS:
                continue
            key = (measure.source.mart, measure.source.filter)
            if key in seen:
                known = seen[key]
                seen[key] = Series(
                    known.label, known.kind, known.mart, known.months, known.counts,
                    tuple(dict.fromkeys((*known.measure_ids, measure.id))),
                )  # fmt: skip
                continue
            series = read_measure_series(con, measure)
            if series is not None:
                seen[key] = series
    out = list(seen.values())
    if measures.table_exists(con, CRIME_MART):
        minors = {c for col, c in category_filters(plans) if col == "minor_category"}
        categories = read_categories(con, "major_category", scheme, None)
        categories += read_categories(con, "minor_category", scheme, minors)
        out = merge_same(out, categories)
    return out


def merge_same(measured: list[Series], categories: list[Series]) -> list[Series]:
    """Measures first; a category whose series is a measure's own is named on that row."""
    out = list(measured)
    for category in categories:
        twin = next(
            (
                i
                for i, m in enumerate(out)
                if m.kind.startswith("plan measure")
                and (m.months, m.counts) == (category.months, category.counts)
            ),
            None,
        )
        if twin is None:
            out.append(category)
            continue
        known = out[twin]
        kind = f"{known.kind}; {category.kind} {category.label.upper()}"
        out[twin] = Series(
            known.label, kind, known.mart, known.months, known.counts, known.measure_ids
        )
    return out


# --- scanning and matching ----------------------------------------------------------------


def month_text(day: dt.date) -> str:
    return f"{day:%Y-%m}"


def affecting_breaks(series: Series, breaks: tuple[Break, ...]) -> list[Break]:
    """The configured breaks that apply to a series (by its mart or its measures' ids)."""
    return [
        b for b in breaks if series.mart in b.marts or set(series.measure_ids) & set(b.measures)
    ]


def confirming_break(month: dt.date, candidates: list[Break], within: int) -> Break | None:
    """The configured break within ``within`` months of a step, if any."""
    key = steps.month_index(month)
    for item in candidates:
        if abs(steps.month_index(dt.date.fromisoformat(item.date + "-01")) - key) <= within:
            return item
    return None


def scan_series(series: Series, config: StepConfig, breaks: list[Break]) -> list[dict[str, Any]]:
    """One row per step found in the series' last ``window_months`` (or one saying none)."""
    months = series.months[-config.window_months :]
    counts = series.counts[-config.window_months :]
    base = {
        "series": series.label, "kind": series.kind, "mart": series.mart,
        "first_month": month_text(months[0]) if months else None,
        "last_month": month_text(months[-1]) if months else None, "months": len(months),
    }  # fmt: skip
    scan = steps.find_steps(counts, months, config.settings)
    if scan.reason:
        return [{**base, "found": False, "note": f"not scanned: {scan.reason}"}]
    rows = []
    for step in scan.steps:
        match = confirming_break(step.month, breaks, config.confirm_within)
        rows.append(
            {
                **base, "step_month": month_text(step.month), "ratio": step.ratio,
                "lower": step.lower, "upper": step.upper, "p_value": step.p_value,
                "found": True, "confirmed_by": match.id if match else None,
                "note": f"{match.label} ({match.date})" if match else "no configured break",
            }
        )  # fmt: skip
    if not rows and scan.best is not None:
        best = scan.best
        rows.append(
            {
                **base, "step_month": month_text(best.month), "ratio": best.ratio,
                "lower": best.lower, "upper": best.upper, "p_value": best.p_value,
                "found": False, "note": "no step: best candidate shown",
            }
        )  # fmt: skip
    return rows


def scan_all(series: list[Series], config: StepConfig, breaks: tuple[Break, ...]) -> pd.DataFrame:
    """Every series scanned: steps found first (smallest p-value first), then the rest."""
    rows = []
    for item in series:
        rows += scan_series(item, config, affecting_breaks(item, breaks))
    frame = pd.DataFrame(rows, columns=list(COLUMNS))
    frame["found"] = frame["found"].astype(bool)
    order = frame.sort_values(["found", "p_value", "series"], ascending=[False, True, True])
    logger.info("step scan: %d series, %d steps", len(series), int(frame["found"].sum()))
    return order.reset_index(drop=True)


def load_plans(root: Path | None = None) -> list[plan_mod.Plan]:
    """Every configured plan."""
    return [plan_mod.load_plan(p, root) for p in plan_mod.list_plans(root)]


def step_candidates(con: duckdb.DuckDBPyConnection, root: str | None = None) -> pd.DataFrame:
    """Level steps in London's series of every plan's count measures and crime categories."""
    base = Path(root) if root else None
    config = load_step_config(base)
    series = gather_series(con, load_plans(base), config.scheme)
    return scan_all(series, config, plan_mod.load_breaks(base))
