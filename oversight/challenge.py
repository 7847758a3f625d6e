"""Challenge points: findings for the London Policing Board, each with evidence and a question.

A point is raised from the plan's measure values (``marts.measure_values``, or the same values
computed by :mod:`oversight.measures`) only for a change that is both statistically significant
and at least the measure's materiality tolerance; never from a context measure, never from a
row whose comparison would cross a series break (status 'not comparable'). The data itself is
challenged too: a plan source overdue against its publication schedule, or a file refused at
load. Rules, ranking, the meeting cap and the wording of the questions are configuration
(config/challenge_rules.yaml).

Everything after :func:`plan_values` and the two data readers is a pure function of a
DataFrame, so the rules can be tested on small frames.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import string
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import plotly.graph_objects as go
import yaml
from scipy import stats as sps

from oversight import charts, health, measures, scorecard, stats
from oversight import plan as plan_mod
from oversight.plan import Measure, Plan
from oversight.settings import PROJECT_ROOT, get_settings

RULES = (
    "deterioration",
    "borough_divergence",
    "spc_signal",
    "target_missed",
    "target_at_risk",
    "funnel_outlier",
    "widening_gap",
    "stale_data",
    "failing_data",
)
SEVERITIES = ("high", "medium", "low")
SEVERITY_COLOURS = {"high": "#B34700", "medium": "#8F4F00", "low": "#595959"}
DATA_RULES = ("stale_data", "failing_data")
LONDON = measures.LONDON
FUNNEL_LEVEL = 0.998
QUESTION_FIELDS = frozenset(
    {
        "what", "value", "period", "comparison", "change", "ci", "target", "limits", "feed",
        "latest", "due", "publisher", "file", "reason", "where", "london", "gap_now",
        "gap_before", "next", "boroughs", "london_change",
    }
)  # fmt: skip
TOP_KEYS = {
    "meeting_cap", "one_per_measure_area", "rules", "geography_weight", "size_cap", "severity",
    "deterioration", "spc_signal", "target", "widening_gap", "stale_data", "failing_data",
    "data_priority", "count_nouns", "questions", "false_discovery_rate",
}  # fmt: skip
SPC_RULE_TEXT = {
    "beyond_limit": "a month beyond the limits",
    "run": "a run of 7 or more months on one side of the average",
    "trend": "7 or more months rising or falling in a row",
    "two_of_three": "two of three months near a limit",
}
WINDOW_NAMES = {
    "r12": "the 12 months",
    "fytd": "the financial year to date",
    "quarter": "the latest 3 months",
    "fy": "the last financial year",
    "r12_3yr": "the 12 months against the three-year average",
}
COMPARISON_PHRASES = {
    "r12": "the 12 months before",
    "quarter": "the same 3 months a year earlier",
    "fytd": "the same months a year earlier",
    "fy": "the financial year before",
    "r12_3yr": "the average of the same 12 months in the three years before",
}


class RulesError(ValueError):
    """config/challenge_rules.yaml is not in the expected shape; the message names the key."""


@dataclass(frozen=True)
class ChallengePoint:
    """One finding for the Board: what, the evidence, and a draft question for the Commissioner."""

    point_id: str  # stable: hash of rule, measure, geography, period_end
    rule: str
    priority_id: str
    priority_title: str
    measure_id: str
    measure_label: str
    geography_code: str
    geography_name: str
    severity: str  # high | medium | low
    score: float
    period_end: date | None
    finding: str
    evidence: str
    question: str
    vintage: str | None
    window: str | None = None  # the measure_values window the point was raised from
    figures: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: dates as ISO text."""
        out = asdict(self)
        out["period_end"] = self.period_end.isoformat() if self.period_end else None
        out["score"] = round(self.score, 3)
        return out


# --- configuration --------------------------------------------------------------------------


@dataclass(frozen=True)
class Rules:
    """config/challenge_rules.yaml, checked."""

    meeting_cap: int
    one_per_measure_area: bool
    weights: dict[str, float]
    labels: dict[str, str]
    london_weight: float
    borough_weight: float
    size_cap: float
    high: float
    medium: float
    deterioration_windows: tuple[str, ...]
    spc_skip_small_counts: bool
    target_windows: tuple[str, ...]
    gap_mart: str
    stale_grace_days: int
    stale_days_per_unit: float
    stale_feeds: dict[str, str]
    stale_fallback: dict[str, dict[str, Any]]
    ok_statuses: tuple[str, ...]
    data_priority_id: str
    data_priority_title: str
    count_nouns: dict[str, str]
    questions: dict[str, str]
    false_discovery_rate: float | None = None


def _need(raw: dict[str, Any], key: str, where: str) -> Any:
    if not isinstance(raw, dict) or key not in raw:
        raise RulesError(f"challenge_rules.yaml: missing key {where}{key}")
    return raw[key]


def _check_template(rule: str, text: str) -> str:
    names = {name for _, name, _, _ in string.Formatter().parse(text) if name}
    unknown = names - QUESTION_FIELDS
    if unknown:
        raise RulesError(
            f"challenge_rules.yaml: questions.{rule} uses unknown field(s) {sorted(unknown)}; "
            f"known: {sorted(QUESTION_FIELDS)}"
        )
    return " ".join(text.split())


def load_rules(root: Path | None = None) -> Rules:
    """Read and check config/challenge_rules.yaml."""
    path = (root or PROJECT_ROOT) / "config" / "challenge_rules.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict):
        raise RulesError(f"{path.name}: expected a mapping")
    unknown = set(raw) - TOP_KEYS
    if unknown:
        raise RulesError(f"{path.name}: unknown key(s) {sorted(unknown)}")
    rules = _need(raw, "rules", "")
    questions = _need(raw, "questions", "")
    for rule in RULES:
        _need(rules, rule, "rules.")
        _need(rules[rule], "weight", f"rules.{rule}.")
        _need(questions, rule, "questions.")
    extra = (set(rules) | set(questions)) - set(RULES)
    if extra:
        raise RulesError(f"{path.name}: unknown rule(s) {sorted(extra)}; rules: {RULES}")
    severity = _need(raw, "severity", "")
    geo = _need(raw, "geography_weight", "")
    stale = _need(raw, "stale_data", "")
    windows = tuple(_need(raw["deterioration"], "windows", "deterioration."))
    target_windows = tuple(_need(raw["target"], "windows", "target."))
    for name in (*windows, *target_windows):
        if name not in measures.WINDOWS or name == "month":
            raise RulesError(f"{path.name}: window {name!r} is not one of {measures.WINDOWS[:-1]}")
    cap = int(_need(raw, "meeting_cap", ""))
    if cap < 1:
        raise RulesError(f"{path.name}: meeting_cap must be at least 1")
    high, medium = float(_need(severity, "high", "severity.")), float(severity["medium"])
    if not high > medium > 0:
        raise RulesError(f"{path.name}: severity needs high > medium > 0")
    return Rules(
        meeting_cap=cap,
        one_per_measure_area=bool(raw.get("one_per_measure_area", True)),
        weights={r: float(rules[r]["weight"]) for r in RULES},
        labels={r: str(rules[r].get("label", r.replace("_", " ").capitalize())) for r in RULES},
        london_weight=float(_need(geo, "london", "geography_weight.")),
        borough_weight=float(_need(geo, "borough", "geography_weight.")),
        size_cap=float(_need(raw, "size_cap", "")),
        high=high,
        medium=medium,
        deterioration_windows=windows,
        spc_skip_small_counts=bool(_need(raw["spc_signal"], "skip_small_counts", "spc_signal.")),
        target_windows=target_windows,
        gap_mart=str(_need(raw["widening_gap"], "mart", "widening_gap.")),
        stale_grace_days=int(_need(stale, "grace_days", "stale_data.")),
        stale_days_per_unit=float(_need(stale, "days_per_unit", "stale_data.")),
        stale_feeds=dict(_need(stale, "feeds", "stale_data.")),
        stale_fallback={k: dict(v) for k, v in _need(stale, "fallback", "stale_data.").items()},
        ok_statuses=tuple(_need(raw["failing_data"], "ok_statuses", "failing_data.")),
        data_priority_id=str(_need(raw["data_priority"], "id", "data_priority.")),
        data_priority_title=str(_need(raw["data_priority"], "title", "data_priority.")),
        count_nouns=dict(raw.get("count_nouns") or {}),
        questions={r: _check_template(r, str(questions[r])) for r in RULES},
        false_discovery_rate=(
            float(raw["false_discovery_rate"]) if raw.get("false_discovery_rate") else None
        ),
    )


# --- small helpers ----------------------------------------------------------------------------


