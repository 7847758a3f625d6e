"""Level steps in a monthly count series: where a series moved to a new level and stayed there.

Pure statistics, no I/O. The model is a quasi-Poisson GLM of the monthly count on month-of-year
effects, a linear trend and, for a step at month ``tau``, an indicator that is 1 from ``tau``
on. Every month that leaves at least ``min_segment`` months on each side is a candidate. The
step is placed where the Poisson deviance is smallest, and judged by the largest quasi-Poisson
score statistic over all candidates (Andrews' sup-LM, 1993). Scanning many months inflates the
chance of a spurious step, so that maximum is calibrated against the same maximum in series
simulated under "no step": the null model's fitted means plus noise with the series' own
overdispersion and lag-one autocorrelation (an AR(1) sieve bootstrap), so the month-to-month
persistence of real recorded crime is not taken for a step. A step found is added to the model
and the scan repeated for a further one (binary segmentation), up to ``max_steps``.

A step is reported with its first month on the new level, its size as a rate ratio (new level
over old, seasonality and trend held) with a confidence interval from the quasi-Poisson fit,
and the simulated p-value of the scan, which allows for every candidate month tried.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import statsmodels.api as sm
from scipy import stats as sps

logger = logging.getLogger(__name__)


class StepError(ValueError):
    """A series the detector cannot scan (gaps, negative counts, months not consecutive)."""


@dataclass(frozen=True)
class StepSettings:
    """How the scan runs: segment length, level, simulations and the seed."""

    min_segment: int = 12
    level: float = 0.01
    simulations: int = 999
    max_steps: int = 2
    confidence: float = 0.95
    seed: int = 20240301


@dataclass(frozen=True)
class Step:
    """A level step: first month on the new level, its size and the evidence for it."""

    month: dt.date
    ratio: float
    lower: float
    upper: float
    p_value: float
    statistic: float
    candidates: int
    simulations: int


@dataclass(frozen=True)
class StepScan:
    """The steps found in one series (in the order found), and what was scanned."""

    steps: tuple[Step, ...]
    first: dt.date | None
    last: dt.date | None
    months: int
    dispersion: float
    best: Step | None
    reason: str = ""


@dataclass(frozen=True)
class ScanResult:
    """One scan: the best position, the sup statistic, its p-value and candidates tried."""

    position: int
    statistic: float
    p_value: float
    candidates: int


# --- the model -----------------------------------------------------------------------------


def month_index(day: dt.date) -> int:
    """Months since year 0 (consecutive months differ by one)."""
    return day.year * 12 + day.month - 1


def index_month(index: int) -> dt.date:
    """The first day of the month with this index."""
    return dt.date(index // 12, index % 12 + 1, 1)


def build_design(months: Sequence[dt.date], steps: Sequence[int] = ()) -> np.ndarray:
    """Intercept, month-of-year dummies, a linear trend, and one column per step position."""
    n = len(months)
    calendar = np.array([m.month for m in months])
    seasons = [(calendar == k).astype(float) for k in range(2, 13) if (calendar == k).any()]
    trend = (np.arange(n) - (n - 1) / 2) / 12.0
    columns = [np.ones(n), *seasons, trend]
    columns += [(np.arange(n) >= s).astype(float) for s in steps]
    return np.column_stack(columns)


def fit_poisson(y: np.ndarray, x: np.ndarray, iterations: int = 50) -> np.ndarray:
    """Fitted means of a log-link Poisson GLM by iteratively reweighted least squares."""
    eta = np.log(np.maximum(y, 0.5))
    beta = np.full(x.shape[1], np.inf)
    for _ in range(iterations):
        mu = np.exp(eta)
        z = eta + (y - mu) / mu
        xw = x * mu[:, None]
        updated = np.linalg.lstsq(xw.T @ x, xw.T @ z, rcond=None)[0]
        eta = np.clip(x @ updated, -30.0, 30.0)
        if np.max(np.abs(updated - beta)) < 1e-8:
            break
        beta = updated
    return np.exp(eta)


def poisson_deviance(y: np.ndarray, mu: np.ndarray) -> float:
    """The Poisson deviance of fitted means ``mu``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(y > 0, y * np.log(y / mu), 0.0) - (y - mu)
    return float(2 * np.sum(terms))


def pearson_dispersion(y: np.ndarray, mu: np.ndarray, parameters: int) -> float:
    """Pearson chi-square over residual degrees of freedom (1 for Poisson data)."""
    dof = max(len(y) - parameters, 1)
    return float(np.sum((y - mu) ** 2 / mu) / dof)


