"""Stop and search (police.uk, Metropolitan Police) for the stop and search page.

Read functions take a DuckDB connection and aggregate in SQL (``marts.stop_search`` holds one
row per search and is never loaded whole); the rest are pure functions of small DataFrames and
the Plotly figure builders (no streamlit).

Disproportionality compares searches per head of each Census broad ethnic group with the rate
for White people, on self-defined and on officer-defined ethnicity side by side. The rate
ratio's interval is the exact Poisson one widened by the dispersion the ratio shows from month to
month (quasi-Poisson, estimated from the months before; :func:`oversight.stats.
estimate_ratio_dispersion`). The police.uk ethnicity strings map to the Census groups through
``config/ethnicity_groups.yaml``; searches with no ethnicity recorded are counted, left out of
the rates, and bound the ratio (all of them in the group, or none). Denominators are Census
usual residents of the 32 boroughs the Met polices (2021 by default; 2011 as the alternative).
"""

from __future__ import annotations

import math
import textwrap
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import MappingProxyType

import duckdb
import pandas as pd
import plotly.graph_objects as go
import yaml
from plotly.subplots import make_subplots

from oversight import charts, reference, stats
from oversight.settings import PROJECT_ROOT

FORCE = "metropolitan"  # the force id in config/forces.yaml
SOURCE = "police.uk stop and search, Metropolitan Police Service (OGL v3.0)"
SMALL_COUNT = 20  # no percentage is quoted on a count below this ("too few")
ALL_TYPES = "all"
BASES = MappingProxyType(
    {"self": "self_defined_ethnicity", "officer": "officer_defined_ethnicity"}
)
BASIS_LABELS = MappingProxyType(
    {"self": "self-defined ethnicity", "officer": "officer-defined ethnicity"}
)
CENSUS_YEARS = (2021, 2011)
CHILD_AGES = ("under 10", "10-17")
AGE_ORDER = ("under 10", "10-17", "18-24", "25-34", "over 34", "not recorded")
# Outcome groups by the words police.uk uses across vintages: "Arrest", "Suspect arrested";
# "A no further action disposal", "Nothing found - no further action".
OUTCOME_GROUPS = ("arrest", "no further action", "other outcome", "not recorded")
NOT_STATED = "not_stated"
UNMAPPED = "unmapped"
NAN = math.nan


# --- configuration ------------------------------------------------------------------------------


class EthnicityConfigError(ValueError):
    """config/ethnicity_groups.yaml is malformed; the message names the key."""


@dataclass(frozen=True)
class EthnicityGroups:
    """Census broad groups and the police.uk strings that map to each (exact, trimmed)."""

    groups: tuple[tuple[str, str], ...]  # (id, label) in display order
    reference_group: str
    self_defined: MappingProxyType[str, str]
    officer_defined: MappingProxyType[str, str]
    history_months: int = 36  # months of history the ratio's dispersion is estimated from
    min_months: int = 8  # fewest months with searches before the dispersion is used

    @property
    def labels(self) -> dict[str, str]:
        """Group id to label."""
        return dict(self.groups)

    def group_for(self, basis: str, text: object) -> str:
        """The group id of a published string; 'not_stated' for blanks and refusals."""
        mapping = self.self_defined if basis == "self" else self.officer_defined
        if not isinstance(text, str) or not text.strip():
            return NOT_STATED
        return mapping.get(text.strip(), UNMAPPED)


def _read_mapping(section: object, name: str, group_ids: set[str]) -> dict[str, str]:
    if not isinstance(section, dict):
        raise EthnicityConfigError(f"ethnicity_groups.yaml: '{name}' must map groups to lists")
    mapping: dict[str, str] = {}
    for group, strings in section.items():
        if group not in group_ids | {NOT_STATED}:
            raise EthnicityConfigError(f"ethnicity_groups.yaml: {name}.{group} is not a group")
        for text in strings or []:
            key = str(text).strip()
            if key in mapping:
                raise EthnicityConfigError(
                    f"ethnicity_groups.yaml: {name}: {key!r} is listed twice"
                )
            mapping[key] = group
    return mapping


def load_ethnicity_groups(root: Path | None = None) -> EthnicityGroups:
    """Read config/ethnicity_groups.yaml, naming the key that is wrong."""
    path = (root or PROJECT_ROOT) / "config" / "ethnicity_groups.yaml"
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        groups = tuple((str(g["id"]), str(g["label"])) for g in raw["groups"])
        ids = {g for g, _ in groups}
        reference_group = str(raw["reference_group"])
        self_defined = _read_mapping(raw["self_defined"], "self_defined", ids)
        officer_defined = _read_mapping(raw["officer_defined"], "officer_defined", ids)
    except (KeyError, TypeError) as exc:
        raise EthnicityConfigError(f"{path.name}: missing or bad key {exc}") from exc
    if reference_group not in ids:
        raise EthnicityConfigError(f"{path.name}: reference_group {reference_group!r} unknown")
    history_months, min_months = _read_dispersion(raw.get("dispersion"), path.name)
    return EthnicityGroups(
        groups,
        reference_group,
        MappingProxyType(self_defined),
        MappingProxyType(officer_defined),
        history_months,
        min_months,
    )


