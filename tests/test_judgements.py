"""Judgements a statistician would sign: overdispersion, seasonality, fixed XmR baselines,
log-scale funnels, a short challenge list on the real files, staleness at the as-at date and
the calibration benchmark's small version."""

from __future__ import annotations

import collections
import dataclasses
import json
import math
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from oversight import challenge, measures, stats
from oversight import plan as plan_mod

# --- overdispersed comparisons --------------------------------------------------------------


def test_without_extra_variation_the_test_is_the_poisson_glm_wald_test() -> None:
    # Two windows as a Poisson GLM (statsmodels): log rate ratio, its Wald p and interval.
    counts = np.array([1320.0, 1200.0])
    design = sm.add_constant(np.array([1.0, 0.0]))
    fit = sm.GLM(counts, design, family=sm.families.Poisson()).fit()
    low, high = np.exp(fit.conf_int()[1])
    ours = stats.overdispersed_rate_ratio(1320, 1200, 1, tau2=0.0)
    assert ours.ratio == pytest.approx(1.1)
    assert ours.p_value == pytest.approx(fit.pvalues[1], rel=1e-6)
    assert (ours.lower, ours.upper) == pytest.approx((low, high), rel=1e-6)
    # and with a quasi-Poisson scale, as statsmodels scales the same model
    scaled = sm.GLM(counts, design, family=sm.families.Poisson()).fit(scale=4.0)
    quasi = stats.overdispersed_rate_ratio(1320, 1200, 1, tau2=0.0, phi=4.0)
    assert quasi.p_value == pytest.approx(scaled.pvalues[1], rel=1e-6)


def test_p_value_and_interval_come_from_one_model() -> None:
    result = stats.overdispersed_rate_ratio(5000, 4000, 1, tau2=0.01)
    # the interval excludes 1 exactly when p < 0.05
    assert (result.lower > 1) == (result.p_value < 0.05)
    on_edge = stats.overdispersed_rate_ratio(5000, 4000, 1, tau2=(math.log(1.25) / 1.96) ** 2 / 2)
    assert on_edge.p_value > 0.04  # the Poisson terms push it just over the edge


def test_overdispersed_test_holds_its_size_where_poisson_alone_does_not() -> None:
    rng = np.random.default_rng(7)
    tau = 0.06
    level = rng.normal(0, tau, (4000, 2))
    a, b = rng.poisson(3000 * np.exp(level)).T
    ours = np.mean([stats.overdispersed_rate_ratio(x, y, 1, tau**2).p_value < 0.05
                    for x, y in zip(a, b, strict=True)])  # fmt: skip
    poisson = np.mean([stats.overdispersed_rate_ratio(x, y, 1, 0.0).p_value < 0.05
                       for x, y in zip(a, b, strict=True)])  # fmt: skip
    assert 0.035 < ours < 0.065
    assert poisson > 0.4


def test_tau2_and_phi_are_recovered_from_a_series_history() -> None:
    rng = np.random.default_rng(3)
    estimates = []
    for _ in range(20):
        lam = 2000 * np.exp(rng.normal(0, 0.05, (300, 2)))
        a, b = rng.poisson(lam).T
        estimates.append(stats.between_period_variance(a, b, 1))
    assert np.mean(estimates) == pytest.approx(0.0025, rel=0.25)
    # a trend is not noise: a steady 10% a year rise gives (almost) no tau²
    a = 1000 * 1.1 ** np.arange(1, 61)
    assert stats.between_period_variance(a, a / 1.1, 1) == pytest.approx(0.0, abs=1e-6)
    # monthly quasi-Poisson dispersion of negative-binomial counts (variance 5 x mean)
    months = np.arange(24000, 24096)
    mean = 400 * (1 + 0.15 * np.sin(2 * np.pi * months / 12))
    size = mean / 4
    factors = stats.seasonal_factors(months, mean)
    phis = [
        stats.monthly_dispersion(
            rng.negative_binomial(size, size / (size + mean)), factors, months
        )
        for _ in range(30)
    ]
    assert np.mean(phis) == pytest.approx(5.0, rel=0.2)
    # the season is not noise: unadjusted, it would double the estimate
    unadjusted = stats.monthly_dispersion(rng.negative_binomial(size, size / (size + mean)))
    assert unadjusted > 7


# --- seasonality and XmR ----------------------------------------------------------------------


def seasonal(months: np.ndarray, level: float = 2000.0) -> np.ndarray:
    return np.round(level * (1 + 0.2 * np.sin(2 * np.pi * months / 12)))


