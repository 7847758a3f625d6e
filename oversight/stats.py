"""Statistical tests, control limits and comparison windows used to judge a change.

Pure functions over numbers, arrays and pandas Series: no I/O, no warehouse, no dashboard.
The conventions (Wilson intervals, exact Poisson rate ratios, XmR charts with the NHS *Making
Data Count* rules, overdispersed funnel plots, materiality and series breaks) are described in
the design notes under "Statistics conventions". Thresholds, tolerances, design effects and
break dates come from configuration and are passed in by the caller.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

DIRECTIONS = ("higher_is_better", "lower_is_better", "context")
CHANGE_LABELS = ("improving", "deteriorating", "no significant change", "context", "no data")

# Making Data Count constants: 2.66 = 3 / d2 with d2 = 1.128 for moving ranges of two points.
XMR_LIMIT_FACTOR = 2.66
D2 = 1.128
RUN_LENGTH = 7
TREND_LENGTH = 7
SPC_RULES = ("beyond_limit", "run", "trend", "two_of_three")

NAN = float("nan")


def _z_for_level(level: float) -> float:
    """Two-sided standard normal critical value for a confidence level."""
    if not 0 < level < 1:
        raise ValueError(f"confidence level must be between 0 and 1, got {level}")
    return float(stats.norm.ppf(0.5 + level / 2))


# --- proportions -------------------------------------------------------------------------------


def wilson_interval(successes: float, n: float, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a proportion; (nan, nan) when n is 0.

    Written from the formula (with scipy's normal quantile) rather than via
    ``scipy.stats.binomtest`` because survey counts are effective sizes (base / design
    effect) and need not be whole numbers.
    """
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"need 0 <= successes <= n, got successes={successes}, n={n}")
    if n == 0:
        return (NAN, NAN)
    z = _z_for_level(level)
    p = successes / n
    denom = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class ProportionDifference:
    """Difference p1 - p2 with its confidence interval and two-proportion z-test."""

    difference: float
    lower: float
    upper: float
    z: float
    p_value: float
    design_effect: float


def two_proportion_test(
    p1: float, n1: float, p2: float, n2: float, design_effect: float = 1.0, level: float = 0.95
) -> ProportionDifference:
    """Two-proportion z-test (pooled) with a Newcombe–Wilson CI, on effective n = n / deff.

    The CI is Newcombe's hybrid score interval, built from the two Wilson intervals, so it
    stays sensible when a proportion is 0 or 1 (where a Wald interval collapses to a point).
    """
    for name, p in (("p1", p1), ("p2", p2)):
        if not 0 <= p <= 1:
            raise ValueError(f"{name} must be a proportion between 0 and 1, got {p}")
    if design_effect <= 0:
        raise ValueError(f"design_effect must be positive, got {design_effect}")
    if n1 < 0 or n2 < 0:
        raise ValueError(f"sample sizes must not be negative, got n1={n1}, n2={n2}")
    diff = p1 - p2
    if n1 == 0 or n2 == 0:
        return ProportionDifference(NAN, NAN, NAN, NAN, NAN, design_effect)
    m1, m2 = n1 / design_effect, n2 / design_effect
    pooled = (p1 * m1 + p2 * m2) / (m1 + m2)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / m1 + 1 / m2))
    z = diff / se0 if se0 > 0 else 0.0
    p_value = float(2 * stats.norm.sf(abs(z)))
    l1, u1 = wilson_interval(p1 * m1, m1, level)
    l2, u2 = wilson_interval(p2 * m2, m2, level)
    lower = diff - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    upper = diff + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return ProportionDifference(diff, lower, upper, z, p_value, design_effect)


# --- counts and rates --------------------------------------------------------------------------


@dataclass(frozen=True)
class RateRatio:
    """Ratio of two Poisson rates with an exact conditional CI and two-sided p-value."""

    ratio: float
    lower: float
    upper: float
    p_value: float


def poisson_rate_ratio(
    count_a: int,
    exposure_a: float,
    count_b: int,
    exposure_b: float,
    level: float = 0.95,
) -> RateRatio:
    """Rate ratio (a / b) by the exact conditional binomial test; all-NaN when both counts are 0.

    Given the total count, count_a is binomial with p = exposure_a / (exposure_a + exposure_b)
    under equal rates; the Clopper–Pearson interval for that proportion maps to the ratio.
    """
    if exposure_a <= 0 or exposure_b <= 0:
        raise ValueError(f"exposures must be positive, got {exposure_a} and {exposure_b}")
    if count_a < 0 or count_b < 0 or int(count_a) != count_a or int(count_b) != count_b:
        raise ValueError(f"counts must be whole numbers >= 0, got {count_a} and {count_b}")
    count_a, count_b = int(count_a), int(count_b)
    total = count_a + count_b
    if total == 0:
        return RateRatio(NAN, NAN, NAN, NAN)
    result = stats.binomtest(count_a, total, p=exposure_a / (exposure_a + exposure_b))
    ci = result.proportion_ci(confidence_level=level, method="exact")
    scale = exposure_b / exposure_a

    def to_ratio(share: float) -> float:
        return math.inf if share >= 1 else share / (1 - share) * scale

    ratio = math.inf if count_b == 0 else (count_a / exposure_a) / (count_b / exposure_b)
    return RateRatio(ratio, to_ratio(ci.low), to_ratio(ci.high), float(result.pvalue))


