"""The level-step detector (oversight/steps.py) on simulated monthly counts."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from oversight import steps

SEASON = 1 + 0.12 * np.sin(2 * np.pi * np.arange(12) / 12)
FAST = steps.StepSettings(simulations=299)


def month_list(count: int, start: dt.date = dt.date(2020, 1, 1)) -> list[dt.date]:
    """``count`` consecutive first-of-month dates from ``start``."""
    base = steps.month_index(start)
    return [steps.index_month(base + i) for i in range(count)]


def simulate(
    rng: np.random.Generator,
    n: int = 72,
    level: float = 1000.0,
    dispersion: float = 4.0,
    step_at: int | None = None,
    ratio: float = 1.0,
    rho: float = 0.0,
) -> np.ndarray:
    """Seasonal counts with a gentle trend, quasi-Poisson overdispersion (negative binomial with
    variance ``dispersion`` x mean) and optionally a level step and AR(1) log-scale noise."""
    t = np.arange(n)
    mean = level * SEASON[t % 12] * np.exp(-0.002 * t)
    if step_at is not None:
        mean = mean * np.where(t >= step_at, ratio, 1.0)
    if rho:
        noise = np.zeros(n)
        for i in range(1, n):
            noise[i] = rho * noise[i - 1] + rng.normal(0, 0.03)
        mean = mean * np.exp(noise)
    size = mean / (dispersion - 1)
    return rng.negative_binomial(size, size / (size + mean)).astype(float)


def test_stable_series_gives_no_step_in_95_percent_of_runs() -> None:
    rng = np.random.default_rng(1)
    months = month_list(72)
    found = sum(bool(steps.find_steps(simulate(rng), months, FAST).steps) for _ in range(100))
    assert found <= 5, f"a step was reported in {found} of 100 stable series"


def test_stable_autocorrelated_series_is_not_flagged_often() -> None:
    rng = np.random.default_rng(2)
    months = month_list(72)
    runs = [steps.find_steps(simulate(rng, rho=0.5), months, FAST) for _ in range(60)]
    found = sum(bool(r.steps) for r in runs)
    assert found <= 3, f"a step was reported in {found} of 60 autocorrelated stable series"


def test_twenty_percent_step_found_at_its_month_in_90_percent_of_runs() -> None:
    rng = np.random.default_rng(3)
    months = month_list(72)
    right, sizes = 0, []
    for _ in range(100):
        scan = steps.find_steps(simulate(rng, step_at=50, ratio=0.8), months, FAST)
        near = [
            s
            for s in scan.steps
            if abs(steps.month_index(s.month) - steps.month_index(months[50])) <= 1
        ]
        right += bool(near)
        sizes += [s.ratio for s in near]
    assert right >= 90, f"the step was found within a month in only {right} of 100 runs"
    assert np.median(sizes) == pytest.approx(0.8, abs=0.03)


def test_step_reports_ratio_interval_and_multiplicity_p_value() -> None:
    rng = np.random.default_rng(4)
    months = month_list(72)
    scan = steps.find_steps(simulate(rng, step_at=30, ratio=1.25), months, FAST)
    step = scan.steps[0]
    assert step.month == dt.date(2022, 7, 1)
    assert step.lower < step.ratio < step.upper
    assert step.lower < 1.25 < step.upper
    assert step.p_value == pytest.approx(1 / 300)  # no simulated maximum reached it
    assert step.candidates == 72 - 2 * 12 + 1
    assert scan.best == step


def test_two_steps_are_both_found() -> None:
    rng = np.random.default_rng(5)
    n = 96
    t = np.arange(n)
    y = simulate(rng, n=n) * np.where(t >= 30, 0.75, 1.0) * np.where(t >= 66, 1.3, 1.0)
    scan = steps.find_steps(np.round(y), month_list(n), FAST)
    assert sorted(
        steps.month_index(s.month) - steps.month_index(dt.date(2020, 1, 1)) for s in scan.steps
    ) == [30, 66]


def test_stable_series_still_reports_its_best_candidate() -> None:
    rng = np.random.default_rng(6)
    scan = steps.find_steps(simulate(rng), month_list(72), FAST)
    assert scan.steps == ()
    assert scan.best is not None
    assert scan.best.p_value >= FAST.level


def test_short_series_is_not_scanned_and_says_why() -> None:
    scan = steps.find_steps([10.0] * 20, month_list(20), FAST)
    assert scan.steps == ()
    assert scan.best is None
    assert "a scan needs 25" in scan.reason


@pytest.mark.parametrize(
    ("counts", "months", "message"),
    [
        ([1.0, float("nan")] * 15, month_list(30), "missing or negative"),
        ([1.0, -1.0] * 15, month_list(30), "missing or negative"),
        ([1.0] * 30, month_list(29) + [dt.date(2030, 1, 1)], "not consecutive after 2022-05"),
        ([1.0] * 29, month_list(30), "29 counts but 30 months"),
    ],
)
def test_bad_series_is_refused_naming_the_month(counts, months, message) -> None:
    with pytest.raises(steps.StepError, match=message):
        steps.find_steps(counts, months, FAST)
