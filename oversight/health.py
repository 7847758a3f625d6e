"""Data health: what is loaded, how fresh it is, what was refused and what the MPS revised.

Read functions take ``(con, ...)`` for ``ui.read``; the rest are pure. The publication
schedule (config/publication_schedule.yaml) says when each source publishes, so freshness can
be judged against a date ("today" from settings) rather than against the clock.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

import duckdb
import pandas as pd
import yaml

from oversight import step_scan
from oversight.sandbox import frame_of

PERIODS = ("month", "quarter", "financial_year", "year")
CADENCES = ("monthly", "quarterly", "annual", "irregular")
STEP_MONTHS = {"month": 1, "quarter": 3, "financial_year": 12, "year": 12}
FEED_KEYS = {
    "id", "label", "publisher", "sources", "mart", "period_column", "period", "cadence",
    "lag_days", "lag_text", "note",
}  # fmt: skip
FEED_REQUIRED = {"id", "label", "publisher", "sources", "mart", "cadence"}
REVISED_MART = "crime_borough_all_vintages"
CELL_KEY = ("month", "borough_name", "major_category", "minor_category")


class ScheduleError(ValueError):
    """The publication schedule is not in the expected shape; the message names the key."""


@dataclass(frozen=True)
class Feed:
    """One published source as the schedule describes it."""

    id: str
    label: str
    publisher: str
    sources: tuple[str, ...]
    mart: str
    cadence: str
    period_column: str | None = None
    period: str | None = None
    lag_days: int | None = None
    lag_text: str = ""
    note: str = ""

    @property
    def scheduled(self) -> bool:
        return self.cadence != "irregular"


# --- the schedule ------------------------------------------------------------------------------


def read_feed(where: str, entry: Any) -> Feed:
    """One feed entry, checked."""
    if not isinstance(entry, dict):
        raise ScheduleError(f"{where}: expected a mapping")
    unknown, missing = set(entry) - FEED_KEYS, FEED_REQUIRED - set(entry)
    if unknown:
        raise ScheduleError(f"{where}: unknown key(s) {sorted(unknown)}")
    if missing:
        raise ScheduleError(f"{where}: missing key(s) {sorted(missing)}")
    sources = entry["sources"]
    if (
        not isinstance(sources, list)
        or not sources
        or not all(isinstance(s, str) for s in sources)
    ):
        raise ScheduleError(f"{where}.sources: expected a list of source ids")
    if entry["cadence"] not in CADENCES:
        raise ScheduleError(f"{where}.cadence must be one of {', '.join(CADENCES)}")
    feed = Feed(
        id=str(entry["id"]),
        label=str(entry["label"]).strip(),
        publisher=str(entry["publisher"]).strip(),
        sources=tuple(sources),
        mart=str(entry["mart"]),
        cadence=entry["cadence"],
        period_column=entry.get("period_column"),
        period=entry.get("period"),
        lag_days=entry.get("lag_days"),
        lag_text=str(entry.get("lag_text", "")).strip(),
        note=" ".join(str(entry.get("note", "")).split()),
    )
    if feed.period is not None and feed.period not in PERIODS:
        raise ScheduleError(f"{where}.period must be one of {', '.join(PERIODS)}")
    if (feed.period is None) != (feed.period_column is None):
        raise ScheduleError(f"{where}: give both period and period_column, or neither")
    if feed.scheduled and (feed.period is None or not isinstance(feed.lag_days, int)):
        raise ScheduleError(
            f"{where}: a {feed.cadence} source needs period, period_column and lag_days (days)"
        )
    return feed


def load_schedule(path: Path) -> tuple[Feed, ...]:
    """Read and check config/publication_schedule.yaml."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict) or not isinstance(document.get("feeds"), list):
        raise ScheduleError(f"{path.name}: expected a list under 'feeds'")
    feeds = tuple(
        read_feed(f"{path.name}: feeds[{i}]", e) for i, e in enumerate(document["feeds"])
    )
    ids = [f.id for f in feeds]
    if len(set(ids)) != len(ids):
        raise ScheduleError(f"{path.name}: duplicate feed ids")
    claimed = [s for f in feeds for s in f.sources]
    if len(set(claimed)) != len(claimed):
        raise ScheduleError(f"{path.name}: a source id is listed under two feeds")
    return feeds


# --- periods -----------------------------------------------------------------------------------