def _num(value: Any) -> float | None:
    """A float, or None for None/NA/NaN."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def _flag(value: Any) -> bool:
    """True only for a real true value (None, NA and NaN are false)."""
    if value is None or value is pd.NA:
        return False
    try:
        return bool(value) and not (isinstance(value, float) and math.isnan(value))
    except (TypeError, ValueError):
        return False


def _date(value: Any) -> date | None:
    if value is None or (not isinstance(value, date) and pd.isna(value)):
        return None
    return pd.Timestamp(value).date()


def _text(value: Any) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return str(value)


def point_id(rule: str, measure_id: str, geography: str, period_end: date | None) -> str:
    """Stable id: the same finding in the same period keeps its id (and its decision)."""
    key = f"{rule}|{measure_id}|{geography}|{period_end.isoformat() if period_end else ''}"
    return hashlib.sha256(key.encode()).hexdigest()[:12]


def fmt_share(value: float) -> str:
    """A proportion as a percentage: whole numbers as published (64%), else one decimal."""
    pct = value * 100
    return f"{pct:.0f}%" if abs(pct - round(pct)) < 1e-6 else f"{pct:.1f}%"


def fmt_count(value: float, noun: str) -> str:
    return f"{value:,.0f} {noun}".strip()


def fmt_tolerance(measure: Measure) -> str:
    tol = measure.tolerance
    if tol.type == "relative":
        return f"{tol.value:.0%}"
    if measure.unit == "proportion":
        return f"{tol.value * 100:g} points"
    return f"{tol.value:,g}"


def subject(measure: Measure) -> str:
    """How a sentence names the measure: counts in lower case, survey measures quoted."""
    label = measure.label
    if measure.unit == "proportion":
        return f"‘{label}’"
    if len(label) > 1 and label[0].isupper() and label[1].islower():
        return label[0].lower() + label[1:]
    return label


def subject_start(measure: Measure) -> str:
    """The subject at the start of a sentence."""
    text = subject(measure)
    return text[0].upper() + text[1:] if text[0].isalpha() else text


def join_words(items: Sequence[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def day_text(when: date) -> str:
    """'2 March 2024'."""
    return f"{when.day} {when:%B %Y}"


def period_phrase(window: str, end: date) -> str:
    """'12 months to December 2025', 'financial year to March 2025', 'December 2025'."""
    month = f"{end:%B %Y}"
    if window in ("r12", "r12_3yr"):
        return f"12 months to {month}"
    if window == "quarter":
        return f"3 months to {month}"
    if window in ("fytd", "fy"):
        return f"financial year to {month}"
    return month


def source_text(row: pd.Series | dict[str, Any]) -> str:
    mart = _text(row.get("source_mart")) or "unknown mart"
    vintage = _text(row.get("vintage"))
    return f"Source: marts.{mart}" + (f", vintage {vintage}." if vintage else ".")


def is_material(measure: Measure, change: float, base: float | None) -> bool:
    """The measure's materiality tolerance (relative to ``base``, or in the unit)."""
    tol = measure.tolerance
    if tol.type == "relative":
        return bool(base) and base > 0 and stats.is_material(change / base, tol.value)
    return stats.is_material(change, tol.value)


def in_tolerances(measure: Measure, change: float, base: float | None) -> float:
    """A change as a number of tolerances (0 when it cannot be judged)."""
    tol = measure.tolerance
    if tol.value <= 0:
        return 0.0
    if tol.type == "relative":
        return abs(change) / base / tol.value if base else 0.0
    return abs(change) / tol.value


# --- values -----------------------------------------------------------------------------------


def plan_values(
    con: duckdb.DuckDBPyConnection,
    plan_id: str,
    as_at: date | None = None,
    root: Path | None = None,
) -> pd.DataFrame:
    """Every window of every measure for London and every borough (the rules need them all).

    The stored ``marts.measure_values`` when it was built from today's configuration and no
    ``as_at`` is asked for; otherwise computed from the marts with the same functions.
    """
    if as_at is None and scorecard.stored_hash(con) == measures.config_hash(root):
        return con.execute("select * from marts.measure_values where plan_id = ?", [plan_id]).df()
    plan = plan_mod.load_plan(plan_id, root)
    return measures.compute_plan(con, plan, as_at=as_at, root=root)


@dataclass(frozen=True)
class Setting:
    """What every rule needs besides the rows: the plan, the rules and the statistics config."""

    plan: Plan
    rules: Rules
    stats_cfg: measures.StatisticsConfig
    by_id: dict[str, tuple[Measure, Any]]

    @classmethod
    def build(cls, plan: Plan, rules: Rules, stats_cfg: measures.StatisticsConfig) -> Setting:
        by_id = {m.id: (m, p) for p in plan.priorities for m in p.measures}
        return cls(plan, rules, stats_cfg, by_id)

    def noun(self, measure: Measure) -> str:
        if measure.unit == "proportion":
            return ""
        return self.rules.count_nouns.get(measure.id, "offences")

    def value_text(self, measure: Measure, value: float) -> str:
        if measure.unit == "proportion":
            return fmt_share(value)
        return fmt_count(value, self.noun(measure))

    def score(self, rule: str, geography: str, size: float) -> tuple[float, str]:
        """(score, severity) from the rule's weight, the geography and the size."""
        rules = self.rules
        geo = (
            1.0
            if rule in DATA_RULES
            else (rules.london_weight if geography == LONDON else rules.borough_weight)
        )
        value = rules.weights[rule] * geo * (1 + max(0.0, min(size, rules.size_cap)))
        level = "high" if value >= rules.high else "medium" if value >= rules.medium else "low"
        return round(value, 3), level


def _eligible(row: pd.Series, measure: Measure | None) -> bool:
    """A row may raise a point: a judged (not context) measure, comparable, with a value."""
    if measure is None or measure.direction == "context" or row.get("direction") == "context":
        return False
    if row.get("status") in ("not comparable", "context", "no data"):
        return False
    return _num(row.get("value")) is not None


def _point(
    setting: Setting,
    rule: str,
    row: pd.Series,
    measure: Measure,
    priority: Any,
    size: float,
    finding: str,
    evidence: str,
    fields: dict[str, str],
    figures: dict[str, Any] | None = None,
) -> ChallengePoint:
    geo = str(row["geography_code"])
    end = _date(row.get("period_end"))
    score, severity = setting.score(rule, geo, size)
    return ChallengePoint(
        point_id=point_id(rule, measure.id, geo, end),
        rule=rule,
        priority_id=priority.id,
        priority_title=priority.title,
        measure_id=measure.id,
        measure_label=measure.label,
        geography_code=geo,
        geography_name=str(row.get("geography_name") or geo),
        severity=severity,
        score=score,
        period_end=end,
        finding=finding,
        evidence=evidence,
        question=setting.rules.questions[rule].format_map(_Fields(fields)),
        vintage=_text(row.get("vintage")),
        window=_text(row.get("window")),
        figures=figures or {},
    )


class _Fields(dict):
    """Template fields; a field a rule does not fill reads as empty rather than failing."""

    def __missing__(self, key: str) -> str:
        return ""


# --- rules over measure values ----------------------------------------------------------------


def _change_texts(setting: Setting, measure: Measure, row: pd.Series) -> tuple[str, str, float]:
    """(change, ci, size) for a judged change: '14.0% above', '95% CI +8.0% to +20.0%'."""
    change = _num(row.get("change")) or 0.0
    low, high = _num(row.get("change_lower")), _num(row.get("change_upper"))
    value, comparison = _num(row["value"]), _num(row.get("comparison_value"))
    word = "above" if change > 0 else "below"
    nearest = (low if change > 0 else high) if low is not None and high is not None else change
    if measure.unit == "proportion":
        text = f"{abs(change) * 100:.1f} points {word}"
        ci = (
            f"95% CI {low * 100:+.1f} to {high * 100:+.1f} points"
            if low is not None and high is not None
            else "no CI"
        )
        base = _num(row.get("assumed_base"))
        if base:
            deff = _num(row.get("design_effect")) or setting.stats_cfg.pas_design_effect
            ci += f"; assumed base {base:,.0f} interviews, design effect {deff:g}"
        elif _num(row.get("denominator")):
            ci += f"; {row['denominator']:,.0f} cases"
        size = in_tolerances(measure, nearest, comparison)
        return text, ci, size
    if _flag(row.get("small_count")) or comparison is None:
        diff = (value or 0.0) - (comparison or 0.0)
        noun = setting.noun(measure)
        text = f"{abs(diff):,.0f} {noun} {'more' if diff > 0 else 'fewer'} than"
        return text, "too few to quote a percentage change", 0.0
    text = f"{abs(change):.1%} {word}"
    ci = f"95% CI {low:+.1%} to {high:+.1%}" if low is not None and high is not None else "no CI"
    size = (
        abs(nearest) / measure.tolerance.value
        if measure.tolerance.type == "relative"
        else (in_tolerances(measure, nearest * comparison, comparison))
    )
    return text, ci, size


def _p_text(row: pd.Series, measure: Measure) -> str:
    p = _num(row.get("p_value"))
    if p is None:
        return "no test"
    test = "exact Poisson test" if measure.unit != "proportion" else "two-proportion z-test"
    if _num(row.get("assumed_base")):
        test += " with the design effect"
    return f"{test}, {'p < 0.001' if p < 0.001 else f'p = {p:.3f}'}"


