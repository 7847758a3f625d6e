"""Data explorer: a mart's dictionary entry, filters, a pivot with its chart, and downloads.

Filtering, counting and pivoting run in DuckDB (oversight.explore), so a big mart is never
loaded whole. In internal mode a read-only SQL console (oversight.sandbox) follows; public
mode has no console at all.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

import pandas as pd
import streamlit as st

from oversight import explore, exports, ui
from oversight.dictionary import load_dictionary
from oversight.settings import get_settings

ui.ensure_navigation()
settings = get_settings()
ui.require_warehouse(settings)
status = ui.current_status(settings)
# Public mode offers only the open-data marts, with server paths shown as file names
# (config/public.yaml); internal mode offers every mart as stored.
public = settings.mode == "public"


def plain(value: Any) -> Any:
    """A value from a frame as a plain Python value (None for missing), for filters."""
    if value is None or (not isinstance(value, str | bool) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def category_filter(mart: str, column: str, container: Any) -> explore.Filter | None:
    """A multiselect of the column's most common values; None while nothing is chosen."""
    values = ui.read(
        settings, explore.column_values, mart, column, explore.VALUE_CHOICES, public
    )
    options = [plain(v) for v in values["value"]]
    chosen = container.multiselect(
        column, options, key=f"filter_{mart}_{column}", format_func=explore.display
    )
    distinct = int(values["distinct_values"].iloc[0]) if len(values) else 0
    if distinct > len(options):
        container.caption(f"The {len(options):,} most common of {distinct:,} values.")
    return ("in", column, tuple(chosen)) if chosen else None


def range_filter(mart: str, column: str, type_name: str, container: Any) -> explore.Filter | None:
    """A slider over the column's range; None while the whole range is kept."""
    low, high = ui.read(settings, explore.column_range, mart, column, public)
    if low is None or low == high:
        container.caption(f"{column}: {'no values' if low is None else explore.display(low)}")
        return None
    if type_name == "DATE":
        low, high = pd.Timestamp(low).date(), pd.Timestamp(high).date()
        step = dt.timedelta(days=1)
    elif type_name in explore.INTEGER_TYPES:
        low, high, step = int(low), int(high), 1
    else:
        low, high, step = float(low), float(high), None
    chosen = container.slider(
        column, min_value=low, max_value=high, value=(low, high), step=step,
        key=f"filter_{mart}_{column}",
    )  # fmt: skip
    return None if tuple(chosen) == (low, high) else ("between", column, chosen[0], chosen[1])


def show_dictionary_entry(mart: str) -> None:
    entry = dictionary.mart(mart)
    st.subheader(f"{entry.title} (marts.{mart})")
    st.markdown(entry.description)
    st.markdown(
        f"**One row is** {entry.grain}. **Source:** {entry.source}. **Status:** {entry.status}"
        + (" (its columns may still change)." if entry.status == "provisional" else ".")
    )
    for caveat in entry.caveats:
        st.markdown(f"- ⚠️ {caveat}")
    with st.expander(f"Columns and what they mean ({len(entry.columns)})"):
        st.table(
            pd.DataFrame(
                [(c.name, c.type, c.meaning, c.caveats) for c in entry.columns],
                columns=["column", "type", "meaning", "caveats"],
            ).set_index("column")
        )


def choose_filters(mart: str, columns: pd.DataFrame) -> explore.Filters:
    kinds = explore.column_kinds(columns)
    types = dict(zip(columns["column"], columns["type"], strict=True))
    usable = [c for c, k in kinds.items() if k != "other"]
    picked = st.multiselect(
        "Filter by these columns", usable, key=f"filter_columns_{mart}",
        help="Choose columns, then the values or range to keep.",
    )  # fmt: skip
    filters = []
    slots = st.columns(2) if picked else []
    for i, column in enumerate(picked):
        box = slots[i % 2]
        spec = (
            category_filter(mart, column, box)
            if kinds[column] == "category"
            else range_filter(mart, column, types[column], box)
        )
        if spec is not None:
            filters.append(spec)
    return tuple(filters)


def show_rows_and_downloads(mart: str, filters: explore.Filters, total: int) -> int:
    matching = ui.read(settings, explore.count_rows, mart, filters, public)
    st.markdown(f"**{matching:,}** of {total:,} rows match.")
    preview = ui.read(
        settings, explore.filtered_rows, mart, filters, explore.PREVIEW_ROWS, public
    )
    st.dataframe(preview, hide_index=True, width="stretch", height=320)
    if matching > len(preview):
        st.caption(f"The first {len(preview):,} matching rows are shown.")
    cap = explore.EXPORT_ROW_CAP
    left, middle, right, note = st.columns([1, 1, 1, 3])
    for fmt, label, mime, box in (
        ("csv", "Download CSV", "text/csv", left),
        ("xlsx", "Download Excel", exports.MIME_TYPES["xlsx"], middle),
        ("parquet", "Download Parquet", "application/vnd.apache.parquet", right),
    ):
        box.download_button(
            label,
            functools.partial(
                explore.export_filtered, settings.warehouse, mart, filters, fmt, cap, public
            ),
            file_name=f"{mart}.{fmt}",
            mime=mime,
            key=f"download_{fmt}",
            on_click="ignore",
        )
    held = min(matching, cap)
    note.caption(
        f"Downloads hold the filtered rows, at most {cap:,} ({held:,} here"
        + (f"; {matching - cap:,} more match: filter further to get them all)." if matching > cap
           else ").")
    )  # fmt: skip
    return matching


