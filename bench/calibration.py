"""Calibration of the judgements: false alarms on stable series, points per run, and power.

``python -m bench.calibration --runs 200`` simulates London: 32 boroughs over 60 months (plus
the history before them that the dispersion estimate reads), each a seasonal series with
negative-binomial noise (variance 2 to 10 times its mean, London-like), London their sum. It
then runs the project's own status logic (:func:`oversight.measures.measure_rows`) and
challenge logic (:func:`oversight.challenge.points_from_values`) and reports

- (a) the share of stable series (each borough and London) whose headline status is
  improving or deteriorating;
- (b) challenge points raised per run on stable data;
- (c) power: one borough's level rises by 15% and stays there; months until a point names it.

Two scales are run: borough counts like total recorded crime (about 2,000 a month) and like
robbery (about 100 a month). Results are printed as Markdown and, with ``--out``, written as
JSON; ``bench/RESULTS.md`` quotes them. ``tests/test_calibration.py`` runs a small version.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from oversight import challenge, measures, reference  # noqa: E402
from oversight import plan as plan_mod  # noqa: E402

FIRST = date(2012, 1, 1)  # clear of every configured break for crime_borough_monthly
MONTHS = 60 + 48  # the 60 judged months and four years of history before them
SCALES = {"total crime": 2000.0, "robbery": 100.0}
SHIFT = 0.15
POWER_MONTHS = 6


@dataclasses.dataclass(frozen=True)
class Setup:
    """The plan measure, context and rules the simulation is judged with."""

    measure: plan_mod.Measure
    ctx: measures.Context
    setting: challenge.Setting
    boroughs: tuple[str, ...]


def make_setup() -> Setup:
    """Judge simulated series as the robbery measure of the 2022-25 plan (lower is better)."""
    plan = plan_mod.load_plan("pcp-2022-25")
    measure = plan.measure("robbery")
    lonely = dataclasses.replace(plan.priorities[0], measures=(measure,))
    plan = dataclasses.replace(plan, priorities=(lonely,))
    ctx = measures.make_context(plan)
    boroughs = tuple(sorted(c for c in ctx.names if c != measures.LONDON))
    setting = challenge.Setting.build(plan, challenge.load_rules(), ctx.stats_cfg)
    return Setup(measure, ctx, setting, boroughs)


def simulate(
    rng: np.random.Generator, setup: Setup, scale: float, shift_at: int | None = None
) -> pd.DataFrame:
    """Monthly counts for every borough and London (their sum), as ``read_series`` returns."""
    months = pd.date_range(FIRST, periods=MONTHS, freq="MS")
    n = len(setup.boroughs)
    level = scale * np.exp(rng.normal(0, 0.5, n))
    dispersion = rng.uniform(2, 10, n)
    amplitude = rng.uniform(0.05, 0.15)
    phase = rng.uniform(0, 2 * np.pi)
    season = 1 + amplitude * np.sin(2 * np.pi * np.arange(MONTHS) / 12 + phase)
    mean = level[:, None] * season[None, :]
    if shift_at is not None:
        mean[0, shift_at:] *= 1 + SHIFT
    size = mean / (dispersion[:, None] - 1)  # NB: variance = mean * dispersion
    counts = rng.negative_binomial(size, size / (size + mean))
    frames = [
        pd.DataFrame({"geography_code": code, "month": months, "value": counts[i]})
        for i, code in enumerate(setup.boroughs)
    ]
    frames.append(
        pd.DataFrame({"geography_code": measures.LONDON, "month": months,
                      "value": counts.sum(axis=0)})
    )  # fmt: skip
    out = pd.concat(frames, ignore_index=True)
    out["value"] = out["value"].astype(float)
    out["numerator"] = np.nan
    out["denominator"] = np.nan
    out["vintage"] = "simulated"
    return out


def judge(setup: Setup, frame: pd.DataFrame, end: pd.Timestamp) -> tuple[pd.DataFrame, list]:
    """Measure values and challenge points as at ``end``."""
    ctx = dataclasses.replace(setup.ctx, as_at=end.date())
    rows = measures.measure_rows(setup.measure, frame, ctx)
    measures.add_funnels(rows, ctx)
    values = pd.DataFrame(rows, columns=list(measures.COLUMNS))
    return values, challenge.points_from_values(values, setup.setting)


def run(runs: int, seed: int = 20261204, scales: dict[str, float] | None = None) -> dict:
    """Every measurement at every scale; deterministic for a seed."""
    setup = make_setup()
    rng = np.random.default_rng(seed)
    months = pd.date_range(FIRST, periods=MONTHS, freq="MS")
    end = months[-1]
    shift_at = MONTHS - POWER_MONTHS
    out: dict[str, Any] = {"runs": runs, "seed": seed, "shift": SHIFT, "results": {}}
    for name, scale in (scales or SCALES).items():
        judged = called = points = 0
        delays: list[int | None] = []
        for _ in range(runs):
            values, raised = judge(setup, simulate(rng, setup, scale), end)
            head = measures.headline(values)
            judged += len(head)
            called += int(head["status"].isin(["improving", "deteriorating"]).sum())
            points += len(raised)
            shifted = simulate(rng, setup, scale, shift_at)
            target = setup.boroughs[0]
            found = None
            for month in range(1, POWER_MONTHS + 1):
                _, raised = judge(setup, shifted, months[shift_at + month - 1])
                if any(p.geography_code == target for p in raised):
                    found = month
                    break
            delays.append(found)
        within = sum(1 for d in delays if d is not None)
        out["results"][name] = {
            "borough_level": scale,
            "false_alarm_share": called / judged,
            "points_per_run": points / runs,
            "power_within_6_months": within / runs,
            "median_months_to_raise": (
                float(np.median([d for d in delays if d is not None])) if within else None
            ),
        }
    return out


def render(result: dict) -> str:
    """The results as a Markdown table."""
    lines = [
        f"{result['runs']} runs per scale (seed {result['seed']}); a sustained "
        f"{result['shift']:.0%} rise in one borough for power.",
        "",
        "| scale (borough mean a month) | (a) stable series called improving or deteriorating "
        "(target <= 5%) | (b) points per stable run (target <= 1) | (c) shift raised within 6 "
        "months (target >= 80%) | median months to raise |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, r in result["results"].items():
        median = r["median_months_to_raise"]
        lines.append(
            f"| {name} ({r['borough_level']:,.0f}) | {r['false_alarm_share']:.1%} | "
            f"{r['points_per_run']:.2f} | {r['power_within_6_months']:.0%} | "
            f"{'-' if median is None else f'{median:g}'} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=20261204)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    reference.load_boroughs()
    result = run(args.runs, args.seed)
    if args.out:
        args.out.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(render(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