def _value_with_ci(setting: Setting, measure: Measure, row: pd.Series) -> str:
    value = setting.value_text(measure, float(row["value"]))
    low, high = _num(row.get("lower")), _num(row.get("upper"))
    if low is None or high is None:
        return value
    if measure.unit == "proportion":
        return f"{value} (95% CI {fmt_share(low)} to {fmt_share(high)})"
    return f"{value} (95% CI {low:,.0f} to {high:,.0f})"


def _movers(
    values: pd.DataFrame, measure_id: str, window: str, increase: bool
) -> tuple[int, int, str]:
    """(boroughs moving the same way, boroughs compared, the three that moved most)."""
    rows = values[
        values["measure_id"].eq(measure_id)
        & values["window"].eq(window)
        & values["geography_code"].ne(LONDON)
        & values["change"].notna()
    ]
    if rows.empty:
        return 0, 0, ""
    same = rows[rows["change"].gt(0) if increase else rows["change"].lt(0)]
    top = rows.sort_values("change", ascending=not increase).head(3)
    named = ", ".join(f"{r.geography_name} {r.change:+.0%}" for r in top.itertuples())
    return len(same), len(rows), named


def deterioration_points(values: pd.DataFrame, setting: Setting) -> list[ChallengePoint]:
    """A significant and material deterioration in London (one per measure).

    A movement London shares with most of its boroughs is one London finding: the evidence
    names how many boroughs moved the same way and the three that moved most. Boroughs are
    raised only where they differ from London (:func:`divergence_points`).
    """
    windows = setting.rules.deterioration_windows
    rows = values[
        values["status"].eq("deteriorating")
        & values["window"].isin(windows)
        & values["geography_code"].eq(LONDON)
    ]
    points = []
    for (measure_id, _geo), group in rows.groupby(["measure_id", "geography_code"], sort=False):
        measure, priority = setting.by_id.get(measure_id, (None, None))
        group = group.assign(_order=group["window"].map(windows.index)).sort_values("_order")
        judged = [
            r
            for _, r in group.iterrows()
            if _eligible(r, measure) and _flag(r.get("significant")) and _flag(r.get("material"))
        ]
        if not judged:
            continue
        row = judged[0]
        end = _date(row["period_end"])
        change, ci, size = _change_texts(setting, measure, row)
        increase = (_num(row.get("change")) or 0) > 0
        where = str(row["geography_name"])
        what = f"the {'rise' if increase else 'fall'} in {subject(measure)} in {where}"
        period = period_phrase(row["window"], end)
        comparison = COMPARISON_PHRASES.get(row["window"], "the period before")
        value = setting.value_text(measure, float(row["value"]))
        comparison_value = setting.value_text(measure, float(row["comparison_value"]))
        others = [r["window"] for r in judged[1:]]
        same, compared, named = _movers(values, measure_id, row["window"], increase)
        boroughs = (
            f" {same} of {compared} boroughs moved the same way; most: {named}."
            if compared
            else ""
        )
        dispersion = _num(row.get("dispersion"))
        noise = (
            f"; allowing for the series' usual year-to-year variation "
            f"({dispersion:.0f} times Poisson)"
            if dispersion and dispersion >= 1.5
            else ""
        )
        finding = (
            f"{subject_start(measure)} in {where} {'rose' if increase else 'fell'} to {value} in "
            f"the {period}, {change} {comparison}: statistically significant{noise} and at "
            f"least the materiality tolerance of {fmt_tolerance(measure)}, so a deterioration."
            + boroughs
        )
        evidence = (
            f"{measure.label}, {where}: {_value_with_ci(setting, measure, row)} in the {period} "
            f"against {comparison_value} in {comparison}; change {change} ({ci}); "
            f"{_p_text(row, measure)}; materiality tolerance {fmt_tolerance(measure)}."
            + (
                f" Also deteriorating over {join_words([WINDOW_NAMES[w] for w in others])}."
                if others
                else ""
            )
            + f" {source_text(row)}"
        )
        fields = {
            "what": what, "value": value, "period": period, "comparison": comparison,
            "change": change, "ci": ci, "where": where, "boroughs": named,
        }  # fmt: skip
        points.append(
            _point(setting, "deterioration", row, measure, priority, size, finding, evidence,
                   fields, {"windows": [r["window"] for r in judged],
                            "p_value": _num(row.get("p_value"))})
        )  # fmt: skip
    return points


def _relative_material(measure: Measure, relative_change: float) -> bool:
    """A change against London's reaches the tolerance (a relative one; else 5%)."""
    tol = measure.tolerance
    limit = tol.value if tol.type == "relative" else 0.05
    return abs(relative_change) >= limit


def divergence_points(values: pd.DataFrame, setting: Setting) -> list[ChallengePoint]:
    """A borough whose change differs from London's by a significant, material margin.

    The test is the borough's rate ratio against London's over the same window (both with
    the between-period variation of their history), so a London-wide movement raises no
    borough point and a borough that stands apart from London does.
    """
    windows = setting.rules.deterioration_windows
    rows = values[
        values["window"].isin(windows)
        & values["geography_code"].ne(LONDON)
        & values["relative_p_value"].notna()
    ]
    points = []
    for (measure_id, _geo), group in rows.groupby(["measure_id", "geography_code"], sort=False):
        measure, priority = setting.by_id.get(measure_id, (None, None))
        if measure is None or measure.direction == "context":
            continue
        sign = 1 if measure.direction == "lower_is_better" else -1
        group = group.assign(_order=group["window"].map(windows.index)).sort_values("_order")
        judged = [
            r
            for _, r in group.iterrows()
            if r.get("status") != "not comparable"
            and _num(r.get("value")) is not None
            and sign * float(r["relative_change"]) > 0
            and float(r["relative_p_value"]) < setting.stats_cfg.significance_level
            and _relative_material(measure, float(r["relative_change"]))
        ]
        if not judged:
            continue
        row = min(judged, key=lambda r: float(r["relative_p_value"]))
        end = _date(row["period_end"])
        where = str(row["geography_name"])
        period = period_phrase(row["window"], end)
        comparison = COMPARISON_PHRASES.get(row["window"], "the period before")
        own = _num(row.get("change")) or 0.0
        rel = float(row["relative_change"])
        london_change = (1 + own) / (1 + rel) - 1
        ci = (
            f"95% CI {float(row['relative_lower']):+.0%} to {float(row['relative_upper']):+.0%}, "
            f"p = {float(row['relative_p_value']):.3g}"
        )
        value = setting.value_text(measure, float(row["value"]))
        what = f"{subject(measure)} in {where}"
        finding = (
            f"{subject_start(measure)} in {where} changed by {own:+.0%} in the {period} against "
            f"{comparison}, while London changed by {london_change:+.0%}: {where} moved "
            f"{abs(rel):.0%} worse than London ({ci}), beyond the "
            f"materiality tolerance of {fmt_tolerance(measure)}."
        )
        evidence = (
            f"{measure.label}, {where}: {value} in the {period}; own change {own:+.1%}; London "
            f"{london_change:+.1%}; ratio of the two rate ratios {1 + rel:.3f} ({ci}), allowing "
            "for the usual variation of a borough's change against London's in the series' own "
            f"history. {source_text(row)}"
        )
        base = 1.0 if measure.tolerance.type == "relative" else None
        size = in_tolerances(measure, abs(rel), base)
        fields = {
            "what": what, "value": value, "period": period, "comparison": comparison,
            "change": f"{own:+.0%}", "london_change": f"{london_change:+.0%}", "ci": ci,
            "where": where,
        }  # fmt: skip
        points.append(
            _point(setting, "borough_divergence", row, measure, priority, size, finding,
                   evidence, fields, {"p_value": float(row["relative_p_value"]),
                                      "relative_change": rel})
        )  # fmt: skip
    return points