def test_a_purely_seasonal_series_raises_no_special_cause() -> None:
    months = np.arange(24000 * 1 + 2400, 24000 + 2400 + 72)
    values = seasonal(months)
    raw = stats.xmr_limits(values[-24:])
    raw_flags = stats.spc_signals(values[-24:], raw.centre, raw.lower, raw.upper)
    assert raw_flags.iloc[:, :4].to_numpy().any()  # without adjustment the season "signals"
    factors = stats.seasonal_factors(months, values)
    chart = stats.seasonal_xmr(months, values, factors)
    assert not chart.signals.iloc[:, :4].to_numpy().any()


def test_the_measure_month_window_reads_a_seasonal_london_series_as_common_cause() -> None:
    robbery = dataclasses.replace(
        plan_mod.load_plan("pcp-2022-25").measure("robbery"), geographies=("london",)
    )
    plan = plan_mod.load_plan("pcp-2022-25")
    months = pd.date_range("2012-01-01", periods=72, freq="MS")
    keys = months.year * 12 + months.month - 1
    frame = pd.DataFrame({"geography_code": measures.LONDON, "month": months,
                          "value": seasonal(np.asarray(keys)), "numerator": np.nan,
                          "denominator": np.nan, "vintage": "v"})  # fmt: skip
    for end in months[-12:]:
        ctx = measures.make_context(plan, as_at=end.date())
        (row,) = [r for r in measures.measure_rows(robbery, frame, ctx) if r["window"] == "month"]
        assert row["spc_signal"] is None, (end, row["sentence"])
        assert row["seasonal_factor"] != pytest.approx(1.0, abs=0.01) or end.month in (1, 7)
        assert row["lower"] <= row["value"] <= row["upper"]  # a CI, not the XmR limits


def test_xmr_limits_stay_fixed_until_a_confirmed_shift() -> None:
    rng = np.random.default_rng(1)
    before = 100 + rng.normal(0, 3, 40)
    after = 130 + rng.normal(0, 3, 20)
    baselines = stats.fixed_baselines(np.r_[before, after], 12, 24, 12)
    assert [b.start for b in baselines] == [0, 40]
    assert baselines[0].limits == stats.xmr_limits(before[:24])
    assert "re-based" in baselines[1].reason
    # a drift that never holds 12 points on one side is not re-based
    steady = 100 + rng.normal(0, 3, 60)
    assert [b.start for b in stats.fixed_baselines(steady, 12, 24, 12)] == [0]


# --- funnels -----------------------------------------------------------------------------------


def test_log_additive_funnel_keeps_limits_meaningful_for_london_sized_boroughs() -> None:
    rng = np.random.default_rng(2)
    population = rng.uniform(150_000, 400_000, 32)
    rate = 0.004 * np.exp(rng.normal(0, 0.25, 32))  # boroughs differ by about 25%
    counts = rng.poisson(rate * population).astype(float)
    multiplicative = stats.overdispersed_funnel(counts, population, method="multiplicative")
    additive = stats.overdispersed_funnel(counts, population, method="additive_log")
    assert multiplicative.phi > 20  # Poisson z-scores far too wide for real differences
    assert additive.tau2 == pytest.approx(0.25**2, rel=0.5)
    assert additive.units["outside_99_8"].sum() <= 2
    upper = additive.units["upper_99_8"] / additive.target
    assert 1.5 < upper.max() < 2.5  # limits a reader can use: within about 2x London


def test_a_borough_with_a_misleading_denominator_is_noted_not_ranked() -> None:
    cfg = measures.load_statistics()
    notes = dict(cfg.denominator_notes)
    assert "E09000033" in notes
    assert "visit" in notes["E09000033"]
    plan = plan_mod.load_plan("pcp-2025-29")
    setting = challenge.Setting.build(plan, challenge.load_rules(), cfg)
    measure, priority = setting.by_id["robbery"]

    def row(geo: str, rate: float, z: float, note: str | None) -> dict:
        out = dict.fromkeys(measures.COLUMNS)
        out.update(plan_id=plan.id, priority_id=priority.id, priority_title=priority.title,
                   measure_id="robbery", measure_label="Robbery", unit="count",
                   direction=measure.direction, geography_code=geo, geography_name=geo,
                   window="r12", period_end=date(2023, 3, 1), value=rate * 250, population=250000,
                   rate_per_1000=rate, population_year=2022, funnel_z=z, funnel_outside=z > 3.09,
                   funnel_note=note, status="no significant change")  # fmt: skip
        return out

    rows = [row(f"E0900000{i}", 4.0, 0.1, None) for i in range(1, 7)]
    frame = pd.DataFrame([*rows, row("E09000033", 16.0, 5.0, notes["E09000033"])])
    assert challenge.funnel_points(frame, setting) == []
    frame.loc[frame.index[-1], "funnel_note"] = None
    assert [p.rule for p in challenge.funnel_points(frame, setting)] == ["funnel_outlier"]


