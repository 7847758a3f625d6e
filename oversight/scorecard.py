"""The plan scorecard: every measure's headline figure for one plan and geography.

Reads ``marts.measure_values`` when it was built from the current configuration and no
``as_at`` is asked for; otherwise computes the values from the marts with the same functions
(so ``--as-at`` cuts periods at that month on the data as now published; it does not travel
back to older vintages).
"""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from oversight import measures
from oversight import plan as plan_mod
from oversight.exports import csv_text

SHOWN = (
    "priority_title", "measure_label", "status", "window", "period_end", "value", "lower",
    "upper", "comparison_value", "change", "change_lower", "change_upper", "p_value",
    "rate_per_1000", "target_value", "target_status", "sentence",
)  # fmt: skip


def stored_hash(con: duckdb.DuckDBPyConnection) -> str | None:
    """The configuration hash marts.measure_values was built with (None if absent)."""
    if not measures.table_exists(con, "measure_values"):
        return None
    rows = con.execute("select any_value(config_hash) from marts.measure_values").fetchall()
    return rows[0][0]


def stale(con: duckdb.DuckDBPyConnection, root: Path | None = None) -> bool:
    """True when marts.measure_values was built from a configuration other than today's."""
    built = stored_hash(con)
    return built is not None and built != measures.config_hash(root)


def values_for(
    con: duckdb.DuckDBPyConnection,
    plan_id: str,
    geography: str = measures.LONDON,
    as_at: date | None = None,
    root: Path | None = None,
) -> pd.DataFrame:
    """All windows of every measure of a plan for one geography."""
    plan = plan_mod.load_plan(plan_id, root)
    if as_at is None and stored_hash(con) == measures.config_hash(root):
        return con.execute(
            "select * from marts.measure_values where plan_id = ? and geography_code = ?",
            [plan_id, geography],
        ).df()
    # Every geography is computed: a borough's funnel position depends on all the others.
    values = measures.compute_plan(con, plan, as_at=as_at, root=root)
    return values[values["geography_code"] == geography].reset_index(drop=True)


def scorecard(
    con: duckdb.DuckDBPyConnection,
    plan_id: str,
    geography: str = measures.LONDON,
    as_at: date | None = None,
    root: Path | None = None,
) -> pd.DataFrame:
    """One headline row per measure, in plan order."""
    values = values_for(con, plan_id, geography, as_at, root)
    window = measures.load_statistics(root).headline_window
    head = measures.headline(values, window)
    plan = plan_mod.load_plan(plan_id, root)
    order = [m.id for p in plan.priorities for m in p.measures]
    head = head.set_index("measure_id").reindex(order).reset_index()
    # A measure published for London only has no row for a borough: say so.
    for index in head.index[head["status"].isna()]:
        measure_id = head.at[index, "measure_id"]
        measure, priority = next(
            (m, p) for p in plan.priorities for m in p.measures if m.id == measure_id
        )
        head.loc[index, ["measure_label", "unit", "direction", "status"]] = [
            measure.label,
            measure.unit,
            measure.direction,
            "no data",
        ]
        head.loc[index, ["priority_id", "priority_title", "window"]] = [
            priority.id,
            priority.title,
            window,
        ]
        head.at[index, "proxy"] = measure.proxy
        head.at[index, "geography_code"] = geography
        head.at[index, "sentence"] = f"{measure.label}: published for London as a whole only."
    return head


def _clean(value: Any) -> Any:
    if value is None or (not isinstance(value, list | tuple | dict) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp | date):
        return f"{value:%Y-%m-%d}"
    if hasattr(value, "item"):
        return _clean(value.item())
    return value


def shown_status(status: str, value: Any) -> str:
    """The status a page shows: a stored "no data" with a value is "no comparison" (the figure
    is there, the period it would be compared with is not)."""
    if status == "no data" and value is not None and pd.notna(value):
        return "no comparison"
    return status


# What the pages and the briefing count, in order: a stored status, or several under one name.
STATUS_GROUPS = {
    "deteriorating": ("deteriorating",),
    "improving": ("improving",),
    "no significant change": ("no significant change",),
    "context": ("context",),
    "not compared": ("not comparable", "no comparison"),
    "no data": ("no data",),
}


def status_counts(card: pd.DataFrame) -> dict[str, int]:
    """How many measures of a scorecard fall in each of STATUS_GROUPS (each counted once)."""
    shown = [shown_status(s, v) for s, v in zip(card["status"], card["value"], strict=True)]
    return {name: sum(shown.count(s) for s in group) for name, group in STATUS_GROUPS.items()}