def show_pivot(mart: str, filters: explore.Filters, columns: pd.DataFrame) -> None:
    st.subheader("Pivot")
    dims = explore.dimension_columns(columns)
    if not dims:
        st.info("This mart has no columns to group by.")
        return
    types = dict(zip(columns["column"], columns["type"], strict=True))
    a, b, c = st.columns(3)
    rows = ui.param_select("Rows", dims, key="pivot_rows", container=a)
    cols = ui.param_select(
        "Columns", ["(none)", *[d for d in dims if d != rows]], key="pivot_columns", container=b
    )
    cols = None if cols == "(none)" else cols
    choices = explore.value_choices(columns)
    choice = ui.param_select(
        "Value", choices, key="pivot_value", default=explore.default_value(columns),
        format_func=explore.value_choice_label, container=c,
    )  # fmt: skip
    aggregate, measure = explore.parse_value(choice)
    label = explore.value_label(aggregate, measure)
    long = ui.read(
        settings, explore.pivot_long, mart, filters, rows, cols, aggregate, measure,
        explore.MAX_PIVOT_GROUPS, public,
    )  # fmt: skip
    if len(long) > explore.MAX_PIVOT_GROUPS:
        st.warning(
            f"This pivot has more than {explore.MAX_PIVOT_GROUPS:,} groups. Filter the rows or "
            "choose columns with fewer distinct values."
        )
        return
    if long.empty:
        st.info("No rows match the filters.")
        return
    finding = explore.pivot_finding(long, rows, cols, types[rows], aggregate, label)
    title = finding + ui.synthetic_suffix(status)
    fig, notes = explore.pivot_chart(long, rows, cols, types[rows], aggregate, label, title)
    table = explore.pivot_wide(long).rename(columns={"row": rows, "value": label})
    filtered = f" Filtered: {describe_filters(filters)}." if filters else ""
    ui.show_chart(
        fig,
        table,
        key="pivot",
        source=f"marts.{mart} ({dictionary.mart(mart).source}).{filtered}",
        filename=f"{mart}_pivot",
        notes=notes,
    )


def describe_filters(filters: explore.Filters) -> str:
    parts = []
    for spec in filters:
        if spec[0] == "in":
            shown = ", ".join(explore.display(v) for v in spec[2][:5])
            more = f" and {len(spec[2]) - 5} more" if len(spec[2]) > 5 else ""
            parts.append(f"{spec[1]} is {shown}{more}")
        else:
            low, high = explore.display(spec[2]), explore.display(spec[3])
            parts.append(f"{spec[1]} from {low} to {high}")
    return "; ".join(parts)


def show_console() -> None:
    """The read-only SQL console (internal mode only)."""
    from oversight.sandbox import SandboxRefused, describe_limits, load_limits, run_query

    limits = load_limits(settings.config_dir / "sandbox.yaml")
    st.subheader("SQL console (read-only)")
    st.caption(
        describe_limits(limits) + " The marts are in schema `marts` (e.g. `from marts.loads`)."
    )
    query = st.text_area(
        "Query",
        value="select source, count(*) as files from marts.loads group by source order by 2 desc",
        key="console_query",
        height=140,
    )
    if st.button("Run query", key="console_run", type="primary"):
        try:
            st.session_state["console_result"] = run_query(settings.warehouse, query, limits)
            st.session_state["console_refusal"] = None
        except SandboxRefused as exc:
            st.session_state["console_result"] = None
            st.session_state["console_refusal"] = exc.message
    refusal = st.session_state.get("console_refusal")
    result = st.session_state.get("console_result")
    if refusal:
        st.error(f"**Refused.** {refusal}", icon="⛔")
    elif result is not None:
        rows = len(result.frame)
        st.caption(
            f"{rows:,} row{'s' if rows != 1 else ''} in {result.seconds:.2f} s"
            + (f" — cut at the row cap of {result.row_cap:,}." if result.truncated else ".")
        )
        st.dataframe(result.frame, hide_index=True, width="stretch")
        ui.download_buttons(result.frame, "query_result", "console")


st.title("Data explorer")
st.markdown(
    "Every table the dashboard draws on, with its entry in the data dictionary. Filter the rows, "
    "make a simple pivot and download what you need. Tables are in the warehouse's `marts` "
    "schema."
)
if public:
    st.caption(
        "Tables built from published open data only; files the dashboard was loaded from are "
        "named without their folders."
    )

dictionary = load_dictionary(settings.config_dir / "dictionary.yaml")
sizes = ui.read(settings, explore.mart_sizes)
if public:
    sizes = explore.public_marts(sizes)
held = dict(zip(sizes["mart"], sizes["rows"], strict=True))
names = [m for m in dictionary.names if m in held]
mart = ui.param_select(
    "Table",
    names,
    key="mart",
    default="crime_borough_monthly",
    format_func=lambda m: f"{dictionary.mart(m).title} (marts.{m}, {held[m]:,} rows)",
    container=st,
)
show_dictionary_entry(mart)
mart_columns = ui.read(settings, explore.mart_columns, mart)

st.subheader("Rows")
mart_filters = choose_filters(mart, mart_columns)
show_rows_and_downloads(mart, mart_filters, int(held[mart]))
show_pivot(mart, mart_filters, mart_columns)

if settings.mode == "internal":
    show_console()
