"""Plan measures: each measure's series, its comparison windows, significance and status.

The numbers come from the marts named in the plan configuration; everything here after
:func:`read_series` is a pure function of a DataFrame, so the pipeline (which stores the result
as ``marts.measure_values``), the CLI and the pages all judge a change the same way.

A change is called improving or deteriorating only when it is both statistically significant
(exact Poisson test for counts, two-proportion test with a design effect for proportions) and
material (at least the measure's tolerance). Context measures are never judged good or bad.
No comparison crosses a series break; no percentage is quoted on a count below the measure's
small-count threshold.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import yaml
from scipy import stats as sps

from oversight import plan as plan_mod
from oversight import reference, stats
from oversight.plan import Break, Measure, Plan
from oversight.settings import PROJECT_ROOT

LONDON = "MPS"
LONDON_NAME = "London (MPS area)"
WINDOWS = ("r12", "fytd", "quarter", "month", "fy", "r12_3yr")
WINDOW_LABELS = {
    "r12": "12 months to {end} vs the 12 months before",
    "fytd": "financial year to {end} vs the same months a year before",
    "quarter": "3 months to {end} vs the same 3 months a year before",
    "month": "{end} against the XmR limits (seasonally adjusted, fixed baseline)",
    "fy": "financial year to {end} vs the financial year before",
    "r12_3yr": "12 months to {end} vs the average of the same 12 months in the 3 years before",
}
STATUSES = (
    "deteriorating",
    "improving",
    "no significant change",
    "context",
    "not comparable",
    "no data",
)
COLUMNS = (
    "plan_id", "priority_id", "priority_title", "measure_id", "measure_label", "unit",
    "direction", "geography_code", "geography_name", "window", "period_start", "period_end",
    "value", "numerator", "denominator", "lower", "upper", "comparison_start",
    "comparison_end", "comparison_value", "change", "change_lower", "change_upper", "p_value",
    "significant", "material", "small_count", "status", "reason", "sentence", "rate_per_1000",
    "population", "population_year", "baseline_value", "target_value", "target_status",
    "spc_signal", "funnel_z", "funnel_outside", "assumed_base", "design_effect", "proxy",
    "source_mart", "vintage", "as_at", "config_hash", "dispersion", "phi", "tau2",
    "spc_centre", "spc_lower", "spc_upper", "seasonal_factor", "relative_change",
    "relative_lower", "relative_upper", "relative_p_value", "funnel_note",
)  # fmt: skip


# --- configuration --------------------------------------------------------------------------


@dataclass(frozen=True)
class StatisticsConfig:
    """config/statistics.yaml: significance level, PAS assumed bases, SPC and funnel settings."""

    significance_level: float
    headline_window: str
    spc_min_points: int
    pas_base_borough: int
    pas_base_london: int
    pas_design_effect: float
    pas_source: str
    funnel_method: str
    funnel_levels: tuple[float, ...]
    history_months: int = 120
    min_pairs: int = 24
    fallback_tau2: float = 0.004
    baseline_min: int = 12
    baseline_max: int = 24
    rebase_run: int = 12
    season_min_months: int = 36
    denominator_notes: tuple[tuple[str, str], ...] = ()


def load_statistics(root: Path | None = None) -> StatisticsConfig:
    """Read config/statistics.yaml, naming the key that is wrong."""
    path = (root or PROJECT_ROOT) / "config" / "statistics.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        cfg = StatisticsConfig(
            significance_level=float(raw["significance_level"]),
            headline_window=str(raw["headline_window"]),
            spc_min_points=int(raw["spc_min_points"]),
            pas_base_borough=int(raw["pas"]["assumed_base"]["borough"]),
            pas_base_london=int(raw["pas"]["assumed_base"]["london"]),
            pas_design_effect=float(raw["pas"]["design_effect"]),
            pas_source=str(raw["pas"]["source"]).strip(),
            funnel_method=str(raw["funnel"]["method"]),
            funnel_levels=tuple(float(x) for x in raw["funnel"]["levels"]),
            history_months=int(raw["dispersion"]["history_months"]),
            min_pairs=int(raw["dispersion"]["min_pairs"]),
            fallback_tau2=float(raw["dispersion"]["fallback_tau2"]),
            baseline_min=int(raw["spc"]["baseline_min"]),
            baseline_max=int(raw["spc"]["baseline_max"]),
            rebase_run=int(raw["spc"]["rebase_run"]),
            season_min_months=int(raw["spc"]["season_min_months"]),
            denominator_notes=tuple(
                (str(k), " ".join(str(v).split()))
                for k, v in (raw["funnel"].get("denominator_notes") or {}).items()
            ),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise plan_mod.PlanError(f"{path.name}: missing or bad key {exc}") from exc
    if not 0 < cfg.significance_level < 0.5:
        raise plan_mod.PlanError(f"{path.name}: significance_level must be in (0, 0.5)")
    if cfg.headline_window not in WINDOWS:
        raise plan_mod.PlanError(f"{path.name}: headline_window must be one of {WINDOWS}")
    if cfg.pas_design_effect <= 0 or cfg.pas_base_borough <= 0 or cfg.pas_base_london <= 0:
        raise plan_mod.PlanError(f"{path.name}: pas bases and design_effect must be positive")
    if cfg.funnel_method not in stats.FUNNEL_METHODS:
        raise plan_mod.PlanError(
            f"{path.name}: funnel.method must be one of {stats.FUNNEL_METHODS}"
        )
    if not 1 <= cfg.baseline_min <= cfg.baseline_max or cfg.fallback_tau2 < 0:
        raise plan_mod.PlanError(
            f"{path.name}: spc.baseline_min must be at least 1 and at most spc.baseline_max, "
            "and dispersion.fallback_tau2 must not be negative"
        )
    return cfg


def config_hash(root: Path | None = None) -> str:
    """sha256 (16 hex digits) over every file that changes a measure value."""
    base = root or PROJECT_ROOT
    files = sorted((base / "config" / "plans").glob("*.yaml")) + [
        base / "config" / name
        for name in ("breaks.yaml", "statistics.yaml", "categories.yaml", "pas_measures.yaml")
    ]
    files.append(base / "data" / "reference" / "population.csv")
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


# --- reading a measure's series -------------------------------------------------------------


def _where(measure: Measure, alias: str = "") -> tuple[str, list[Any]]:
    clauses, params = [], []
    for column, values in measure.source.filter:
        marks = ", ".join("?" for _ in values)
        clauses.append(f'{alias}"{column}" in ({marks})')
        params.extend(values)
    return (" and ".join(clauses) or "true"), params


def _sql_for(measure: Measure) -> tuple[str, list[Any]]:
    """SQL giving geography_code, month, value, numerator, denominator, vintage."""
    mart = measure.source.mart
    where, params = _where(measure)
    if mart in ("crime_borough_monthly", "crime_ward_monthly"):
        sql = f"""
            select coalesce(borough_code, '{LONDON}') as geography_code, month,
                   sum(offences)::double as value, null::double as numerator,
                   null::double as denominator, max(vintage) as vintage
            from marts.{mart} where {where}
            group by grouping sets ((month), (month, borough_code))
            having grouping(borough_code) = 1 or borough_code is not null
        """
        return sql, params
    if mart == "homicide_monthly":
        sql = f"""
            select coalesce(borough_code, '{LONDON}') as geography_code, month,
                   sum(victims)::double as value, null::double, null::double, max(vintage)
            from marts.homicide_monthly where {where}
            group by grouping sets ((month), (month, borough_code))
            having grouping(borough_code) = 1 or borough_code is not null
        """
        return sql, params
    if mart == "stop_search":
        columns = {c for c, _ in measure.source.filter}
        table = "stop_search_monthly" if columns <= {"month", "force", "type", "outcome"} else mart
        total = "sum(searches)" if table == "stop_search_monthly" else "count(*)"
        sql = f"""
            select '{LONDON}' as geography_code, month, {total}::double as value,
                   null::double, null::double, null::varchar
            from marts.{table} where {where} group by month
        """
        return sql, params
    if mart == "pas_borough":
        sql = f"""
            with borough as (
                select borough_code, period_end, proportion, london_proportion, vintage
                from marts.pas_borough where {where}
            ),
            london as (
                select period_end, proportion, vintage
                from marts.pas_london where {where} and proportion is not null
            ),
            london_from_boroughs as (
                select period_end, max(london_proportion) as proportion, max(vintage) as vintage
                from borough
                where london_proportion is not null
                  and period_end not in (select period_end from london)
                group by period_end
            )
            select borough_code as geography_code, period_end as month, proportion as value,
                   null::double, null::double, vintage
            from borough where proportion is not null
            union all
            select '{LONDON}', period_end, proportion, null, null, vintage from london
            union all
            select '{LONDON}', period_end, proportion, null, null, vintage
            from london_from_boroughs
        """
        return sql, params + params
    if mart == "measure_extract":
        sql = f"""
            select geography_code, period_end as month, value, numerator, denominator, vintage
            from marts.measure_extract where {where}
              and date_diff('month', period_start, period_end) = 0
        """
        return sql, params
    if mart == "use_of_force_tactics":
        sql = f"""
            select '{LONDON}' as geography_code,
                   make_date(cast(left(financial_year, 4) as integer) + 1, 3, 1) as month,
                   sum(tactics)::double as value, null::double, null::double, max(vintage)
            from marts.use_of_force_tactics where {where} group by financial_year
        """
        return sql, params
    raise plan_mod.PlanError(f"measure {measure.id}: no reader for mart {mart!r}")


def read_series(con: duckdb.DuckDBPyConnection, measure: Measure) -> pd.DataFrame:
    """The measure's series for London and each borough (month = 1st of the period's month)."""
    sql, params = _sql_for(measure)
    frame = con.execute(sql, params).df()
    frame.columns = ["geography_code", "month", "value", "numerator", "denominator", "vintage"]
    frame["month"] = pd.to_datetime(frame["month"]).dt.to_period("M").dt.to_timestamp()
    return frame.sort_values(["geography_code", "month"], ignore_index=True)


def table_exists(con: duckdb.DuckDBPyConnection, mart: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'marts' and table_name = ?",
            [mart],
        ).fetchall()[0][0]
    )


# --- populations ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Populations:
    """Mid-year populations per geography and year; London (MPS area) is the 32 boroughs."""

    by_geo: dict[str, dict[int, int]]
    source: str

    def lookup(self, geo: str, year: int) -> tuple[int | None, int | None]:
        years = self.by_geo.get(geo)
        if not years:
            return None, None
        usable = [y for y in years if y <= year] or [min(years)]
        chosen = max(usable)
        return years[chosen], chosen


def load_populations() -> Populations:
    """Populations from data/reference (ONS mid-year estimates, Census 2021 rebased)."""
    pop = reference.load_population()
    boroughs = reference.load_boroughs()
    in_mps = set(boroughs.loc[boroughs["in_mps_area"], "borough_code"])
    by_geo: dict[str, dict[int, int]] = {}
    for row in pop.itertuples(index=False):
        by_geo.setdefault(row.geography_code, {})[int(row.year)] = int(row.population)
    london: dict[int, int] = {}
    for code in in_mps:
        for year, value in by_geo.get(code, {}).items():
            london[year] = london.get(year, 0) + value
    by_geo[LONDON] = london
    source = str(pop["source"].iloc[0]) if "source" in pop.columns and len(pop) else "ONS"
    return Populations(by_geo, source)


# --- the noise of a series: between-period variance and season ------------------------------


@dataclass(frozen=True)
class Noise:
    """What a measure's history says about its chance variation, per geography level.

    ``tau2`` and ``relative_tau2`` (a borough's change against London's) are per window, each
    (phi, tau², degrees of freedom of phi or None); ``factors`` are the month-of-year
    factors used to seasonally adjust its XmR charts.
    """

    tau2: dict[str, tuple[float, float, int | None] | None]
    relative_tau2: dict[str, tuple[float, float, int | None] | None]
    factors: np.ndarray | None


def _spans(window: str, end: int) -> tuple[tuple[int, int], list[tuple[int, int]]]:
    current, comparisons = window_months(window, end)
    return (current[0], current[-1]), [(w[0], w[-1]) for w in comparisons]


def window_history(
    values: dict[int, float], window: str, end: int, break_keys: Sequence[int], months: int
) -> tuple[np.ndarray, np.ndarray]:
    """The same comparison ending 12 to ``months`` months before ``end``: (current, total).

    Entries are NaN where a month is missing or the comparison would cross a break.
    """
    (c0, c1), comps = _spans(window, end)
    if not comps or not values:
        return np.array([]), np.array([])
    shifts = np.arange(12, months + 1)
    low = min(values)
    first = min([c0, *(s for s, _ in comps)])
    size = end - low + 1
    if size <= 0:
        return np.array([]), np.array([])
    arr = np.array([values.get(low + i, np.nan) for i in range(size)], dtype=float)
    filled = np.nan_to_num(arr)
    csum = np.r_[0.0, np.cumsum(filled)]
    cgap = np.r_[0, np.cumsum(np.isnan(arr))]

    def span_sum(start: np.ndarray, stop: np.ndarray) -> np.ndarray:
        ok = (start >= low) & (stop <= end)
        i, j = np.clip(start - low, 0, size), np.clip(stop - low + 1, 0, size)
        total = csum[j] - csum[i]
        gaps = cgap[j] - cgap[i]
        return np.where(ok & (gaps == 0), total, np.nan)

    current = span_sum(c0 - shifts, c1 - shifts)
    total = np.zeros(shifts.size)
    for s, e in comps:
        total = total + span_sum(s - shifts, e - shifts)
    lo_span, hi_span = first - shifts, c1 - shifts
    for brk in break_keys:
        crossing = (lo_span < brk) & (brk <= hi_span)
        current[crossing] = np.nan
        total[crossing] = np.nan
    return current, total


def _geo_dispersion(
    values: dict[int, float], end: int, factors: np.ndarray | None, months: int
) -> float:
    """Monthly quasi-Poisson dispersion of one area's series (1 when it cannot be estimated)."""
    keys = [k for k in range(end - months + 1, end + 1) if k in values and values[k] == values[k]]
    run = []
    for key in reversed(keys):
        if run and run[-1] != key + 1:
            break
        run.append(key)
    run.reverse()
    phi = stats.monthly_dispersion([values[k] for k in run], factors, run) if run else None
    return 1.0 if phi is None else phi


