"""Build ``marts.measure_values``: every plan's measures, judged by ``oversight.measures``.

The pipeline calls the same pure functions the CLI and the pages use, for every plan in
config/plans, every geography and every window, as at the newest data. Each row carries the
hash of the configuration it was computed from, so the app can warn when the configuration
has changed since the warehouse was built.
"""

from __future__ import annotations

import logging

import duckdb
import pandas as pd

from oversight import measures
from oversight import plan as plan_mod
from oversight.settings import Settings

logger = logging.getLogger(__name__)

TYPES = {
    "plan_id": "varchar", "priority_id": "varchar", "priority_title": "varchar",
    "measure_id": "varchar", "measure_label": "varchar", "unit": "varchar",
    "direction": "varchar", "geography_code": "varchar", "geography_name": "varchar",
    "window": "varchar", "period_start": "date", "period_end": "date", "value": "double",
    "numerator": "double", "denominator": "double", "lower": "double", "upper": "double",
    "comparison_start": "date", "comparison_end": "date", "comparison_value": "double",
    "change": "double", "change_lower": "double", "change_upper": "double",
    "p_value": "double", "significant": "boolean", "material": "boolean",
    "small_count": "boolean", "status": "varchar", "reason": "varchar", "sentence": "varchar",
    "rate_per_1000": "double", "population": "bigint", "population_year": "integer",
    "baseline_value": "double", "target_value": "double", "target_status": "varchar",
    "spc_signal": "varchar", "funnel_z": "double", "funnel_outside": "boolean",
    "assumed_base": "integer", "design_effect": "double", "proxy": "boolean",
    "source_mart": "varchar", "vintage": "varchar", "as_at": "date", "config_hash": "varchar",
    "dispersion": "double", "phi": "double", "tau2": "double", "spc_centre": "double",
    "spc_lower": "double", "spc_upper": "double", "seasonal_factor": "double",
    "relative_change": "double", "relative_lower": "double", "relative_upper": "double",
    "relative_p_value": "double", "funnel_note": "varchar",
}  # fmt: skip


def compute_all(con: duckdb.DuckDBPyConnection, settings: Settings) -> pd.DataFrame:
    """Every plan's measure values from the marts as built on ``con``."""
    frames = []
    for plan_id in plan_mod.list_plans(settings.root):
        plan = plan_mod.load_plan(plan_id, settings.root)
        frames.append(measures.compute_plan(con, plan, root=settings.root))
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return frame.reindex(columns=list(measures.COLUMNS))


def build_measure_values(con: duckdb.DuckDBPyConnection, settings: Settings) -> int:
    """(Re)create marts.measure_values on ``con``; returns its row count."""
    frame = compute_all(con, settings)
    for column in ("period_start", "period_end", "comparison_start", "comparison_end", "as_at"):
        frame[column] = pd.to_datetime(frame[column])
    casts = ",\n    ".join(f'cast("{c}" as {t}) as "{c}"' for c, t in TYPES.items())
    con.register("measure_values_frame", frame)
    try:
        con.execute(
            f"create or replace table marts.measure_values as\n"
            f"select\n    {casts}\nfrom measure_values_frame"
        )
    finally:
        con.unregister("measure_values_frame")
    logger.info("built marts.measure_values: %s rows", len(frame))
    return len(frame)