def period_text(row: pd.Series) -> str:
    """'12 months to Dec 2025', 'month of Dec 2025', '–': the period a figure covers."""
    end = row.get("period_end")
    if end is None or pd.isna(end):
        return "–"
    label = {"r12": "12 months to", "month": "month of", "fy": "year to"}.get(
        row.get("window"), "to"
    )
    return f"{label} {pd.Timestamp(end):%b %Y}"


def is_whole_percent(value: Any) -> bool:
    """True for a proportion that is a whole number of percent (as the PAS publishes them)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    return abs(value * 100 - round(value * 100)) < 1e-6


def fmt_value(value: Any, unit: str) -> str:
    """A value for a table cell: proportions as % (no decimals on a whole percent), counts
    with separators."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if unit != "proportion":
        return f"{value:,.0f}"
    return f"{value:.0%}" if is_whole_percent(value) else f"{value:.1%}"


def fmt_change(row: pd.Series) -> str:
    """The change with its CI: % for counts, points for proportions."""
    change = row.get("change")
    if change is None or (isinstance(change, float) and math.isnan(change)):
        return "–"
    if row["unit"] == "proportion":
        # A difference of two whole percents is a whole number of points; the interval comes
        # from the assumed bases and keeps one decimal.
        whole = is_whole_percent(row.get("value")) and is_whole_percent(
            row.get("comparison_value")
        )
        return (
            f"{change * 100:+.{0 if whole else 1}f} pts ({row['change_lower'] * 100:+.1f} to "
            f"{row['change_upper'] * 100:+.1f})"
        )
    if row.get("small_count") is True:
        return "too few for %"
    if row.get("window") == "month":
        return f"{change:+.1%} vs mean"
    return f"{change:+.1%} ({row['change_lower']:+.1%} to {row['change_upper']:+.1%})"


def render(frame: pd.DataFrame, fmt: str) -> str:
    """The scorecard as a text table, JSON or CSV."""
    if fmt == "json":
        records = [
            {k: _clean(v) for k, v in row.items()} for row in frame.to_dict(orient="records")
        ]
        return json.dumps(records, indent=2)
    if fmt == "csv":
        return csv_text(frame)
    lines = []
    for title, group in frame.groupby("priority_title", sort=False):
        lines.append(f"\n{title}")
        for _, row in group.iterrows():
            period = _clean(row["period_end"]) or ""
            lines.append(
                f"  {row['measure_label'][:44]:<44} {row['status']:<22} "
                f"{fmt_value(row['value'], row['unit']):>10}  {row['window']:<7} {period[:7]:<7} "
                f"{fmt_change(row)}"
            )
            lines.append(f"      {row['sentence']}")
    return "\n".join(lines).lstrip("\n") + "\n"


# --- command line -----------------------------------------------------------------------------


class UsageError(ValueError):
    """A command-line argument the scorecard cannot use."""


def parse_month(text: str | None) -> date | None:
    """``YYYY-MM`` to the first of that month."""
    if text is None:
        return None
    try:
        year, month = (int(part) for part in text.split("-"))
        return date(year, month, 1)
    except ValueError as exc:
        raise UsageError(f"--as-at must be a month as YYYY-MM, got {text!r}") from exc


def add_arguments(parser: Any) -> None:
    """The ``scorecard`` subcommand's options."""
    parser.add_argument("--plan", default=None, help="plan id (default: the newest plan)")
    parser.add_argument("--borough", default=measures.LONDON, help="GSS code; default MPS")
    parser.add_argument("--as-at", dest="as_at", help="cut periods at this month (YYYY-MM)")
    parser.add_argument("--format", choices=("table", "json", "csv"), default="table")


def run_cli(args: Any, warehouse: Path, root: Path | None = None) -> str:
    """Run ``python -m oversight scorecard``; raises UsageError for bad arguments."""
    from oversight.warehouse import connect

    plans = plan_mod.list_plans(root)
    plan_id = args.plan or plans[-1]
    if plan_id not in plans:
        raise UsageError(f"unknown plan {plan_id!r}; plans: {', '.join(plans)}")
    as_at = parse_month(args.as_at)
    names = measures.make_context(plan_mod.load_plan(plan_id, root)).names
    if args.borough not in names:
        raise UsageError(
            f"unknown borough {args.borough!r}: give MPS or one of the 32 GSS codes E09..."
        )
    with connect(warehouse) as con:
        if stale(con, root):
            print(
                "note: marts.measure_values was built from older configuration; computing "
                "from the marts instead",
                file=__import__("sys").stderr,
            )
        frame = scorecard(con, plan_id, args.borough, as_at, root)
    return render(frame, args.format)


# --- what the pages read ----------------------------------------------------------------------


def plan_ids() -> tuple[str, ...]:
    """Plans in config/plans, oldest first."""
    return plan_mod.list_plans()