def month_end(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def add_months(day: dt.date, months: int) -> dt.date:
    """The last day of the month ``months`` after ``day``'s month."""
    index = day.year * 12 + day.month - 1 + months
    return month_end(index // 12, index % 12 + 1)


def period_end(period: str, value: Any) -> dt.date:
    """The last day a period's data covers (month start, quarter end, '2019/20', year)."""
    if period == "month":
        day = pd.Timestamp(value).date()
        return month_end(day.year, day.month)
    if period == "quarter":
        day = pd.Timestamp(value).date()
        return month_end(day.year, day.month)
    if period == "financial_year":
        return dt.date(int(str(value)[:4]) + 1, 3, 31)
    if period == "year":  # mid-year estimates: 30 June
        return dt.date(int(value), 6, 30)
    raise ScheduleError(f"unknown period {period!r}")


def period_text(period: str, end: dt.date) -> str:
    """A period as people name it, from its last day."""
    if period == "month":
        return f"{end:%B %Y}"
    if period == "quarter":
        return f"quarter to {end.day} {end:%B %Y}"
    if period == "financial_year":
        return f"{end.year - 1}/{end.year % 100:02d}"
    return f"mid-{end.year}"


def vintage_text(vintage: str | None) -> str:
    """A vintage as people name it: '2025-12' -> 'December 2025'; other labels unchanged."""
    try:
        return f"{dt.date.fromisoformat(f'{vintage}-01'):%B %Y}"
    except (TypeError, ValueError):
        return str(vintage or "")


# --- read functions ------------------------------------------------------------------------------


def sources_loaded(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Files, rows and vintages per source and status, from marts.loads."""
    return con.execute(
        """
        select source, status, count(*) as files, cast(sum(rows) as bigint) as rows,
               string_agg(distinct vintage, ', ' order by vintage) as vintages,
               max(loaded_at) as last_loaded, bool_or(synthetic) as synthetic
        from marts.loads
        group by source, status
        order by source, status
        """
    ).df()


def files_loaded(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per loaded file with its validation result (the report column)."""
    return con.execute(
        """
        select load_seq, source, regexp_extract(path, '[^/\\\\!]+$') as file, path,
               rows, published_rows, vintage, status, loaded_at,
               report ->> 'suite' as suite,
               try_cast(report ->> 'evaluated' as integer) as expectations,
               coalesce(json_array_length(report -> 'failures'), 0) as failed,
               try_cast(report ->> 'success' as boolean) as passed
        from marts.loads
        order by load_seq
        """
    ).df()


def latest_periods(
    con: duckdb.DuckDBPyConnection, targets: tuple[tuple[str, str], ...]
) -> dict[tuple[str, str], Any]:
    """The latest value of each (mart, column); None where the mart is empty or missing."""
    present = {
        (t, c)
        for t, c in con.execute(
            "select table_name, column_name from information_schema.columns "
            "where table_schema = 'marts'"
        ).fetchall()
    }
    latest: dict[tuple[str, str], Any] = {}
    for mart, column in targets:
        if (mart, column) not in present:
            latest[(mart, column)] = None
            continue
        sql = f'select max("{column}") from marts."{mart}"'
        latest[(mart, column)] = con.execute(sql).fetchall()[0][0]
    return latest


def freshness(
    feeds: tuple[Feed, ...], latest: dict[tuple[str, str], Any], today: dt.date
) -> pd.DataFrame:
    """Per feed: the latest period held, when the next is due and whether it is overdue."""
    rows = []
    for feed in feeds:
        value = latest.get((feed.mart, feed.period_column)) if feed.period_column else None
        row: dict[str, Any] = {
            "feed": feed.id,
            "source": feed.label,
            "publisher": feed.publisher,
            "mart": f"marts.{feed.mart}",
            "cadence": feed.cadence,
            "latest": None,
            "expected": feed.lag_text,
            "next_period": None,
            "next_due": None,
            "status": "",
            "days_overdue": None,
        }
        if value is not None and feed.period:
            end = period_end(feed.period, value)
            row["latest"] = period_text(feed.period, end)
            if feed.scheduled:
                next_end = add_months(end, STEP_MONTHS[feed.period])
                due = next_end + dt.timedelta(days=int(feed.lag_days or 0))
                row["next_period"] = period_text(feed.period, next_end)
                row["next_due"] = due
                late = (today - due).days
                row["days_overdue"] = max(late, 0)
                row["status"] = f"Overdue by {late:,} days" if late > 0 else "Up to date"
        if not feed.scheduled:
            row["status"] = "No fixed schedule"
        elif value is None:
            row["status"] = "Not loaded"
        rows.append(row)
    return pd.DataFrame(rows)


# --- quarantine ---------------------------------------------------------------------------------


def read_quarantine(folder: Path) -> list[dict[str, Any]]:
    """The refused files in the quarantine folder, newest first, with their reports."""
    if not folder.is_dir():
        return []
    records = []
    for path in sorted(folder.glob("*.json"), reverse=True):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            record = {"file": path.name, "reason": f"the report could not be read ({exc})"}
        text_path = path.with_suffix(".txt")
        text = ""
        if text_path.is_file():
            text = text_path.read_text(encoding="utf-8", errors="replace")
        given = str(record.get("file") or path.name)
        record["name"] = PurePath(given.split("!")[-1]).name
        # The loader's own folders are no reader's business: name the file only.
        record["report_text"] = text.replace(given, record["name"]) if given else text
        record["report_file"] = path.name
        records.append(record)
    return records


# --- revisions between vintages ---------------------------------------------------------------

REVISION_CELLS = f"""
with vintages as (
    select vintage, max(load_seq) as load_seq
    from marts.{REVISED_MART}
    group by vintage
    order by vintage desc
    limit 2
),
newer as (select * from vintages order by vintage desc limit 1),
older as (select * from vintages order by vintage desc offset 1 limit 1),
before_rows as (
    select c.* from marts.{REVISED_MART} c join older using (vintage, load_seq)
),
after_rows as (
    select c.* from marts.{REVISED_MART} c join newer using (vintage, load_seq)
),
shared_months as (
    select month from before_rows intersect select month from after_rows
),
cells as (
    select {", ".join(CELL_KEY)},
           b.offences as before, a.offences as after,
           (select vintage from older) as older_vintage,
           (select vintage from newer) as newer_vintage
    from (select * from before_rows semi join shared_months using (month)) b
    full outer join (select * from after_rows semi join shared_months using (month)) a
        using ({", ".join(CELL_KEY)})
)
"""


def revision_summary(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The two newest vintages compared on the months both cover: cells and totals."""
    row = con.execute(
        REVISION_CELLS
        + """
        select any_value(older_vintage), any_value(newer_vintage), min(month), max(month),
               count(distinct month),
               count(*) filter (where before is not null and after is not null),
               count(*) filter (where before <> after),
               count(*) filter (where before is null),
               count(*) filter (where after is null),
               sum(before), sum(after)
        from cells
        """
    ).fetchall()[0]
    keys = (
        "older_vintage", "newer_vintage", "first_month", "last_month", "months",
        "cells_compared", "cells_revised", "cells_added", "cells_removed",
        "total_before", "total_after",
    )  # fmt: skip
    summary = dict(zip(keys, row, strict=True))
    for key in ("total_before", "total_after"):
        summary[key] = int(summary[key]) if summary[key] is not None else None
    return summary


def revisions_by_month(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Per shared month: cells revised and total offences in each vintage."""
    sql = (
        REVISION_CELLS
        + """
        select month,
               count(*) filter (where before <> after) as cells_revised,
               cast(sum(before) as bigint) as offences_before,
               cast(sum(after) as bigint) as offences_after,
               cast(coalesce(sum(after), 0) - coalesce(sum(before), 0) as bigint) as change
        from cells
        group by month
        order by month
        """
    )
    return frame_of(con.sql(sql))


def biggest_revisions(con: duckdb.DuckDBPyConnection, limit: int) -> pd.DataFrame:
    """The cells revised most, by the size of the change."""
    sql = (
        REVISION_CELLS
        + """
        select month, borough_name, major_category, minor_category,
               before as offences_before, after as offences_after,
               coalesce(after, 0) - coalesce(before, 0) as change
        from cells
        where before is distinct from after
        order by abs(change) desc, month, borough_name, major_category, minor_category
        limit ?
        """
    )
    return frame_of(con.sql(sql, params=[limit]))


# --- level steps -------------------------------------------------------------------------------


def level_steps(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Candidate level steps in London's monthly series, each matched to a configured break.

    One row per step found (or, for a series with none, its best candidate); the scan and the
    matching are in oversight/step_scan.py, the statistics in oversight/steps.py.
    """
    return step_scan.step_candidates(con)