def _read_dispersion(section: object, name: str) -> tuple[int, int]:
    """(history_months, min_months) from the ``dispersion`` section, naming a bad key."""
    if not isinstance(section, dict):
        raise EthnicityConfigError(f"{name}: 'dispersion' must map history_months and min_months")
    values = []
    for key in ("history_months", "min_months"):
        value = section.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 3:
            raise EthnicityConfigError(
                f"{name}: dispersion.{key} must be a whole number of months >= 3, got {value!r}"
            )
        values.append(value)
    if values[1] > values[0]:
        raise EthnicityConfigError(f"{name}: dispersion.min_months exceeds history_months")
    return values[0], values[1]


# --- reads --------------------------------------------------------------------------------------

FILTER = "force = ? and month between ? and ? and (? = 'all' or type = ?)"


def _params(start: date, end: date, search_type: str) -> list[object]:
    return [FORCE, start, end, search_type, search_type]


def search_months(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Months with searches loaded, and how many."""
    return con.execute(
        """
        select month, sum(searches)::bigint as searches
        from marts.stop_search_monthly
        where force = ?
        group by month
        order by month
        """,
        [FORCE],
    ).df()


def search_types(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The search types published (person, person and vehicle, vehicle)."""
    rows = con.execute(
        "select distinct type from marts.stop_search_monthly where force = ? "
        "and type is not null order by type",
        [FORCE],
    ).fetchall()
    return [r[0] for r in rows]


def monthly_outcomes(
    con: duckdb.DuckDBPyConnection, start: date, end: date, search_type: str
) -> pd.DataFrame:
    """Searches per month and outcome for the months and type chosen."""
    return con.execute(
        f"""
        select month, outcome, sum(searches)::bigint as searches
        from marts.stop_search_monthly
        where {FILTER}
        group by month, outcome
        order by month, outcome
        """,
        _params(start, end, search_type),
    ).df()


def object_by_type(
    con: duckdb.DuckDBPyConnection, start: date, end: date, search_type: str
) -> pd.DataFrame:
    """Searches per object of search and type, with how many ended in arrest."""
    return con.execute(
        f"""
        select coalesce(object_of_search, 'Not recorded') as object_of_search, type,
               count(*) as searches,
               count(*) filter (where outcome ilike '%arrest%') as arrests
        from marts.stop_search
        where {FILTER}
        group by all
        order by searches desc
        """,
        _params(start, end, search_type),
    ).df()


def ethnicity_counts(
    con: duckdb.DuckDBPyConnection, start: date, end: date, search_type: str, basis: str
) -> pd.DataFrame:
    """Searches per published ethnicity string (NULL when blank) on one basis."""
    column = BASES[basis]
    return con.execute(
        f"""
        select {column} as ethnicity, count(*) as searches
        from marts.stop_search
        where {FILTER}
        group by all
        order by searches desc
        """,
        _params(start, end, search_type),
    ).df()


def ethnicity_monthly(
    con: duckdb.DuckDBPyConnection, start: date, end: date, search_type: str, basis: str
) -> pd.DataFrame:
    """Searches per month and published ethnicity string (NULL when blank) on one basis."""
    column = BASES[basis]
    return con.execute(
        f"""
        select month, {column} as ethnicity, count(*) as searches
        from marts.stop_search
        where {FILTER}
        group by all
        order by month
        """,
        _params(start, end, search_type),
    ).df()


def strip_search_counts(
    con: duckdb.DuckDBPyConnection, start: date, end: date, search_type: str
) -> pd.DataFrame:
    """Per month and age range: searches, those with the clothing field filled, strip searches."""
    return con.execute(
        f"""
        select month, coalesce(age_range, 'not recorded') as age_range,
               count(*) as searches,
               count(more_than_outer_clothing_removed) as recorded,
               count(*) filter (where more_than_outer_clothing_removed) as strip_searches
        from marts.stop_search
        where {FILTER}
        group by all
        order by month, age_range
        """,
        _params(start, end, search_type),
    ).df()


# --- pure helpers -------------------------------------------------------------------------------


def month_label(value: date | pd.Timestamp) -> str:
    """'August 2024'."""
    return f"{pd.Timestamp(value):%B %Y}"


def range_label(start: date, end: date) -> str:
    """'September 2023 to August 2024', or one month."""
    if pd.Timestamp(start) == pd.Timestamp(end):
        return month_label(start)
    return f"{month_label(start)} to {month_label(end)}"


def during(start: date, end: date) -> str:
    """'from September 2023 to August 2024', or 'in August 2024'."""
    if pd.Timestamp(start) == pd.Timestamp(end):
        return f"in {month_label(start)}"
    return f"from {range_label(start, end)}"


def default_range(months: list[date]) -> tuple[date, date]:
    """The latest 12 months held (or fewer, when fewer are loaded)."""
    end = months[-1]
    floor = pd.Timestamp(end) - pd.DateOffset(months=11)
    start = next(m for m in months if pd.Timestamp(m) >= floor)
    return start, end


def missing_months(months: list[date], start: date, end: date) -> list[date]:
    """Calendar months in the range with no file loaded."""
    held = {pd.Timestamp(m) for m in months}
    every = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="MS")
    return [m.date() for m in every if m not in held]