# --- staleness at the as-at date ---------------------------------------------------------------


def test_lateness_is_judged_at_the_end_of_the_as_at_month() -> None:
    assert challenge.reference_date(date(2025, 12, 1), date(2030, 1, 1)) == date(2025, 12, 31)
    assert challenge.reference_date(None, date(2026, 3, 4)) == date(2026, 3, 4)


# --- the real files ----------------------------------------------------------------------------


@pytest.mark.realdata
@pytest.mark.slow
@pytest.mark.parametrize("as_at", [date(2023, 12, 1), date(2024, 10, 1)])
def test_the_real_challenge_list_is_short_enough_to_table(
    real_warehouse: Path, as_at: date
) -> None:
    with duckdb.connect(str(real_warehouse), read_only=True) as con:
        points = challenge.raise_points(con, "pcp-2022-25", as_at=as_at)
        values = challenge.plan_values(con, "pcp-2022-25", as_at)
    assert len(points) <= 15
    per_measure = collections.Counter(p.measure_id for p in points)
    assert max(per_measure.values(), default=0) <= 4
    # no data-supply question and no borough "deterioration" among the points for the MPS
    assert not {p.rule for p in points} & set(challenge.DATA_RULES)
    assert not [p for p in points if p.rule == "deterioration" and p.geography_code != "MPS"]
    if as_at == date(2023, 12, 1):
        # the dispersion is estimated, and real borough robbery counts are far from Poisson
        borough = values[values["window"].eq("r12") & values["geography_code"].ne("MPS")
                         & values["measure_id"].eq("robbery")]  # fmt: skip
        assert borough["dispersion"].median() > 2
        # London's robbery rise is one London point, not one per borough
        robbery = [p for p in points if p.measure_id == "robbery"]
        assert [p.geography_code for p in robbery] == ["MPS"]


@pytest.mark.realdata
@pytest.mark.slow
def test_a_feed_that_runs_to_the_as_at_month_is_not_late(real_warehouse: Path) -> None:
    with duckdb.connect(str(real_warehouse), read_only=True) as con:
        operations = challenge.data_operations(
            con, "pcp-2025-29", as_at=date(2025, 12, 1), today=date(2030, 1, 1)
        )
    late = {p.measure_id for p in operations if p.rule == "stale_data"}
    assert "crime_borough_monthly" not in late  # the Datastore runs to December 2025
    assert "stop_search" in late  # police.uk stop and search stops in 2024
    assert all("2030" not in p.evidence for p in operations)


def test_a_file_that_matches_no_source_is_never_a_question(tmp_path: Path) -> None:
    quarantine = tmp_path / "quarantine"
    quarantine.mkdir()
    (quarantine / "x__README.md.json").write_text(json.dumps({"file": "README.md"}))
    record = {"file": "bad.csv", "sha256": "9", "source": "pas_borough", "reason": "value > 1"}
    (quarantine / "y__bad.csv.json").write_text(json.dumps(record))
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute(
        "create table marts.loads (load_seq integer, source_file_id varchar, path varchar, "
        "sha256 varchar, source varchar, status varchar, report varchar, vintage varchar, "
        "loaded_at timestamptz)"
    )
    plan = plan_mod.load_plan("pcp-2025-29")
    setting = challenge.Setting.build(plan, challenge.load_rules(), measures.load_statistics())
    points = challenge.failing_points(con, setting, quarantine)
    assert [p.measure_label for p in points] == ["bad.csv"]


# --- calibration -------------------------------------------------------------------------------


@pytest.mark.slow
def test_calibration_small_version() -> None:
    from bench import calibration

    result = calibration.run(runs=4, seed=11)["results"]
    for scale in result.values():
        assert scale["false_alarm_share"] <= 0.10
        assert scale["points_per_run"] <= 1.5
    assert result["total crime"]["power_within_6_months"] >= 0.5
    assert "| total crime" in calibration.render(calibration.run(runs=1, seed=1))