def score_statistics(
    y: np.ndarray, x: np.ndarray, mu: np.ndarray, candidates: np.ndarray
) -> np.ndarray:
    """Quasi-Poisson score (LM) statistic for adding a step at each candidate position."""
    n = len(y)
    steps = (np.arange(n)[:, None] >= candidates[None, :]).astype(float)
    phi = pearson_dispersion(y, mu, x.shape[1])
    weighted = steps * mu[:, None]
    cross = x.T @ weighted
    information = np.linalg.pinv((x * mu[:, None]).T @ x)
    variance = np.sum(steps * weighted, axis=0) - np.sum(cross * (information @ cross), axis=0)
    score = steps.T @ (y - mu)
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = score**2 / (phi * variance)
    return np.where(variance > 1e-9, stat, 0.0)


def allowed_candidates(n: int, min_segment: int, found: Sequence[int]) -> np.ndarray:
    """Positions leaving ``min_segment`` months on each side of every step, found or new."""
    edges = sorted({0, n, *found})
    keep = [
        c
        for c in range(min_segment, n - min_segment + 1)
        if all(abs(c - e) >= min_segment for e in edges)
    ]
    return np.array(keep, dtype=int)


def locate_step(
    y: np.ndarray, months: Sequence[dt.date], found: Sequence[int], candidates: np.ndarray
) -> int:
    """Index into ``candidates`` of the step position with the smallest Poisson deviance."""
    deviances = [
        poisson_deviance(y, fit_poisson(y, build_design(months, [*found, int(position)])))
        for position in candidates
    ]
    return int(np.argmin(deviances))


# --- calibrating the scan ------------------------------------------------------------------


def lag_one_correlation(residuals: np.ndarray) -> float:
    """First-order autocorrelation of a residual series, kept within [0, 0.9].

    Negative values are taken as zero: they would make the simulated series smoother than
    independent noise and the test less cautious.
    """
    centred = residuals - residuals.mean()
    denominator = float(np.sum(centred**2))
    if denominator <= 0:
        return 0.0
    return float(np.clip(np.sum(centred[1:] * centred[:-1]) / denominator, 0.0, 0.9))


def simulate_noise(
    n: int, scale: float, rho: float, count: int, rng: np.random.Generator
) -> np.ndarray:
    """``count`` stationary AR(1) series of length ``n`` with standard deviation ``scale``."""
    shocks = rng.normal(0.0, scale * math.sqrt(1 - rho**2), size=(count, n))
    noise = np.empty((count, n))
    noise[:, 0] = rng.normal(0.0, scale, size=count)
    for t in range(1, n):
        noise[:, t] = rho * noise[:, t - 1] + shocks[:, t]
    return noise


def simulate_maximum(
    mu: np.ndarray,
    residuals: np.ndarray,
    x: np.ndarray,
    candidates: np.ndarray,
    settings: StepSettings,
    rng: np.random.Generator,
) -> np.ndarray:
    """The largest score statistic in each series simulated under the null model.

    The simulated series are the null model's means plus Pearson-scale AR(1) noise with the
    dispersion and lag-one autocorrelation of ``residuals`` (an AR sieve bootstrap).
    """
    n = len(mu)
    scale = math.sqrt(max(float(np.mean(residuals**2)), 1e-12))
    noise = simulate_noise(n, scale, lag_one_correlation(residuals), settings.simulations, rng)
    maxima = np.empty(settings.simulations)
    root = np.sqrt(mu)
    for i in range(settings.simulations):
        y = np.maximum(mu + root * noise[i], 0.0)
        maxima[i] = score_statistics(y, x, fit_poisson(y, x), candidates).max()
    return maxima


def scan_once(
    y: np.ndarray,
    months: Sequence[dt.date],
    found: Sequence[int],
    settings: StepSettings,
    rng: np.random.Generator,
) -> ScanResult | None:
    """The best next step given the steps ``found``, with its simulated p-value."""
    candidates = allowed_candidates(len(y), settings.min_segment, found)
    if candidates.size == 0:
        return None
    x = build_design(months, found)
    null_means = fit_poisson(y, x)
    statistics = score_statistics(y, x, null_means, candidates)
    position = int(candidates[locate_step(y, months, found, candidates)])
    # Residuals of the fit with the step, so a real step does not inflate the noise the
    # simulations draw; the simulated series themselves have no step (the null model).
    alternative = fit_poisson(y, build_design(months, [*found, position]))
    dof = max(len(y) - x.shape[1] - 1, 1)
    residuals = (y - alternative) / np.sqrt(alternative) * math.sqrt(len(y) / dof)
    maxima = simulate_maximum(null_means, residuals, x, candidates, settings, rng)
    observed = float(statistics.max())
    p_value = (1 + int(np.sum(maxima >= observed))) / (1 + settings.simulations)
    return ScanResult(position, observed, p_value, int(candidates.size))