def outcome_group(outcome: object) -> str:
    """'arrest', 'no further action', 'other outcome' or 'not recorded'."""
    if not isinstance(outcome, str) or not outcome.strip():
        return "not recorded"
    text = outcome.casefold()
    if "arrest" in text:
        return "arrest"
    if "no further action" in text:
        return "no further action"
    return "other outcome"


def share_text(count: float, total: float, digits: int = 0) -> str:
    """A percentage, or 'too few' when the count or its base is below SMALL_COUNT."""
    if total < SMALL_COUNT or count < SMALL_COUNT:
        return "too few"
    return f"{count / total * 100:.{digits}f}%"


def monthly_summary(outcomes: pd.DataFrame, level: float) -> pd.DataFrame:
    """Per month: searches, arrests, no further action, other, and the arrest rate with CI.

    The rate and its Wilson interval are left blank for a month with fewer than
    SMALL_COUNT searches.
    """
    frame = outcomes.assign(group=outcomes["outcome"].map(outcome_group))
    wide = frame.pivot_table(
        index="month", columns="group", values="searches", aggfunc="sum", fill_value=0
    )
    wide = wide.reindex(columns=list(OUTCOME_GROUPS), fill_value=0).astype("int64")
    wide["searches"] = wide.sum(axis=1)
    wide = wide.reset_index().rename(columns={"no further action": "no_further_action"})
    rows = [
        (math.nan, math.nan, math.nan)
        if searches < SMALL_COUNT
        else (arrests / searches, *stats.wilson_interval(arrests, searches, level))
        for arrests, searches in zip(wide["arrest"], wide["searches"], strict=True)
    ]
    wide["arrest_rate"] = [r[0] for r in rows]
    wide["arrest_lower"] = [r[1] for r in rows]
    wide["arrest_upper"] = [r[2] for r in rows]
    return wide.rename(columns={"other outcome": "other_outcome", "not recorded": "no_outcome"})


