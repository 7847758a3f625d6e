"""Tests for oversight.stats against values worked by hand or by an independent route."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from oversight.stats import (
    classify_change,
    disproportionality_ratio,
    estimate_ratio_dispersion,
    funnel_limits,
    fytd_vs_last_year,
    is_material,
    overdispersed_funnel,
    percent_change_allowed,
    poisson_rate_ratio,
    quasi_poisson_rate_ratio,
    rolling_12_vs_previous_12,
    spc_signals,
    two_proportion_test,
    vs_previous_three_year_average,
    wilson_interval,
    xmr_limits,
)

Z95 = 1.959963984540054


def wilson_by_formula(k: float, n: float, z: float = Z95) -> tuple[float, float]:
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


# --- Wilson ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("k", "n"), [(0, 10), (10, 10), (45, 100), (3, 7)])
def test_wilson_matches_formula(k, n):
    lower, upper = wilson_interval(k, n)
    expected = wilson_by_formula(k, n)
    assert lower == pytest.approx(max(0.0, expected[0]), abs=1e-12)
    assert upper == pytest.approx(min(1.0, expected[1]), abs=1e-12)


def test_wilson_matches_scipy_for_whole_counts():
    ci = stats.binomtest(45, 100).proportion_ci(confidence_level=0.9, method="wilson")
    assert wilson_interval(45, 100, level=0.9) == pytest.approx((ci.low, ci.high))


def test_wilson_boundaries():
    assert wilson_interval(0, 10)[0] == 0.0
    assert wilson_interval(0, 10)[1] == pytest.approx(Z95**2 / (10 + Z95**2))
    assert wilson_interval(10, 10)[1] == pytest.approx(1.0)
    assert wilson_interval(10, 10)[0] == pytest.approx(10 / (10 + Z95**2))


def test_wilson_empty_sample_is_nan():
    assert all(math.isnan(v) for v in wilson_interval(0, 0))


def test_wilson_rejects_impossible_counts():
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(11, 10)


# --- Poisson rate ratio ------------------------------------------------------------------------


@pytest.mark.parametrize(("a", "ea", "b", "eb"), [(30, 1000, 20, 1000), (7, 250, 40, 900)])
def test_rate_ratio_matches_independent_exact_computation(a, ea, b, eb):
    result = poisson_rate_ratio(a, ea, b, eb)
    n = a + b
    # Clopper-Pearson bounds for the share of events in group a, from beta quantiles.
    share_low = stats.beta.ppf(0.025, a, n - a + 1)
    share_high = stats.beta.ppf(0.975, a + 1, n - a)
    assert result.ratio == pytest.approx((a / ea) / (b / eb))
    assert result.lower == pytest.approx(share_low / (1 - share_low) * eb / ea, rel=1e-6)
    assert result.upper == pytest.approx(share_high / (1 - share_high) * eb / ea, rel=1e-6)
    # Two-sided exact p-value: total probability of outcomes no more likely than observed.
    pmf = stats.binom.pmf(np.arange(n + 1), n, ea / (ea + eb))
    observed = stats.binom.pmf(a, n, ea / (ea + eb))
    assert result.p_value == pytest.approx(pmf[pmf <= observed * (1 + 1e-7)].sum(), rel=1e-6)


def test_rate_ratio_close_to_log_normal_approximation_for_large_counts():
    result = poisson_rate_ratio(4000, 1e6, 3600, 1e6)
    half = Z95 * math.sqrt(1 / 4000 + 1 / 3600)
    assert result.lower == pytest.approx(math.exp(math.log(4000 / 3600) - half), rel=2e-3)
    assert result.upper == pytest.approx(math.exp(math.log(4000 / 3600) + half), rel=2e-3)
    assert result.p_value < 0.001


def test_rate_ratio_zero_counts():
    none_in_a = poisson_rate_ratio(0, 1.0, 5, 1.0)
    assert none_in_a.ratio == 0.0
    assert none_in_a.lower == 0.0
    assert math.isfinite(none_in_a.upper)
    assert none_in_a.p_value == pytest.approx(2 * 0.5**5)
    none_in_b = poisson_rate_ratio(5, 1.0, 0, 1.0)
    assert none_in_b.ratio == math.inf
    assert none_in_b.upper == math.inf
    assert none_in_b.lower > 0
    both = poisson_rate_ratio(0, 1.0, 0, 1.0)
    assert all(math.isnan(v) for v in (both.ratio, both.lower, both.upper, both.p_value))


def test_rate_ratio_rejects_zero_exposure():
    with pytest.raises(ValueError, match="exposures"):
        poisson_rate_ratio(3, 0, 4, 10)


def test_disproportionality_ratio_is_rate_ratio_per_head():
    result = disproportionality_ratio(120, 100_000, 400, 1_000_000)
    assert result.ratio == pytest.approx(3.0)
    assert result == poisson_rate_ratio(120, 100_000, 400, 1_000_000)
    assert result.lower > 1


# --- two proportions ---------------------------------------------------------------------------


def test_two_proportion_z_matches_chi_squared_and_uses_design_effect():
    plain = two_proportion_test(0.55, 1000, 0.50, 1000)
    chi2 = stats.chi2_contingency([[550, 450], [500, 500]], correction=False)[0]
    assert plain.z**2 == pytest.approx(chi2)
    assert plain.p_value == pytest.approx(2 * stats.norm.sf(math.sqrt(chi2)))
    deff = two_proportion_test(0.55, 1000, 0.50, 1000, design_effect=2.0)
    assert deff.z == pytest.approx(plain.z / math.sqrt(2))
    assert deff.p_value > plain.p_value
    assert deff.upper - deff.lower > plain.upper - plain.lower


def test_two_proportion_ci_is_newcombe_hybrid_score():
    result = two_proportion_test(0.55, 1000, 0.50, 1000)
    l1, u1 = wilson_by_formula(550, 1000)
    l2, u2 = wilson_by_formula(500, 1000)
    assert result.lower == pytest.approx(0.05 - math.sqrt((0.55 - l1) ** 2 + (u2 - 0.5) ** 2))
    assert result.upper == pytest.approx(0.05 + math.sqrt((u1 - 0.55) ** 2 + (0.5 - l2) ** 2))


def test_two_proportion_edges():
    same_zero = two_proportion_test(0.0, 100, 0.0, 100)
    assert same_zero.z == 0.0
    assert same_zero.p_value == 1.0
    assert same_zero.lower < 0 < same_zero.upper
    all_vs_none = two_proportion_test(1.0, 50, 0.0, 50)
    assert all_vs_none.p_value < 1e-10
    assert 0 < all_vs_none.lower < all_vs_none.upper <= 1
    empty = two_proportion_test(0.5, 0, 0.5, 100)
    assert math.isnan(empty.difference)
    assert math.isnan(empty.p_value)


# --- XmR and SPC rules -------------------------------------------------------------------------


def test_xmr_limits_hand_computed():
    # Mean 12; moving ranges 2, 1, 4, 3 -> mR-bar 2.5; limits 12 -/+ 2.66 * 2.5 = 6.65.
    limits = xmr_limits([10, 12, 11, 15, 12])
    assert limits.centre == pytest.approx(12)
    assert limits.mr_bar == pytest.approx(2.5)
    assert limits.lower == pytest.approx(5.35)
    assert limits.upper == pytest.approx(18.65)
    assert limits.sigma == pytest.approx(2.5 / 1.128)


def test_xmr_skips_nan_and_needs_two_points():
    assert xmr_limits([10, np.nan, 12, 11, 15, 12]) == xmr_limits([10, 12, 11, 15, 12])
    for short in ([], [5.0], [np.nan, 5.0]):
        limits = xmr_limits(short)
        assert math.isnan(limits.centre)
        assert math.isnan(limits.upper)


def flags(values, rule):
    """Flagged positions for a rule, with centre 0 and limits -/+3 (sigma 1)."""
    table = spc_signals(values, 0.0, -3.0, 3.0)
    return list(np.flatnonzero(table[rule].to_numpy()))


def test_point_beyond_limit_and_near_miss():
    assert flags([0.5, -0.5, 3.5, 0.5, -3.2], "beyond_limit") == [2, 4]
    assert flags([0.5, -0.5, 2.9, 0.5, -2.9], "beyond_limit") == []


def test_run_of_seven_and_near_miss():
    seven_above = [1, 0.5, 1, 0.5, 1, 0.5, 1, -1]
    assert flags(seven_above, "run") == list(range(7))
    six_above = [1, 0.5, 1, 0.5, 1, 0.5, -1, 1]
    assert flags(six_above, "run") == []
    on_centre_breaks = [1, 0.5, 1, 0, 1, 0.5, 1, 0.5]
    assert flags(on_centre_breaks, "run") == []


def test_trend_of_seven_and_near_miss():
    rising = [-1.5, -1, -0.5, 0, 0.5, 1, 1.5, 0.2]
    assert flags(rising, "trend") == list(range(7))
    falling = [2, 1.5, 1, 0.5, 0, -0.5, -1]
    table = spc_signals(falling, 0.0, -3.0, 3.0)
    assert table["trend"].all()
    assert table["direction"].iloc[0] == -1
    assert flags([-1.5, -1, -0.5, 0, 0.5, 1, 0.2], "trend") == []  # six: not a trend
    assert flags([-1.5, -1, -0.5, -0.5, 0.5, 1, 1.5], "trend") == []


def test_two_of_three_in_outer_third_and_near_misses():
    assert flags([0, 2.5, 0, 2.5, 0], "two_of_three") == [1, 3]
    assert flags([2.5, 0, 0, 2.5], "two_of_three") == []
    assert flags([2.5, -2.5, 0], "two_of_three") == []
    assert flags([1.9, 2.5, 1.9], "two_of_three") == []


def test_spc_keeps_index_and_ignores_nan():
    values = pd.Series([1, 0.5, 1, np.nan, 1, 0.5, 1, 0.5], index=list("abcdefgh"))
    table = spc_signals(values, 0.0, -3.0, 3.0)
    assert list(table.index) == list("abcdefgh")
    assert not table["run"].any()
    assert not table.loc["d"].drop("direction").any()
    assert spc_signals([], 0.0, -3.0, 3.0).empty


# --- funnels -----------------------------------------------------------------------------------


def test_funnel_limits_contain_target_and_approach_normal():
    limits = funnel_limits(0.01, [1_000, 10_000, 1_000_000])
    assert (limits["lower_95"] < 0.01).all()
    assert (limits["upper_99_8"] > limits["upper_95"]).all()
    assert limits["upper_95"].is_monotonic_decreasing
    big = limits.iloc[-1]
    assert big["upper_95"] == pytest.approx(0.01 + Z95 * math.sqrt(0.01 / 1e6), rel=1e-3)
    z998 = stats.norm.ppf(0.999)
    assert big["lower_99_8"] == pytest.approx(0.01 - z998 * math.sqrt(0.01 / 1e6), rel=1e-3)


def test_funnel_limit_is_interpolated_poisson_quantile():
    # Expected count 10: the 97.5% quantile r is 17; interpolate between F(16) and F(17).
    row = funnel_limits(0.01, [1_000]).iloc[0]
    f16, f17 = stats.poisson.cdf(16, 10), stats.poisson.cdf(17, 10)
    expected = (17 - (f17 - 0.975) / (f17 - f16)) / 1_000
    assert row["upper_95"] == pytest.approx(expected)


EXPOSURE = np.full(10, 100_000.0)


def test_far_out_unit_flagged_when_spread_is_poisson():
    counts = np.array([1000, 1010, 990, 1005, 995, 1000, 1002, 998, 1000, 1150])
    funnel = overdispersed_funnel(counts, EXPOSURE)
    assert funnel.phi < 1
    outside = funnel.units["outside_99_8"].to_numpy()
    assert list(np.flatnonzero(outside)) == [9]


def test_overdispersion_removes_flag_when_spread_is_large():
    counts = pd.Series(
        [800, 1250, 850, 1200, 900, 1100, 950, 1300, 700, 1150], index=[f"B{i}" for i in range(10)]
    )
    plain_z = (counts / EXPOSURE - 0.0102) / np.sqrt(0.0102 / EXPOSURE)
    assert abs(plain_z["B9"]) > stats.norm.ppf(0.999)
    for method in ("multiplicative", "additive"):
        funnel = overdispersed_funnel(counts, EXPOSURE, method=method)
        assert funnel.target == pytest.approx(0.0102)
        assert not funnel.units.loc["B9", "outside_99_8"]
        assert funnel.units.loc["B9", "z"] == pytest.approx(plain_z["B9"])


def test_overdispersion_estimates_match_hand_winsorising():
    counts = np.array([800, 1250, 850, 1200, 900, 1100, 950, 1300, 700, 1150], dtype=float)
    target = counts.sum() / EXPOSURE.sum()
    se = np.sqrt(target / EXPOSURE)
    z = np.sort((counts / EXPOSURE - target) / se)
    # Ten units, 10% each tail: the lowest and highest z take their neighbours' values.
    z[0], z[-1] = z[1], z[-2]
    phi = np.mean(z**2)
    w = 1 / se**2
    tau2 = (10 * phi - 9) / (w.sum() - (w**2).sum() / w.sum())
    multiplicative = overdispersed_funnel(counts, EXPOSURE)
    additive = overdispersed_funnel(counts, EXPOSURE, method="additive")
    assert multiplicative.phi == pytest.approx(phi)
    assert additive.tau2 == pytest.approx(tau2)
    upper = target + stats.norm.ppf(0.975) * np.sqrt(se**2 + tau2)
    assert additive.units["upper_95"].to_numpy() == pytest.approx(upper)
    assert multiplicative.units["z_adjusted"].to_numpy() == pytest.approx(
        (counts / EXPOSURE - target) / (se * math.sqrt(phi))
    )


def test_overdispersed_funnel_edges():
    counts = np.array([1000, np.nan, 990, 1010])
    funnel = overdispersed_funnel(counts, np.full(4, 1e5))
    assert funnel.target == pytest.approx(3000 / 3e5)
    assert math.isnan(funnel.units["z"].iloc[1])
    assert not funnel.units["outside_95"].iloc[1]
    with pytest.raises(ValueError, match="two units"):
        overdispersed_funnel([5.0], [100.0])
    with pytest.raises(ValueError, match="exposure"):
        overdispersed_funnel([5, 6], [100.0, 0.0])


# --- judging a change --------------------------------------------------------------------------


def test_is_material():
    assert is_material(-2.0, 2.0)
    assert not is_material(1.9, 2.0)
    assert not is_material(float("nan"), 2.0)


@pytest.mark.parametrize("increase", [True, False])
def test_context_measure_is_never_good_or_bad(increase):
    assert classify_change("context", True, True, increase) == "context"


@pytest.mark.parametrize(
    ("direction", "significant", "material", "increase", "label"),
    [
        ("higher_is_better", True, True, True, "improving"),
        ("higher_is_better", True, True, False, "deteriorating"),
        ("lower_is_better", True, True, True, "deteriorating"),
        ("lower_is_better", True, True, False, "improving"),
        ("lower_is_better", True, False, False, "no significant change"),
        ("higher_is_better", False, True, True, "no significant change"),
        ("higher_is_better", None, False, None, "no data"),
    ],
)
def test_classify_change(direction, significant, material, increase, label):
    assert classify_change(direction, significant, material, increase) == label


def test_classify_change_rejects_unknown_direction():
    with pytest.raises(ValueError, match="direction"):
        classify_change("up", True, True, True)


def test_percent_change_allowed():
    assert percent_change_allowed(50, 50)
    assert not percent_change_allowed(49, 50)
    assert not percent_change_allowed(0, 0)
    assert not percent_change_allowed(float("nan"), 10)


# --- comparison windows ------------------------------------------------------------------------


@pytest.fixture
def monthly() -> pd.Series:
    """Jan 2019 to Dec 2023, value = months since Jan 2019."""
    index = pd.date_range("2019-01-01", periods=60, freq="MS").date
    return pd.Series(np.arange(60, dtype=float), index=index)


def test_rolling_12_vs_previous_12(monthly):
    result = rolling_12_vs_previous_12(monthly, date(2023, 12, 1))
    assert not result.refused
    assert result.current == sum(range(48, 60))
    assert result.comparison == sum(range(36, 48))
    assert result.current_months[0] == date(2023, 1, 1)
    assert result.comparison_months == tuple(date(2022, m, 1) for m in range(1, 13))


def test_fytd_vs_last_year(monthly):
    june = fytd_vs_last_year(monthly, date(2023, 6, 1))
    assert june.current_months == (date(2023, 4, 1), date(2023, 5, 1), date(2023, 6, 1))
    assert june.current == 51 + 52 + 53
    assert june.comparison == 39 + 40 + 41
    march = fytd_vs_last_year(monthly, "2023-03-01")
    assert len(march.current_months) == 12
    assert march.current_months[0] == date(2022, 4, 1)


def test_vs_previous_three_year_average(monthly):
    result = vs_previous_three_year_average(monthly, date(2023, 12, 1), months=3)
    assert result.current == 57 + 58 + 59
    assert result.comparison == pytest.approx(
        ((21 + 22 + 23) + (33 + 34 + 35) + (45 + 46 + 47)) / 3
    )
    assert len(result.comparison_months) == 9


def test_window_crossing_break_is_refused(monthly):
    result = rolling_12_vs_previous_12(monthly, date(2023, 12, 1), breaks=[date(2023, 1, 1)])
    assert result.refused
    assert result.current is None
    assert "break" in result.reason
    after_break = rolling_12_vs_previous_12(monthly, date(2023, 12, 1), breaks=[date(2022, 1, 1)])
    assert not after_break.refused


def test_incomplete_window_is_refused(monthly):
    beyond_data = rolling_12_vs_previous_12(monthly, date(2024, 1, 1))
    assert beyond_data.refused
    assert "2024-01" in beyond_data.reason
    too_early = vs_previous_three_year_average(monthly, date(2021, 6, 1))
    assert too_early.refused
    gappy = monthly.copy()
    gappy.iloc[50] = np.nan
    assert rolling_12_vs_previous_12(gappy, date(2023, 12, 1)).refused
    assert rolling_12_vs_previous_12(monthly.drop(monthly.index[40]), date(2023, 12, 1)).refused


# --- overdispersed rate ratios -----------------------------------------------------------------

RATIO, POP_A, POP_B = 3.0, 1_000_000, 4_000_000


def gamma_poisson(rng: np.random.Generator, mean: float, phi: float, months: int) -> np.ndarray:
    """Monthly counts with variance phi times the mean (a gamma mixture of Poissons)."""
    if phi == 1:
        return rng.poisson(mean, months)
    return rng.poisson(rng.gamma(mean / (phi - 1), phi - 1, months))


def simulate_coverage(phi: float, reps: int = 300) -> tuple[float, float, float, bool]:
    """Coverage of the true ratio by the quasi-Poisson and exact Poisson intervals.

    Each replicate has 24 months of group and reference counts with a constant true ratio;
    the dispersion is estimated from all 24 and the interval is for the latest 12 months.
    Returns (quasi coverage, Poisson coverage, median estimated phi, quasi never narrower).
    """
    rng = np.random.default_rng(20261204)
    mean_b = 400.0
    mean_a = RATIO * mean_b * POP_A / POP_B
    covered_q = covered_p = 0
    never_narrower = True
    phis = []
    for _ in range(reps):
        a, b = gamma_poisson(rng, mean_a, phi, 24), gamma_poisson(rng, mean_b, phi, 24)
        dispersion = estimate_ratio_dispersion(a, b, POP_A, POP_B)
        phis.append(dispersion.raw_phi)
        count_a, count_b = int(a[-12:].sum()), int(b[-12:].sum())
        quasi = quasi_poisson_rate_ratio(
            count_a, POP_A, count_b, POP_B, dispersion.phi, df=dispersion.df
        )
        exact = poisson_rate_ratio(count_a, POP_A, count_b, POP_B)
        never_narrower &= quasi.lower <= exact.lower and quasi.upper >= exact.upper
        covered_q += quasi.lower <= RATIO <= quasi.upper
        covered_p += exact.lower <= RATIO <= exact.upper
    return covered_q / reps, covered_p / reps, float(np.median(phis)), never_narrower


def test_overdispersed_series_gets_wider_intervals_with_nominal_coverage():
    quasi, poisson, phi, never_narrower = simulate_coverage(phi=3.5)
    assert 0.90 <= quasi <= 0.99
    assert poisson < 0.85  # Poisson alone is far too narrow for this series
    assert phi == pytest.approx(3.5, rel=0.25)
    assert never_narrower


def test_poisson_series_keeps_nominal_coverage_and_a_phi_near_one():
    quasi, poisson, phi, _ = simulate_coverage(phi=1.0)
    assert 0.90 <= quasi <= 0.99
    assert 0.90 <= poisson <= 0.99
    assert phi == pytest.approx(1.0, abs=0.25)


@pytest.mark.filterwarnings("ignore:Perfect separation")
def test_dispersion_ignores_swings_in_volume_shared_by_both_groups():
    totals = np.array([100, 5000, 300, 12000, 800, 2500, 60, 9000, 400, 7000], dtype=float)
    group = totals * 0.4
    dispersion = estimate_ratio_dispersion(group, totals - group, 1.0, 2.0)
    assert dispersion.raw_phi < 1e-6
    assert dispersion.phi == 1.0
    assert dispersion.months == 10
    assert dispersion.df == 8  # ten months less an intercept and a trend


def test_dispersion_is_pearson_chi_square_over_df_around_the_trend():
    # Palindromic in time, so the fitted trend is exactly flat and the fit is the pooled share.
    group = np.array([30, 50, 20, 60, 60, 20, 50, 30], dtype=float)
    ref = np.array([70, 50, 80, 40, 40, 80, 50, 70], dtype=float)
    dispersion = estimate_ratio_dispersion(group, ref, 1.0, 1.0)
    n = group + ref
    share = group.sum() / n.sum()
    chi2 = float((((group - n * share) ** 2) / (n * share * (1 - share))).sum())
    assert dispersion.df == 6
    assert dispersion.raw_phi == pytest.approx(chi2 / 6, rel=1e-6)
    assert dispersion.phi == dispersion.raw_phi > 1


def test_too_few_months_fall_back_to_poisson_and_say_so():
    dispersion = estimate_ratio_dispersion([10, 12, 9], [30, 28, 35], 1.0, 1.0, min_months=8)
    assert not dispersion.estimated
    assert dispersion.phi == 1.0
    assert dispersion.months == 3


def test_phi_of_one_is_the_exact_interval():
    exact = poisson_rate_ratio(120, 100_000, 400, 1_000_000)
    assert quasi_poisson_rate_ratio(120, 100_000, 400, 1_000_000, 1.0) == exact
    wide = quasi_poisson_rate_ratio(120, 100_000, 400, 1_000_000, 4.0)
    assert wide.ratio == exact.ratio
    # On the log scale the interval is twice as wide (sqrt(4)).
    assert math.log(wide.upper / wide.lower) == pytest.approx(
        2 * math.log(exact.upper / exact.lower)
    )
    assert wide.p_value > exact.p_value
    with pytest.raises(ValueError, match="phi"):
        quasi_poisson_rate_ratio(120, 100_000, 400, 1_000_000, 0.5)
