"""Recorded crime for the Crime page: named reads over the crime marts and pure helpers.

The reads take a DuckDB connection first (so ``ui.read`` can cache them per published
warehouse version), aggregate in DuckDB and return small frames. Everything else is a pure
function of those frames: trend views, XmR limits since the last series break, the borough
funnel against London, the tile map and the ward table. The statistics themselves come from
:mod:`oversight.stats`; series breaks from ``config/breaks.yaml``.

"London" is the MPS area (code ``MPS``): the 32 boroughs plus the pseudo-boroughs ("Unknown",
the airports), whose offences count in London only. Its population is the 32 boroughs'.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from oversight import measures, stats
from oversight.plan import Break, Period

LONDON = "MPS"
LONDON_NAME = "London (MPS area)"
ALL = "ALL"
ALL_LABEL = "All offences"
BOROUGH_MART = "crime_borough_monthly"
WARD_MART = "crime_ward_monthly"
SMALL_COUNT = 20  # no % change on fewer offences than this (as the plan measures' small_count)
PER = 1000
ACRONYMS = frozenset({"NFIB", "MPS"})  # kept upper-case in labels

VIEWS = ("monthly", "quarterly", "r12", "fy")
VIEW_LABELS = {
    "monthly": "Monthly (XmR chart)",
    "quarterly": "Quarterly",
    "r12": "Rolling 12 months",
    "fy": "Financial year",
}
MEASURES = ("count", "rate")
MEASURE_LABELS = {"count": "Number of offences", "rate": "Rate per 1,000 residents"}
SPANS = ("all", "5y")
DEFAULT_SPAN = {"monthly": "5y"}  # XmR charts read best over a few years; other views: "all"
SPAN_LABELS = {"all": "Since the current categories began", "5y": "Last 5 years"}
PERIOD_WORDS = {
    "monthly": "a month",
    "quarterly": "a quarter",
    "r12": "in 12 months",
    "fy": "a year",
}

SOURCE = (
    "MPS recorded crime, London Datastore (OGL v3.0); data to end of {month}; police recorded "
    "crime is not accredited official statistics."
)


# --- months and labels ----------------------------------------------------------------------


def month_date(text: str) -> date:
    """The first day of a 'YYYY-MM' month."""
    return date.fromisoformat(f"{text}-01")


def shift_months(month: date, months: int) -> date:
    """The first day of the month ``months`` after (negative: before) ``month``."""
    return stats.key_to_date(stats.month_key(month) + months)


def month_label(month: date | pd.Timestamp) -> str:
    """'December 2025'."""
    return f"{pd.Timestamp(month):%B %Y}"


def format_rate(value: float) -> str:
    """A rate with one decimal place, or two significant figures when below 1 (0.012)."""
    if value is None or not math.isfinite(value):
        return "n/a"
    if value == 0:
        return "0"
    decimals = max(1, 1 - math.floor(math.log10(abs(value))))
    return f"{value:,.{decimals}f}"


def format_count(value: float) -> str:
    """A whole number with thousands separators."""
    return f"{value:,.0f}"


def offences_text(count: int) -> str:
    """'1 offence', '2,566 offences'."""
    return f"{count:,} offence" + ("" if count == 1 else "s")


def sentence_case(text: str) -> str:
    """'VIOLENCE AGAINST THE PERSON' -> 'Violence against the person' (acronyms kept)."""
    words = [w if w in ACRONYMS else w.lower() for w in text.split()]
    joined = " ".join(words)
    return joined[:1].upper() + joined[1:]


def category_label(major: str, minor: str = ALL) -> str:
    """How the page names a category: 'All offences', 'Robbery', 'Robbery: rape'."""
    if major == ALL:
        return ALL_LABEL
    label = sentence_case(major)
    if minor != ALL:
        words = [w if w in ACRONYMS else w.lower() for w in minor.split()]
        label += ": " + " ".join(words)
    return label


def abbreviate_names(names: Iterable[str]) -> dict[str, str]:
    """Short, unique tile labels: initials for 'X and Y' names ('K&C'), else a short prefix.

    Words after 'upon' are dropped ('Kingston upon Thames' -> 'Kin'); one-word names take the
    shortest prefix of at least three letters that no other name starts with.
    """
    names = list(dict.fromkeys(names))
    core = {name: name.split(" upon ")[0] for name in names}
    out: dict[str, str] = {}
    singles = [n for n in names if len(core[n].split()) == 1]
    for name in names:
        words = core[name].split()
        if len(words) > 1:
            initials = [w[0] if w[0].isupper() else w[0].lower() for w in words if w != "and"]
            out[name] = ("&" if " and " in core[name] else "").join(initials)
    for name in singles:
        word = core[name]
        others = [core[n] for n in singles if n != name]
        length = 3
        while length < len(word) and any(o.startswith(word[:length]) for o in others):
            length += 1
        out[name] = word[:length]
    return out


# --- configuration --------------------------------------------------------------------------


def crime_breaks(breaks: Iterable[Break], mart: str = BOROUGH_MART) -> tuple[Break, ...]:
    """The series breaks that apply to a crime mart, oldest first."""
    return tuple(sorted((b for b in breaks if mart in b.marts), key=lambda b: b.date))


def current_scheme(breaks: Iterable[Break]) -> tuple[str, date]:
    """The category scheme the page shows (the newest scheme change's) and its first month."""
    changes = [b for b in crime_breaks(breaks) if b.kind == "category_scheme" and b.to_scheme]
    if not changes:
        raise ValueError(f"config/breaks.yaml has no category scheme change for {BOROUGH_MART}")
    return changes[-1].to_scheme, month_date(changes[-1].date)


def breaks_in_view(breaks: Iterable[Break], first: date, last: date) -> tuple[Break, ...]:
    """Breaks whose first month on the new basis lies within ``first``..``last``."""
    return tuple(b for b in breaks if first <= month_date(b.date) <= last)


def segment_start(breaks: Iterable[Break], first: date, last: date) -> date:
    """First month of the stretch since the last break in view (``first`` if there is none)."""
    starts = [month_date(b.date) for b in breaks_in_view(breaks, first, last)]
    return max([first, *starts])


def spanned_break(breaks: Iterable[Break], start: date, end: date) -> Break | None:
    """The newest break a period from ``start`` to ``end`` spans (has months either side of)."""
    period = Period(f"{start:%Y-%m}", f"{end:%Y-%m}")
    inside = [b for b in breaks if b.within(period)]
    return inside[-1] if inside else None


# --- reads (DuckDB does the aggregation) --------------------------------------------------


def _category_filter(major: str, minor: str) -> tuple[str, list[Any]]:
    clauses, params = [], []
    if major != ALL:
        clauses.append("major_category = ?")
        params.append(major)
        if minor != ALL:
            clauses.append("minor_category = ?")
            params.append(minor)
    return (" and ".join(clauses) or "true"), params


def read_categories(con: duckdb.DuckDBPyConnection, scheme: str) -> pd.DataFrame:
    """Major and minor categories of ``scheme`` published in its latest month."""
    return con.execute(
        f"""
        with latest as (
            select max(month) as month from marts.{BOROUGH_MART} where category_scheme = ?
        )
        select major_category, minor_category
        from marts.{BOROUGH_MART}
        where category_scheme = ? and month = (select month from latest)
        group by major_category, minor_category
        order by major_category, minor_category
        """,
        [scheme, scheme],
    ).df()


def read_monthly_series(
    con: duckdb.DuckDBPyConnection, scheme: str, geography: str, major: str, minor: str
) -> pd.DataFrame:
    """Offences per month for an area and category, from the category's first published month.

    London (``MPS``) counts every row, pseudo-boroughs included; a borough counts its own
    rows. Months of the scheme with no row for the area are zero.
    """
    category, params = _category_filter(major, minor)
    area = "true" if geography == LONDON else "borough_code = ?"
    area_params = [] if geography == LONDON else [geography]
    return con.execute(
        f"""
        with scoped as (
            select month, borough_code, offences
            from marts.{BOROUGH_MART}
            where category_scheme = ? and {category}
        ),
        months as (
            select distinct month from marts.{BOROUGH_MART} where category_scheme = ?
        ),
        chosen as (
            select month, sum(offences) as offences
            from scoped
            where {area}
            group by month
        ),
        final as (
            select m.month, coalesce(c.offences, 0)::bigint as offences
            from months as m
            left join chosen as c using (month)
            where m.month >= (select min(month) from scoped)
        )
        select * from final order by month
        """,
        [scheme, *params, scheme, *area_params],
    ).df()


def read_borough_totals(
    con: duckdb.DuckDBPyConnection, scheme: str, major: str, minor: str, start: date, end: date
) -> pd.DataFrame:
    """Offences per borough code from ``start`` to ``end`` (NULL code: the pseudo-boroughs)."""
    category, params = _category_filter(major, minor)
    return con.execute(
        f"""
        select borough_code, sum(offences)::bigint as offences
        from marts.{BOROUGH_MART}
        where category_scheme = ? and month between ? and ? and {category}
        group by borough_code
        order by borough_code nulls last
        """,
        [scheme, start, end, *params],
    ).df()


def read_ward_months(con: duckdb.DuckDBPyConnection, scheme: str) -> tuple[date, date] | None:
    """First and last month of the ward file's data in ``scheme``, or None if it has none."""
    first, last = con.execute(
        f"select min(month), max(month) from marts.{WARD_MART} where category_scheme = ?",
        [scheme],
    ).fetchall()[0]
    return None if first is None else (first, last)


def read_ward_windows(
    con: duckdb.DuckDBPyConnection,
    scheme: str,
    borough_code: str,
    major: str,
    minor: str,
    end: date,
) -> pd.DataFrame:
    """Each ward of a borough: offences in the 12 months to ``end`` and in the 12 before.

    Every ward the file lists for the borough is included, with 0 where it has no offences of
    the category. The ward name is the one published in the ward's latest month.
    """
    category, params = _category_filter(major, minor)
    latest_start, previous_start = shift_months(end, -11), shift_months(end, -23)
    previous_end = shift_months(end, -12)
    return con.execute(
        f"""
        with wards as (
            select ward_code, arg_max(ward_name, month) as ward_name
            from marts.{WARD_MART}
            where category_scheme = ? and borough_code = ?
            group by ward_code
        ),
        counts as (
            select ward_code,
                   sum(offences) filter (where month between ? and ?) as latest,
                   sum(offences) filter (where month between ? and ?) as previous
            from marts.{WARD_MART}
            where category_scheme = ? and borough_code = ? and {category}
            group by ward_code
        ),
        final as (
            select w.ward_code, w.ward_name,
                   coalesce(c.latest, 0)::bigint as latest,
                   coalesce(c.previous, 0)::bigint as previous
            from wards as w
            left join counts as c using (ward_code)
        )
        select * from final order by latest desc, ward_name
        """,
        [
            scheme,
            borough_code,
            latest_start,
            end,
            previous_start,
            previous_end,
            scheme,
            borough_code,
            *params,
        ],
    ).df()


# --- population -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Populations:
    """Mid-year residents by area and year; London (MPS area) is the 32 boroughs' sum."""

    by_area: dict[str, dict[int, int]]
    source: str

    def lookup(self, area: str, year: int) -> tuple[int, int]:
        """(population, year used): the latest estimate at or before ``year`` (else the first)."""
        years = self.by_area[area]
        usable = [y for y in years if y <= year] or [min(years)]
        chosen = max(usable)
        return years[chosen], chosen


def make_populations(population: pd.DataFrame, boroughs: pd.DataFrame) -> Populations:
    """Populations from ``reference.load_population()`` and ``reference.load_boroughs()``."""
    in_mps = set(boroughs.loc[boroughs["in_mps_area"], "borough_code"])
    by_area: dict[str, dict[int, int]] = {}
    for row in population.itertuples(index=False):
        by_area.setdefault(row.geography_code, {})[int(row.year)] = int(row.population)
    london: dict[int, int] = {}
    for code in in_mps:
        for year, value in by_area.get(code, {}).items():
            london[year] = london.get(year, 0) + value
    by_area[LONDON] = london
    source = str(population["source"].iloc[0]) if len(population) else "ONS"
    return Populations(by_area, source)


def population_note(populations: Populations, years_used: Iterable[int]) -> str:
    """Say which population estimates a rate uses."""
    used = sorted(set(years_used))
    if not used:
        return ""
    span = f"mid-{used[0]}" if len(used) == 1 else f"mid-{used[0]} to mid-{used[-1]}"
    latest = max(max(y) for y in populations.by_area.values() if y)
    later = (
        f" (mid-{latest} is the latest held, used for later years too)"
        if used[-1] == latest
        else ""
    )
    return (
        f"Rate per 1,000 residents: {populations.source}, {span}{later}. "
        f"{LONDON_NAME} uses the 32 boroughs' residents."
    )


# --- trend views ----------------------------------------------------------------------------


def _fy_label(start_year: int) -> str:
    return f"{start_year}-{(start_year + 1) % 100:02d}"


def aggregate_view(monthly: pd.DataFrame, view: str) -> pd.DataFrame:
    """Periods of a view from a monthly series (month, offences): complete periods only.

    Columns: period_start, period_end (first day of the last month, where points are drawn),
    period (label), offences, months.
    """
    if view not in VIEWS:
        raise ValueError(f"view must be one of {VIEWS}, got {view!r}")
    frame = monthly[["month", "offences"]].copy()
    frame["month"] = pd.to_datetime(frame["month"])
    frame = frame.sort_values("month").reset_index(drop=True)
    if view == "monthly":
        out = frame.assign(period_start=frame["month"], period_end=frame["month"], months=1)
        out["period"] = out["month"].dt.strftime("%B %Y")
    elif view == "r12":
        keys = frame["month"].map(stats.month_key)
        consecutive = keys.diff().eq(1).astype(int).rolling(11).sum().eq(11)
        sums = frame["offences"].rolling(12).sum()
        out = frame.assign(offences=sums, months=12, period_end=frame["month"])[consecutive]
        out["period_start"] = out["period_end"].map(lambda m: pd.Timestamp(shift_months(m, -11)))
        out["period"] = "12 months to " + out["period_end"].dt.strftime("%b %Y")
    else:
        if view == "quarterly":
            group = frame["month"].dt.to_period("Q").astype(str)
        else:
            year = frame["month"].dt.year - (frame["month"].dt.month < 4).astype(int)
            group = year.map(_fy_label)
        out = (
            frame.assign(group=group)
            .groupby("group", sort=False)
            .agg(
                period_start=("month", "min"),
                period_end=("month", "max"),
                offences=("offences", "sum"),
                months=("month", "count"),
            )
            .reset_index()
        )
        out = out[out["months"] == 3 if view == "quarterly" else out["months"] == 12]
        if view == "quarterly":
            out["period"] = (
                out["period_start"].dt.strftime("%b")
                + "–"
                + out["period_end"].dt.strftime("%b %Y")
            )
        else:
            out["period"] = "FY " + out["group"]
    out = out[["period_start", "period_end", "period", "offences", "months"]]
    out["offences"] = out["offences"].astype("int64")
    return out.reset_index(drop=True)


def add_rates(frame: pd.DataFrame, populations: Populations, area: str) -> pd.DataFrame:
    """Add population, population_year and rate (per 1,000 residents) to a view's periods.

    A period takes the estimate for the year of its middle month (for a financial year, the
    mid-year estimate inside it), or the latest held before that.
    """
    out = frame.copy()
    middle = [
        shift_months(start, int(months) // 2)
        for start, months in zip(out["period_start"], out["months"], strict=True)
    ]
    looked_up = [populations.lookup(area, m.year) for m in middle]
    out["population"] = [p for p, _ in looked_up]
    out["population_year"] = [y for _, y in looked_up]
    out["rate"] = out["offences"] / out["population"] * PER
    return out


def mark_spanning(frame: pd.DataFrame, breaks: Sequence[Break]) -> pd.DataFrame:
    """Add ``spans_break``: the label of a break a period has months either side of, or ''."""
    out = frame.copy()
    out["spans_break"] = [
        (b.label if (b := spanned_break(breaks, s.date(), e.date())) else "")
        for s, e in zip(out["period_start"], out["period_end"], strict=True)
    ]
    return out


def limit_span(frame: pd.DataFrame, span: str, last: date) -> pd.DataFrame:
    """Keep the periods shown: all, or those ending in the last five years."""
    if span not in SPANS:
        raise ValueError(f"span must be one of {SPANS}, got {span!r}")
    if span == "all":
        return frame
    first = pd.Timestamp(shift_months(last, -59))
    return frame[frame["period_end"] >= first].reset_index(drop=True)


# --- XmR -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Xmr:
    """An XmR chart of one series: limits and signals from the months since the last break.

    ``frame`` holds every month shown (month, value, in_limits) and, for the months the
    limits use, each Making Data Count rule, ``direction`` and ``signal`` (a readable list).
    ``limits`` is None when fewer than ``min_points`` months follow the break.
    """

    frame: pd.DataFrame
    since: date
    limits: stats.XmrLimits | None
    min_points: int
    adjusted: bool = False

    @property
    def points(self) -> int:
        return int(self.frame["in_limits"].sum())


RULE_WORDS = {
    "beyond_limit": "beyond a limit",
    "run": "run of 7 on one side",
    "trend": "trend of 7",
    "two_of_three": "2 of 3 near a limit",
}


def xmr_chart(
    series: pd.DataFrame,
    value: str,
    since: date,
    min_points: int,
    max_points: int = 24,
    rebase_run: int = 12,
    season_min_months: int = 36,
) -> Xmr:
    """A seasonally adjusted XmR chart with a fixed baseline from the months since ``since``.

    Each month is divided by its month-of-year factor (:func:`stats.seasonal_factors` over the
    whole series, when it has ``season_min_months`` consecutive months), so the season is not
    read as a special cause; ``raw`` keeps the published figure. Limits come from the first
    ``min_points``–``max_points`` months after ``since`` and are re-based only at a shift of
    ``rebase_run`` months on one side (:func:`stats.seasonal_xmr`).
    """
    frame = series[["period_end", value]].rename(columns={"period_end": "month", value: "raw"})
    frame = frame.reset_index(drop=True)
    frame["raw"] = frame["raw"].astype(float)
    months = (frame["month"].dt.year * 12 + frame["month"].dt.month - 1).to_numpy()
    consecutive = len(months) > 1 and bool(np.all(np.diff(months) == 1))
    factors = (
        stats.seasonal_factors(months, frame["raw"].to_numpy(), season_min_months)
        if consecutive and not frame["raw"].isna().any()
        else None
    )
    frame["value"] = frame["raw"] / factors[months % 12] if factors is not None else frame["raw"]
    frame["in_limits"] = frame["month"] >= pd.Timestamp(since)
    for rule in stats.SPC_RULES:
        frame[rule] = False
    frame["direction"] = 0
    frame["signal"] = ""
    adjusted = factors is not None
    inside = frame.index[frame["in_limits"]]
    if len(inside) < max(min_points, 2):
        return Xmr(frame, since, None, min_points, adjusted)
    chart = stats.seasonal_xmr(
        months[inside], frame.loc[inside, "raw"].to_numpy(), factors, min_points, max_points,
        rebase_run,
    )  # fmt: skip
    if chart is None:
        return Xmr(frame, since, None, min_points, adjusted)
    signals = chart.signals.set_axis(inside)
    for column in (*stats.SPC_RULES, "direction"):
        frame.loc[inside, column] = signals[column].to_numpy()
    frame["signal"] = [
        ", ".join(RULE_WORDS[r] for r in stats.SPC_RULES if row[r])
        for row in frame[list(stats.SPC_RULES)].to_dict("records")
    ]
    return Xmr(frame, since, chart.baselines[-1].limits, min_points, adjusted)


def xmr_summary(xmr: Xmr, fmt: Callable[[float], str] = format_count) -> str:
    """One sentence on what the XmR chart shows since the break."""
    since = month_label(xmr.since)
    if xmr.limits is None:
        return (
            f"Only {xmr.points} months since {since}: limits need at least {xmr.min_points} "
            "months on one basis, so none are drawn."
        )
    shown = xmr.frame[xmr.frame["in_limits"]]
    last = shown.iloc[-1]
    lower = max(xmr.limits.lower, 0.0)
    flagged = shown[shown["signal"] != ""]
    basis = " (seasonally adjusted)" if xmr.adjusted else ""
    text = (
        f"{month_label(last['month'])}: {fmt(last['value'])}{basis}; limits since {since}: "
        f"{fmt(lower)} to {fmt(xmr.limits.upper)}"
    )
    if flagged.empty:
        return text + "; no special-cause variation."
    high = int((flagged["direction"] > 0).sum())
    low = int((flagged["direction"] < 0).sum())
    parts = [f"{high} high" if high else "", f"{low} low" if low else ""]
    detail = ", ".join(p for p in parts if p)
    plural = "s" if len(flagged) != 1 else ""
    return text + f"; special cause in {len(flagged)} month{plural} ({detail})."


# --- headline --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Headline:
    """The latest 12 months for an area and category, and its change when one may be stated."""

    end: date
    offences: int
    population: int
    population_year: int
    rate: float
    previous: int | None
    change_text: str


def headline(
    monthly: pd.DataFrame,
    populations: Populations,
    area: str,
    breaks: Sequence[Break],
    small_count: int = SMALL_COUNT,
    level: float = 0.95,
) -> Headline | None:
    """The 12 months to the latest month against the 12 before (Poisson exact test).

    No change is stated when the 24 months cross a series break, a month is missing, or the
    earlier count is below ``small_count``.
    """
    if monthly.empty:
        return None
    series = pd.Series(
        monthly["offences"].to_numpy(dtype=float), index=pd.to_datetime(monthly["month"])
    )
    end = series.index.max().date()
    window = stats.rolling_12_vs_previous_12(series, end, [month_date(b.date) for b in breaks])
    current = series[series.index > pd.Timestamp(shift_months(end, -12))].sum()
    population, year = populations.lookup(area, shift_months(end, -6).year)
    rate = current / population * PER
    if window.refused:
        text = f"Not compared: {window.reason}."
        brk = spanned_break(breaks, shift_months(end, -23), end)
        if brk is not None:
            text = (
                f"Not compared: the 24 months to {month_label(end)} cross a series break, the "
                f"{brk.label} in {month_label(month_date(brk.date))}."
            )
        return Headline(end, int(current), population, year, rate, None, text)
    previous = int(window.comparison)
    if not stats.percent_change_allowed(previous, small_count):
        text = f"No % change: fewer than {small_count} offences in the 12 months before."
        return Headline(end, int(current), population, year, rate, previous, text)
    test = stats.poisson_rate_ratio(int(current), 1.0, previous, 1.0, level)
    change = current / previous - 1
    verdict = (
        "statistically significant"
        if test.p_value < 1 - level
        else "not statistically significant"
    )
    text = (
        f"{change:+.0%} on the 12 months before ({previous:,}); {verdict} "
        f"(exact Poisson test, p = {test.p_value:.3f})."
    )
    return Headline(end, int(current), population, year, rate, previous, text)


def trend_title(
    category: str, area_name: str, head: Headline, measure: str, suffix: str = ""
) -> str:
    """The trend chart's finding: the latest 12 months' level."""
    if measure == "rate":
        level = f"{format_rate(head.rate)} offences per 1,000 residents"
    else:
        level = offences_text(head.offences)
    return (
        f"{category} in {area_name}: {level} in the 12 months to {month_label(head.end)}{suffix}"
    )


# --- boroughs against London --------------------------------------------------------------


def level_label(level: float) -> str:
    """Column suffix for a level, as oversight.stats writes it: 0.998 -> "99_8"."""
    return f"{level * 100:g}".replace(".", "_")


@dataclass(frozen=True)
class BoroughFunnel:
    """Boroughs' rates against London's with overdispersion-adjusted funnel limits.

    ``table``: one row per borough (code, name, abbreviation, population, offences, rate,
    z_adjusted, per level lower/upper and ``position``); ``curve``: the limits over a range of
    populations for drawing. Rates are per 1,000 residents.
    """

    table: pd.DataFrame
    curve: pd.DataFrame
    london_rate: float
    london_offences: int
    london_population: int
    population_year: int
    method: str
    phi: float
    tau2: float
    levels: tuple[float, ...]

    def outside(self, level: float | None = None) -> pd.DataFrame:
        """Boroughs outside the limits at ``level`` (default: the widest)."""
        label = level_label(level or max(self.levels))
        return self.table[self.table[f"outside_{label}"]]


def borough_rates(
    totals: pd.DataFrame, boroughs: pd.DataFrame, populations: Populations, year: int
) -> tuple[pd.DataFrame, int, int, int]:
    """Offences, population and rate per 1,000 for the 32 MPS boroughs (0 where none).

    Returns the table, London's offences (pseudo-boroughs included), London's population and
    the population year used.
    """
    mps = boroughs[boroughs["in_mps_area"]]
    counts = dict(zip(totals["borough_code"], totals["offences"], strict=True))
    abbreviations = abbreviate_names(boroughs["borough_name"])
    rows = []
    for row in mps.itertuples(index=False):
        population, used = populations.lookup(row.borough_code, year)
        offences = int(counts.get(row.borough_code, 0) or 0)
        rows.append(
            {
                "borough_code": row.borough_code,
                "borough_name": row.borough_name,
                "abbreviation": abbreviations[row.borough_name],
                "population": population,
                "offences": offences,
                "rate": offences / population * PER,
            }
        )
    london_offences = int(totals["offences"].fillna(0).sum())
    london_population, used = populations.lookup(LONDON, year)
    return pd.DataFrame(rows), london_offences, london_population, used


def _position(row: dict[str, Any], levels: Sequence[float]) -> str:
    for level in sorted(levels, reverse=True):
        if row[f"outside_{level_label(level)}"]:
            side = "above" if row["z_adjusted"] > 0 else "below"
            return f"{side} the {level * 100:g}% limits"
    return "within the limits"


def borough_funnel(
    rates: pd.DataFrame,
    london_offences: int,
    london_population: int,
    population_year: int,
    *,
    levels: Sequence[float] = (0.95, 0.998),
    method: str = "multiplicative",
    curve_points: int = 120,
) -> BoroughFunnel:
    """Spiegelhalter (2005) funnel of borough rates around London's (``stats``' method).

    The curve is computed by the same function, on populations with no count: such units are
    reported but do not enter the overdispersion estimate.
    """
    target = london_offences / london_population
    exposure = rates["population"].to_numpy(dtype=float)
    grid = np.linspace(exposure.min() * 0.9, exposure.max() * 1.05, curve_points)
    counts = np.concatenate([rates["offences"].to_numpy(dtype=float), np.full(grid.size, np.nan)])
    funnel = stats.overdispersed_funnel(
        counts,
        np.concatenate([exposure, grid]),
        target=target,
        levels=tuple(levels),
        method=method,  # type: ignore[arg-type]
    )
    units = funnel.units.iloc[: len(rates)].reset_index(drop=True)
    table = rates.reset_index(drop=True).copy()
    table["z_adjusted"] = units["z_adjusted"]
    curve = pd.DataFrame({"population": grid, "centre": target * PER})
    for level in levels:
        label = level_label(level)
        for side in ("lower", "upper"):
            table[f"{side}_{label}"] = units[f"{side}_{label}"] * PER
            curve[f"{side}_{label}"] = (
                funnel.units[f"{side}_{label}"].iloc[len(rates) :].to_numpy()
            )
            curve[f"{side}_{label}"] *= PER
        table[f"outside_{label}"] = units[f"outside_{label}"].astype(bool)
    table["position"] = [_position(r, levels) for r in table.to_dict("records")]
    return BoroughFunnel(
        table=table,
        curve=curve,
        london_rate=target * PER,
        london_offences=london_offences,
        london_population=london_population,
        population_year=population_year,
        method=funnel.method,
        phi=funnel.phi,
        tau2=funnel.tau2,
        levels=tuple(levels),
    )


def funnel_possible(london_offences: int, boroughs: int, small_count: int = SMALL_COUNT) -> bool:
    """Whether a borough averages enough offences for the funnel's normal approximation."""
    return boroughs > 1 and london_offences / boroughs >= small_count


def funnel_refusal(
    london_offences: int, boroughs: int, end: date, small_count: int = SMALL_COUNT
) -> str:
    """Why no funnel is drawn for a rare category."""
    return (
        f"No funnel plot: {offences_text(london_offences)} in London in the 12 months to "
        f"{month_label(end)}, fewer than {small_count} a borough on average, too few to tell "
        "boroughs apart from chance. The map and its table still give each borough's figure."
    )


def funnel_title(category: str, funnel: BoroughFunnel, end: date, suffix: str = "") -> str:
    """The funnel's finding: how many boroughs lie outside the widest limits."""
    widest = max(funnel.levels)
    outside = funnel.outside(widest)
    n = len(funnel.table)
    where = f"{widest * 100:g}% limits around London's {format_rate(funnel.london_rate)} per 1,000"
    if outside.empty:
        finding = f"all {n} boroughs within the {where}"
    else:
        finding = f"{len(outside)} of {n} boroughs outside the {where}"
    return f"{category}, 12 months to {month_label(end)}: {finding}{suffix}"


def funnel_caption(funnel: BoroughFunnel, populations: Populations) -> str:
    """Method, overdispersion and denominators, for the funnel's caption."""
    levels = " and ".join(f"{lvl * 100:g}%" for lvl in funnel.levels)
    if funnel.method == "multiplicative":
        adjust = (
            f"phi = {funnel.phi:.1f}; limits widened by √phi = {math.sqrt(max(funnel.phi, 1)):.1f}"
            if funnel.phi > 1
            else f"phi = {funnel.phi:.2f}, no widening needed"
        )
    elif funnel.method == "additive_log":
        adjust = (
            f"phi = {funnel.phi:.1f} on Poisson alone; between-borough variation tau² = "
            f"{funnel.tau2:.3g} on the log scale, a typical borough {math.sqrt(funnel.tau2):.0%} "
            "from London by ordinary variation"
        )
    else:
        adjust = f"phi = {funnel.phi:.1f}, tau² = {funnel.tau2:.3g} per resident²"
    method = {"additive_log": "additive random-effects (log scale)"}.get(
        funnel.method, funnel.method
    )
    return (
        f"Funnel plot (Spiegelhalter 2005), {method} overdispersion adjustment "
        f"({adjust}), {levels} limits around the {LONDON_NAME} rate, which includes offences "
        f"not assigned to a borough. A borough outside the limits differs from London by "
        f"more than chance and ordinary variation between boroughs would explain; it is not "
        f"a ranking. Residents: {populations.source}, mid-{funnel.population_year}."
        + "".join(f" {note}" for _, note in measures.load_statistics().denominator_notes)
    )


def tile_frame(boroughs: pd.DataFrame, rates: pd.DataFrame) -> pd.DataFrame:
    """Every London borough at its tile position, with its rate (none outside the MPS area)."""
    abbreviations = abbreviate_names(boroughs["borough_name"])
    cols = ["borough_code", "population", "offences", "rate"]
    out = boroughs[["borough_code", "borough_name", "tile_x", "tile_y", "in_mps_area"]].merge(
        rates[cols], on="borough_code", how="left"
    )
    out["abbreviation"] = out["borough_name"].map(abbreviations)
    return out


def map_title(category: str, tiles: pd.DataFrame, end: date, suffix: str = "") -> str:
    """The tile map's finding: the range of borough rates."""
    shown = tiles.dropna(subset=["rate"])
    high = shown.loc[shown["rate"].idxmax()]
    low = shown.loc[shown["rate"].idxmin()]
    return (
        f"{category} per 1,000 residents, 12 months to {month_label(end)}: from "
        f"{format_rate(low['rate'])} in {low['borough_name']} to {format_rate(high['rate'])} in "
        f"{high['borough_name']}{suffix}"
    )


# --- wards --------------------------------------------------------------------------------------


def ward_table(
    wards: pd.DataFrame,
    *,
    previous_complete: bool,
    crossing: Break | None,
    small_count: int = SMALL_COUNT,
) -> pd.DataFrame:
    """Wards with their two 12-month counts and a % change only where one may be stated.

    No change is shown when the earlier 12 months are incomplete, the 24 months cross a
    series break, or the earlier count is below ``small_count``; ``note`` says which.
    """
    out = wards.copy()
    changes, notes = [], []
    for previous, latest in zip(out["previous"], out["latest"], strict=True):
        if not previous_complete:
            changes.append(float("nan"))
            notes.append("earlier 12 months not all published")
        elif crossing is not None:
            changes.append(float("nan"))
            notes.append(
                f"not compared: crosses the {month_label(month_date(crossing.date))} break"
            )
        elif not stats.percent_change_allowed(previous, small_count):
            changes.append(float("nan"))
            notes.append(f"fewer than {small_count} offences: no % change")
        else:
            changes.append(round((latest / previous - 1) * 100, 1))
            notes.append("")
    out["change_pct"] = changes
    out["note"] = notes
    if not previous_complete:
        out["previous"] = pd.NA
    return out


def ward_title(
    category: str, borough_name: str, wards: pd.DataFrame, end: date, suffix: str = ""
) -> str:
    """The ward chart's finding: the ward with most offences and its share of the borough's."""
    total = int(wards["latest"].sum())
    period = f"in the 12 months to {month_label(end)}"
    if total == 0:
        return f"{category} in {borough_name}'s wards: no offences {period}{suffix}"
    top = wards.sort_values("latest", ascending=False).iloc[0]
    share = top["latest"] / total
    return (
        f"{category} in {borough_name}'s wards: {top['ward_name']} had {int(top['latest']):,} "
        f"of {total:,} ({share:.0%}) {period}{suffix}"
    )


def source_line(end: date, suffix: str = "") -> str:
    """The crime source line with the as-at month."""
    text = SOURCE.format(month=month_label(end))
    return text + (" Synthetic sample data." if suffix else "")