def disproportionality_ratio(
    count_group: int, pop_group: float, count_ref: int, pop_ref: float, level: float = 0.95
) -> RateRatio:
    """Rate per head in a group relative to a reference group, with an exact CI."""
    return poisson_rate_ratio(count_group, pop_group, count_ref, pop_ref, level)


# --- XmR charts --------------------------------------------------------------------------------


@dataclass(frozen=True)
class XmrLimits:
    """Centre line, average moving range and natural process limits of an XmR chart."""

    centre: float
    mr_bar: float
    lower: float
    upper: float

    @property
    def sigma(self) -> float:
        """Estimated process standard deviation, mR-bar / 1.128."""
        return self.mr_bar / D2


def xmr_limits(values: Sequence[float] | pd.Series | np.ndarray) -> XmrLimits:
    """XmR centre (mean) and limits at centre ± 2.66 × mR-bar; NaN if < 2 observed points.

    Missing values are skipped: moving ranges are taken between successive observed points.
    """
    observed = np.asarray(values, dtype=float)
    observed = observed[~np.isnan(observed)]
    if observed.size < 2:
        return XmrLimits(NAN, NAN, NAN, NAN)
    centre = float(observed.mean())
    mr_bar = float(np.abs(np.diff(observed)).mean())
    spread = XMR_LIMIT_FACTOR * mr_bar
    return XmrLimits(centre, mr_bar, centre - spread, centre + spread)


def _flag_runs(signs: np.ndarray, min_length: int) -> np.ndarray:
    """Mark members of runs of at least min_length equal non-zero signs."""
    flags = np.zeros(signs.size, dtype=bool)
    start = 0
    for i in range(1, signs.size + 1):
        if i == signs.size or signs[i] != signs[start]:
            if signs[start] != 0 and i - start >= min_length:
                flags[start:i] = True
            start = i
    return flags