def spc_points(values: pd.DataFrame, setting: Setting) -> list[ChallengePoint]:
    """The latest month signals special-cause variation in the unfavourable direction."""
    rows = values[values["window"].eq("month") & values["status"].eq("deteriorating")]
    london_signals = {
        r.measure_id
        for r in rows.itertuples()
        if r.geography_code == LONDON and isinstance(r.spc_signal, str) and r.spc_signal
    }
    points = []
    for _, row in rows.iterrows():
        measure, priority = setting.by_id.get(row["measure_id"], (None, None))
        if not _eligible(row, measure) or not _text(row.get("spc_signal")):
            continue
        if row["geography_code"] != LONDON and row["measure_id"] in london_signals:
            continue  # London's own chart signals the same way: one London finding
        if not (_flag(row.get("significant")) and _flag(row.get("material"))):
            continue
        if setting.rules.spc_skip_small_counts and _flag(row.get("small_count")):
            continue
        centre, low, high = (
            _num(row.get(c)) for c in ("spc_centre", "spc_lower", "spc_upper")
        )
        if centre is None or low is None or high is None:
            continue
        factor = _num(row.get("seasonal_factor")) or 1.0
        centre, low, high = centre * factor, low * factor, high * factor
        end = _date(row["period_end"])
        since = _date(row.get("comparison_start"))
        where = str(row["geography_name"])
        value = float(row["value"])
        rel = value / centre - 1 if centre else 0.0
        change = f"{abs(rel):.1%} {'above' if rel > 0 else 'below'}"
        signals = [s.strip() for s in str(row["spc_signal"]).split(",")]
        rule_text = "; ".join(SPC_RULE_TEXT.get(s, s.replace("_", " ")) for s in signals)
        fmt = fmt_share if measure.unit == "proportion" else (lambda v: f"{v:,.0f}")
        limits = f"XmR limits {fmt(low)} to {fmt(high)}; {rule_text}"
        since_text = f"{since:%B %Y}" if since else "the last break"
        value_text = setting.value_text(measure, value)
        what = f"the {'rise' if rel > 0 else 'fall'} in {subject(measure)} in {where}"
        finding = (
            f"{subject_start(measure)} in {where}: {value_text} in {end:%B %Y}, {change} the "
            f"{fmt(centre)} expected for the time of year on the XmR chart since {since_text}. "
            f"The seasonally adjusted chart signals special-cause variation ({rule_text}) in "
            "the unfavourable direction."
        )
        evidence = (
            f"{measure.label}, {where}: {value_text} in {end:%B %Y}; XmR centre line "
            f"{centre:,.1f}, natural process limits {fmt(low)} to {fmt(high)} for the time of "
            f"year (seasonally adjusted; fixed baseline from {since_text}, on one basis since "
            f"the last series break or confirmed shift); signals: {rule_text}; {change} the "
            "centre line, "
            f"materiality tolerance {fmt_tolerance(measure)}. {source_text(row)}"
        )
        size = in_tolerances(measure, value - centre, centre)
        fields = {
            "what": what, "value": value_text, "period": f"{end:%B %Y}", "change": change,
            "comparison": since_text, "limits": limits, "where": where,
        }  # fmt: skip
        points.append(
            _point(setting, "spc_signal", row, measure, priority, size, finding, evidence,
                   fields, {"centre": centre, "lower": low, "upper": high,
                            "since": since.isoformat() if since else None,
                            "p_value": _num(row.get("p_value"))})
        )  # fmt: skip
    return points


def target_points(values: pd.DataFrame, setting: Setting) -> list[ChallengePoint]:
    """A target missed (CI wholly short of it, by at least the tolerance) or at risk."""
    windows = setting.rules.target_windows
    rows = values[values["target_status"].notna() & values["window"].isin(windows)]
    points = []
    for (measure_id, _geo), group in rows.groupby(["measure_id", "geography_code"], sort=False):
        measure, priority = setting.by_id.get(measure_id, (None, None))
        group = group.assign(_order=group["window"].map(windows.index)).sort_values("_order")
        row = group.iloc[0]
        status = str(row["target_status"])
        if status not in ("missed", "at risk") or measure is None:
            continue
        if measure.direction == "context" or row.get("status") == "not comparable":
            continue
        value, goal = _num(row["value"]), _num(row.get("target_value"))
        low, high = _num(row.get("lower")), _num(row.get("upper"))
        if value is None or goal is None:
            continue
        higher = measure.direction == "higher_is_better"
        shortfall = goal - value if higher else value - goal
        rule = "target_missed" if status == "missed" else "target_at_risk"
        if rule == "target_missed":
            if not is_material(measure, shortfall, goal):
                continue
            nearest = (goal - high if higher else low - goal) if low is not None else shortfall
            size = in_tolerances(measure, nearest, goal)
        else:
            size = 0.0
        end = _date(row["period_end"])
        where = str(row["geography_name"])
        period = period_phrase(row["window"], end)
        value_text = setting.value_text(measure, value)
        target_text = setting.value_text(measure, goal)
        ci = (
            f"95% CI {setting.value_text(measure, low)} to {setting.value_text(measure, high)}"
            if low is not None and high is not None
            else "no CI"
        )
        gap = (
            f"{abs(shortfall) * 100:.1f} points"
            if measure.unit == "proportion"
            else f"{abs(shortfall):,.0f}"
        )
        others = [
            f"{WINDOW_NAMES[w]} {s}"
            for w, s in zip(group["window"], group["target_status"], strict=True)
        ][1:]
        verdict = (
            "the whole confidence interval is short of the target"
            if rule == "target_missed"
            else "short of the target, though the target is inside the confidence interval"
        )
        finding = (
            f"{subject_start(measure)} in {where} was {value_text} in the {period} against a "
            f"target of "
            f"{target_text}: {gap} short; {verdict}."
        )
        evidence = (
            f"{measure.label}, {where}: {_value_with_ci(setting, measure, row)} in the {period}; "
            f"target {target_text}; shortfall {gap}; materiality tolerance "
            f"{fmt_tolerance(measure)}."
            + (f" Over {'; '.join(others)}." if others else "")
            + f" {source_text(row)}"
        )
        fields = {
            "what": f"{subject_start(measure)} in {where}", "value": value_text, "period": period,
            "target": target_text, "ci": ci, "where": where,
        }  # fmt: skip
        points.append(
            _point(setting, rule, row, measure, priority, size, finding, evidence, fields,
                   {"target": goal})
        )  # fmt: skip
    return points


def funnel_points(values: pd.DataFrame, setting: Setting) -> list[ChallengePoint]:
    """A borough above the overdispersion-adjusted 99.8% funnel on a lower-is-better measure."""
    r12 = values[values["window"].eq("r12") & values["geography_code"].ne(LONDON)]
    points = []
    crit = float(sps.norm.ppf(0.5 + FUNNEL_LEVEL / 2))
    for measure_id, group in r12.groupby("measure_id", sort=False):
        measure, priority = setting.by_id.get(measure_id, (None, None))
        if measure is None or measure.direction != "lower_is_better":
            continue
        usable = group[group["value"].notna() & group["population"].notna()]
        if usable.empty:
            continue
        pooled = float(usable["value"].sum()) / float(usable["population"].sum()) * 1000
        for _, row in usable.iterrows():
            z = _num(row.get("funnel_z"))
            if not (_flag(row.get("funnel_outside")) and z is not None and z > 0):
                continue
            if _text(row.get("funnel_note")):
                continue  # its resident population misleads as a denominator: shown, not ranked
            # Boroughs are compared with London within one 12-month window, so a series break
            # before it (which stops the comparison over time: 'not comparable') does not stop
            # this one.
            if row.get("status") == "not comparable":
                row = row.copy()
                row["status"] = "no significant change"
            if not _eligible(row, measure):
                continue
            rate = _num(row.get("rate_per_1000"))
            if rate is None or not is_material(measure, rate - pooled, pooled):
                continue
            end = _date(row["period_end"])
            where = str(row["geography_name"])
            period = period_phrase("r12", end)
            tau2 = (math.log(rate / pooled) / z) ** 2 if z else 0.0
            limit = pooled * math.exp(crit * math.sqrt(tau2))
            value_text = f"{rate:,.1f} per 1,000 residents"
            population = _num(row.get("population")) or 0
            limits = (
                f"adjusted z = {z:.1f}, beyond the 99.8% limit of {limit:,.1f} per 1,000 at its "
                f"population"
            )
            finding = (
                f"{where} recorded {setting.value_text(measure, float(row['value']))} of "
                f"{subject(measure)} in the {period}: {value_text}, against {pooled:,.1f} across "
                f"London's boroughs, outside the overdispersion-adjusted 99.8% funnel limit."
            )
            evidence = (
                f"{measure.label}, {where}: {setting.value_text(measure, float(row['value']))} "
                f"in the {period}; population {population:,.0f} (mid-{row['population_year']:.0f}"
                f" estimate); {value_text} against {pooled:,.1f} across the 32 boroughs; "
                f"{limits} ({setting.stats_cfg.funnel_method} overdispersion adjustment); "
                f"{(rate / pooled - 1):.0%} above, materiality tolerance "
                f"{fmt_tolerance(measure)}. Rates are per resident: areas with many visitors or "
                f"workers have higher rates per resident. {source_text(row)}"
            )
            fields = {
                "what": subject(measure), "value": value_text, "period": period,
                "london": f"{pooled:,.1f} per 1,000", "limits": limits, "where": where,
            }  # fmt: skip
            points.append(
                _point(setting, "funnel_outlier", row, measure, priority, z - crit, finding,
                       evidence, fields, {"pooled_rate": pooled, "z": z,
                                          "p_value": float(2 * sps.norm.sf(abs(z)))})
            )  # fmt: skip
    return points


