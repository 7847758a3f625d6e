"""Public Attitude Survey (PAS) figures for the public voice page: reads, intervals, comparisons.

The read functions take a DuckDB connection and aggregate in SQL; everything else is a pure
function of small DataFrames. The published PAS extract carries no base sizes, so every
confidence interval and test here uses the assumed bases and design effect of
config/statistics.yaml (:class:`PasAssumptions`), and every page that shows one says so.

The PAS figures are rolling 12-month proportions reported quarterly: consecutive quarters share
about 75% of their interviews, so a change is only tested between non-overlapping years (the
latest figure against the one four quarters earlier).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import yaml

from oversight import stats
from oversight.measures import LONDON, LONDON_NAME, StatisticsConfig
from oversight.settings import PROJECT_ROOT

SOURCE = "MOPAC Public Attitude Survey (London Datastore, OGL v3.0)"
WHOLE_TOLERANCE = 1e-6  # in percentage points: float noise in a published whole percent
EXTREME_SHARE = 0.10  # a figure in the top or bottom tenth of its own history is extreme
FUNNEL_LEVEL = 0.998  # outside London's 99.8% funnel limit is extreme
OVERLAP_NOTE = (
    "Each figure covers the 12 months to the quarter shown, so consecutive quarters share "
    "about 75% of their interviews; a change is therefore tested only between non-overlapping "
    "years (the latest figure against the one four quarters earlier)."
)

# London: the published London-wide series where loaded, else the London figure the Borough
# sheet carries beside every borough (the same numbers in the real files).
LONDON_SQL = """
    london_published as (
        select period_end, measure_id, proportion
        from marts.pas_london
        where proportion is not null
    ),
    london_from_boroughs as (
        select period_end, measure_id, max(london_proportion) as proportion
        from marts.pas_borough
        where london_proportion is not null
        group by period_end, measure_id
    ),
    london as (
        select * from london_published
        union all
        select f.* from london_from_boroughs f
        where not exists (
            select 1 from london_published p
            where p.period_end = f.period_end and p.measure_id = f.measure_id
        )
    )
"""


# --- configuration ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PasAssumptions:
    """The assumed interviews per rolling year and design effect behind every PAS interval."""

    base_borough: int
    base_london: int
    design_effect: float
    level: float
    source: str

    @classmethod
    def from_config(cls, cfg: StatisticsConfig) -> PasAssumptions:
        """Take the bases, design effect and significance level from config/statistics.yaml."""
        return cls(
            base_borough=cfg.pas_base_borough,
            base_london=cfg.pas_base_london,
            design_effect=cfg.pas_design_effect,
            level=1 - cfg.significance_level,
            source=cfg.pas_source,
        )

    @property
    def alpha(self) -> float:
        """Two-sided significance level (0.05 for 95% intervals)."""
        return 1 - self.level

    def base_for(self, geography_code: str) -> int:
        """Assumed interviews per rolling 12 months for London or a borough."""
        return self.base_london if geography_code == LONDON else self.base_borough

    def note(self) -> str:
        """The sentence shown beside every PAS confidence interval."""
        return (
            f"{self.level:.0%} confidence intervals and tests assume {self.base_borough:,} "
            f"interviews per borough and {self.base_london:,} for London in each rolling 12 "
            f"months, with a design effect of {self.design_effect:g}: the published figures "
            f"carry no base sizes. {self.source}"
        )


def load_directions(root: Path | None = None) -> dict[str, str]:
    """Each PAS measure's direction (higher_is_better, lower_is_better, context) from config."""
    path = (root or PROJECT_ROOT) / "config" / "pas_measures.yaml"
    measures = yaml.safe_load(path.read_text(encoding="utf-8"))["measures"]
    return {m["id"]: m["direction"] for m in measures}


# --- reads --------------------------------------------------------------------------------------


