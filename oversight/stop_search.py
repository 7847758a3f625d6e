"""Stop and search (police.uk, Metropolitan Police) for the stop and search page.

Read functions take a DuckDB connection and aggregate in SQL (``marts.stop_search`` holds one
row per search and is never loaded whole); the rest are pure functions of small DataFrames and
the Plotly figure builders (no streamlit).

Disproportionality compares searches per head of each Census broad ethnic group with the rate
for White people, by an exact Poisson rate ratio. The police.uk ethnicity strings map to the
Census groups through ``config/ethnicity_groups.yaml``; searches with no ethnicity recorded are
counted and left out of the rates. Denominators are Census usual residents of the 32 boroughs
the Met polices (2021 by default; 2011 as the alternative).
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
    return EthnicityGroups(
        groups, reference_group, MappingProxyType(self_defined), MappingProxyType(officer_defined)
    )


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


def disproportionality(
    by_group: pd.Series, denominators: pd.DataFrame, groups: EthnicityGroups, level: float
) -> pd.DataFrame:
    """Searches per 1,000 people of each group and the rate ratio to the reference group.

    A group with no searches on the chosen basis (officers record no Mixed group) gets no
    rate. The ratio's CI is the exact conditional Poisson interval.
    """
    population = dict(zip(denominators["group"], denominators["population"], strict=True))
    ref = groups.reference_group
    ref_count, ref_pop = int(by_group[ref]), population[ref]
    rows = []
    for group, label in groups.groups:
        count, pop = int(by_group.get(group, 0)), population[group]
        row = {
            "group": group,
            "label": label,
            "searches": count,
            "population": round(pop),
            "rate_per_1000": count / pop * 1000 if count else math.nan,
            "ratio": math.nan,
            "ratio_lower": math.nan,
            "ratio_upper": math.nan,
            "p_value": math.nan,
            "small_count": count < SMALL_COUNT,
        }
        if group == ref:
            row["ratio"] = 1.0
        elif count and ref_count:
            ratio = stats.disproportionality_ratio(count, pop, ref_count, ref_pop, level)
            row.update(
                ratio=ratio.ratio,
                ratio_lower=ratio.lower,
                ratio_upper=ratio.upper,
                p_value=ratio.p_value,
            )
        rows.append(row)
    return pd.DataFrame(rows)


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