def _trend_flags(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points in runs of TREND_LENGTH or more strictly rising or falling values."""
    steps = np.sign(np.diff(x))
    steps[np.isnan(steps)] = 0
    rising = _flag_runs(np.where(steps > 0, 1, 0), TREND_LENGTH - 1)
    falling = _flag_runs(np.where(steps < 0, 1, 0), TREND_LENGTH - 1)
    up = np.zeros(x.size, dtype=bool)
    down = np.zeros(x.size, dtype=bool)
    # A step i..i+1 in a trend puts both of its points in the trend.
    up[:-1] |= rising
    up[1:] |= rising
    down[:-1] |= falling
    down[1:] |= falling
    return up, down


def _two_of_three(outer: np.ndarray) -> np.ndarray:
    """Points in the outer third that share a window of three with another such point."""
    flags = np.zeros(outer.size, dtype=bool)
    for start in range(max(0, outer.size - 2)):
        window = outer[start : start + 3]
        if window.sum() >= 2:
            flags[start : start + 3] |= window
    return flags


def spc_signals(
    values: Sequence[float] | pd.Series | np.ndarray, centre: float, lower: float, upper: float
) -> pd.DataFrame:
    """Making Data Count special-cause flags for each point, one boolean column per rule.

    Columns are the names in ``SPC_RULES`` plus ``direction``: +1 where the point signals high
    (or a rising trend), -1 low (or falling), 0 for no signal or conflicting signals. Sigma is
    taken from the limits ((upper - centre) / 3); a NaN value breaks runs and is never flagged.
    """
    index = values.index if isinstance(values, pd.Series) else None
    x = np.asarray(values, dtype=float)
    with np.errstate(invalid="ignore"):
        side = np.sign(x - centre)
    side[np.isnan(side)] = 0
    high_outer = x > centre + 2 * (upper - centre) / 3
    low_outer = x < centre - 2 * (centre - lower) / 3
    above, below = x > upper, x < lower
    run_up = _flag_runs(np.where(side > 0, 1, 0), RUN_LENGTH)
    run_down = _flag_runs(np.where(side < 0, 1, 0), RUN_LENGTH)
    trend_up, trend_down = _trend_flags(x)
    near_high, near_low = _two_of_three(high_outer), _two_of_three(low_outer)
    up = above | run_up | trend_up | near_high
    down = below | run_down | trend_down | near_low
    return pd.DataFrame(
        {
            "beyond_limit": above | below,
            "run": run_up | run_down,
            "trend": trend_up | trend_down,
            "two_of_three": near_high | near_low,
            "direction": np.where(up & ~down, 1, np.where(down & ~up, -1, 0)),
        },
        index=index,
    )


# --- funnel plots ------------------------------------------------------------------------------


def _level_label(level: float) -> str:
    """Column suffix for a level: 0.95 -> '95', 0.998 -> '99_8'."""
    return f"{level * 100:g}".replace(".", "_")


def _poisson_limit(expected: np.ndarray, prob: float) -> np.ndarray:
    """Interpolated Poisson quantile of Spiegelhalter (2005), appendix A.1.2."""
    r = stats.poisson.ppf(prob, expected)
    cdf_r = stats.poisson.cdf(r, expected)
    cdf_below = stats.poisson.cdf(r - 1, expected)
    with np.errstate(invalid="ignore", divide="ignore"):
        alpha = np.where(cdf_r > cdf_below, (cdf_r - prob) / (cdf_r - cdf_below), 0.0)
    return np.maximum(r - alpha, 0.0)


def funnel_limits(
    expected_rate: float,
    exposures: Sequence[float] | np.ndarray | pd.Series,
    levels: Sequence[float] = (0.95, 0.998),
) -> pd.DataFrame:
    """Exact Poisson funnel limits on the rate scale for each exposure and two-sided level.

    Columns: ``exposure``, ``lower_<level>`` and ``upper_<level>`` (e.g. ``upper_99_8``).
    """
    exposure = np.asarray(exposures, dtype=float)
    if expected_rate < 0 or np.any(exposure <= 0):
        raise ValueError("funnel limits need a non-negative rate and positive exposures")
    expected = expected_rate * exposure
    frame = {"exposure": exposure}
    for level in levels:
        _z_for_level(level)
        tail = (1 - level) / 2
        label = _level_label(level)
        frame[f"lower_{label}"] = _poisson_limit(expected, tail) / exposure
        frame[f"upper_{label}"] = _poisson_limit(expected, 1 - tail) / exposure
    index = exposures.index if isinstance(exposures, pd.Series) else None
    return pd.DataFrame(frame, index=index)


FUNNEL_METHODS = ("multiplicative", "additive", "additive_log")


@dataclass(frozen=True)
class OverdispersedFunnel:
    """Funnel against a target rate with overdispersion-adjusted limits for each unit.

    ``units`` has columns count, exposure, rate, z (unadjusted), z_adjusted and, per level,
    ``lower_<level>``, ``upper_<level>`` and ``outside_<level>``.
    """

    target: float
    method: str
    phi: float
    tau2: float
    units: pd.DataFrame


def overdispersed_funnel(
    counts: Sequence[float] | np.ndarray | pd.Series,
    exposures: Sequence[float] | np.ndarray | pd.Series,
    target: float | None = None,
    levels: Sequence[float] = (0.95, 0.998),
    method: Literal["multiplicative", "additive", "additive_log"] = "multiplicative",
    winsor: float = 0.10,
) -> OverdispersedFunnel:
    """Spiegelhalter (2005) funnel for rates with winsorised overdispersion adjustment.

    z-scores use the normal approximation on the rate scale, s_i = sqrt(target / exposure_i);
    the target defaults to the pooled rate (e.g. London). phi is the mean square of z-scores
    winsorised at ``winsor`` in each tail. Multiplicative: limits widen by sqrt(phi) when
    phi > 1. Additive: tau² = (I·phi - (I - 1)) / (Σw - Σw²/Σw), w = 1/s², floored at 0, and
    limits use sqrt(s² + tau²). Additive on the log scale (``additive_log``): see
    :func:`_log_additive_funnel`. Units with a missing count are reported but not used.
    """
    if method not in FUNNEL_METHODS:
        raise ValueError(f"method must be one of {FUNNEL_METHODS}, got {method!r}")
    count = np.asarray(counts, dtype=float)
    exposure = np.asarray(exposures, dtype=float)
    if count.shape != exposure.shape:
        raise ValueError("counts and exposures must be the same length")
    if np.any(~(exposure > 0)):
        raise ValueError("every exposure must be positive")
    used = ~np.isnan(count)
    if used.sum() < 2:
        raise ValueError("an overdispersed funnel needs at least two units with counts")
    if target is None:
        target = float(count[used].sum() / exposure[used].sum())
    if target <= 0:
        raise ValueError(f"target rate must be positive, got {target}")
    rate = count / exposure
    if method == "additive_log":
        return _log_additive_funnel(count, exposure, target, levels, winsor, counts)
    se = np.sqrt(target / exposure)
    z = (rate - target) / se
    winsorised = np.asarray(stats.mstats.winsorize(z[used], limits=(winsor, winsor)))
    n_units = int(used.sum())
    phi = float(np.mean(winsorised**2))
    if method == "multiplicative":
        tau2 = 0.0
        spread = se * math.sqrt(max(phi, 1.0))
    else:
        w = 1 / se[used] ** 2
        tau2 = max(0.0, (n_units * phi - (n_units - 1)) / (w.sum() - (w**2).sum() / w.sum()))
        spread = np.sqrt(se**2 + tau2)
    frame = {
        "count": count,
        "exposure": exposure,
        "rate": rate,
        "z": z,
        "z_adjusted": (rate - target) / spread,
    }
    for level in levels:
        crit = _z_for_level(level)
        label = _level_label(level)
        frame[f"lower_{label}"] = target - crit * spread
        frame[f"upper_{label}"] = target + crit * spread
        frame[f"outside_{label}"] = np.abs(frame["z_adjusted"]) > crit
    index = counts.index if isinstance(counts, pd.Series) else None
    return OverdispersedFunnel(target, method, phi, tau2, pd.DataFrame(frame, index=index))


# --- judging a change --------------------------------------------------------------------------


def is_material(change: float, tolerance: float) -> bool:
    """True when the size of a change reaches the materiality tolerance; False for NaN."""
    if tolerance < 0:
        raise ValueError(f"tolerance must not be negative, got {tolerance}")
    if change is None or math.isnan(change):
        return False
    return abs(change) >= tolerance


def classify_change(
    direction: str, significant: bool | None, material: bool, increase: bool | None
) -> str:
    """Label a change for display: improving, deteriorating, no significant change, context."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    if significant is None or increase is None:
        return "no data"
    if direction == "context":
        return "context"
    if not (significant and material):
        return "no significant change"
    good = increase == (direction == "higher_is_better")
    return "improving" if good else "deteriorating"


def percent_change_allowed(count: float, threshold: float) -> bool:
    """True when a base count is large enough (and non-zero) to quote a percentage change."""
    if count is None or math.isnan(count):
        return False
    return count > 0 and count >= threshold


# --- overdispersed comparisons over time -------------------------------------------------------
#
# Recorded crime varies from year to year by more than Poisson chance: in the real borough
# files the year-on-year variance is 3 to 11 times Poisson. A comparison of two windows is
# therefore made on the log scale with a between-period variance tau² added to the Poisson
# variance of each window (a gamma–Poisson, i.e. negative-binomial, model of extra variation,
# in its log-normal approximation). tau² is estimated from the series' own history of the same
# comparison, so the test asks "is this change larger than the usual change from one period to
# the next?". p-value and interval come from the same normal model of the log rate ratio.

CHI2_1_MEDIAN = float(stats.chi2.ppf(0.5, 1))
# Mean of a chi-square(1) capped at its 97.5th percentile: what a capped mean of squared
# Pearson residuals estimates when the dispersion is 1.
CAPPED_CHI2_1_MEAN = 0.9555


def overdispersed_rate_ratio(
    current: float,
    comparison_total: float,
    comparison_windows: int = 1,
    tau2: float = 0.0,
    level: float = 0.95,
    phi: float = 1.0,
    df: int | None = None,
) -> RateRatio:
    """Rate ratio of a window's count to the mean of ``comparison_windows`` earlier windows.

    log(ratio) is taken as normal with variance 1/current + 1/comparison_total +
    tau² × (1 + 1/comparison_windows): Poisson variation of both sums plus the between-period
    variation of each period's level (tau² = 0 gives the Poisson Wald test). A zero count takes
    0.5 (continuity), so the ratio of 0 against 10 is finite and not significant by accident.
    With ``df`` (the degrees of freedom of an estimated phi), quantiles and p-value are
    Student's t, as a quasi-Poisson model with estimated scale uses.
    """
    if comparison_windows < 1:
        raise ValueError(f"comparison_windows must be at least 1, got {comparison_windows}")
    if current < 0 or comparison_total < 0 or tau2 < 0:
        raise ValueError("counts and tau2 must not be negative")
    if current == 0 and comparison_total == 0:
        return RateRatio(NAN, NAN, NAN, NAN)
    a = max(float(current), 0.5)
    b = max(float(comparison_total), 0.5)
    log_ratio = math.log(a) - math.log(b / comparison_windows)
    se = math.sqrt(phi * (1 / a + 1 / b) + tau2 * (1 + 1 / comparison_windows))
    null = stats.norm if df is None else stats.t(df)
    crit = float(null.ppf(0.5 + level / 2))
    p_value = float(2 * null.sf(abs(log_ratio) / se))
    return RateRatio(
        math.exp(log_ratio),
        math.exp(log_ratio - crit * se),
        math.exp(log_ratio + crit * se),
        p_value,
    )


def comparison_dispersion(
    current: float,
    comparison_total: float,
    comparison_windows: int,
    tau2: float,
    phi: float = 1.0,
) -> float:
    """How many times Poisson the variance of a comparison is (1 when phi = 1, tau² = 0)."""
    a, b = max(float(current), 0.5), max(float(comparison_total), 0.5)
    poisson = 1 / a + 1 / b
    return (phi * poisson + tau2 * (1 + 1 / comparison_windows)) / poisson


def between_period_variance(
    current: Sequence[float] | np.ndarray,
    comparison_total: Sequence[float] | np.ndarray,
    comparison_windows: int = 1,
    groups: Sequence[object] | np.ndarray | None = None,
    min_pairs: int = 12,
) -> float | None:
    """Robust estimate of tau² from historical comparisons of the same kind; None if too few.

    Each historical pair gives d = log(current / (comparison_total / k)) with Poisson variance
    v = 1/current + 1/comparison_total. Within each group (a borough, say) d is centred on its
    median, so a steady trend is not counted as noise. tau² solves
    median(d² / (v + tau² (1 + 1/k))) = median of chi-square(1): a median, not a mean, so a
    single exceptional year (the 2020 lockdowns) does not set the noise for every other year.
    """
    a = np.asarray(current, dtype=float)
    b = np.asarray(comparison_total, dtype=float)
    keep = (a > 0) & (b > 0) & np.isfinite(a) & np.isfinite(b)
    label = None if groups is None else np.asarray(groups, dtype=object)[keep]
    a, b = a[keep], b[keep]
    d = np.log(a) - np.log(b / comparison_windows)
    return log_ratio_variance(d, 1 / a + 1 / b, 1 + 1 / comparison_windows, label, min_pairs)


def _centre_by_group(d: np.ndarray, groups: np.ndarray | None, keep: np.ndarray) -> np.ndarray:
    """``d`` less its median within each group (a steady trend in one area is not noise)."""
    label = np.zeros(d.size) if groups is None else np.asarray(groups, dtype=object)[keep]
    centred = d.copy()
    for value in pd.unique(label):
        mine = label == value
        centred[mine] = d[mine] - np.median(d[mine])
    return centred


def log_ratio_variance(
    d: np.ndarray,
    v: np.ndarray,
    inflate: float = 2.0,
    groups: np.ndarray | None = None,
    min_pairs: int = 12,
) -> float | None:
    """tau² from log ratios ``d`` with Poisson variances ``v``: the core of
    :func:`between_period_variance`, also used for a borough's change against London's."""
    d, v = np.asarray(d, dtype=float), np.asarray(v, dtype=float)
    keep = np.isfinite(d) & np.isfinite(v)
    if keep.sum() < min_pairs:
        return None
    d, v = d[keep], v[keep]
    centred = _centre_by_group(d, groups, keep)

    def excess(tau2: float) -> float:
        return float(np.median(centred**2 / (v + tau2 * inflate))) - CHI2_1_MEDIAN

    if excess(0.0) <= 0:
        return 0.0
    high = 1.0
    while excess(high) > 0 and high < 1e3:
        high *= 10
    from scipy.optimize import brentq

    return float(brentq(excess, 0.0, high, xtol=1e-10))



def log_ratio_dispersion(
    d: np.ndarray,
    v: np.ndarray,
    inflate: float = 2.0,
    groups: np.ndarray | None = None,
    min_pairs: int = 12,
) -> tuple[float, float] | None:
    """(phi, tau²) for pooled series of different sizes: variance phi × v + tau² × inflate.

    Areas of very different size need both terms: quasi-Poisson extra variation (phi, a
    multiple of the Poisson variance, which dominates small counts) and between-period
    variation of the level (tau², a share of the rate, which dominates large counts). The two
    are fitted by making the median standardised square equal the chi-square(1) median in the
    smaller-count and the larger-count halves of the history at once. With too narrow a range
    of sizes to tell them apart, phi is 1 and tau² is :func:`log_ratio_variance`'s.
    """
    d, v = np.asarray(d, dtype=float), np.asarray(v, dtype=float)
    keep = np.isfinite(d) & np.isfinite(v)
    if keep.sum() < 2 * min_pairs:
        tau2 = log_ratio_variance(d, v, inflate, groups, min_pairs)
        return None if tau2 is None else (1.0, tau2)
    d, v = d[keep], v[keep]
    label = np.zeros(d.size) if groups is None else np.asarray(groups, dtype=object)[keep]
    centred = _centre_by_group(d, groups, keep)
    cut = np.median(v)
    halves = [v <= cut, v > cut]
    spread = np.median(v[halves[1]]) / np.median(v[halves[0]]) if halves[1].any() else 1.0
    if min(h.sum() for h in halves) < min_pairs or spread < 1.5:
        tau2 = log_ratio_variance(d, v, inflate, label, min_pairs)
        return None if tau2 is None else (1.0, tau2)
    from scipy.optimize import least_squares

    def residuals(params: np.ndarray) -> np.ndarray:
        phi, tau2 = 1 + math.exp(params[0]), math.exp(params[1])
        scale = phi * v + tau2 * inflate
        return np.array(
            [math.log(np.median(centred[h] ** 2 / scale[h]) / CHI2_1_MEDIAN) for h in halves]
        )

    fit = least_squares(residuals, x0=np.array([0.0, math.log(1e-3)]), bounds=([-12, -25], [8, 3]))
    return (1 + math.exp(fit.x[0]), math.exp(fit.x[1]))


def monthly_dispersion(
    values: Sequence[float] | np.ndarray,
    factors: np.ndarray | None = None,
    months: Sequence[int] | np.ndarray | None = None,
) -> float | None:
    """Quasi-Poisson dispersion of consecutive monthly counts around their trend and season.

    The expected count is the centred 2×12 moving average times the month's seasonal factor;
    phi is the mean squared Pearson residual (Pearson chi-square over its degrees of freedom,
    allowing for the 1/12 of each month the average itself absorbs), with the top 2.5% of
    months capped so the 2020 lockdowns do not set the noise of every other month; floored at
    1. None with fewer than 25 months.
    """
    x = np.asarray(values, dtype=float)
    if x.size < 25 or np.isnan(x).any():
        return None
    kernel = np.r_[0.5, np.ones(11), 0.5] / 12
    trend = np.convolve(x, kernel, mode="valid")
    if factors is not None and months is not None:
        season = np.asarray(factors)[np.asarray(months, dtype=int)[6:-6] % 12]
    else:
        season = np.ones(trend.size)
    expected = trend * season
    ok = expected > 0
    if ok.sum() < 12:
        return None
    pearson = (x[6:-6][ok] - expected[ok]) ** 2 / expected[ok]
    cap = np.quantile(pearson, 0.975)
    capped_mean = float(np.mean(np.minimum(pearson, cap)))
    return max(1.0, capped_mean / CAPPED_CHI2_1_MEAN / (1 - 1 / 12))

# --- seasonality -------------------------------------------------------------------------------


def seasonal_factors(
    months: Sequence[int] | np.ndarray, values: Sequence[float] | np.ndarray, min_months: int = 24
) -> np.ndarray | None:
    """Multiplicative month-of-year factors (12, mean 1) by ratio to a centred 2×12 average.

    ``months`` are month keys (:func:`month_key`) of consecutive months. Classical
    decomposition (as X-11 starts): each month over the centred 12-month moving average, the
    median ratio per calendar month, normalised to average 1. A level step (a recording change)
    moves the average with it, so it barely disturbs the factors. None with fewer than
    ``min_months`` months or a month of the year with no ratio.
    """
    keys = np.asarray(months, dtype=int)
    x = np.asarray(values, dtype=float)
    if keys.size < min_months or keys.size != x.size:
        return None
    if np.any(np.diff(keys) != 1):
        raise ValueError("seasonal_factors needs consecutive months")
    kernel = np.r_[0.5, np.ones(11), 0.5] / 12
    with np.errstate(invalid="ignore", divide="ignore"):
        trend = np.convolve(x, kernel, mode="valid")
        ratio = x[6:-6] / trend
    calendar = keys[6:-6] % 12
    factors = np.full(12, NAN)
    for month in range(12):
        chosen = ratio[(calendar == month) & np.isfinite(ratio) & (ratio > 0)]
        if chosen.size:
            factors[month] = float(np.median(chosen))
    if np.any(np.isnan(factors)):
        return None
    return factors / factors.mean()


# --- XmR on a fixed baseline -------------------------------------------------------------------


@dataclass(frozen=True)
class XmrBaseline:
    """XmR limits of one baseline and the points (positions) they judge."""

    start: int
    end: int
    limits: XmrLimits
    reason: str


def fixed_baselines(
    values: Sequence[float] | np.ndarray,
    min_points: int = 12,
    max_points: int = 24,
    rebase_run: int = 12,
) -> list[XmrBaseline]:
    """Making Data Count baselines: the first ``max_points`` points, re-based at a shift.

    Limits come from the first 12–24 points and stay fixed. A shift is confirmed when
    ``rebase_run`` consecutive points lie on one side of the centre line; the chart is then
    re-based from the first point of that run, once ``min_points`` points exist after it.
    Positions are 0-based into ``values``; each baseline judges the points from its ``start``
    to the next baseline's start. Empty when there are fewer than ``min_points`` points.
    """
    x = np.asarray(values, dtype=float)
    out: list[XmrBaseline] = []
    start, reason = 0, "first points on this basis"
    while x.size - start >= min_points:
        stop = min(start + max_points, x.size)
        limits = xmr_limits(x[start:stop])
        out.append(XmrBaseline(start, x.size, limits, reason))
        side = np.sign(x[start:] - limits.centre)
        side[np.isnan(side)] = 0
        runs = _flag_runs(side, rebase_run)
        after = np.flatnonzero(runs[stop - start :])
        if after.size == 0:
            break
        first = stop - start + int(after[0])
        # walk back to the first point of that run
        while first > 0 and side[first - 1] == side[first] and first - 1 >= stop - start:
            first -= 1
        new_start = start + first
        if x.size - new_start < min_points:
            break
        out[-1] = XmrBaseline(start, new_start, limits, reason)
        start, reason = new_start, f"re-based: a shift of {rebase_run} points on one side"
    return out


@dataclass(frozen=True)
class SeasonalXmr:
    """XmR chart of seasonally adjusted monthly values on fixed baselines."""

    adjusted: np.ndarray
    factors: np.ndarray | None
    centre: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    signals: pd.DataFrame
    baselines: tuple[XmrBaseline, ...]


def seasonal_xmr(
    months: Sequence[int] | np.ndarray,
    values: Sequence[float] | np.ndarray,
    factors: np.ndarray | None,
    min_points: int = 12,
    max_points: int = 24,
    rebase_run: int = 12,
) -> SeasonalXmr | None:
    """XmR of ``values`` divided by their month's seasonal factor, on fixed baselines.

    A season is not a special cause: the chart reads each month against what its time of year
    leads one to expect. Signals (Making Data Count rules) are taken within each baseline's
    span against that baseline's limits. None with fewer than ``min_points`` values.
    """
    keys = np.asarray(months, dtype=int)
    x = np.asarray(values, dtype=float)
    adjusted = x / factors[keys % 12] if factors is not None else x.copy()
    baselines = fixed_baselines(adjusted, min_points, max_points, rebase_run)
    if not baselines:
        return None
    centre = np.full(x.size, NAN)
    lower, upper = centre.copy(), centre.copy()
    parts = []
    for base in baselines:
        span = slice(base.start, base.end)
        centre[span], lower[span], upper[span] = (
            base.limits.centre,
            base.limits.lower,
            base.limits.upper,
        )
        parts.append(
            spc_signals(adjusted[span], base.limits.centre, base.limits.lower, base.limits.upper)
        )
    head = baselines[0].start
    signals = pd.concat(parts, ignore_index=True)
    if head:
        blank = spc_signals(np.full(head, NAN), 0.0, -1.0, 1.0)
        signals = pd.concat([blank, signals], ignore_index=True)
    return SeasonalXmr(adjusted, factors, centre, lower, upper, signals, tuple(baselines))


# Chance that each Making Data Count rule fires at one point of a stable, normal process: the
# p-value a signal carries into false-discovery control with the other rules of a run.
SPC_RULE_FALSE_ALARM = {
    "beyond_limit": 0.0027,
    "run": 2 * 0.5**7,
    "trend": 2 / math.factorial(7),
    "two_of_three": 0.0031,
}


def spc_p_value(rules: Iterable[str], z: float | None = None) -> float:
    """A conservative p-value for the latest point's signals: the smallest rule's false alarm.

    A point beyond the limits uses its own normal tail probability when ``z`` (its distance
    from the centre in sigmas) is given.
    """
    chances = [SPC_RULE_FALSE_ALARM[r] for r in rules if r in SPC_RULE_FALSE_ALARM]
    if z is not None and "beyond_limit" in rules and math.isfinite(z):
        chances.append(float(2 * stats.norm.sf(abs(z))))
    return min(chances) if chances else 1.0


# --- comparison windows ------------------------------------------------------------------------


@dataclass(frozen=True)
class WindowComparison:
    """Sums over a current and a comparison window, or None sums and the reason for refusing."""

    current: float | None
    comparison: float | None
    current_months: tuple[date, ...]
    comparison_months: tuple[date, ...]
    reason: str | None = None

    @property
    def refused(self) -> bool:
        """True when the comparison could not be made."""
        return self.reason is not None


def _month(value: date | str | pd.Timestamp) -> pd.Period:
    return pd.Period(pd.Timestamp(value), freq="M")


def _months_ending(end: pd.Period, count: int) -> list[pd.Period]:
    return [end - offset for offset in range(count - 1, -1, -1)]


def month_key(value: date | str | pd.Timestamp) -> int:
    """A month as one integer (year * 12 + month - 1), for fast window arithmetic."""
    stamp = pd.Timestamp(value)
    return stamp.year * 12 + stamp.month - 1


def key_to_date(key: int) -> date:
    """The first day of the month that :func:`month_key` numbered ``key``."""
    return date(key // 12, key % 12 + 1, 1)


def compare_month_windows(
    values: dict[int, float],
    current: Sequence[int],
    comparisons: Sequence[Sequence[int]],
    breaks: Iterable[int] = (),
) -> WindowComparison:
    """Sum month-keyed values over a current window and the mean over comparison windows.

    Refuses (``reason`` set, sums None) when the months involved cross a break month (a month
    on the new basis with an earlier month in the span) or when any month has no value.
    """
    every = [*current, *(m for window in comparisons for m in window)]
    current_dates = tuple(key_to_date(m) for m in current)
    comparison_dates = tuple(key_to_date(m) for window in comparisons for m in window)
    first, last = min(every), max(every)
    for brk in breaks:
        if first < brk <= last:
            return WindowComparison(
                None,
                None,
                current_dates,
                comparison_dates,
                f"the months {_label(first)} to {_label(last)} cross the series break at "
                f"{_label(brk)}",
            )
    missing = [_label(m) for m in every if m not in values or values[m] != values[m]]
    if missing:
        shown = ", ".join(dict.fromkeys(missing))
        return WindowComparison(
            None, None, current_dates, comparison_dates, f"incomplete window: no value for {shown}"
        )
    comparison_sums = [sum(values[m] for m in window) for window in comparisons]
    return WindowComparison(
        float(sum(values[m] for m in current)),
        float(np.mean(comparison_sums)),
        current_dates,
        comparison_dates,
    )


def _label(key: int) -> str:
    return f"{key // 12:04d}-{key % 12 + 1:02d}"


def _compare_windows(
    series: pd.Series,
    current: list[pd.Period],
    comparisons: list[list[pd.Period]],
    breaks: Iterable[date | str | pd.Timestamp],
) -> WindowComparison:
    """Sum the windows, refusing when a month is missing or the span crosses a break."""
    keys = [month_key(m) for m in series.index]
    if len(set(keys)) != len(keys):
        raise ValueError("the monthly series has more than one value for a month")
    values = dict(zip(keys, series.to_numpy(dtype=float), strict=True))

    def key(period: pd.Period) -> int:
        return period.year * 12 + period.month - 1

    return compare_month_windows(
        values,
        [key(m) for m in current],
        [[key(m) for m in window] for window in comparisons],
        [month_key(b) for b in breaks],
    )


def rolling_12_vs_previous_12(
    series: pd.Series, end: date | str | pd.Timestamp, breaks: Iterable[date] = ()
) -> WindowComparison:
    """Sum of the 12 months to ``end`` against the 12 months before them."""
    last = _month(end)
    return _compare_windows(
        series, _months_ending(last, 12), [_months_ending(last - 12, 12)], breaks
    )


def fytd_vs_last_year(
    series: pd.Series, end: date | str | pd.Timestamp, breaks: Iterable[date] = ()
) -> WindowComparison:
    """Financial year to date (from April) to ``end`` against the same months a year before."""
    last = _month(end)
    months = (last.month - 4) % 12 + 1
    return _compare_windows(
        series, _months_ending(last, months), [_months_ending(last - 12, months)], breaks
    )


def vs_previous_three_year_average(
    series: pd.Series,
    end: date | str | pd.Timestamp,
    months: int = 12,
    breaks: Iterable[date] = (),
) -> WindowComparison:
    """Sum of ``months`` months to ``end`` against the mean of the same span in 3 prior years."""
    if not 1 <= months <= 12:
        raise ValueError(f"months must be between 1 and 12, got {months}")
    last = _month(end)
    prior = [_months_ending(last - 12 * year, months) for year in (3, 2, 1)]
    return _compare_windows(series, _months_ending(last, months), prior, breaks)


def _log_additive_funnel(
    count: np.ndarray,
    exposure: np.ndarray,
    target: float,
    levels: Sequence[float],
    winsor: float,
    original: object,
) -> OverdispersedFunnel:
    """Spiegelhalter (2005) additive random-effects funnel on the log-rate scale.

    y = log(rate / target) has Poisson standard error s = 1 / sqrt(target × exposure) (delta
    method at the target). tau² is the DerSimonian–Laird estimate from the winsorised z = y / s
    (floored at 0), and each unit is judged on y / sqrt(s² + tau²). Between-area variation is
    a share of the rate, not a multiple of the Poisson error, so London-sized boroughs are not
    all outliers (a multiplicative factor on the real borough files is about 190) and small
    ones are not all inside.
    """
    used = ~np.isnan(count)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.log(np.maximum(count, 0.5) / exposure / target)
    y[~used] = NAN
    se = 1 / np.sqrt(target * exposure)
    z = y / se
    winsorised = np.asarray(stats.mstats.winsorize(z[used], limits=(winsor, winsor)))
    n_units = int(used.sum())
    phi = float(np.mean(winsorised**2))
    w = 1 / se[used] ** 2
    tau2 = max(0.0, (n_units * phi - (n_units - 1)) / (w.sum() - (w**2).sum() / w.sum()))
    spread = np.sqrt(se**2 + tau2)
    frame = {
        "count": count,
        "exposure": exposure,
        "rate": count / exposure,
        "z": z,
        "z_adjusted": y / spread,
    }
    for level in levels:
        crit = _z_for_level(level)
        label = _level_label(level)
        frame[f"lower_{label}"] = target * np.exp(-crit * spread)
        frame[f"upper_{label}"] = target * np.exp(crit * spread)
        frame[f"outside_{label}"] = np.abs(frame["z_adjusted"]) > crit
    index = original.index if isinstance(original, pd.Series) else None
    return OverdispersedFunnel(target, "additive_log", phi, tau2, pd.DataFrame(frame, index=index))

# --- overdispersed rate ratios (quasi-Poisson) -------------------------------------------------


@dataclass(frozen=True)
class RatioDispersion:
    """How much more a rate ratio varies from month to month than Poisson counts allow.

    ``phi`` is the Pearson chi-square over its degrees of freedom (floored at 1, so an interval
    is never made narrower than the exact Poisson one); ``raw_phi`` is the unfloored value.
    ``months`` is how many months the fit used; NaN ``raw_phi`` means too few months.
    """

    phi: float
    raw_phi: float
    months: int
    df: int
    method: str

    @property
    def estimated(self) -> bool:
        """True when the history was long enough to estimate the dispersion."""
        return not math.isnan(self.raw_phi)


DISPERSION_METHOD = (
    "quasi-Poisson: Pearson chi-square / df of the group's monthly share of group plus "
    "reference searches around a log-linear trend in the ratio"
)


def estimate_ratio_dispersion(
    counts_group: Sequence[float] | np.ndarray | pd.Series,
    counts_ref: Sequence[float] | np.ndarray | pd.Series,
    exposure_group: float,
    exposure_ref: float,
    min_months: int = 8,
    times: Sequence[float] | np.ndarray | None = None,
) -> RatioDispersion:
    """Dispersion of a rate ratio estimated from its own monthly history (quasi-Poisson).

    Given each month's total of group and reference counts, Poisson counts make the group's
    count binomial with log-odds log(ratio) + log(exposure_group / exposure_ref). A binomial GLM
    (statsmodels) with that offset and a linear trend in time is fitted to the months; the
    Pearson chi-square over its residual degrees of freedom is the quasi-Poisson dispersion of
    the ratio (month-to-month swings in overall volume cancel; only the split between the two
    groups counts). Months with no searches in either group are left out. Fewer than
    ``min_months`` usable months gives phi = 1 and a NaN ``raw_phi``.
    """
    import statsmodels.api as sm

    group = np.asarray(counts_group, dtype=float)
    ref = np.asarray(counts_ref, dtype=float)
    if group.shape != ref.shape:
        raise ValueError("group and reference monthly counts must be the same length")
    if exposure_group <= 0 or exposure_ref <= 0:
        raise ValueError(f"exposures must be positive, got {exposure_group} and {exposure_ref}")
    if min_months < 3:
        raise ValueError(f"min_months must be at least 3, got {min_months}")
    time = np.arange(group.size, dtype=float) if times is None else np.asarray(times, float)
    if time.shape != group.shape:
        raise ValueError("times must give one position per month")
    used = (group + ref) > 0
    group, ref, time = group[used], ref[used], time[used]
    if group.size < min_months or group.sum() == 0 or ref.sum() == 0:
        return RatioDispersion(1.0, NAN, int(group.size), 0, DISPERSION_METHOD)
    total = group + ref
    design = sm.add_constant(time - time.mean())
    offset = np.full(group.size, math.log(exposure_group / exposure_ref))
    fit = sm.GLM(
        group / total, design, family=sm.families.Binomial(), offset=offset, var_weights=total
    ).fit()
    df = int(fit.df_resid)
    raw = float(fit.pearson_chi2 / df)
    return RatioDispersion(max(raw, 1.0), raw, int(group.size), df, DISPERSION_METHOD)


def quasi_poisson_rate_ratio(
    count_a: int,
    exposure_a: float,
    count_b: int,
    exposure_b: float,
    phi: float,
    level: float = 0.95,
    df: int | None = None,
) -> RateRatio:
    """Rate ratio (a / b) with the exact interval widened for a quasi-Poisson dispersion phi.

    The exact conditional interval's distances from the ratio on the log scale are multiplied
    by sqrt(phi), as a quasi-Poisson model multiplies standard errors, and, when ``df`` (the
    dispersion's degrees of freedom) is given, by t(df) / z for the uncertainty in phi itself.
    At phi = 1 this is the exact interval and p-value unchanged. For phi > 1 the p-value is the
    quasi-Poisson test of log(ratio) = 0 with standard error sqrt(phi * (1/a + 1/b)).
    """
    if not phi >= 1:
        raise ValueError(f"phi must be at least 1, got {phi}")
    if df is not None and df < 1:
        raise ValueError(f"df must be at least 1, got {df}")
    exact = poisson_rate_ratio(count_a, exposure_a, count_b, exposure_b, level)
    if phi == 1 or count_a == 0 or count_b == 0:
        return exact
    z = _z_for_level(level)
    t_over_z = 1.0 if df is None else float(stats.t.ppf(0.5 + level / 2, df)) / z
    scale = math.sqrt(phi) * t_over_z
    log_ratio = math.log(exact.ratio)
    lower = math.exp(log_ratio - scale * (log_ratio - math.log(exact.lower)))
    upper = math.exp(log_ratio + scale * (math.log(exact.upper) - log_ratio))
    se = math.sqrt(phi * (1 / count_a + 1 / count_b))
    null = stats.norm if df is None else stats.t(df)
    p_value = float(2 * null.sf(abs(log_ratio) / se))
    return RateRatio(exact.ratio, lower, upper, p_value)