def pas_measures(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Measures on the Borough sheet with their label and first and last quarter."""
    return con.execute(
        """
        select measure_id, any_value(measure_label) as measure_label,
               min(period_end) as first_period, max(period_end) as last_period
        from marts.pas_borough
        where proportion is not null
        group by measure_id
        order by lower(replace(any_value(measure_label), '"', ''))
        """
    ).df()


def pas_boroughs(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Boroughs with PAS figures, by name."""
    return con.execute(
        """
        select borough_code, any_value(borough_name) as borough_name
        from marts.pas_borough
        where borough_code is not null
        group by borough_code
        order by borough_name
        """
    ).df()


def pas_series(con: duckdb.DuckDBPyConnection, measure_id: str, borough_code: str) -> pd.DataFrame:
    """One measure over time for a borough and for London (long: one row per geography)."""
    return con.execute(
        f"""
        with {LONDON_SQL},
        borough as (
            select period_end, borough_code as geography_code,
                   borough_name as geography_name, proportion
            from marts.pas_borough
            where measure_id = ? and borough_code = ? and proportion is not null
        ),
        final as (
            select * from borough
            union all
            select period_end, '{LONDON}', '{LONDON_NAME}', proportion
            from london where measure_id = ?
        )
        select * from final order by geography_code = '{LONDON}', period_end
        """,
        [measure_id, borough_code, measure_id],
    ).df()


def pas_all_measures(con: duckdb.DuckDBPyConnection, borough_code: str) -> pd.DataFrame:
    """Every measure for a borough and London, with labels (for the change over a year)."""
    return con.execute(
        f"""
        with {LONDON_SQL},
        labels as (
            select measure_id, any_value(measure_label) as measure_label
            from marts.pas_borough group by measure_id
        ),
        borough as (
            select period_end, measure_id, borough_code as geography_code,
                   borough_name as geography_name, proportion
            from marts.pas_borough
            where borough_code = ? and proportion is not null
        ),
        final as (
            select b.*, l.measure_label from borough b join labels l using (measure_id)
            union all
            select period_end, measure_id, '{LONDON}', '{LONDON_NAME}', proportion,
                   measure_label
            from london join labels using (measure_id)
        )
        select * from final order by geography_code, measure_id, period_end
        """,
        [borough_code],
    ).df()


def pas_latest_boroughs(con: duckdb.DuckDBPyConnection, measure_id: str) -> pd.DataFrame:
    """Every borough's figure for a measure at its latest quarter, with London's."""
    return con.execute(
        f"""
        with {LONDON_SQL},
        latest as (
            select max(period_end) as period_end from marts.pas_borough
            where measure_id = ? and proportion is not null
        ),
        final as (
            select b.period_end, b.borough_code, b.borough_name, b.proportion,
                   l.proportion as london_proportion
            from marts.pas_borough b
            join latest using (period_end)
            left join london l on l.period_end = b.period_end and l.measure_id = b.measure_id
            where b.measure_id = ? and b.proportion is not null and b.borough_code is not null
        )
        select * from final order by borough_name
        """,
        [measure_id, measure_id],
    ).df()


def pas_neighbourhood_groups(con: duckdb.DuckDBPyConnection, borough_code: str) -> pd.DataFrame:
    """Neighbourhood indicators by ethnic group for one borough (missing values left out)."""
    return con.execute(
        """
        select period, neighbourhood, measure_id, measure_label, "group", percent,
               response_definition
        from marts.pas_neighbourhood
        where borough_code = ? and "group" <> 'all' and percent is not null
        order by measure_label, neighbourhood, "group"
        """,
        [borough_code],
    ).df()


def pas_neighbourhood_summary(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Which neighbourhood periods are loaded, and whether they are broken down by group."""
    return con.execute(
        """
        select period, bool_or("group" <> 'all') as by_group,
               count(distinct neighbourhood) as neighbourhoods,
               count(distinct measure_id) as measures
        from marts.pas_neighbourhood
        group by period
        order by period
        """
    ).df()


# --- pure helpers -------------------------------------------------------------------------------


def period_label(value: date | pd.Timestamp) -> str:
    """'12 months to December 2023' for a rolling-year quarter end."""
    return f"12 months to {pd.Timestamp(value):%B %Y}"


def is_whole_percent(value: float | None) -> bool:
    """True when a proportion is a whole number of percent, as the PAS publishes them."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    return abs(value * 100 - round(value * 100)) < WHOLE_TOLERANCE


def pct(value: float | None, digits: int | None = None) -> str:
    """A proportion as a percentage ('78%'); an en dash when missing.

    By default a whole percent is shown without decimals and anything else to one decimal;
    ``digits`` fixes the number of decimals.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if digits is None:
        digits = 0 if is_whole_percent(value) else 1
    return f"{value * 100:.{digits}f}%"


def pct_interval(lower: float, upper: float, estimate: float) -> str:
    """'64% to 75%': a confidence interval as precise as the published estimate."""
    digits = 0 if is_whole_percent(estimate) else 1
    return f"{pct(lower, digits)} to {pct(upper, digits)}"


def points(value: float | None, digits: int | None = None) -> str:
    """A difference of proportions in signed percentage points ('+3', '-0.5', '0').

    A difference of two whole percents is a whole number of points and is shown as one; any
    other difference to one decimal, unless ``digits`` is given. No difference is '0'.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if digits is None:
        digits = 0 if is_whole_percent(value) else 1
    shown = f"{value * 100:+.{digits}f}"
    return "0" if float(shown) == 0 and digits == 0 else shown


def points_words(value: float, digits: int | None = None) -> str:
    """'+3 points', '-1 point'."""
    shown = points(value, digits)
    return f"{shown} {'point' if shown in ('+1', '-1') else 'points'}"


def points_interval(lower: float, upper: float) -> str:
    """A confidence interval in points, to one decimal ('-12.4 to -0.4').

    The bounds come from the assumed bases, not from the published figures, so they are not
    whole numbers; one decimal keeps an interval that just excludes zero from reading '-0'.
    """
    return f"{points(lower, 1)} to {points(upper, 1)}"


def difference_text(
    later: float, earlier: float, lower: float, upper: float, level: float = 0.95
) -> str:
    """'-6 points (95% CI -13.4 to +1.5)': a difference with its interval.

    The published figures are whole percents, so their difference is a whole number of points
    and is shown as one (not '-6.0'); the interval is quoted to one decimal.
    """
    whole = is_whole_percent(later) and is_whole_percent(earlier)
    shown = points_words(later - earlier, 0 if whole else 1)
    return f"{shown} ({level:.0%} CI {points_interval(lower, upper)})"


def with_intervals(frame: pd.DataFrame, assumptions: PasAssumptions) -> pd.DataFrame:
    """Add Wilson ``lower``/``upper`` on the effective sample (assumed base / design effect).

    ``frame`` has ``geography_code`` and ``proportion``; the base follows the geography.
    """
    out = frame.copy()
    bounds = [
        stats.wilson_interval(
            p * assumptions.base_for(code) / assumptions.design_effect,
            assumptions.base_for(code) / assumptions.design_effect,
            assumptions.level,
        )
        for code, p in zip(out["geography_code"], out["proportion"], strict=True)
    ]
    out["lower"] = [b[0] for b in bounds]
    out["upper"] = [b[1] for b in bounds]
    out["assumed_base"] = [assumptions.base_for(c) for c in out["geography_code"]]
    return out


def gap_test(
    borough: float, london: float, assumptions: PasAssumptions
) -> stats.ProportionDifference:
    """Borough minus London, with its CI and two-proportion test on the assumed bases."""
    return stats.two_proportion_test(
        borough,
        assumptions.base_borough,
        london,
        assumptions.base_london,
        assumptions.design_effect,
        assumptions.level,
    )


def verdict(difference: float, p_value: float, alpha: float, against: str) -> str:
    """'significantly above London', 'significantly below London' or 'not significantly ...'."""
    if math.isnan(p_value):
        return "not tested"
    if p_value >= alpha:
        return f"not significantly different from {against}"
    return f"significantly {'above' if difference > 0 else 'below'} {against}"


def gap_series(series: pd.DataFrame, assumptions: PasAssumptions) -> pd.DataFrame:
    """Each quarter's borough–London gap with its CI, p-value and verdict."""
    wide = series.assign(is_london=series["geography_code"] == LONDON).pivot_table(
        index="period_end", columns="is_london", values="proportion", aggfunc="first"
    )
    wide = wide.rename(columns={False: "borough", True: "london"}).dropna()
    rows = []
    for period_end, row in wide.iterrows():
        test = gap_test(row["borough"], row["london"], assumptions)
        rows.append(
            {
                "period_end": period_end,
                "borough": row["borough"],
                "london": row["london"],
                "gap": test.difference,
                "gap_lower": test.lower,
                "gap_upper": test.upper,
                "p_value": test.p_value,
                "significant": bool(test.p_value < assumptions.alpha),
            }
        )
    columns = [
        "period_end",
        "borough",
        "london",
        "gap",
        "gap_lower",
        "gap_upper",
        "p_value",
        "significant",
    ]
    return pd.DataFrame(rows, columns=columns)


def year_earlier(period_end: date | pd.Timestamp) -> pd.Timestamp:
    """The quarter end four quarters (one non-overlapping year) before ``period_end``."""
    return pd.Timestamp(period_end) - pd.DateOffset(years=1)


def _by_month(group: pd.DataFrame) -> dict[pd.Period, tuple[pd.Timestamp, float]]:
    """A geography's figures keyed by calendar month (quarter ends may fall on any day)."""
    stamps = pd.to_datetime(group["period_end"])
    return {
        s.to_period("M"): (s, float(p)) for s, p in zip(stamps, group["proportion"], strict=True)
    }


def change_over_year(
    frame: pd.DataFrame, assumptions: PasAssumptions, directions: dict[str, str]
) -> pd.DataFrame:
    """Latest figure against the one four quarters earlier, per geography and measure.

    ``frame`` is :func:`pas_all_measures`. The comparison is always the rolling year ending 12
    months before the latest (the two years share no interviews); when that quarter is not
    published the change is "no data", never a nearer, overlapping quarter. The test is a
    two-proportion z-test on the assumed base with the design effect; ``status`` follows the
    measure's direction (context measures are never judged good or bad).
    """
    rows = []
    for (code, measure_id), group in frame.groupby(["geography_code", "measure_id"], sort=False):
        values = _by_month(group)
        latest_month = max(values)
        latest_end, latest = values[latest_month]
        earlier_end, earlier = values.get(latest_month - 12, (year_earlier(latest_end), math.nan))
        base = assumptions.base_for(code)
        row = {
            "geography_code": code,
            "geography_name": group["geography_name"].iloc[0],
            "measure_id": measure_id,
            "measure_label": group["measure_label"].iloc[0],
            "period_end": latest_end,
            "latest": latest,
            "comparison_period_end": earlier_end,
            "year_earlier": earlier,
            "assumed_base": base,
        }
        if not math.isnan(earlier):
            test = stats.two_proportion_test(
                latest, base, earlier, base, assumptions.design_effect, assumptions.level
            )
            significant = bool(test.p_value < assumptions.alpha)
            direction = directions.get(measure_id, "context")
            status = stats.classify_change(direction, significant, True, test.difference > 0)
            row.update(
                change=test.difference,
                change_lower=test.lower,
                change_upper=test.upper,
                p_value=test.p_value,
                significant=significant,
                status=status,
            )
        else:
            row.update(
                change=math.nan,
                change_lower=math.nan,
                change_upper=math.nan,
                p_value=math.nan,
                significant=False,
                status="no data",
            )
        rows.append(row)
    return pd.DataFrame(rows)


def non_overlapping(gaps: pd.DataFrame) -> pd.DataFrame:
    """The rows of a quarterly frame at whole years back from its latest ``period_end``.

    Rolling years ending 12 months apart share no interviews, so these rows are separate
    checks; neighbouring quarters are not.
    """
    if gaps.empty:
        return gaps
    months = pd.to_datetime(gaps["period_end"]).dt.to_period("M")
    latest = months.max()
    steps = (latest - months).map(lambda offset: offset.n)
    return gaps[(steps % 12) == 0]


@dataclass(frozen=True)
class ExtremeCheck:
    """Whether a borough's comparison-year figure was extreme, and why (for the RTM note).

    Measured on the borough's gap to London, so a movement shared by all of London (a trend)
    does not make every borough look extreme.
    """

    extreme: bool
    high: bool  # the gap was above the borough's usual (median) gap
    outside_funnel: bool
    in_tail: bool
    gap: float
    quarters: int


def check_extreme(
    own: pd.DataFrame,
    london: pd.DataFrame,
    period_end: date | pd.Timestamp,
    base: int,
    design_effect: float,
) -> ExtremeCheck | None:
    """Was the borough's figure at ``period_end`` among its most extreme against London?

    Extreme means either: its gap to London was in the top or bottom tenth of its own quarterly
    gaps (mid-ranks, so tied whole percents share a rank); or it was outside London's 99.8%
    funnel limit (the binomial limit on the borough's effective base, base / design effect)
    when the borough's usual (median) gap is inside it. ``own`` and ``london`` have
    period_end and proportion; None when either figure for that quarter is missing.
    """
    from scipy.stats import norm

    mine, theirs = _by_month(own), _by_month(london)
    months = sorted(set(mine) & set(theirs))
    month = pd.Timestamp(period_end).to_period("M")
    if month not in months:
        return None
    gaps = pd.Series({m: mine[m][1] - theirs[m][1] for m in months})
    gap = float(gaps[month])
    below = float((gaps < gap - 1e-12).sum() + 0.5 * (abs(gaps - gap) <= 1e-12).sum())
    share = below / len(gaps)
    in_tail = share <= EXTREME_SHARE or share >= 1 - EXTREME_SHARE
    centre = theirs[month][1]
    limit = norm.ppf(0.5 + FUNNEL_LEVEL / 2) * math.sqrt(
        centre * (1 - centre) / (base / design_effect)
    )
    usual = float(gaps.median())
    outside = abs(gap) > limit and abs(usual) <= limit
    return ExtremeCheck(in_tail or outside, gap > usual, outside, in_tail, gap, len(gaps))


def regression_note(
    name: str, check: ExtremeCheck | None, change: float, comparison_end: date | pd.Timestamp
) -> str:
    """A sentence warning that some of a change is regression to the mean, or ''.

    Given only when the comparison year was extreme (:func:`check_extreme`) and the change
    moved back towards the usual level (a fall after a high, a rise after a low).
    """
    if check is None or not check.extreme or change != change or change == 0:
        return ""
    if (change < 0) != check.high:
        return ""
    why = []
    if check.outside_funnel:
        why.append(f"outside London's {FUNNEL_LEVEL:.1%} funnel limits, where it usually is not")
    if check.in_tail:
        tenth = "top" if check.high else "bottom"
        why.append(f"in the {tenth} tenth of its {check.quarters} quarters")
    movement = "fall" if change < 0 else "rise"
    return (
        f"In the {period_label(comparison_end)} {name}'s gap to London "
        f"({points_words(check.gap)}) was one of its most extreme ({'; '.join(why)}), so "
        f"some of this {movement} is expected from regression to the mean: an unusually high "
        "or low survey figure tends to be followed by one nearer the usual level even when "
        "nothing has changed."
    )


def compare_boroughs(latest: pd.DataFrame, assumptions: PasAssumptions) -> pd.DataFrame:
    """Each borough's figure with its Wilson CI and its gap to London, tested."""
    out = with_intervals(latest.assign(geography_code=latest["borough_code"]), assumptions)
    tests = [
        gap_test(b, lon, assumptions)
        for b, lon in zip(out["proportion"], out["london_proportion"], strict=True)
    ]
    out["gap"] = [t.difference for t in tests]
    out["gap_lower"] = [t.lower for t in tests]
    out["gap_upper"] = [t.upper for t in tests]
    out["p_value"] = [t.p_value for t in tests]
    out["comparison"] = [
        "above London"
        if t.p_value < assumptions.alpha and t.difference > 0
        else "below London"
        if t.p_value < assumptions.alpha
        else "not significantly different"
        for t in tests
    ]
    return out.drop(columns=["geography_code"])


def lowest_group_counts(frame: pd.DataFrame) -> pd.Series:
    """For one measure: in how many neighbourhoods each group has the lowest figure.

    Neighbourhoods where fewer than two groups are published, or the lowest figure is shared,
    are not counted.
    """
    counts: dict[str, int] = {}
    for _, group in frame.groupby("neighbourhood"):
        if len(group) < 2:
            continue
        lowest = group["percent"].min()
        at_lowest = group.loc[group["percent"] == lowest, "group"]
        if len(at_lowest) == 1:
            counts[at_lowest.iloc[0]] = counts.get(at_lowest.iloc[0], 0) + 1
    return pd.Series(counts, dtype="int64").sort_values(ascending=False)