def outcome_table(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Searches per published outcome with its share (or 'too few')."""
    totals = (
        outcomes.assign(outcome=outcomes["outcome"].fillna("Not recorded"))
        .groupby("outcome", as_index=False)["searches"]
        .sum()
        .sort_values("searches", ascending=False, ignore_index=True)
    )
    total = int(totals["searches"].sum())
    totals["share"] = [share_text(c, total, 1) for c in totals["searches"]]
    totals["group"] = totals["outcome"].map(outcome_group)
    return totals


def census_denominators(year: int) -> pd.DataFrame:
    """Usual residents per Census broad group in the 32 boroughs the Met polices.

    2021: shares (1 d.p.) times each borough's exact total, summed (approximate counts);
    2011: exact counts (QS201EW).
    """
    if year not in CENSUS_YEARS:
        raise ValueError(f"census year must be one of {CENSUS_YEARS}, got {year}")
    boroughs = reference.load_boroughs()
    mps = set(boroughs.loc[boroughs["in_mps_area"], "borough_code"])
    if year == 2021:
        census = reference.load_ethnicity_2021()
        census = census[census["borough_code"].isin(mps)]
        people = {
            g: float((census["population_total"] * census[f"{g}_pct"] / 100).sum())
            for g in reference.ETHNICITY_2011_GROUPS
        }
    else:
        census = reference.load_ethnicity_2011()
        census = census[census["borough_code"].isin(mps)]
        people = {g: float(census[g].sum()) for g in reference.ETHNICITY_2011_GROUPS}
    return pd.DataFrame({"group": list(people), "population": list(people.values())})


@dataclass(frozen=True)
class EthnicityCounts:
    """Searches per Census group, and what was left out of the rates."""

    by_group: pd.Series  # group id -> searches
    not_stated: int
    unmapped: pd.DataFrame  # ethnicity, searches (strings not in the mapping)
    total: int


def map_ethnicity(counts: pd.DataFrame, groups: EthnicityGroups, basis: str) -> EthnicityCounts:
    """Sum searches by Census group; count blanks/refusals and strings not in the mapping."""
    mapped = counts.assign(group=[groups.group_for(basis, e) for e in counts["ethnicity"]])
    sums = mapped.groupby("group")["searches"].sum()
    by_group = pd.Series(
        {g: int(sums.get(g, 0)) for g, _ in groups.groups}, dtype="int64", name="searches"
    )
    unmapped = mapped.loc[mapped["group"] == UNMAPPED, ["ethnicity", "searches"]]
    return EthnicityCounts(
        by_group=by_group,
        not_stated=int(sums.get(NOT_STATED, 0)),
        unmapped=unmapped.reset_index(drop=True),
        total=int(mapped["searches"].sum()),
    )


def history_start(end: date, history_months: int) -> date:
    """The first month of the ``history_months`` calendar months ending with ``end``."""
    return (pd.Timestamp(end) - pd.DateOffset(months=history_months - 1)).date()


def monthly_by_group(monthly: pd.DataFrame, groups: EthnicityGroups, basis: str) -> pd.DataFrame:
    """Searches per month (rows) and Census group (columns), every calendar month in the span.

    ``monthly`` is :func:`ethnicity_monthly`. Months with no file loaded are left out (they are
    not months with no searches).
    """
    ids = [g for g, _ in groups.groups]
    if monthly.empty:
        return pd.DataFrame(columns=ids, dtype="int64")
    mapped = monthly.assign(group=[groups.group_for(basis, e) for e in monthly["ethnicity"]])
    wide = mapped.pivot_table(
        index="month", columns="group", values="searches", aggfunc="sum", fill_value=0
    )
    return wide.reindex(columns=ids, fill_value=0).astype("int64").sort_index()


def ratio_dispersions(
    history: pd.DataFrame, denominators: pd.DataFrame, groups: EthnicityGroups
) -> dict[str, stats.RatioDispersion]:
    """Each group's rate-ratio dispersion against the reference group, from monthly history.

    ``history`` is :func:`monthly_by_group`; calendar months missing from it are not filled
    in, and the trend is fitted on calendar time, so a gap in the months held stays a gap.
    """
    population = dict(zip(denominators["group"], denominators["population"], strict=True))
    ref = groups.reference_group
    out = {}
    for group, _ in groups.groups:
        if group == ref:
            continue
        out[group] = stats.estimate_ratio_dispersion(
            history[group],
            history[ref],
            population[group],
            population[ref],
            groups.min_months,
            times=[stats.month_key(m) for m in history.index],
        )
    return out


def unstated_bounds(
    count: int, pop: float, ref_count: int, ref_pop: float, unstated: int
) -> tuple[float, float]:
    """The rate ratio if none of the unstated searches were of the group, and if all were.

    Lowest: none in the group and all in the reference group; highest: all in the group and
    none in the reference group. Every split of the unstated searches gives a ratio between.
    """
    lowest = (count / pop) / ((ref_count + unstated) / ref_pop) if ref_count + unstated else NAN
    highest = ((count + unstated) / pop) / (ref_count / ref_pop) if ref_count else math.inf
    return lowest, highest


def disproportionality(
    by_group: pd.Series,
    denominators: pd.DataFrame,
    groups: EthnicityGroups,
    level: float,
    dispersions: dict[str, stats.RatioDispersion] | None = None,
    not_stated: int = 0,
) -> pd.DataFrame:
    """Searches per 1,000 people of each group and the rate ratio to the reference group.

    A group with no searches on the chosen basis (officers record no Mixed group) gets no
    rate. The ratio's CI is the exact conditional Poisson interval (``poisson_lower`` and
    ``poisson_upper``) widened by the group's dispersion where one is given (``ratio_lower``,
    ``ratio_upper``, ``phi``). ``bound_lower`` and ``bound_upper`` are the ratios if none or all
    of the ``not_stated`` searches were of the group (:func:`unstated_bounds`).
    """
    population = dict(zip(denominators["group"], denominators["population"], strict=True))
    dispersions = dispersions or {}
    ref = groups.reference_group
    ref_count, ref_pop = int(by_group[ref]), population[ref]
    rows = []
    for group, label in groups.groups:
        count, pop = int(by_group.get(group, 0)), population[group]
        dispersion = dispersions.get(group)
        row = {
            "group": group,
            "label": label,
            "searches": count,
            "population": round(pop),
            "rate_per_1000": count / pop * 1000 if count else NAN,
            "ratio": NAN,
            "ratio_lower": NAN,
            "ratio_upper": NAN,
            "p_value": NAN,
            "poisson_lower": NAN,
            "poisson_upper": NAN,
            "phi": dispersion.phi if dispersion else NAN,
            "phi_estimated": bool(dispersion and dispersion.estimated),
            "dispersion_months": dispersion.months if dispersion else 0,
            "bound_lower": NAN,
            "bound_upper": NAN,
            "small_count": count < SMALL_COUNT,
        }
        if group == ref:
            row.update(ratio=1.0, bound_lower=1.0, bound_upper=1.0)
        elif count and ref_count:
            exact = stats.disproportionality_ratio(count, pop, ref_count, ref_pop, level)
            phi = dispersion.phi if dispersion else 1.0
            df = dispersion.df if dispersion and dispersion.estimated else None
            wide = stats.quasi_poisson_rate_ratio(count, pop, ref_count, ref_pop, phi, level, df)
            lowest, highest = unstated_bounds(count, pop, ref_count, ref_pop, not_stated)
            row.update(
                ratio=wide.ratio,
                ratio_lower=wide.lower,
                ratio_upper=wide.upper,
                p_value=wide.p_value,
                poisson_lower=exact.lower,
                poisson_upper=exact.upper,
                bound_lower=lowest,
                bound_upper=highest,
            )
        rows.append(row)
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class BasisRatios:
    """One ethnicity basis: the counts behind the rates and the disproportionality table."""

    basis: str
    counts: EthnicityCounts
    table: pd.DataFrame

    @property
    def unstated_share(self) -> float:
        """Share of the period's searches with no ethnicity on this basis (NaN if none)."""
        total = self.counts.total
        return self.counts.not_stated / total if total else NAN