def gap_test(
    borough_now: float,
    london_now: float,
    borough_before: float,
    london_before: float,
    stats_cfg: measures.StatisticsConfig,
) -> dict[str, float]:
    """The borough-London gap now and a year earlier, and the change between them.

    Each gap is a two-proportion test on the assumed bases with the design effect; the two
    years do not share interviews, so the change in gap has the two gaps' variances added
    (standard errors taken from each gap's 95% interval).
    """
    level = 1 - stats_cfg.significance_level
    deff = stats_cfg.pas_design_effect
    nb, nl = stats_cfg.pas_base_borough, stats_cfg.pas_base_london
    now = stats.two_proportion_test(borough_now, nb, london_now, nl, deff, level)
    before = stats.two_proportion_test(borough_before, nb, london_before, nl, deff, level)
    z_crit = float(sps.norm.ppf(0.5 + level / 2))
    se_now = (now.upper - now.lower) / (2 * z_crit)
    se_before = (before.upper - before.lower) / (2 * z_crit)
    change = now.difference - before.difference
    se = math.hypot(se_now, se_before)
    z = change / se if se > 0 else 0.0
    return {
        "gap_now": now.difference,
        "gap_now_p": now.p_value,
        "gap_before": before.difference,
        "change": change,
        "lower": change - z_crit * se,
        "upper": change + z_crit * se,
        "p_value": float(2 * sps.norm.sf(abs(z))),
    }


def gap_points(values: pd.DataFrame, setting: Setting) -> list[ChallengePoint]:
    """A PAS measure where a borough has fallen further behind London than a year earlier."""
    r12 = values[values["window"].eq("r12") & values["source_mart"].eq(setting.rules.gap_mart)]
    level = setting.stats_cfg.significance_level
    points = []
    for measure_id, group in r12.groupby("measure_id", sort=False):
        measure, priority = setting.by_id.get(measure_id, (None, None))
        if measure is None or measure.direction == "context" or measure.unit != "proportion":
            continue
        london = group[group["geography_code"].eq(LONDON)]
        if london.empty:
            continue
        lon = london.iloc[0]
        l_now, l_before = _num(lon["value"]), _num(lon.get("comparison_value"))
        if l_now is None or l_before is None or lon.get("status") == "not comparable":
            continue
        sign = 1 if measure.direction == "higher_is_better" else -1
        for _, row in group[group["geography_code"].ne(LONDON)].iterrows():
            b_now, b_before = _num(row["value"]), _num(row.get("comparison_value"))
            if b_now is None or b_before is None or not _eligible(row, measure):
                continue
            if _date(row["period_end"]) != _date(lon["period_end"]):
                continue
            test = gap_test(b_now, l_now, b_before, l_before, setting.stats_cfg)
            behind_now = sign * test["gap_now"] < 0 and test["gap_now_p"] < level
            widened = sign * test["change"] < 0 and test["p_value"] < level
            if not (behind_now and widened and is_material(measure, test["change"], None)):
                continue
            end = _date(row["period_end"])
            where = str(row["geography_name"])
            period = period_phrase("r12", end)
            bound = test["upper"] if sign > 0 else test["lower"]
            size = in_tolerances(measure, bound, None)
            gap_now = f"{abs(test['gap_now']) * 100:.1f} points"
            gap_before = (
                f"{abs(test['gap_before']) * 100:.1f} points "
                f"{'behind' if sign * test['gap_before'] < 0 else 'ahead of'} London"
            )
            ci = (
                f"gap widened by {abs(test['change']) * 100:.1f} points, 95% CI "
                f"{test['lower'] * 100:+.1f} to {test['upper'] * 100:+.1f}, p = "
                f"{test['p_value']:.3f}; assumed bases {setting.stats_cfg.pas_base_borough:,} "
                f"(borough) and {setting.stats_cfg.pas_base_london:,} (London) interviews, "
                f"design effect {setting.stats_cfg.pas_design_effect:g}"
            )
            finding = (
                f"{subject_start(measure)} in {where} was {fmt_share(b_now)} in the {period}, "
                f"{gap_now} behind London ({fmt_share(l_now)}); a year earlier it was "
                f"{gap_before}. The gap widened by more than the {fmt_tolerance(measure)} "
                "tolerance and the widening is statistically significant."
            )
            evidence = (
                f"{measure.label}: {where} {fmt_share(b_now)} (a year earlier "
                f"{fmt_share(b_before)}), London {fmt_share(l_now)} (a year earlier "
                f"{fmt_share(l_before)}), {period}; gap now {test['gap_now'] * 100:+.1f} points "
                f"(p = {test['gap_now_p']:.3f}), a year earlier {test['gap_before'] * 100:+.1f} "
                f"points; {ci}. {source_text(row)}"
            )
            fields = {
                "what": subject(measure), "value": fmt_share(b_now), "period": period,
                "gap_now": gap_now, "london": fmt_share(l_now), "gap_before": gap_before,
                "ci": ci, "where": where,
            }  # fmt: skip
            points.append(
                _point(setting, "widening_gap", row, measure, priority, size, finding,
                       evidence, fields, {**{k: float(v) for k, v in test.items()},
                                          "p_value": float(test["p_value"])})
            )  # fmt: skip
    return points


def _family_p_values(
    values: pd.DataFrame, setting: Setting
) -> dict[tuple[str, str, str], float]:
    """Every test a run makes, by (rule, measure, area): the family for false discoveries.

    Improvements count as much as deteriorations (a test is a test, whichever way it comes
    out). A measure and area tested over several windows count once, at the smallest p times
    the number of windows (Bonferroni within the measure), so correlated windows do not add
    tests that are not independent.
    """
    judged = values[values["direction"].ne("context")]
    windows = list(setting.rules.deterioration_windows)
    out: dict[tuple[str, str, str], float] = {}

    def min_p(frame: pd.DataFrame, column: str, rule: str) -> None:
        frame = frame[frame[column].notna()]
        for (measure_id, geo), group in frame.groupby(["measure_id", "geography_code"]):
            p = float(group[column].min()) * len(group)
            out[(rule, str(measure_id), str(geo))] = min(1.0, p)

    over_time = judged[judged["window"].isin(windows) & judged["status"].ne("not comparable")]
    min_p(over_time[over_time["geography_code"].eq(LONDON)], "p_value", "deterioration")
    min_p(over_time[over_time["geography_code"].ne(LONDON)], "relative_p_value",
          "borough_divergence")  # fmt: skip
    month = judged[judged["window"].eq("month") & judged["p_value"].notna()]
    for r in month.itertuples():
        out[("spc_signal", str(r.measure_id), str(r.geography_code))] = float(r.p_value)
    funnel = judged[judged["window"].eq("r12") & judged["funnel_z"].notna()]
    for r in funnel.itertuples():
        p = float(2 * sps.norm.sf(abs(float(r.funnel_z))))
        out[("funnel_outlier", str(r.measure_id), str(r.geography_code))] = p
    return out


def control_false_discoveries(
    points: list[ChallengePoint], values: pd.DataFrame, setting: Setting
) -> list[ChallengePoint]:
    """Keep a point only if it survives Benjamini–Hochberg across every test of the run.

    The family is every comparison the rules make (all measures, areas and rule families,
    improvements too; :func:`_family_p_values`) plus each PAS gap test raised; a point stays
    when its adjusted p is below ``false_discovery_rate`` and its evidence says so. Target
    points, which test nothing, pass through.
    """
    rate = setting.rules.false_discovery_rate
    if not rate:
        return points
    family = _family_p_values(values, setting)
    for point in points:
        key = (point.rule, point.measure_id, point.geography_code)
        p = point.figures.get("p_value")
        if key not in family and p is not None:
            family[key] = float(p)
    keys = list(family)
    if not keys:
        return points
    adjusted = dict(
        zip(keys, sps.false_discovery_control(np.array([family[k] for k in keys])), strict=True)
    )
    kept = []
    for point in points:
        key = (point.rule, point.measure_id, point.geography_code)
        if key not in adjusted:
            kept.append(point)
            continue
        p_adjusted = float(adjusted[key])
        if p_adjusted >= rate:
            continue
        note = (
            f" Still significant allowing for the {len(keys):,} tests of this run "
            f"(Benjamini–Hochberg adjusted p = {p_adjusted:.3g})."
        )
        kept.append(dataclasses.replace(point, evidence=point.evidence + note))
    return kept


def points_from_values(values: pd.DataFrame, setting: Setting) -> list[ChallengePoint]:
    """Every measure rule over a measure_values frame (all geographies of one plan)."""
    if values.empty:
        return []
    values = values.reindex(columns=list(measures.COLUMNS))
    tested = [
        *deterioration_points(values, setting),
        *divergence_points(values, setting),
        *spc_points(values, setting),
        *funnel_points(values, setting),
        *gap_points(values, setting),
    ]
    return [*control_false_discoveries(tested, values, setting), *target_points(values, setting)]


# --- rules over the data supply ---------------------------------------------------------------


@dataclass(frozen=True)
class Freshness:
    """One plan source's latest period against when the next was due."""

    mart: str
    label: str
    publisher: str
    latest: str
    latest_date: date
    next_period: str
    due: date
    days_overdue: int