def _dispersion_df(values: dict[int, float], end: int, months: int) -> int | None:
    """Degrees of freedom of :func:`_geo_dispersion`: months with a residual, less 12."""
    observed = sum(1 for k in range(end - months + 1, end + 1) if k in values)
    return max(observed - 12 - 12, 1) if observed >= 25 else None


def estimate_noise(
    by_geo: dict[str, dict[int, float]],
    geos: Sequence[str],
    end: int,
    break_keys: Sequence[int],
    windows: Sequence[str],
    cfg: StatisticsConfig,
) -> dict[str, Noise]:
    """Per area: its monthly dispersion phi and the level's between-period variance tau².

    phi (quasi-Poisson) comes from each area's own months around trend and season; tau² from
    the same comparison in the series' history once phi is allowed for, for London on its
    own series and for boroughs pooled across the boroughs (and for a borough's change
    against London's).
    """
    london = by_geo.get(LONDON, {})
    boroughs = [g for g in geos if g != LONDON and by_geo.get(g)]
    factors = _london_factors(london or (by_geo[boroughs[0]] if boroughs else {}), end, cfg)
    areas = [*boroughs, *([LONDON] if london else [])]
    phis = {g: _geo_dispersion(by_geo[g], end, factors, cfg.history_months) for g in areas}
    level_tau2: dict[str, dict[str, float | None]] = {LONDON: {}, "borough": {}, "relative": {}}
    for window in windows:
        if window == "month":
            continue
        k = len(window_months(window, end)[1])
        inflate = 1 + 1 / k
        history = {g: window_history(by_geo[g], window, end, break_keys, cfg.history_months)
                   for g in areas}  # fmt: skip
        logs = {}
        for g in areas:
            a, b = history[g]
            with np.errstate(divide="ignore", invalid="ignore"):
                ok = (a > 0) & (b > 0)
                logs[g] = (np.where(ok, np.log(a) - np.log(b / k), np.nan),
                           np.where(ok, phis[g] * (1 / a + 1 / b), np.nan))  # fmt: skip
        if london:
            d, v = logs[LONDON]
            level_tau2[LONDON][window] = stats.log_ratio_variance(
                d, v, inflate, min_pairs=cfg.min_pairs
            )
        if boroughs:
            groups = np.repeat(boroughs, [logs[g][0].size for g in boroughs])
            d = np.concatenate([logs[g][0] for g in boroughs])
            v = np.concatenate([logs[g][1] for g in boroughs])
            level_tau2["borough"][window] = stats.log_ratio_variance(
                d, v, inflate, groups, min_pairs=cfg.min_pairs
            )
            if london:
                d_l, v_l = logs[LONDON]
                d_rel = np.concatenate([logs[g][0] - d_l for g in boroughs])
                v_rel = np.concatenate([logs[g][1] + v_l for g in boroughs])
                level_tau2["relative"][window] = stats.log_ratio_variance(
                    d_rel, v_rel, inflate, groups, min_pairs=cfg.min_pairs
                )

    def pairs(g: str, by_window: dict[str, float | None]) -> dict[str, Any]:
        df = _dispersion_df(by_geo[g], end, cfg.history_months) if phis[g] > 1 else None
        return {w: None if t is None else (phis[g], t, df) for w, t in by_window.items()}

    out = {}
    for g in areas:
        level = LONDON if g == LONDON else "borough"
        relative = pairs(g, level_tau2["relative"]) if g != LONDON else {}
        out[g] = Noise(pairs(g, level_tau2[level]), relative, factors)
    return out