# --- the scan ------------------------------------------------------------------------------


def check_series(counts: Sequence[float], months: Sequence[dt.date]) -> np.ndarray:
    """The counts as floats, refusing gaps, negatives and months that are not consecutive."""
    if len(counts) != len(months):
        raise StepError(f"{len(counts)} counts but {len(months)} months")
    y = np.asarray(counts, dtype=float)
    if np.isnan(y).any() or (y < 0).any():
        bad = months[int(np.flatnonzero(np.isnan(y) | (y < 0))[0])]
        raise StepError(f"count for {bad:%Y-%m} is missing or negative")
    keys = [month_index(m) for m in months]
    for before, after in zip(keys, keys[1:], strict=False):
        if after != before + 1:
            raise StepError(f"months are not consecutive after {index_month(before):%Y-%m}")
    return y


def measure_step(
    y: np.ndarray, months: Sequence[dt.date], steps: Sequence[int], which: int, confidence: float
) -> tuple[float, float, float]:
    """Rate ratio and confidence interval of one step in the quasi-Poisson fit of all steps."""
    x = build_design(months, steps)
    fit = sm.GLM(y, x, family=sm.families.Poisson()).fit(scale="X2")
    column = x.shape[1] - len(steps) + which
    estimate, se = float(fit.params[column]), float(fit.bse[column])
    z = float(sps.norm.ppf(0.5 + confidence / 2))
    with np.errstate(over="ignore"):
        ratio, lower, upper = np.exp([estimate, estimate - z * se, estimate + z * se])
    return float(ratio), float(lower), float(upper)


def make_step(
    y: np.ndarray,
    months: Sequence[dt.date],
    positions: Sequence[int],
    which: int,
    result: ScanResult,
    settings: StepSettings,
) -> Step:
    """A Step from a scan result, sized in the fit that holds every step in ``positions``."""
    ratio, lower, upper = measure_step(y, months, positions, which, settings.confidence)
    return Step(
        month=months[result.position],
        ratio=ratio,
        lower=lower,
        upper=upper,
        p_value=result.p_value,
        statistic=result.statistic,
        candidates=result.candidates,
        simulations=settings.simulations,
    )


def find_steps(
    counts: Sequence[float], months: Sequence[dt.date], settings: StepSettings | None = None
) -> StepScan:
    """Candidate level steps in a monthly count series (consecutive months, oldest first).

    Returns every step whose simulated p-value is below ``settings.level`` (at most
    ``max_steps``), in the order found, and the best candidate of the first scan whether or not
    it passed (so a page can show how close the nearest step came).
    """
    settings = settings or StepSettings()
    months = [dt.date(m.year, m.month, 1) for m in months]
    y = check_series(counts, months)
    n = len(y)
    first, last = (months[0], months[-1]) if months else (None, None)
    needed = 2 * settings.min_segment + 1
    if n < needed:
        return StepScan((), first, last, n, math.nan, None, f"{n} months: a scan needs {needed}")
    if y.sum() == 0:
        return StepScan((), first, last, n, math.nan, None, "every month is zero")
    rng = np.random.default_rng(settings.seed)
    null = build_design(months)
    dispersion = pearson_dispersion(y, fit_poisson(y, null), null.shape[1])
    found: list[ScanResult] = []
    first_scan: ScanResult | None = None
    while len(found) < settings.max_steps:
        result = scan_once(y, months, [f.position for f in found], settings, rng)
        if result is None:
            break
        first_scan = first_scan or result
        if result.p_value >= settings.level:
            break
        found.append(result)
    positions = [f.position for f in found]
    steps = tuple(make_step(y, months, positions, i, f, settings) for i, f in enumerate(found))
    best = steps[0] if steps else None
    if best is None and first_scan is not None:
        best = make_step(y, months, [first_scan.position], 0, first_scan, settings)
    logger.info("scanned %d months: %d step(s)", n, len(steps))
    return StepScan(steps, first, last, n, dispersion, best)