def _data_point(
    setting: Setting,
    rule: str,
    key: str,
    label: str,
    end: date | None,
    size: float,
    finding: str,
    evidence: str,
    fields: dict[str, str],
    vintage: str | None = None,
) -> ChallengePoint:
    score, severity = setting.score(rule, LONDON, size)
    return ChallengePoint(
        point_id=point_id(rule, key, LONDON, end),
        rule=rule,
        priority_id=setting.rules.data_priority_id,
        priority_title=setting.rules.data_priority_title,
        measure_id=key,
        measure_label=label,
        geography_code=LONDON,
        geography_name=measures.LONDON_NAME,
        severity=severity,
        score=score,
        period_end=end,
        finding=finding,
        evidence=evidence,
        question=setting.rules.questions[rule].format_map(_Fields(fields)),
        vintage=vintage,
    )


def source_freshness(
    con: duckdb.DuckDBPyConnection, marts: Iterable[str], rules: Rules, today: date, root: Path
) -> list[Freshness]:
    """Latest period of each plan mart against its schedule (or the fallback cadence)."""
    schedule_path = root / "config" / "publication_schedule.yaml"
    feeds = (
        {f.id: f for f in health.load_schedule(schedule_path)} if schedule_path.exists() else {}
    )
    missing = {f for f in rules.stale_feeds.values() if f not in feeds}
    if feeds and missing:
        raise RulesError(
            f"challenge_rules.yaml: stale_data.feeds names feed(s) {sorted(missing)} that "
            f"{schedule_path.name} does not have"
        )
    wanted = []
    for mart in marts:
        feed = feeds.get(rules.stale_feeds.get(mart, ""))
        if feed is not None:
            if feed.scheduled:
                wanted.append((mart, feed))
        elif not feeds and mart in rules.stale_fallback:
            spec = rules.stale_fallback[mart]
            wanted.append((mart, health.Feed(
                id=mart, label=spec["label"], publisher=spec.get("publisher", "the publisher"),
                sources=(mart,), mart=mart, cadence="monthly", period_column=spec["period_column"],
                period="month" if int(spec["months"]) == 1 else "quarter",
                lag_days=int(spec["lag_days"]),
            )))  # fmt: skip
    latest = health.latest_periods(con, tuple((f.mart, f.period_column) for _, f in wanted))
    table = health.freshness(tuple(f for _, f in wanted), latest, today)
    out = []
    for (mart, feed), row in zip(wanted, table.itertuples(index=False), strict=True):
        if row.next_due is None or row.days_overdue is None:
            continue
        value = latest[(feed.mart, feed.period_column)]
        out.append(
            Freshness(
                mart=mart,
                label=feed.label,
                publisher=feed.publisher,
                latest=str(row.latest),
                latest_date=health.period_end(feed.period, value),
                next_period=str(row.next_period),
                due=row.next_due,
                days_overdue=int((today - row.next_due).days),
            )
        )
    return out


def stale_points(
    con: duckdb.DuckDBPyConnection, setting: Setting, today: date, root: Path
) -> list[ChallengePoint]:
    """Plan sources whose latest period is older than their publication schedule allows."""
    by_mart: dict[str, list[str]] = {}
    for priority in setting.plan.priorities:
        for measure in priority.measures:
            by_mart.setdefault(measure.source.mart, []).append(measure.label)
    points = []
    for item in source_freshness(con, by_mart, setting.rules, today, root):
        if item.days_overdue <= setting.rules.stale_grace_days:
            continue
        affected = by_mart[item.mart]
        latest = f"the {item.latest}" if item.latest.startswith("quarter") else item.latest
        finding = (
            f"{item.label}: the warehouse holds data only to {latest}; {item.next_period} "
            f"was due by {day_text(item.due)}, {item.days_overdue:,} days ago. The plan "
            f"measures it feeds ({', '.join(affected)}) are out of date."
        )
        evidence = (
            f"marts.{item.mart}: latest period {item.latest}; next period {item.next_period} "
            f"expected by {day_text(item.due)} (publication schedule); {item.days_overdue:,} days "
            f"overdue on {today:%d %B %Y}. Publisher: {item.publisher}. Measures affected: "
            f"{', '.join(affected)}."
        )
        fields = {
            "feed": f"‘{item.label}’", "latest": latest, "due": day_text(item.due),
            "publisher": item.publisher, "next": item.next_period,
        }  # fmt: skip
        size = item.days_overdue / setting.rules.stale_days_per_unit
        points.append(
            _data_point(setting, "stale_data", item.mart, item.label, item.latest_date, size,
                        finding, evidence, fields)
        )  # fmt: skip
    return points


def _reason_from_report(report: Any) -> str:
    """A short reason from a loads report (JSON text) or a quarantine record."""
    if isinstance(report, str):
        try:
            report = json.loads(report)
        except ValueError:
            return report[:200]
    if not isinstance(report, dict):
        return "no report"
    if report.get("reason"):
        parts = [str(report["reason"])]
        if report.get("column"):
            parts.append(f"column {report['column']}")
        if report.get("row"):
            parts.append(f"row {report['row']}")
        return ", ".join(parts)
    failures = report.get("failures") or []
    if failures:
        first = failures[0]
        what = first.get("expectation") or first.get("type") or "an expectation"
        column = first.get("column")
        return f"{len(failures)} failed check(s), first: {what}" + (
            f" on column {column}" if column else ""
        )
    return "no reason recorded"


def failing_points(
    con: duckdb.DuckDBPyConnection, setting: Setting, quarantine_dir: Path | None
) -> list[ChallengePoint]:
    """Loads whose status is not a good one, and files waiting in the quarantine folder."""
    ok = list(setting.rules.ok_statuses)
    marks = ", ".join("?" for _ in ok)
    loads = con.execute(
        f"select source_file_id, path, sha256, source, status, report, vintage, loaded_at "
        f"from marts.loads where status not in ({marks}) order by load_seq",
        ok,
    ).df()
    points, seen = [], set()
    for row in loads.itertuples(index=False):
        name = Path(str(row.path)).name
        reason = f"status {row.status}: {_reason_from_report(row.report)}"
        seen.add(str(row.sha256))
        points.append(
            _data_point(
                setting, "failing_data", f"load:{row.source_file_id}", name, None, 1.0,
                f"The {row.source} file {name} is in the warehouse with status '{row.status}'.",
                f"marts.loads: {name} (source {row.source}, sha256 {str(row.sha256)[:12]}…, "
                f"vintage {row.vintage}), loaded {pd.Timestamp(row.loaded_at):%d %B %Y}; "
                f"{reason}.",
                {"file": name, "reason": reason}, _text(row.vintage),
            )
        )  # fmt: skip
    for path in sorted(quarantine_dir.glob("*.json")) if quarantine_dir else []:
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            record = {}
        if str(record.get("sha256", "")) in seen:
            continue
        name = Path(str(record.get("file") or path.stem)).name
        reason = _reason_from_report(record)
        source = record.get("source")
        if not source:
            continue  # matches no known source: listed on the data health page, not a question
        points.append(
            _data_point(
                setting, "failing_data", f"quarantine:{path.stem}", name, None, 1.0,
                f"The file {name} ({source}) was refused at load and waits in the quarantine "
                "folder: its figures are not in the warehouse.",
                f"Quarantine report {path.name}: {reason}; refused "
                f"{record.get('refused_at', 'at an unknown time')}.",
                {"file": name, "reason": reason},
            )
        )  # fmt: skip
    return points


# --- ranking and the meeting list -------------------------------------------------------------


def rank_points(points: Iterable[ChallengePoint]) -> list[ChallengePoint]:
    """Highest score first; ties by severity, rule, measure and area (deterministic)."""
    return sorted(
        points,
        key=lambda p: (
            -p.score,
            SEVERITIES.index(p.severity),
            RULES.index(p.rule),
            p.measure_id,
            p.geography_code,
        ),
    )


def quarantine_for(con: duckdb.DuckDBPyConnection) -> Path | None:
    """The quarantine folder beside the warehouse this connection reads."""
    rows = con.execute(
        "select path from duckdb_databases() where database_name = current_database()"
    ).fetchall()
    if rows and rows[0][0]:
        return Path(rows[0][0]).parent / "quarantine"
    return None


def raise_points(
    con: duckdb.DuckDBPyConnection,
    plan_id: str,
    *,
    as_at: date | None = None,
    today: date | None = None,
    root: Path | None = None,
    quarantine_dir: Path | None = None,
    values: pd.DataFrame | None = None,
) -> list[ChallengePoint]:
    """Every challenge point for the MPS from a plan's measures, ranked (highest first).

    Questions about the data supply are not among them: see :func:`data_operations`.
    ``today`` and ``quarantine_dir`` are accepted for callers that pass them to both.

    ``values`` may pass the plan's measure values already read by :func:`plan_values` (for
    the same ``as_at``), so a caller showing figures and points reads them once.
    """
    setting = plan_setting(plan_id, root)
    if values is None:
        values = plan_values(con, plan_id, as_at, root)
    return rank_points(points_from_values(values, setting))