def basis_ratios(
    counts: pd.DataFrame,
    history: pd.DataFrame,
    denominators: pd.DataFrame,
    groups: EthnicityGroups,
    basis: str,
    level: float,
) -> BasisRatios:
    """Map one basis's counts to groups and compute its ratios, dispersions and bounds.

    ``counts`` is :func:`ethnicity_counts` for the period; ``history`` is
    :func:`ethnicity_monthly` for the months the dispersion is estimated from.
    """
    mapped = map_ethnicity(counts, groups, basis)
    dispersions = ratio_dispersions(monthly_by_group(history, groups, basis), denominators, groups)
    table = disproportionality(
        mapped.by_group, denominators, groups, level, dispersions, mapped.not_stated
    )
    return BasisRatios(basis, mapped, table)


def compare_bases(
    self_defined: BasisRatios, officer: BasisRatios, reference_group: str
) -> pd.DataFrame:
    """One row per group with both bases' ratios, intervals and unstated bounds side by side.

    Groups with a ratio on neither basis are left out, and so is the reference group (its
    ratio is 1 by definition).
    """
    columns = ["ratio", "ratio_lower", "ratio_upper", "phi", "bound_lower", "bound_upper"]
    left = self_defined.table.set_index("group")
    right = officer.table.set_index("group")
    frame = left[["label"]].copy()
    for prefix, table in (("self", left), ("officer", right)):
        for column in columns:
            frame[f"{prefix}_{column}"] = table[column]
        frame[f"{prefix}_searches"] = table["searches"]
    frame = frame[frame["self_ratio"].notna() | frame["officer_ratio"].notna()]
    return frame.drop(index=reference_group, errors="ignore").reset_index()


def dispersion_note(
    tables: dict[str, pd.DataFrame], groups: EthnicityGroups, history: tuple[date, date]
) -> str:
    """How the intervals allow for month-to-month variation, with each basis's dispersions.

    ``tables`` maps a basis to its :func:`disproportionality` table; ``history`` is the first
    and last month the dispersion was estimated from.
    """
    method = stats.DISPERSION_METHOD.split(": ", 1)[1]
    parts = []
    for basis, table in tables.items():
        rows = table[(table["group"] != groups.reference_group) & table["ratio"].notna()]
        estimated = rows[rows["phi_estimated"]]
        phis = ", ".join(f"{r.label} {r.phi:.1f}" for r in estimated.itertuples())
        if phis:
            parts.append(f"{BASIS_LABELS[basis]}: {phis}")
    months = max((int(t["dispersion_months"].max()) for t in tables.values() if len(t)), default=0)
    if not parts:
        return (
            f"Too few months held ({months}; {groups.min_months} needed) to estimate how much "
            "the ratios vary from month to month, so the intervals are exact Poisson intervals, "
            "which understate the uncertainty."
        )
    return (
        "The intervals allow for each ratio's month-to-month variation, estimated from the "
        f"{months} months held {during(*history)} (quasi-Poisson: {method}). Dispersion, times "
        f"the Poisson variance, {'; '.join(parts)}. Each exact Poisson interval is widened by "
        "the square root of its dispersion (with a t quantile for the months used); a "
        "dispersion below 1 is taken as 1."
    )


def ratio_text(ratio: float, lower: float, upper: float) -> str:
    """'3.12 (2.95 to 3.30)', or an en dash when there is no ratio."""
    if ratio != ratio:
        return "–"
    return f"{ratio:.2f} ({lower:.2f} to {upper:.2f})"


def bounds_text(lower: float, upper: float) -> str:
    """'2.10 to 4.60' for the unstated bounds, or an en dash."""
    if lower != lower:
        return "–"
    return f"{lower:.2f} to {upper:.2f}" if math.isfinite(upper) else f"{lower:.2f} or more"


def bases_table(
    comparison: pd.DataFrame, unstated_self: float, unstated_officer: float
) -> pd.DataFrame:
    """The side-by-side comparison as display strings (one row per group)."""
    return pd.DataFrame(
        {
            "Group": comparison["label"],
            "Self-defined: ratio (95% CI)": [
                ratio_text(r, lo, hi)
                for r, lo, hi in zip(
                    comparison["self_ratio"],
                    comparison["self_ratio_lower"],
                    comparison["self_ratio_upper"],
                    strict=True,
                )
            ],
            f"Self-defined: if the {unstated_self:.0%} unstated were none / all of the group": [
                bounds_text(lo, hi)
                for lo, hi in zip(
                    comparison["self_bound_lower"], comparison["self_bound_upper"], strict=True
                )
            ],
            "Officer-defined: ratio (95% CI)": [
                ratio_text(r, lo, hi)
                for r, lo, hi in zip(
                    comparison["officer_ratio"],
                    comparison["officer_ratio_lower"],
                    comparison["officer_ratio_upper"],
                    strict=True,
                )
            ],
            f"Officer-defined: if the {unstated_officer:.0%} unstated were none / all": [
                bounds_text(lo, hi)
                for lo, hi in zip(
                    comparison["officer_bound_lower"],
                    comparison["officer_bound_upper"],
                    strict=True,
                )
            ],
        }
    )


