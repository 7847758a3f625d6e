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
import pandas as pd

from oversight import measures
from oversight import plan as plan_mod

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
    return measures.compute_plan(con, plan, as_at=as_at, geographies=[geography], root=root)


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
    return head


def _clean(value: Any) -> Any:
    if value is None or (not isinstance(value, list | tuple | dict) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp | date):
        return f"{value:%Y-%m-%d}"
    if hasattr(value, "item"):
        return _clean(value.item())
    return value


def fmt_value(value: Any, unit: str) -> str:
    """A value for a table cell: proportions as %, counts with separators."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.1%}" if unit == "proportion" else f"{value:,.0f}"


def fmt_change(row: pd.Series) -> str:
    """The change with its CI: % for counts, points for proportions."""
    change = row.get("change")
    if change is None or (isinstance(change, float) and math.isnan(change)):
        return "–"
    if row["unit"] == "proportion":
        return (
            f"{change * 100:+.1f} pts ({row['change_lower'] * 100:+.1f} to "
            f"{row['change_upper'] * 100:+.1f})"
        )
    if row.get("window") == "month":
        return f"{change:+.1%} vs mean"
    if row.get("small_count"):
        return "too few for %"
    return f"{change:+.1%} ({row['change_lower']:+.1%} to {row['change_upper']:+.1%})"


def render(frame: pd.DataFrame, fmt: str) -> str:
    """The scorecard as a text table, JSON or CSV."""
    if fmt == "json":
        records = [
            {k: _clean(v) for k, v in row.items()} for row in frame.to_dict(orient="records")
        ]
        return json.dumps(records, indent=2)
    if fmt == "csv":
        return frame.to_csv(index=False)
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