def plan_setting(plan_id: str, root: Path | None = None) -> Setting:
    """The plan, the rules and the statistics config every rule reads."""
    plan = plan_mod.load_plan(plan_id, root)
    return Setting.build(plan, load_rules(root), measures.load_statistics(root))


def reference_date(as_at: date | None, today: date) -> date:
    """The date a feed's lateness is judged on: the end of the as-at month, else today.

    A view as at a month is what could be known at the end of that month; the machine's clock
    plays no part (a report re-run later says the same).
    """
    if as_at is None:
        return today
    following = date(as_at.year + as_at.month // 12, as_at.month % 12 + 1, 1)
    return following - pd.Timedelta(days=1).to_pytimedelta()


def data_operations(
    con: duckdb.DuckDBPyConnection,
    plan_id: str,
    *,
    as_at: date | None = None,
    today: date | None = None,
    root: Path | None = None,
    quarantine_dir: Path | None = None,
) -> list[ChallengePoint]:
    """Questions for MOPAC's own data team: feeds late at the as-at date, files refused.

    These are not points for the MPS and never join the meeting list. Lateness is judged at
    :func:`reference_date` against each feed's publication lag; a file that matches no known
    source (a README, a map file) is not a data question at all.
    """
    base = root or PROJECT_ROOT
    setting = plan_setting(plan_id, root)
    when = reference_date(as_at, today or get_settings().today)
    points = stale_points(con, setting, when, base)
    points += failing_points(con, setting, quarantine_dir or quarantine_for(con))
    return rank_points(points)


def for_meeting(
    points: Sequence[ChallengePoint], cap: int | None = None, rules: Rules | None = None
) -> tuple[list[ChallengePoint], list[ChallengePoint]]:
    """(the points for the next meeting, the rest), keeping the ranking.

    The cap comes from config unless given; with ``one_per_measure_area`` the meeting list
    takes only the highest point for each measure and area.
    """
    rules = rules or load_rules()
    cap = rules.meeting_cap if cap is None else cap
    top: list[ChallengePoint] = []
    rest: list[ChallengePoint] = []
    taken: set[tuple[str, str]] = set()
    for point in points:
        key = (point.measure_id, point.geography_code)
        if len(top) < cap and not (rules.one_per_measure_area and key in taken):
            top.append(point)
            taken.add(key)
        else:
            rest.append(point)
    return top, rest


def apply_decisions(
    points: Iterable[ChallengePoint], decisions: pd.DataFrame | None, *, drop_dismissed: bool
) -> list[ChallengePoint]:
    """Points with the latest decision's edited finding and question; optionally no dismissed."""
    latest = decisions_by_point(decisions)
    if not latest:
        return list(points)
    out = []
    for point in points:
        decision = latest.get(point.point_id)
        if decision is None:
            out.append(point)
            continue
        if drop_dismissed and str(decision.get("decision", "")).lower().startswith("dismiss"):
            continue
        changes = {}
        for column, attr in (("edited_finding", "finding"), ("edited_question", "question")):
            text = _text(decision.get(column))
            if text:
                changes[attr] = text
        out.append(_replace(point, **changes) if changes else point)
    return out


def _replace(point: ChallengePoint, **changes: Any) -> ChallengePoint:
    return dataclasses.replace(point, **changes)


def decisions_by_point(decisions: Any) -> dict[str, dict[str, Any]]:
    """The latest decision per point id, from a DataFrame, a list of dicts or a mapping."""
    if decisions is None:
        return {}
    if isinstance(decisions, pd.DataFrame):
        if decisions.empty or "point_id" not in decisions.columns:
            return {}
        records = decisions.to_dict(orient="records")
    elif isinstance(decisions, dict):
        records = [
            {"point_id": key, **(value if isinstance(value, dict) else vars(value))}
            for key, value in decisions.items()
        ]
    else:
        records = [r if isinstance(r, dict) else vars(r) for r in decisions]
    return {str(r["point_id"]): r for r in records if r.get("point_id") is not None}


# --- read functions for the pages (``ui.read``) -----------------------------------------------


def read_challenge(
    con: duckdb.DuckDBPyConnection,
    plan_id: str,
    as_at: date | None,
    today: date,
    quarantined: tuple[str, ...] = (),
) -> tuple[list[ChallengePoint], pd.DataFrame]:
    """The ranked points and the plan values they came from, read once (for ``ui.read``).

    ``quarantined`` names the files in the quarantine folder: it is not used here but is part
    of the page's cache key, since a refused file changes the points without publishing a new
    warehouse.
    """
    values = plan_values(con, plan_id, as_at)
    return raise_points(con, plan_id, as_at=as_at, values=values), values


def read_data_operations(
    con: duckdb.DuckDBPyConnection,
    plan_id: str,
    as_at: date | None,
    today: date,
    quarantined: tuple[str, ...] = (),
) -> list[ChallengePoint]:
    """The data team's questions (for ``ui.read``; ``quarantined`` as in read_challenge)."""
    return data_operations(con, plan_id, as_at=as_at, today=today)


def quarantined_files(folder: Path) -> tuple[str, ...]:
    """The quarantine reports waiting in ``folder`` (a cache key for the pages)."""
    return tuple(sorted(p.name for p in folder.glob("*.json"))) if folder.is_dir() else ()


# --- output -----------------------------------------------------------------------------------


def points_frame(points: Iterable[ChallengePoint]) -> pd.DataFrame:
    """One row per point (for tables and CSV)."""
    rows = [{k: v for k, v in p.to_dict().items() if k != "figures"} for p in points]
    columns = [f for f in ChallengePoint.__dataclass_fields__ if f != "figures"]
    return pd.DataFrame(rows, columns=columns)


def render(
    top: Sequence[ChallengePoint],
    rest: Sequence[ChallengePoint],
    fmt: str,
    *,
    title: str = "Challenge points",
    rules: Rules | None = None,
    operations: Sequence[ChallengePoint] = (),
) -> str:
    """The points as Markdown (meeting list, the rest, then data operations) or JSON."""
    if fmt == "json":
        return json.dumps(
            {"meeting": [p.to_dict() for p in top], "rest": [p.to_dict() for p in rest],
             "data_operations": [p.to_dict() for p in operations]},
            indent=2,
            default=str,
            ensure_ascii=False,
        )  # fmt: skip
    labels = (rules or load_rules()).labels
    lines = [f"# {title}", "", f"## For the next meeting ({len(top)})", ""]
    if not top:
        lines += ["No point is both statistically significant and material.", ""]
    for number, point in enumerate(top, 1):
        lines += [
            f"### {number}. {point.measure_label}, {point.geography_name} "
            f"({point.severity} severity: {labels[point.rule].lower()})",
            "",
            f"**Finding.** {point.finding}",
            "",
            f"**Evidence.** {point.evidence}",
            "",
            f"**Question.** {point.question}",
            "",
            f"*Priority: {point.priority_title}. Point {point.point_id}.*",
            "",
        ]
    if rest:
        lines += [f"## The rest ({len(rest)})", ""]
        for point in rest:
            lines.append(
                f"- **{point.measure_label}, {point.geography_name}** ({point.severity}, "
                f"{labels[point.rule].lower()}): {point.finding}"
            )
        lines.append("")
    if operations:
        lines += [f"## For the data team, not the MPS ({len(operations)})", ""]
        lines += [f"- **{p.measure_label}** ({labels[p.rule].lower()}): {p.finding}"
                  for p in operations]  # fmt: skip
        lines.append("")
    return "\n".join(lines)


# --- figures (Plotly; no streamlit) -----------------------------------------------------------


def point_series(
    con: duckdb.DuckDBPyConnection, plan_id: str, measure_id: str, geography: str
) -> pd.DataFrame:
    """The measure's series for the point's area and London (month, geography_code, value)."""
    geos = (geography,) if geography == LONDON else (geography, LONDON)
    return scorecard.series_for(con, plan_id, measure_id, geos)


def funnel_grid(boroughs: pd.DataFrame, method: str) -> pd.DataFrame:
    """99.8% and 95% funnel limits over a grid of populations, from the boroughs' r12 counts.

    The grid points are added as units without counts, which the funnel reports but does not
    use, so the limits are exactly those the boroughs were judged against.
    """
    pop = boroughs["population"].to_numpy(dtype=float)
    grid = np.linspace(pop.min() * 0.8, pop.max() * 1.1, 60)
    counts = np.concatenate([boroughs["value"].to_numpy(dtype=float), np.full(grid.size, np.nan)])
    exposure = np.concatenate([pop, grid])
    funnel = stats.overdispersed_funnel(counts, exposure, method=method)  # type: ignore[arg-type]
    limits = funnel.units.iloc[len(pop) :].reset_index(drop=True)
    out = pd.DataFrame({"population": grid, "target": funnel.target * 1000})
    for column in ("lower_95", "upper_95", "lower_99_8", "upper_99_8"):
        out[column] = limits[column].to_numpy() * 1000
    return out


def point_figure(
    point: ChallengePoint,
    series: pd.DataFrame,
    row: dict[str, Any] | None = None,
    boroughs: pd.DataFrame | None = None,
    method: str = "multiplicative",
) -> tuple[go.Figure, pd.DataFrame]:
    """The point's chart and the table behind it."""
    if point.rule == "funnel_outlier" and boroughs is not None and not boroughs.empty:
        return _funnel_figure(point, boroughs, method)
    return _series_figure(point, series, row or {})


def chart_title(point: ChallengePoint, width: int = 95) -> str:
    """The finding's first clause, wrapped for a chart title (the title states the finding)."""
    text = point.finding if point.rule == "spc_signal" else point.finding.split(": ")[0]
    text = text.split(". ")[0].rstrip(".")
    return "<br>".join(textwrap.wrap(text, width))


def _series_figure(
    point: ChallengePoint, series: pd.DataFrame, row: dict[str, Any]
) -> tuple[go.Figure, pd.DataFrame]:
    fig = go.Figure()
    data = series.copy()
    data["month"] = pd.to_datetime(data["month"])
    start = pd.Timestamp(point.period_end or data["month"].max()) - pd.DateOffset(months=47)
    if point.rule == "spc_signal" and point.figures.get("since"):
        start = pd.Timestamp(point.figures["since"])
    data = data[data["month"] >= start]
    proportion = row.get("unit") == "proportion"
    names = {LONDON: measures.LONDON_NAME, point.geography_code: point.geography_name}
    for geo, colour in ((point.geography_code, charts.PALETTE[0]), (LONDON, charts.LONDON_COLOUR)):
        if geo == LONDON and point.geography_code != LONDON and not proportion:
            continue  # counts: London's total would dwarf a borough's; the limits say more
        part = data[data["geography_code"] == geo]
        if part.empty:
            continue
        fig.add_trace(
            go.Scatter(
                x=part["month"], y=part["value"] * (100 if proportion else 1),
                name=names.get(geo, geo), mode="lines+markers",
                line={"color": colour, "width": 2, "dash": "solid" if geo != LONDON else "dot"},
            )
        )  # fmt: skip
    if proportion and row.get("comparison_value") is not None and point.period_end:
        marks = pd.DataFrame(
            {
                "month": [pd.Timestamp(point.period_end) - pd.DateOffset(months=12),
                          pd.Timestamp(point.period_end)],
                "value": [float(row["comparison_value"]) * 100, float(row["value"]) * 100],
                "text": [f"a year earlier {fmt_share(float(row['comparison_value']))}",
                         f"now {fmt_share(float(row['value']))}"],
            }
        )  # fmt: skip
        fig.add_trace(
            go.Scatter(
                x=marks["month"], y=marks["value"], mode="markers+text", text=marks["text"],
                textposition="bottom center", name="Compared",
                marker={"color": charts.PALETTE[5], "size": 11, "symbol": "diamond"},
            )
        )  # fmt: skip
    if point.rule == "spc_signal":
        for key, dash, label in (("centre", "solid", "Average"), ("lower", "dash", "Lower limit"),
                                 ("upper", "dash", "Upper limit")):  # fmt: skip
            fig.add_hline(
                y=point.figures[key], line={"color": charts.LIMIT_COLOUR, "dash": dash},
                annotation_text=f"{label} {point.figures[key]:,.0f}",
                annotation_position="top left", annotation_font_color=charts.NEUTRAL,
            )  # fmt: skip
    if point.rule in ("target_missed", "target_at_risk") and "target" in point.figures:
        fig.add_hline(
            y=point.figures["target"] * (100 if proportion else 1),
            line={"color": charts.NEUTRAL, "dash": "dash"},
            annotation_text="Target",
        )
    for column, label in (("comparison_start", "Compared from"), ("period_start", "Window from")):
        when = row.get(column)
        windowed = point.rule in ("deterioration", "target_missed", "target_at_risk")
        if windowed and not proportion and when is not None and pd.notna(when):
            fig.add_vline(x=pd.Timestamp(when), line={"color": charts.LIMIT_COLOUR, "dash": "dot"})
            fig.add_annotation(
                x=pd.Timestamp(when), y=1, yref="paper", text=label, showarrow=False,
                xanchor="left", font={"size": 12, "color": charts.NEUTRAL},
            )  # fmt: skip
    charts.base_layout(fig, chart_title(point), height=380)
    fig.update_yaxes(title_text="%" if proportion else "per month")
    table = data.assign(
        area=data["geography_code"].map(lambda g: names.get(g, g)),
        month=data["month"].dt.strftime("%Y-%m"),
    )[["area", "month", "value"]]
    return fig, table


def _funnel_figure(
    point: ChallengePoint, boroughs: pd.DataFrame, method: str
) -> tuple[go.Figure, pd.DataFrame]:
    grid = funnel_grid(boroughs, method)
    fig = go.Figure()
    for column, dash, label in (("upper_99_8", "dash", "99.8% limit"),
                                ("lower_99_8", "dash", None), ("upper_95", "dot", "95% limit"),
                                ("lower_95", "dot", None)):  # fmt: skip
        fig.add_trace(
            go.Scatter(
                x=grid["population"], y=grid[column], mode="lines", name=label or column,
                showlegend=label is not None, line={"color": charts.LIMIT_COLOUR, "dash": dash},
                hoverinfo="skip",
            )
        )  # fmt: skip
    fig.add_trace(
        go.Scatter(
            x=grid["population"], y=grid["target"], mode="lines", name="Boroughs' rate",
            line={"color": charts.LONDON_COLOUR, "width": 1},
        )
    )  # fmt: skip
    rates = boroughs["value"] / boroughs["population"] * 1000
    mine = boroughs["geography_code"] == point.geography_code
    fig.add_trace(
        go.Scatter(
            x=boroughs.loc[~mine, "population"], y=rates[~mine], mode="markers",
            name="Other boroughs", text=boroughs.loc[~mine, "geography_name"],
            marker={"color": charts.NEUTRAL, "size": 7},
        )
    )  # fmt: skip
    fig.add_trace(
        go.Scatter(
            x=boroughs.loc[mine, "population"], y=rates[mine], mode="markers+text",
            name=point.geography_name, text=[point.geography_name], textposition="top center",
            marker={"color": charts.PALETTE[5], "size": 12, "symbol": "diamond"},
        )
    )  # fmt: skip
    charts.base_layout(fig, chart_title(point), height=420)
    fig.update_xaxes(title_text="Residents")
    fig.update_yaxes(title_text="per 1,000 residents, 12 months")
    table = boroughs.assign(rate_per_1000=rates.round(2))[
        ["geography_name", "value", "population", "rate_per_1000"]
    ].sort_values("rate_per_1000", ascending=False)
    return fig, table


# --- command line -----------------------------------------------------------------------------


def add_arguments(parser: Any) -> None:
    """The ``challenge`` subcommand's options."""
    parser.add_argument(
        "--as-at", dest="as_at", required=True, metavar="YYYY-MM",
        help="cut every window at this month (on the data as now published)",
    )  # fmt: skip
    parser.add_argument("--plan", default=None, help="plan id (default: the newest plan)")
    parser.add_argument("--format", choices=("md", "json"), default="md")
    parser.add_argument("--cap", type=int, default=None, help="points for the meeting")


def state_decisions(state: Path) -> pd.DataFrame | None:
    """The latest decision per point from the app-state store, if it exists (never created)."""
    if not state.exists():
        return None
    from oversight import governance

    return governance.StateStore(state).decisions()


def run_cli(args: Any, settings: Any) -> str:
    """``python -m oversight challenge``: the meeting's points, then the rest."""
    from oversight.warehouse import connect

    plans = plan_mod.list_plans(settings.root)
    plan_id = args.plan or plans[-1]
    plan = plan_mod.load_plan(plan_id, settings.root)
    as_at = scorecard.parse_month(args.as_at)
    if not settings.warehouse.exists():
        raise ValueError(
            f"No warehouse at {settings.warehouse}: load files with `python -m pipelines load`."
        )
    with connect(settings.warehouse) as con:
        points = raise_points(con, plan_id, as_at=as_at, root=settings.root)
        operations = data_operations(
            con, plan_id, as_at=as_at, today=settings.today, root=settings.root,
            quarantine_dir=settings.quarantine_dir,
        )  # fmt: skip
    points = apply_decisions(points, state_decisions(settings.state), drop_dismissed=True)
    rules = load_rules(settings.root)
    top, rest = for_meeting(points, args.cap, rules)
    title = f"Challenge points: {plan.title}, as at {as_at:%B %Y}"
    return render(top, rest, args.format, title=title, rules=rules, operations=operations) + "\n"