def _london_factors(
    values: dict[int, float], end: int, cfg: StatisticsConfig
) -> np.ndarray | None:
    """Seasonal factors from the consecutive months ending at ``end`` (at most ten years)."""
    keys = []
    key = end
    while key in values and values[key] == values[key] and len(keys) < 120:
        keys.append(key)
        key -= 1
    keys.reverse()
    if len(keys) < cfg.season_min_months:
        return None
    return stats.seasonal_factors(keys, [values[k] for k in keys], cfg.season_min_months)


# --- judging one window -----------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    """Everything a measure's rows need besides its own series."""

    plan: Plan
    stats_cfg: StatisticsConfig
    breaks: tuple[Break, ...]
    populations: Populations
    names: dict[str, str]
    as_at: date | None
    config_hash: str


def _fy_end(key: int) -> int:
    """Month key of the March that ends the latest complete financial year at or before key."""
    year, month = divmod(key, 12)
    return year * 12 + 2 if month >= 2 else (year - 1) * 12 + 2


def window_months(window: str, end: int) -> tuple[list[int], list[list[int]]]:
    """Current and comparison month keys of a window ending at month key ``end``."""

    def span(last: int, count: int) -> list[int]:
        return list(range(last - count + 1, last + 1))

    if window == "r12":
        return span(end, 12), [span(end - 12, 12)]
    if window == "quarter":
        return span(end, 3), [span(end - 12, 3)]
    if window == "fytd":
        count = (end % 12 - 3) % 12 + 1
        return span(end, count), [span(end - 12, count)]
    if window == "fy":
        last = _fy_end(end)
        return span(last, 12), [span(last - 12, 12)]
    if window == "r12_3yr":
        return span(end, 12), [span(end - 12 * k, 12) for k in (3, 2, 1)]
    if window == "month":
        return [end], []
    raise ValueError(f"window must be one of {WINDOWS}, got {window!r}")