def plan_title(plan_id: str) -> str:
    return plan_mod.load_plan(plan_id).title


def geography_names() -> dict[str, str]:
    """MPS first, then the 32 boroughs by name."""
    names = measures.make_context(plan_mod.load_plan(plan_ids()[-1])).names
    boroughs = sorted((n, c) for c, n in names.items() if c != measures.LONDON)
    return {measures.LONDON: measures.LONDON_NAME, **{c: n for n, c in boroughs}}


def latest_month(con: duckdb.DuckDBPyConnection) -> date | None:
    """The newest month any plan measure has a value for (the default as-at)."""
    if not measures.table_exists(con, "measure_values"):
        return None
    found = con.execute(
        "select max(period_end) from marts.measure_values where value is not null"
    ).fetchall()[0][0]
    return found


def card_for(
    con: duckdb.DuckDBPyConnection, plan_id: str, geography: str, as_at: date | None
) -> pd.DataFrame:
    """The scorecard with a trend (last 36 points) per measure, for the page."""
    card = scorecard(con, plan_id, geography, as_at)
    plan = plan_mod.load_plan(plan_id)
    by_id = {m.id: m for p in plan.priorities for m in p.measures}
    trends = []
    for measure_id in card["measure_id"]:
        measure = by_id[measure_id]
        if not measures.table_exists(con, measure.source.mart):
            trends.append([])
            continue
        series = measures.read_series(con, measure)
        series = series[series["geography_code"] == geography]
        if as_at is not None:
            series = series[series["month"] <= pd.Timestamp(as_at)]
        trends.append([float(v) for v in series["value"].tail(36)])
    return card.assign(trend=trends)


def series_for(
    con: duckdb.DuckDBPyConnection, plan_id: str, measure_id: str, geographies: tuple[str, ...]
) -> pd.DataFrame:
    """A measure's series for some geographies (month, geography_code, value)."""
    plan = plan_mod.load_plan(plan_id)
    measure = next(m for p in plan.priorities for m in p.measures if m.id == measure_id)
    if not measures.table_exists(con, measure.source.mart):
        return pd.DataFrame(columns=["geography_code", "month", "value"])
    series = measures.read_series(con, measure)
    return series[series["geography_code"].isin(geographies)][
        ["geography_code", "month", "value"]
    ].reset_index(drop=True)


def profile(
    con: duckdb.DuckDBPyConnection, plan_id: str, borough: str, as_at: date | None
) -> pd.DataFrame:
    """One borough against London on every measure of a plan (headline windows)."""
    mine = scorecard(con, plan_id, borough, as_at)
    # Rates and funnels compare one 12-month window across places, so they stand even when a
    # series break stops the comparison over time.
    cross = ["rate_per_1000", "population", "population_year", "funnel_z", "funnel_outside"]
    r12 = values_for(con, plan_id, borough, as_at)
    r12 = r12[r12["window"] == "r12"].set_index("measure_id")[cross]
    mine = mine.drop(columns=cross).join(r12, on="measure_id")
    london = values_for(con, plan_id, measures.LONDON, as_at)
    london_rates = london[london["window"] == "r12"].set_index("measure_id")["rate_per_1000"]
    keep = ["measure_id", "window", "value", "rate_per_1000", "status", "sentence"]
    renamed = london[keep].rename(
        columns=lambda c: c if c in ("measure_id", "window") else f"london_{c}"
    )
    out = mine.merge(
        renamed.drop(columns="london_rate_per_1000"), on=["measure_id", "window"], how="left"
    )
    return out.assign(london_rate_per_1000=out["measure_id"].map(london_rates))


def dispersion_summary(con: duckdb.DuckDBPyConnection, plan_id: str) -> pd.DataFrame:
    """Per count measure, the estimated noise behind its 12-month comparison (methods page).

    London's quasi-Poisson phi, its between-year tau² and the resulting variance as a multiple
    of Poisson, and the boroughs' median of each: the dispersion the judgements allow for.
    """
    plan = plan_mod.load_plan(plan_id)
    frame = measures.compute_plan(con, plan, windows=("r12",))
    frame = frame[frame["phi"].notna()]
    if frame.empty:
        return pd.DataFrame(columns=["Measure", "Area", "phi", "tau²", "times Poisson"])
    frame = frame.assign(
        Area=np.where(frame["geography_code"].eq(measures.LONDON), "London", "Boroughs (median)")
    )
    out = (
        frame.groupby(["measure_label", "Area"], sort=False)[["phi", "tau2", "dispersion"]]
        .median()
        .reset_index()
    )
    out.columns = ["Measure", "Area", "phi", "tau²", "times Poisson"]
    return out.round({"phi": 1, "tau²": 4, "times Poisson": 1})