BASES_EXPLAINED = (
    "Self-defined ethnicity is how the person searched describes themselves, in the Census "
    "categories the population figures use; officer-defined ethnicity is how the officer "
    "perceived them, in four groups only (White, Black, Asian, Other: no Mixed). The two ratios "
    "differ because many people searched do not state their ethnicity (they are left out of "
    "the self-defined ratio, but the officer records one for almost everyone) and because people "
    "of mixed heritage are counted by officers in another group. Neither is the 'right' figure: "
    "read them together."
)


def bases_sentence(comparison: pd.DataFrame, ref_label: str, self_defined: BasisRatios) -> str:
    """The finding for the group with the highest self-defined ratio, on both bases."""
    shown = comparison.dropna(subset=["self_ratio", "officer_ratio"])
    if shown.empty:
        return ""
    row = shown.loc[shown["self_ratio"].idxmax()]
    counts = self_defined.counts
    return (
        f"{row['label']} people were searched at {row['self_ratio']:.2f} times the rate of "
        f"{ref_label} people by self-defined ethnicity and {row['officer_ratio']:.2f} times by "
        f"officer-defined ethnicity. {counts.not_stated:,} of {counts.total:,} searches "
        f"({share_text(counts.not_stated, counts.total, 1)}) have no self-defined ethnicity: "
        f"had none of them been {row['label']} people (and all {ref_label}), the self-defined "
        f"ratio would be {row['self_bound_lower']:.2f}; had all of them been, "
        f"{row['self_bound_upper']:.2f}."
    )


def recorded_months(strip: pd.DataFrame) -> list[pd.Timestamp]:
    """Months in which the clothing field was filled in for at least one search."""
    per_month = strip.groupby("month")["recorded"].sum()
    return list(per_month[per_month > 0].index)


def strip_by_age(strip: pd.DataFrame) -> pd.DataFrame:
    """Strip searches per age range over the period, children flagged, with shares."""
    totals = strip.groupby("age_range", as_index=False)[
        ["searches", "recorded", "strip_searches"]
    ].sum()
    order = {a: i for i, a in enumerate(AGE_ORDER)}
    totals = totals.sort_values(
        "age_range", key=lambda s: s.map(lambda a: order.get(a, len(order)))
    ).reset_index(drop=True)
    total = int(totals["strip_searches"].sum())
    totals["child"] = totals["age_range"].isin(CHILD_AGES)
    totals["share_of_strip_searches"] = [share_text(c, total, 1) for c in totals["strip_searches"]]
    return totals


# --- figures ------------------------------------------------------------------------------------

OUTCOME_COLOURS = {
    "arrest": charts.PALETTE[0],
    "no further action": charts.PALETTE[1],
    "other outcome": charts.PALETTE[2],
    "not recorded": charts.LIMIT_COLOUR,
}


def _layout(
    fig: go.Figure, title: str, height: int, width: int = 90, legend: bool = False
) -> go.Figure:
    """House layout with the finding wrapped over lines and the top margin fitted.

    With ``legend`` the legend sits between the title and the plot, clear of the date ticks.
    """
    wrapped = "<br>".join(textwrap.wrap(title, width)) or title
    lines = wrapped.count("<br>") + 1 + int(legend)
    charts.base_layout(fig, wrapped, height=height + 22 * (lines - 1))
    fig.update_layout(margin={"t": 50 + 24 * lines})
    if legend:
        fig.update_layout(legend={"y": 1.0, "yanchor": "bottom", "x": 0, "traceorder": "normal"})
    return fig


def volumes_chart(monthly: pd.DataFrame, title: str) -> go.Figure:
    """Searches per month, stacked by outcome group (outcomes are context: no good/bad)."""
    fig = go.Figure()
    columns = {
        "arrest": "arrest",
        "no further action": "no_further_action",
        "other outcome": "other_outcome",
        "not recorded": "no_outcome",
    }
    for group, column in columns.items():
        if not monthly[column].any():
            continue
        fig.add_trace(
            go.Bar(
                x=monthly["month"],
                y=monthly[column],
                name=group.capitalize(),
                marker={"color": OUTCOME_COLOURS[group]},
                hovertemplate=f"%{{x|%B %Y}}: %{{y:,}} {group}<extra></extra>",
            )
        )
    _layout(fig, title, 420, legend=True)
    fig.update_layout(barmode="stack")
    fig.update_yaxes(title="Searches", tickformat=",")
    fig.update_xaxes(dtick="M1", tickformat="%b<br>%Y")
    return fig