def _break_keys(measure: Measure, breaks: Iterable[Break]) -> list[tuple[int, Break]]:
    return [
        (stats.month_key(b.date + "-01"), b)
        for b in breaks
        if measure.source.mart in b.marts or measure.id in b.measures
    ]


def _material(measure: Measure, change: float, base: float) -> bool:
    tol = measure.tolerance
    if tol.type == "relative":
        return base > 0 and stats.is_material(change / base, tol.value)
    return stats.is_material(change, tol.value)


def _fmt_value(value: float | None, unit: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "no value"
    if unit == "proportion":
        return f"{value:.0%}"
    return f"{value:,.0f}"


def month_name(key_or_date: int | date) -> str:
    when = stats.key_to_date(key_or_date) if isinstance(key_or_date, int) else key_or_date
    return f"{when:%B %Y}"


def _status(measure: Measure, significant: bool, material: bool, increase: bool) -> str:
    return stats.classify_change(measure.direction, significant, material, increase)


def _p_text(p: float | None, level: float) -> str:
    if p is None or math.isnan(p):
        return "no test"
    shown = "p < 0.001" if p < 0.001 else f"p = {p:.3f}"
    verdict = "statistically significant" if p < level else "not statistically significant"
    return f"{verdict} ({shown})"


def _blank_row(measure: Measure, geo: str, window: str, ctx: Context) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    priority = next(
        (p for p in ctx.plan.priorities if measure.id in {m.id for m in p.measures}), None
    )
    row.update(
        plan_id=ctx.plan.id,
        priority_id=priority.id if priority else None,
        priority_title=priority.title if priority else None,
        measure_id=measure.id,
        measure_label=measure.label,
        unit=measure.unit,
        direction=measure.direction,
        geography_code=geo,
        geography_name=ctx.names.get(geo, geo),
        window=window,
        proxy=measure.proxy,
        source_mart=measure.source.mart,
        as_at=ctx.as_at,
        config_hash=ctx.config_hash,
        significant=None,
        material=None,
        small_count=None,
    )
    return row


def _no_data(row: dict[str, Any], reason: str) -> dict[str, Any]:
    row.update(status="no data", reason=reason, sentence=f"{row['measure_label']}: {reason}.")
    return row


def count_row(
    measure: Measure,
    geo: str,
    window: str,
    values: dict[int, float],
    end: int,
    ctx: Context,
    noise: Noise | None = None,
    london: dict[int, float] | None = None,
) -> dict[str, Any]:
    """One count measure, one geography, one window.

    The change is judged on the overdispersed rate ratio (:func:`stats.overdispersed_rate_ratio`)
    with tau² from ``noise`` (the measure's own history at this geography level); a borough
    also gets its change against London's (``london``: London's monthly values).
    """
    row = _blank_row(measure, geo, window, ctx)
    current, comparisons = window_months(window, end)
    row["period_start"], row["period_end"] = (
        stats.key_to_date(current[0]),
        stats.key_to_date(current[-1]),
    )
    breaks = _break_keys(measure, ctx.breaks)
    level = ctx.stats_cfg.significance_level
    label = measure.label
    if window == "month":
        return _month_row(row, measure, values, end, breaks, ctx, noise)
    result = stats.compare_month_windows(values, current, comparisons, [k for k, _ in breaks])
    row["comparison_start"] = result.comparison_months[0] if result.comparison_months else None
    row["comparison_end"] = result.comparison_months[-1] if result.comparison_months else None
    cur_values = [values.get(m) for m in current]
    if any(v is None or v != v for v in cur_values):
        return _no_data(row, f"no complete {_window_phrase(window, current[-1])}")
    value = float(sum(cur_values))
    row["value"] = value
    low, high = _poisson_ci(value, 1 - level)
    row["lower"], row["upper"] = low, high
    _add_rate(row, geo, current[-1], value, len(current), ctx)
    estimated = noise.tau2.get(window) if noise is not None else None
    phi, tau2, df = (1.0, ctx.stats_cfg.fallback_tau2, None) if estimated is None else estimated
    row["tau2"], row["phi"] = tau2, phi  # the series' noise, shown even when not compared
    if result.refused:
        span = range(min(current + [m for w in comparisons for m in w]) + 1, current[-1] + 1)
        crossing = next((b for k, b in breaks if k in span), None)
        if crossing is not None:
            why = (
                f"not compared: the comparison would cross the series break "
                f"'{crossing.label}' ({crossing.date})"
            )
            row.update(status="not comparable", reason=why)
        else:
            why = f"not compared: {result.reason}"
            row.update(status="no data", reason=why)
        row["sentence"] = (
            f"{label}: {_fmt_value(value, 'count')} in the "
            f"{_window_phrase(window, current[-1])}; {why}."
        )
        return row
    comparison = float(result.comparison)
    row["comparison_value"] = comparison
    k = len(comparisons)
    comparison_total = comparison * k
    rr = stats.overdispersed_rate_ratio(value, comparison_total, k, tau2, 1 - level, phi, df)
    row["dispersion"] = stats.comparison_dispersion(value, comparison_total, k, tau2, phi)
    if london is not None and geo != LONDON:
        _add_relative(row, window, current, comparisons, value, comparison_total, london,
                      noise, ctx)  # fmt: skip
    change = value - comparison
    row["p_value"] = rr.p_value
    row["change"] = rr.ratio - 1 if comparison > 0 else math.nan
    row["change_lower"] = rr.lower - 1 if comparison > 0 else math.nan
    row["change_upper"] = rr.upper - 1 if comparison > 0 else math.nan
    significant = bool(rr.p_value < level) if not math.isnan(rr.p_value) else False
    small = not stats.percent_change_allowed(comparison, measure.small_count)
    material = (
        _material(measure, change, comparison) if not small else abs(change) >= measure.small_count
    )
    row.update(significant=significant, material=material, small_count=small)
    row["status"] = _status(measure, significant, material, change > 0)
    row["reason"] = None
    row["sentence"] = _count_sentence(
        measure, window, current[-1], value, comparison, rr, row, level
    )
    return row


def _add_relative(
    row: dict[str, Any],
    window: str,
    current: list[int],
    comparisons: list[list[int]],
    value: float,
    comparison_total: float,
    london: dict[int, float],
    noise: Noise | None,
    ctx: Context,
) -> None:
    """A borough's change against London's over the same window: ratio of rate ratios."""
    months = [*current, *(m for w in comparisons for m in w)]
    if any(london.get(m) is None or london[m] != london[m] for m in months):
        return
    l_now = sum(london[m] for m in current)
    l_before = sum(london[m] for w in comparisons for m in w)
    if min(l_now, l_before) <= 0:
        return
    k = len(comparisons)
    a, b = max(value, 0.5), max(comparison_total, 0.5)
    d = math.log(a / (b / k)) - math.log(l_now / (l_before / k))
    estimated = noise.relative_tau2.get(window) if noise is not None else None
    phi, tau2, _ = (1.0, ctx.stats_cfg.fallback_tau2, None) if estimated is None else estimated
    se = math.sqrt(phi * (1 / a + 1 / b + 1 / l_now + 1 / l_before) + tau2 * (1 + 1 / k))
    crit = float(sps.norm.ppf(1 - ctx.stats_cfg.significance_level / 2))
    row["relative_change"] = math.exp(d) - 1
    row["relative_lower"] = math.exp(d - crit * se) - 1
    row["relative_upper"] = math.exp(d + crit * se) - 1
    row["relative_p_value"] = float(2 * sps.norm.sf(abs(d) / se))


def _window_phrase(window: str, end: int) -> str:
    if window == "r12" or window == "r12_3yr":
        return f"12 months to {month_name(end)}"
    if window == "quarter":
        return f"3 months to {month_name(end)}"
    if window == "fytd":
        return f"financial year to {month_name(end)}"
    if window == "fy":
        return f"financial year to {month_name(_fy_end(end))}"
    return month_name(end)


def _comparison_phrase(window: str) -> str:
    return {
        "r12": "the 12 months before",
        "quarter": "the same 3 months a year earlier",
        "fytd": "the same months a year earlier",
        "fy": "the financial year before",
        "r12_3yr": "the average of the same 12 months in the three years before",
    }[window]


def _count_sentence(
    measure: Measure,
    window: str,
    end: int,
    value: float,
    comparison: float,
    rr: stats.RateRatio,
    row: dict[str, Any],
    level: float,
) -> str:
    head = (
        f"{measure.label}: {_fmt_value(value, 'count')} in the {_window_phrase(window, end)} "
        f"against {_fmt_value(comparison, 'count')} in {_comparison_phrase(window)}"
    )
    if row["small_count"]:
        size = f" (too few to quote a percentage change; below {measure.small_count})"
    else:
        pct = rr.ratio - 1
        word = "more" if pct > 0 else "fewer"
        size = (
            f", {abs(pct):.1%} {word} (95% CI {rr.lower - 1:+.1%} to {rr.upper - 1:+.1%})"
            if level == 0.05
            else f", {abs(pct):.1%} {word}"
        )
    noise = (
        f" (allowing for year-to-year variation: {row['dispersion']:.1f} times Poisson)"
        if row.get("dispersion") and row["dispersion"] >= 1.05
        else ""
    )
    return head + size + noise + "; " + _verdict(measure, row, level)


def _verdict(measure: Measure, row: dict[str, Any], level: float) -> str:
    test = _p_text(row["p_value"], level)
    if measure.direction == "context":
        return f"{test}. Context measure: not judged better or worse."
    if row["status"] in ("improving", "deteriorating"):
        return f"{test} and at least the materiality tolerance: {row['status']}."
    if row["significant"] and not row["material"]:
        return f"{test} but smaller than the materiality tolerance: no material change."
    return f"{test}: no significant change."


def _poisson_ci(count: float, level: float) -> tuple[float, float]:
    """Exact (Garwood) interval for a Poisson count."""
    from scipy import stats as sps

    alpha = 1 - level
    low = 0.0 if count <= 0 else float(sps.chi2.ppf(alpha / 2, 2 * count) / 2)
    high = float(sps.chi2.ppf(1 - alpha / 2, 2 * (count + 1)) / 2)
    return low, high


def _add_rate(
    row: dict[str, Any], geo: str, end: int, value: float, months: int, ctx: Context
) -> None:
    """Offences per 1,000 residents over the window (mid-year population of its last year)."""
    population, year = ctx.populations.lookup(geo, end // 12)
    if population:
        row["population"], row["population_year"] = population, year
        row["rate_per_1000"] = value / population * 1000


def _month_row(
    row: dict[str, Any],
    measure: Measure,
    values: dict[int, float],
    end: int,
    breaks: list[tuple[int, Break]],
    ctx: Context,
    noise: Noise | None = None,
) -> dict[str, Any]:
    """The latest month on a seasonally adjusted XmR chart with a fixed baseline.

    The chart starts at the last series break (or the first month); its limits come from its
    first 12–24 points and are re-based only at a confirmed shift (config/statistics.yaml).
    Each month is divided by its month-of-year factor, so the season is not a special cause.
    """
    cfg = ctx.stats_cfg
    start = max([k for k, _ in breaks if k <= end], default=min(values))
    keys = [k for k in range(max(start, min(values)), end + 1)]
    series = np.array([values.get(k, math.nan) for k in keys], dtype=float)
    latest = values.get(end)
    if latest is None or latest != latest:
        return _no_data(row, f"no value for {month_name(end)}")
    row["value"] = float(latest)
    row["lower"], row["upper"] = _poisson_ci(float(latest), 1 - cfg.significance_level)
    observed = int(np.sum(~np.isnan(series)))
    factors = noise.factors if noise is not None else None
    chart = (
        stats.seasonal_xmr(keys, series, factors, cfg.baseline_min, cfg.baseline_max,
                           cfg.rebase_run)  # fmt: skip
        if observed >= cfg.baseline_min and not np.isnan(series).any()
        else None
    )
    if chart is None:
        since = next((b for k, b in breaks if k == start), None)
        basis = (
            f"the series break '{since.label}' ({since.date})"
            if since is not None
            else month_name(start)
        )
        row.update(
            status="not comparable",
            reason=(
                f"only {observed} complete months since {basis} on one basis; an "
                f"XmR baseline needs {cfg.baseline_min}"
            ),
        )
        shown = _fmt_value(latest, "count")
        row["sentence"] = f"{measure.label}: {shown} in {month_name(end)}; {row['reason']}."
        return row
    base = chart.baselines[-1]
    factor = float(factors[end % 12]) if factors is not None else 1.0
    centre, low, high = base.limits.centre, base.limits.lower, base.limits.upper
    last = chart.signals.iloc[-1]
    rules = [r for r in stats.SPC_RULES if bool(last[r])]
    direction = int(last["direction"])
    sigma = base.limits.sigma
    z = (chart.adjusted[-1] - centre) / sigma if sigma > 0 else None
    row.update(spc_centre=centre, spc_lower=low, spc_upper=high, seasonal_factor=factor)
    row["comparison_value"] = centre * factor
    row["comparison_start"] = stats.key_to_date(keys[base.start])
    baseline_end = min(base.start + cfg.baseline_max, len(keys)) - 1
    row["comparison_end"] = stats.key_to_date(keys[baseline_end])
    row["spc_signal"] = ", ".join(rules) if rules and direction else None
    significant = bool(rules) and direction != 0
    row["p_value"] = stats.spc_p_value(rules, z) if significant else 1.0
    change = float(latest) - centre * factor
    row["change"] = change / (centre * factor) if centre else math.nan
    material = _material(measure, change, centre * factor)
    small = measure.unit == "count" and centre < measure.small_count
    row.update(significant=significant, material=material, small_count=small)
    row["status"] = _status(measure, significant, material, direction > 0)
    if significant:
        what = "special-cause variation (" + ", ".join(r.replace("_", " ") for r in rules) + ")"
    else:
        what = "common-cause variation: within the XmR limits with no run or trend"
    tail = (
        " Context measure: not judged better or worse."
        if measure.direction == "context"
        else (
            f" {row['status'].capitalize()}."
            if row["status"] in ("improving", "deteriorating")
            else ""
        )
    )
    season = (
        f"seasonally adjusted (factor {factor:.2f} for {month_name(end)[:-5]})"
        if factors is not None
        else "not seasonally adjusted (too short a history to estimate the season)"
    )
    row["sentence"] = (
        f"{measure.label}: {_fmt_value(latest, 'count')} in {month_name(end)} against "
        f"{centre * factor:,.0f} expected for the time of year (XmR centre {centre:,.0f}, limits "
        f"{low:,.0f} to {high:,.0f}, {season}; baseline from "
        f"{month_name(row['comparison_start'])}); {what}.{tail}"
    )
    return row


def proportion_row(
    measure: Measure, geo: str, values: dict[int, float], end: int, ctx: Context
) -> dict[str, Any]:
    """A survey proportion (rolling 12 months): latest period against the one a year before."""
    row = _blank_row(measure, geo, "r12", ctx)
    cfg = ctx.stats_cfg
    level = cfg.significance_level
    base = cfg.pas_base_london if geo == LONDON else cfg.pas_base_borough
    deff = cfg.pas_design_effect
    row.update(assumed_base=base, design_effect=deff)
    row["period_start"] = stats.key_to_date(end - 11)
    row["period_end"] = stats.key_to_date(end)
    latest = values.get(end)
    if latest is None or latest != latest:
        return _no_data(row, f"no survey figure for the 12 months to {month_name(end)}")
    effective = base / deff
    low, high = stats.wilson_interval(latest * effective, effective, 1 - level)
    row.update(value=latest, lower=low, upper=high)
    _add_target(row, measure, latest, low, high)
    earlier = values.get(end - 12)
    row["comparison_start"] = stats.key_to_date(end - 23)
    row["comparison_end"] = stats.key_to_date(end - 12)
    crossing = [b for k, b in _break_keys(measure, ctx.breaks) if end - 23 < k <= end]
    if crossing:
        why = f"the two years cross the series break '{crossing[0].label}' ({crossing[0].date})"
        row.update(status="not comparable", reason=why)
        row["sentence"] = f"{measure.label}: {latest:.0%}; not compared: {why}."
        return row
    if earlier is None or earlier != earlier:
        row.update(
            status="no data", reason=f"no figure for the 12 months to {month_name(end - 12)}"
        )
        row["sentence"] = (
            f"{measure.label}: {latest:.0%} in the 12 months to {month_name(end)} "
            f"(95% CI {low:.0%} to {high:.0%}); no figure a year earlier to compare."
        )
        return row
    test = stats.two_proportion_test(latest, base, earlier, base, deff, 1 - level)
    row.update(
        comparison_value=earlier,
        change=test.difference,
        change_lower=test.lower,
        change_upper=test.upper,
        p_value=test.p_value,
    )
    significant = bool(test.p_value < level)
    material = _material(measure, test.difference, earlier)
    row.update(significant=significant, material=material, small_count=False)
    row["status"] = _status(measure, significant, material, test.difference > 0)
    points = test.difference * 100
    digits = 0 if round(points, 6).is_integer() else 1  # whole percents differ by whole points
    row["sentence"] = (
        f"{measure.label}: {latest:.0%} in the 12 months to {month_name(end)} against "
        f"{earlier:.0%} a year earlier, {abs(points):.{digits}f} points "
        f"{'higher' if points > 0 else 'lower'} (95% CI {test.lower * 100:+.1f} to "
        f"{test.upper * 100:+.1f}; assumed base {base:,} interviews, design effect {deff:g}); "
        + _verdict(measure, row, level)
    )
    return row


def ratio_row(
    measure: Measure,
    geo: str,
    window: str,
    numerators: dict[int, float],
    denominators: dict[int, float],
    values: dict[int, float],
    end: int,
    ctx: Context,
) -> dict[str, Any]:
    """A proportion supplied monthly with its numerator and denominator (the measure extract).

    Windows pool the months' numerators and denominators; the change is a two-proportion test
    on the real bases (design effect 1).
    """
    row = _blank_row(measure, geo, window, ctx)
    level = ctx.stats_cfg.significance_level
    current, comparisons = window_months(window, end)
    row["period_start"] = stats.key_to_date(current[0])
    row["period_end"] = stats.key_to_date(current[-1])
    phrase = _window_phrase(window, current[-1])
    if not all(m in numerators and m in denominators for m in current):
        if all(m in values for m in current):
            row["value"] = float(np.mean([values[m] for m in current]))
        return _no_data(row, f"no numerator and denominator for every month of the {phrase}")
    n1 = sum(denominators[m] for m in current)
    p1 = sum(numerators[m] for m in current) / n1 if n1 else math.nan
    low, high = stats.wilson_interval(p1 * n1, n1, 1 - level)
    row.update(value=p1, numerator=p1 * n1, denominator=n1, lower=low, upper=high)
    _add_target(row, measure, p1, low, high)
    previous = comparisons[0]
    row["comparison_start"] = stats.key_to_date(previous[0])
    row["comparison_end"] = stats.key_to_date(previous[-1])
    crossing = [b for k, b in _break_keys(measure, ctx.breaks) if previous[0] < k <= current[-1]]
    if crossing:
        why = (
            f"not compared: the comparison would cross the series break '{crossing[0].label}' "
            f"({crossing[0].date})"
        )
        row.update(status="not comparable", reason=why)
        row["sentence"] = f"{measure.label}: {p1:.0%} in the {phrase}; {why}."
        return row
    if not all(m in numerators and m in denominators for m in previous):
        row.update(status="no data", reason="no complete comparison period")
        row["sentence"] = f"{measure.label}: {p1:.0%} in the {phrase}; nothing to compare with."
        return row
    n2 = sum(denominators[m] for m in previous)
    p2 = sum(numerators[m] for m in previous) / n2
    test = stats.two_proportion_test(p1, n1, p2, n2, 1.0, 1 - level)
    row.update(
        comparison_value=p2,
        change=test.difference,
        change_lower=test.lower,
        change_upper=test.upper,
        p_value=test.p_value,
    )
    significant = bool(test.p_value < level)
    material = _material(measure, test.difference, p2)
    row.update(significant=significant, material=material, small_count=n2 < measure.small_count)
    row["status"] = _status(measure, significant, material, test.difference > 0)
    points = test.difference * 100
    row["sentence"] = (
        f"{measure.label}: {p1:.1%} in the {phrase} against {p2:.1%} in "
        f"{_comparison_phrase(window)}, {abs(points):.1f} points "
        f"{'higher' if points > 0 else 'lower'} (95% CI {test.lower * 100:+.1f} to "
        f"{test.upper * 100:+.1f}; {n1:,.0f} and {n2:,.0f} cases); "
        + _verdict(measure, row, level)
    )
    return row


def _add_target(
    row: dict[str, Any], measure: Measure, value: float, low: float, high: float
) -> None:
    target = measure.target
    if target is None:
        return
    if target.type == "absolute":
        goal = target.value
    else:
        base = row.get("baseline_value")
        if base is None:
            return
        goal = base * (1 + target.value / 100)
    row["target_value"] = goal
    higher = measure.direction != "lower_is_better"
    met = value >= goal if higher else value <= goal
    if low <= goal <= high:
        row["target_status"] = "at risk" if not met else "met (within the CI)"
    else:
        row["target_status"] = "met" if met else "missed"


# --- a whole plan -----------------------------------------------------------------------------


def _geographies(
    measure: Measure, series_geos: Iterable[str], boroughs: Sequence[str]
) -> list[str]:
    geos = [LONDON] if "london" in measure.geographies else []
    if "borough" in measure.geographies:
        geos += list(boroughs)
    return geos or sorted(series_geos)


def measure_rows(
    measure: Measure,
    frame: pd.DataFrame | None,
    ctx: Context,
    *,
    geographies: Sequence[str] | None = None,
    windows: Sequence[str] = WINDOWS,
) -> list[dict[str, Any]]:
    """Every window for every geography of one measure (``frame`` None: nothing loaded)."""
    boroughs = sorted(code for code in ctx.names if code != LONDON)
    every_geo = _geographies(measure, [], boroughs)
    geos = every_geo
    if geographies is not None:
        geos = [g for g in geos if g in geographies]
    headline = ctx.stats_cfg.headline_window
    if frame is None or frame.empty:
        reason = (
            "no data loaded: this measure comes only from the MPS measure extract"
            if measure.source.mart == "measure_extract"
            else f"no figures for this measure in {measure.source.mart}"
        )
        return [_no_data(_blank_row(measure, g, headline, ctx), reason) for g in geos]
    if ctx.as_at is not None:
        frame = frame[frame["month"] <= pd.Timestamp(ctx.as_at)]
        if frame.empty:
            return [
                _no_data(
                    _blank_row(measure, g, headline, ctx),
                    f"no data on or before {ctx.as_at:%B %Y}",
                )
                for g in geos
            ]
    keys = frame["month"].dt.year * 12 + frame["month"].dt.month - 1
    by_geo: dict[str, dict[int, float]] = {}
    for geo, key, value in zip(frame["geography_code"], keys, frame["value"], strict=True):
        by_geo.setdefault(geo, {})[int(key)] = float(value)
    parts: dict[str, dict[str, dict[int, float]]] = {"numerator": {}, "denominator": {}}
    for column, store in parts.items():
        for geo, key, value in zip(frame["geography_code"], keys, frame[column], strict=True):
            if value == value:
                store.setdefault(geo, {})[int(key)] = float(value)
    vintages = frame.groupby("geography_code")["vintage"].max().to_dict()
    london_keys = by_geo.get(LONDON) or next(iter(by_geo.values()))
    end = max(london_keys)
    annual = measure.source.mart == "use_of_force_tactics"
    counted = measure.unit != "proportion" and not annual
    if counted:
        for geo in every_geo:
            if geo != LONDON and geo in by_geo:
                for k in london_keys:
                    by_geo[geo].setdefault(k, 0.0)  # a borough with no offences in a month
    noise = (  # estimated on every area, whichever areas are asked for
        estimate_noise(by_geo, every_geo, end, [k for k, _ in _break_keys(measure, ctx.breaks)],
                       windows, ctx.stats_cfg)  # fmt: skip
        if counted
        else {}
    )
    london_values = by_geo.get(LONDON)
    rows: list[dict[str, Any]] = []
    for geo in geos:
        values = by_geo.get(geo)
        if not values:
            rows.append(
                _no_data(
                    _blank_row(measure, geo, headline, ctx),
                    f"no figures for {ctx.names.get(geo, geo)}",
                )
            )
            continue
        if measure.unit == "proportion" and measure.source.mart == "measure_extract":
            num = parts["numerator"].get(geo, {})
            den = parts["denominator"].get(geo, {})
            built = [
                ratio_row(measure, geo, w, num, den, values, end, ctx)
                for w in windows
                if w not in ("month", "r12_3yr")
            ]
        elif measure.unit == "proportion":
            built = [proportion_row(measure, geo, values, end, ctx)]
        elif annual:
            built = [_annual_row(measure, geo, values, end, ctx)]
        else:
            level = noise.get(geo)
            built = [
                count_row(measure, geo, w, values, end, ctx, level, london_values)
                for w in windows
            ]
        for row in built:
            row["vintage"] = vintages.get(geo)
            if row.get("unit") != "proportion" and row["window"] in ("r12", "fy"):
                row["baseline_value"] = _baseline(measure, values)
            rows.append(row)
    return rows


def _annual_row(
    measure: Measure, geo: str, values: dict[int, float], end: int, ctx: Context
) -> dict[str, Any]:
    """Annual (financial-year) counts such as use of force: latest year against the one before.

    ``values`` is keyed by the March that ends each financial year.
    """
    monthly = {k - m: v / 12 for k, v in values.items() for m in range(12)}
    row = count_row(measure, geo, "fy", monthly, end, ctx)
    for column in ("value", "comparison_value", "baseline_value"):
        if row.get(column) is not None and not math.isnan(row[column]):
            row[column] = round(row[column])
    return row


def _baseline(measure: Measure, values: dict[int, float]) -> float | None:
    start = stats.month_key(measure.baseline.start + "-01")
    end = stats.month_key(measure.baseline.end + "-01")
    months = range(start, end + 1)
    if all(m in values for m in months):
        return float(sum(values[m] for m in months))
    return None


def add_funnels(rows: list[dict[str, Any]], ctx: Context) -> None:
    """Boroughs against London on the r12 rate per head: overdispersion-adjusted funnel z."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        judged = row["window"] == "r12" and row["unit"] == "count"
        borough = row["geography_code"] != LONDON
        if judged and borough and row["value"] is not None and row["population"]:
            groups.setdefault(row["measure_id"], []).append(row)
    cfg = ctx.stats_cfg
    label = f"{max(cfg.funnel_levels) * 100:g}".replace(".", "_")
    notes = dict(cfg.denominator_notes)
    for members in groups.values():
        if len(members) < 5:
            continue
        counts = np.array([r["value"] for r in members], dtype=float)
        exposure = np.array([r["population"] for r in members], dtype=float)
        funnel = stats.overdispersed_funnel(
            counts, exposure, levels=cfg.funnel_levels, method=cfg.funnel_method
        )
        for row, unit in zip(members, funnel.units.itertuples(index=False), strict=True):
            row["funnel_z"] = float(unit.z_adjusted)
            row["funnel_outside"] = bool(getattr(unit, f"outside_{label}"))
            row["funnel_note"] = notes.get(row["geography_code"])


def compute_plan(
    con: duckdb.DuckDBPyConnection,
    plan: Plan,
    *,
    as_at: date | None = None,
    geographies: Sequence[str] | None = None,
    windows: Sequence[str] = WINDOWS,
    root: Path | None = None,
    context: Context | None = None,
) -> pd.DataFrame:
    """Every measure of ``plan``: one row per measure, geography and window (COLUMNS)."""
    ctx = context or make_context(plan, as_at=as_at, root=root)
    rows: list[dict[str, Any]] = []
    for priority in plan.priorities:
        for measure in priority.measures:
            frame = read_series(con, measure) if table_exists(con, measure.source.mart) else None
            rows.extend(
                measure_rows(measure, frame, ctx, geographies=geographies, windows=windows)
            )
    add_funnels(rows, ctx)
    out = pd.DataFrame(rows, columns=list(COLUMNS))
    return out


def make_context(plan: Plan, *, as_at: date | None = None, root: Path | None = None) -> Context:
    """Configuration and reference facts for computing ``plan``."""
    boroughs = reference.load_boroughs()
    names = {
        row.borough_code: row.borough_name
        for row in boroughs.itertuples(index=False)
        if row.in_mps_area
    }
    names[LONDON] = LONDON_NAME
    return Context(
        plan=plan,
        stats_cfg=load_statistics(root),
        breaks=plan_mod.load_breaks(root),
        populations=load_populations(),
        names=names,
        as_at=as_at,
        config_hash=config_hash(root),
    )


def headline(values: pd.DataFrame, window: str = "r12") -> pd.DataFrame:
    """One row per measure and geography: the headline window's row.

    Where that window is not comparable (a series break inside it) and the month window's XmR
    chart on the months since the break can judge the latest month, that row leads instead;
    where the measure has no row in the window at all, its "no data" row stands.
    """
    key = ["measure_id", "geography_code"]
    ordered = values.assign(
        _rank=np.select(
            [
                values["window"].eq(window) & values["status"].ne("not comparable"),
                values["window"].eq("month")
                & ~values["status"].isin(["not comparable", "no data"]),
                values["window"].eq(window),
            ],
            [0, 1, 2],
            default=3,
        )
    )
    ordered = ordered.sort_values([*key, "_rank"], kind="stable")
    first = ordered.drop_duplicates(key).drop(columns="_rank")
    order = {m: i for i, m in enumerate(dict.fromkeys(values["measure_id"]))}
    return first.sort_values(
        ["measure_id", "geography_code"],
        key=lambda c: c.map(order) if c.name == "measure_id" else c,
    ).reset_index(drop=True)