def arrest_rate_chart(monthly: pd.DataFrame, title: str) -> go.Figure:
    """Share of searches ending in arrest per month with its Wilson interval."""
    shown = monthly.dropna(subset=["arrest_rate"])
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=shown["month"],
            y=shown["arrest_upper"],
            mode="lines",
            line={"width": 0},
            hoverinfo="skip",
            showlegend=False,
        )
    )
    fig.add_trace(
        go.Scatter(
            x=shown["month"],
            y=shown["arrest_lower"],
            mode="lines",
            line={"width": 0},
            fill="tonexty",
            fillcolor="rgba(0,114,178,0.18)",
            name="95% CI",
            hoverinfo="skip",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=shown["month"],
            y=shown["arrest_rate"],
            mode="lines+markers",
            name="Arrest rate",
            line={"color": charts.PALETTE[0], "width": 2.5},
            customdata=list(
                zip(
                    shown["arrest"],
                    shown["searches"],
                    shown["arrest_lower"],
                    shown["arrest_upper"],
                    strict=True,
                )
            ),
            hovertemplate=(
                "%{x|%B %Y}: %{y:.1%} (%{customdata[0]:,} of %{customdata[1]:,})"
                "<br>95% CI %{customdata[2]:.1%} to %{customdata[3]:.1%}<extra></extra>"
            ),
        )
    )
    _layout(fig, title, 360, legend=True)
    fig.update_yaxes(title="Searches ending in arrest", tickformat=".0%", rangemode="tozero")
    fig.update_xaxes(dtick="M1", tickformat="%b<br>%Y")
    return fig


def outcomes_chart(table: pd.DataFrame, title: str) -> go.Figure:
    """Searches per published outcome, largest first, labelled with count and share."""
    shown = table.sort_values("searches")
    fig = go.Figure(
        go.Bar(
            x=shown["searches"],
            y=shown["outcome"],
            orientation="h",
            marker={"color": [OUTCOME_COLOURS[g] for g in shown["group"]]},
            text=[f"{c:,} ({s})" for c, s in zip(shown["searches"], shown["share"], strict=True)],
            textposition="outside",
            cliponaxis=False,
            hovertemplate="%{y}: %{x:,}<extra></extra>",
            showlegend=False,
        )
    )
    _layout(fig, title, 160 + 30 * len(shown))
    fig.update_xaxes(title="Searches", tickformat=",", range=[0, shown["searches"].max() * 1.3])
    fig.update_yaxes(title=None)
    return fig


def object_chart(objects: pd.DataFrame, title: str) -> go.Figure:
    """Searches per object of search, stacked by search type."""
    totals = objects.groupby("object_of_search")["searches"].sum().sort_values()
    fig = go.Figure()
    for number, (search_type, part) in enumerate(objects.groupby("type", sort=True)):
        fig.add_trace(
            go.Bar(
                x=part["searches"],
                y=part["object_of_search"],
                orientation="h",
                name=str(search_type),
                marker={"color": charts.PALETTE[(number + 4) % 6]},
                hovertemplate=f"%{{y}}, {search_type}: %{{x:,}}<extra></extra>",
            )
        )
    _layout(fig, title, 180 + 30 * len(totals), legend=True)
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title="Searches", tickformat=",")
    fig.update_yaxes(categoryorder="array", categoryarray=list(totals.index), title=None)
    return fig


def disproportionality_chart(table: pd.DataFrame, title: str, reference_label: str) -> go.Figure:
    """Rate per 1,000 people (left) and rate ratio to the reference group with CI (right).

    Ethnic groups are context: one neutral colour, no good/bad.
    """
    shown = table.dropna(subset=["rate_per_1000"]).iloc[::-1]
    fig = make_subplots(
        rows=1,
        cols=2,
        shared_yaxes=True,
        horizontal_spacing=0.06,
        subplot_titles=("Searches per 1,000 people", f"Rate ratio to {reference_label} (log)"),
    )
    fig.add_trace(
        go.Bar(
            x=shown["rate_per_1000"],
            y=shown["label"],
            orientation="h",
            marker={"color": charts.NEUTRAL},
            text=[f"{r:.1f}" for r in shown["rate_per_1000"]],
            textposition="outside",
            cliponaxis=False,
            name="Searches per 1,000 people",
            hovertemplate="%{y}: %{x:.1f} per 1,000<extra></extra>",
            showlegend=False,
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=shown["ratio"],
            y=shown["label"],
            mode="markers+text",
            marker={"color": charts.LONDON_COLOUR, "size": 11, "symbol": "diamond"},
            text=[f"{r:.2f}" for r in shown["ratio"]],
            textposition="top center",
            error_x={
                "type": "data",
                "symmetric": False,
                "array": (shown["ratio_upper"] - shown["ratio"]).fillna(0),
                "arrayminus": (shown["ratio"] - shown["ratio_lower"]).fillna(0),
                "color": charts.LONDON_COLOUR,
                "thickness": 1.5,
            },
            name="Rate ratio",
            customdata=list(zip(shown["ratio_lower"], shown["ratio_upper"], strict=True)),
            hovertemplate=(
                "%{y}: %{x:.2f} times (95% CI %{customdata[0]:.2f} to %{customdata[1]:.2f})"
                "<extra></extra>"
            ),
            showlegend=False,
        ),
        row=1,
        col=2,
    )
    fig.add_vline(x=1, line={"color": charts.LIMIT_COLOUR, "dash": "dash"}, row=1, col=2)
    _layout(fig, title, 200 + 50 * len(shown))
    upper = max(float(shown["rate_per_1000"].max()) * 1.25, 1)
    fig.update_xaxes(range=[0, upper], row=1, col=1, title="per 1,000 residents")
    fig.update_xaxes(type="log", row=1, col=2, title="times the reference rate")
    return fig


def strip_chart(strip: pd.DataFrame, title: str) -> go.Figure:
    """Strip searches per month by age range; children's bands hatched as well as coloured.

    Months in which the clothing field was left blank for every search are not drawn (they
    would read as zero).
    """
    strip = strip[strip["month"].isin(recorded_months(strip))]
    monthly = strip.pivot_table(
        index="month", columns="age_range", values="strip_searches", aggfunc="sum", fill_value=0
    )
    fig = go.Figure()
    colours = {
        "under 10": charts.PALETTE[5],
        "10-17": charts.PALETTE[3],
        "18-24": charts.PALETTE[0],
        "25-34": charts.PALETTE[4],
        "over 34": charts.PALETTE[2],
        "not recorded": charts.LIMIT_COLOUR,
    }
    for age in AGE_ORDER:
        if age not in monthly.columns or not monthly[age].any():
            continue
        child = age in CHILD_AGES
        fig.add_trace(
            go.Bar(
                x=monthly.index,
                y=monthly[age],
                name=f"{age} (child)" if child else age,
                marker={
                    "color": colours[age],
                    "pattern": {
                        "shape": "/" if child else "",
                        "fillmode": "overlay",
                        "fgcolor": "white",
                        "fgopacity": 0.7,
                    },
                },
                hovertemplate=f"%{{x|%B %Y}}, {age}: %{{y:,}}<extra></extra>",
            )
        )
    _layout(fig, title, 400, legend=True)
    fig.update_layout(barmode="stack")
    fig.update_yaxes(title="Searches removing more than outer clothing", tickformat=",")
    fig.update_xaxes(dtick="M1", tickformat="%b<br>%Y")
    return fig


BASIS_STYLE = MappingProxyType(
    {
        "self": (charts.PALETTE[0], "circle", "Self-defined ethnicity"),
        "officer": (charts.PALETTE[5], "diamond", "Officer-defined ethnicity"),
    }
)


def bases_chart(comparison: pd.DataFrame, title: str, reference_label: str) -> go.Figure:
    """Each group's rate ratio on both ethnicity bases with its CI, and the unstated bounds.

    The thin grey line beside each marker runs from the ratio if none of that basis's unstated
    searches were of the group to the ratio if all were. Bases are told apart by symbol and
    legend as well as colour; ethnic groups are context (no good/bad).
    """
    shown = comparison.iloc[::-1]
    fig = go.Figure()
    for basis, (colour, symbol, name) in BASIS_STYLE.items():
        part = shown.dropna(subset=[f"{basis}_ratio"])
        if part.empty:
            continue
        lows, highs = part[f"{basis}_bound_lower"], part[f"{basis}_bound_upper"]
        cap = float(part[f"{basis}_ratio_upper"].max()) * 3
        bound_x: list[float | None] = []
        bound_y: list[str | None] = []
        for low, high, label in zip(lows, highs, part["label"], strict=True):
            bound_x += [low, min(high, cap), None]
            bound_y += [label, label, None]
        fig.add_trace(
            go.Scatter(
                x=bound_x,
                y=bound_y,
                mode="lines",
                line={"color": charts.LIMIT_COLOUR, "width": 1.5, "dash": "dot"},
                name=f"{name}: if the unstated were none / all of the group",
                offsetgroup=basis,
                hoverinfo="skip",
            )
        )
        texts = [
            f"{name}: {ratio_text(r, lo, hi)}; unstated bounds {bounds_text(bl, bh)}"
            for r, lo, hi, bl, bh in zip(
                part[f"{basis}_ratio"],
                part[f"{basis}_ratio_lower"],
                part[f"{basis}_ratio_upper"],
                lows,
                highs,
                strict=True,
            )
        ]
        fig.add_trace(
            go.Scatter(
                x=part[f"{basis}_ratio"],
                y=part["label"],
                mode="markers+text",
                name=name,
                offsetgroup=basis,
                marker={"color": colour, "symbol": symbol, "size": 11},
                text=[f"{r:.2f}" for r in part[f"{basis}_ratio"]],
                textposition="top center",
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": part[f"{basis}_ratio_upper"] - part[f"{basis}_ratio"],
                    "arrayminus": part[f"{basis}_ratio"] - part[f"{basis}_ratio_lower"],
                    "color": colour,
                    "thickness": 1.5,
                },
                customdata=texts,
                hovertemplate="%{y}: %{customdata}<extra></extra>",
            )
        )
    fig.add_vline(x=1, line={"color": charts.LIMIT_COLOUR, "dash": "dash"})
    _layout(fig, title, 220 + 70 * len(shown), legend=True)
    fig.update_layout(scattermode="group")
    fig.update_xaxes(type="log", title=f"times the rate of {reference_label} people (log scale)")
    fig.update_yaxes(title=None)
    return fig
