"""Read functions and figures for the Data explorer: filter, pivot and export any mart in DuckDB.

Every function that touches the warehouse takes ``(con, mart, ...)`` with hashable arguments so
pages can call it through ``ui.read``. Mart and column names are checked against the
warehouse's own catalogue before they are quoted into SQL; filter values always travel as
parameters. Filtering, counting, pivoting and limiting happen in DuckDB, so a big mart
(street-level crime, stop and search, ward crime) is never loaded whole.

A filter is a tuple: ``("in", column, (value, ...))`` keeps rows whose value is one of those
given (``None`` stands for blank), ``("between", column, low, high)`` keeps rows in a closed
range.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import plotly.graph_objects as go

from oversight import exports
from oversight.charts import PALETTE, base_layout
from oversight.public_scope import PublicScopeError, load_public_scope, public_source
from oversight.sandbox import frame_of
from oversight.warehouse import connect

Filter = tuple[Any, ...]
Filters = tuple[Filter, ...]

CATEGORICAL_TYPES = ("VARCHAR", "BOOLEAN")
NUMERIC_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "DOUBLE", "FLOAT")
RANGE_TYPES = ("DATE", *NUMERIC_TYPES)
AGGREGATES = {"count": "Number of rows", "sum": "Sum of", "mean": "Average of"}
# Lines, not bars, when a pivot's rows are one of these (a time series).
TIME_TYPES = ("DATE",)
# Series colours: the palette without yellow (too light for lines and text on white).
SERIES_COLOURS = tuple(c for c in PALETTE if c != "#F0E442")
CHART_SERIES = len(SERIES_COLOURS)
OTHER_COLOUR = "#888888"  # 3.5:1 on white
CHART_BARS = 30
BLANK = "(blank)"
PREVIEW_ROWS = 1_000  # rows shown on the page
EXPORT_ROW_CAP = 100_000  # rows in a download at most
VALUE_CHOICES = 1_000  # values offered in a filter list at most
MAX_PIVOT_GROUPS = 5_000  # row x column groups a pivot may have
INTEGER_TYPES = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT")
# Integer columns that identify or place a row rather than measure something.
NOT_MEASURES = ("_seq", "_line", "year")


class ExploreError(ValueError):
    """A mart, column or filter the explorer cannot use; the message names it."""


# --- the catalogue ---------------------------------------------------------------------------


def mart_sizes(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Every table in the marts schema with its row count (from DuckDB's catalogue)."""
    return con.execute(
        """
        select table_name as mart, estimated_size as rows
        from duckdb_tables()
        where schema_name = 'marts'
        order by table_name
        """
    ).df()


def mart_columns(con: duckdb.DuckDBPyConnection, mart: str) -> pd.DataFrame:
    """The columns of ``marts.<mart>`` in order, with their DuckDB types."""
    frame = con.execute(
        """
        select column_name as column, data_type as type
        from information_schema.columns
        where table_schema = 'marts' and table_name = ?
        order by ordinal_position
        """,
        [mart],
    ).df()
    if frame.empty:
        raise ExploreError(f"the warehouse has no table marts.{mart}")
    return frame


def quote(name: str) -> str:
    """A SQL identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def table_of(mart: str) -> str:
    return f"marts.{quote(mart)}"


def source_of(mart: str, public: bool) -> str:
    """What a query reads ``mart`` from: the table, or in public mode its public view.

    Public mode refuses a mart outside the open-data allow-list and shows server paths as
    file names only (config/public.yaml, oversight.public_scope).
    """
    if not public:
        return table_of(mart)
    try:
        return public_source(mart, load_public_scope())
    except PublicScopeError as exc:
        raise ExploreError(str(exc)) from exc


def public_marts(sizes: pd.DataFrame) -> pd.DataFrame:
    """The rows of :func:`mart_sizes` public mode may list (the open-data allow-list)."""
    scope = load_public_scope()
    return sizes[[scope.allows(m) for m in sizes["mart"]]].reset_index(drop=True)


def column_kinds(columns: pd.DataFrame) -> dict[str, str]:
    """Each column's kind for the explorer: category, range, or other (not filterable)."""
    kinds = {}
    for name, type_name in zip(columns["column"], columns["type"], strict=True):
        if type_name in CATEGORICAL_TYPES:
            kinds[name] = "category"
        elif type_name in RANGE_TYPES:
            kinds[name] = "range"
        else:
            kinds[name] = "other"
    return kinds


def known_column(con: duckdb.DuckDBPyConnection, mart: str, column: str) -> str:
    """The quoted column, after checking the mart has it."""
    columns = set(mart_columns(con, mart)["column"])
    if column not in columns:
        raise ExploreError(f"marts.{mart} has no column {column!r}")
    return quote(column)


# --- filters ---------------------------------------------------------------------------------


def where_clause(
    con: duckdb.DuckDBPyConnection, mart: str, filters: Filters
) -> tuple[str, list[Any]]:
    """The WHERE clause (or '') and its parameters for a tuple of filters."""
    clauses: list[str] = []
    params: list[Any] = []
    for spec in filters:
        kind, column = spec[0], spec[1]
        name = known_column(con, mart, column)
        if kind == "in":
            values = list(spec[2])
            parts = []
            present = [v for v in values if v is not None]
            if present:
                parts.append(f"{name} in ({', '.join('?' * len(present))})")
                params.extend(present)
            if len(present) < len(values):
                parts.append(f"{name} is null")
            clauses.append("(" + " or ".join(parts) + ")" if parts else "false")
        elif kind == "between":
            clauses.append(f"{name} between ? and ?")
            params.extend([spec[2], spec[3]])
        else:
            raise ExploreError(f"unknown filter kind {kind!r} on {column!r}")
    return (" where " + " and ".join(clauses) if clauses else ""), params


def column_values(
    con: duckdb.DuckDBPyConnection, mart: str, column: str, limit: int, public: bool = False
) -> pd.DataFrame:
    """The ``limit`` most common values of a column, with their rows and the distinct count."""
    name = known_column(con, mart, column)
    return con.execute(
        f"""
        select {name} as value, count(*) as rows, count(*) over () as distinct_values
        from {source_of(mart, public)}
        group by {name}
        order by rows desc, value nulls last
        limit ?
        """,
        [limit],
    ).df()


def column_range(
    con: duckdb.DuckDBPyConnection, mart: str, column: str, public: bool = False
) -> tuple[Any, Any]:
    """The smallest and largest value of a column."""
    name = known_column(con, mart, column)
    source = source_of(mart, public)
    return tuple(con.execute(f"select min({name}), max({name}) from {source}").fetchall()[0])


def count_rows(
    con: duckdb.DuckDBPyConnection, mart: str, filters: Filters = (), public: bool = False
) -> int:
    """Rows of the mart that pass the filters."""
    where, params = where_clause(con, mart, filters)
    source = source_of(mart, public)
    return int(con.execute(f"select count(*) from {source}{where}", params).fetchall()[0][0])


def filtered_relation(
    con: duckdb.DuckDBPyConnection, mart: str, filters: Filters, limit: int, public: bool = False
) -> duckdb.DuckDBPyRelation:
    where, params = where_clause(con, mart, filters)
    source = source_of(mart, public)
    return con.sql(f"select * from {source}{where} limit {int(limit)}", params=params)


def filtered_rows(
    con: duckdb.DuckDBPyConnection, mart: str, filters: Filters, limit: int, public: bool = False
) -> pd.DataFrame:
    """At most ``limit`` rows of the mart that pass the filters, in stored order."""
    return frame_of(filtered_relation(con, mart, filters, limit, public))


def export_filtered(
    warehouse: Path, mart: str, filters: Filters, fmt: str, limit: int, public: bool = False
) -> bytes:
    """The filtered rows (at most ``limit``) as CSV, XLSX or Parquet bytes, for a download.

    CSV and XLSX go through oversight.exports (formula injection neutralised). Parquet is
    written from DuckDB's typed result as is: it is read by analysis tools, which never run a
    text cell as a formula (see oversight.exports).
    """
    with connect(warehouse) as con:
        relation = filtered_relation(con, mart, filters, limit, public)
        if fmt in exports.FORMATS:
            return exports.frame_bytes(frame_of(relation), fmt)
        if fmt == "parquet":
            import pyarrow.parquet as pq

            buffer = io.BytesIO()
            pq.write_table(relation.to_arrow_table(), buffer)
            return buffer.getvalue()
    raise ExploreError(f"unknown download format {fmt!r}")


# --- pivot -----------------------------------------------------------------------------------


def dimension_columns(columns: pd.DataFrame) -> list[str]:
    """Columns a pivot can group by: text, yes/no, dates and whole numbers."""
    wanted = (*CATEGORICAL_TYPES, "DATE", *INTEGER_TYPES)
    return [c for c, t in zip(columns["column"], columns["type"], strict=True) if t in wanted]


def value_choices(columns: pd.DataFrame) -> list[str]:
    """What a pivot can show: 'count', or 'sum:<column>' / 'mean:<column>' of a number."""
    numeric = [c for c, t in zip(columns["column"], columns["type"], strict=True)
               if t in NUMERIC_TYPES]  # fmt: skip
    return ["count", *(f"{a}:{c}" for c in numeric for a in ("sum", "mean"))]


def default_value(columns: pd.DataFrame) -> str:
    """The sum of the first whole-number measure (e.g. offences), else the number of rows."""
    for name, type_name in zip(columns["column"], columns["type"], strict=True):
        if type_name in INTEGER_TYPES and not name.endswith(NOT_MEASURES):
            return f"sum:{name}"
    return "count"


def parse_value(choice: str) -> tuple[str, str | None]:
    """'sum:offences' -> ('sum', 'offences'); 'count' -> ('count', None)."""
    aggregate, _, measure = choice.partition(":")
    return aggregate, measure or None


def value_choice_label(choice: str) -> str:
    return value_label(*parse_value(choice))


def value_label(aggregate: str, measure: str | None) -> str:
    """How a pivot's value is named: 'Number of rows', 'Sum of offences'."""
    if aggregate not in AGGREGATES:
        raise ExploreError(f"unknown aggregate {aggregate!r}")
    return AGGREGATES[aggregate] if aggregate == "count" else f"{AGGREGATES[aggregate]} {measure}"


def pivot_long(
    con: duckdb.DuckDBPyConnection,
    mart: str,
    filters: Filters,
    rows: str,
    columns: str | None,
    aggregate: str,
    measure: str | None,
    max_groups: int,
    public: bool = False,
) -> pd.DataFrame:
    """The pivot as long rows (row, [column,] value), aggregated in DuckDB.

    At most ``max_groups + 1`` groups come back, so a caller can tell it was cut.
    """
    where, params = where_clause(con, mart, filters)
    keys = [known_column(con, mart, rows)]
    names = ["row"]
    if columns:
        keys.append(known_column(con, mart, columns))
        names.append("col")
    if aggregate == "count":
        value = "count(*)"
    elif aggregate in ("sum", "mean") and measure:
        function = "sum" if aggregate == "sum" else "avg"
        value = f"{function}({known_column(con, mart, measure)})"
    else:
        raise ExploreError(f"aggregate {aggregate!r} needs a measure column")
    selected = ", ".join(f"{k} as {n}" for k, n in zip(keys, names, strict=True))
    relation = con.sql(
        f"""
        select {selected}, {value} as value
        from {source_of(mart, public)}{where}
        group by all
        order by all
        limit {int(max_groups) + 1}
        """,
        params=params,
    )
    return frame_of(relation)


def pivot_wide(long: pd.DataFrame) -> pd.DataFrame:
    """The pivot table as shown: one row per row value, one column per column value."""
    if "col" not in long.columns:
        return long
    table = long.assign(col=long["col"].astype(object).where(long["col"].notna(), BLANK))
    wide = table.pivot_table(index="row", columns="col", values="value", aggfunc="sum", sort=True)
    wide.columns = [str(c) for c in wide.columns]
    return wide.reset_index()


def display(value: Any) -> str:
    """A pivot key as text for titles and axes."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return BLANK
    if hasattr(value, "strftime"):
        return f"{value:%B %Y}" if getattr(value, "day", 1) == 1 else f"{value:%d %B %Y}"
    return str(value)


def number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() or abs(value) >= 100 else f"{value:,.3g}"


def pivot_finding(
    long: pd.DataFrame, rows: str, columns: str | None, rows_type: str, aggregate: str,
    label: str,
) -> str:  # fmt: skip
    """A title stating what the pivot shows.

    Over time: the peak and the latest value (or, per column, which is highest at the latest
    period). Otherwise: the largest row and its share of the total where values add up, or the
    highest cell of an average.
    """
    if long.empty or long["value"].dropna().empty:
        return f"{label} by {rows}: no rows match the filters"
    cells = long.dropna(subset=["value"])
    if rows_type in TIME_TYPES and columns:
        last = cells["row"].max()
        at_last = cells[cells["row"] == last].sort_values("value", ascending=False).iloc[0]
        return (
            f"{label} by {rows} and {columns}: at the latest ({display(last)}), "
            f"{display(at_last['col'])} is highest at {number(float(at_last['value']))}"
        )
    if aggregate == "mean" and columns:
        top_cell = cells.sort_values("value", ascending=False).iloc[0]
        return (
            f"{label} is highest for {display(top_cell['row'])} and {display(top_cell['col'])}: "
            f"{number(float(top_cell['value']))}"
        )
    totals = cells.groupby("row", sort=True)["value"].sum()
    top_key, top = totals.idxmax(), float(totals.max())
    if rows_type in TIME_TYPES:
        last_key, last = totals.index[-1], float(totals.iloc[-1])
        return (
            f"{label} by {rows}: highest {number(top)} in {display(top_key)}; "
            f"{number(last)} in {display(last_key)}"
        )
    if aggregate == "mean":
        return f"{display(top_key)} has the highest {label.lower()}: {number(top)}"
    total = float(totals.sum())
    share = top / total if total else 0.0
    return (
        f"{display(top_key)} has the largest {label.lower()}: {number(top)} "
        f"({share:.0%} of {number(total)})"
    )


def chart_series(frame: pd.DataFrame) -> tuple[list[str], bool]:
    """The column values to draw by name (largest total first) and whether some were left out."""
    totals = frame.groupby("col_text")["value"].sum().sort_values(ascending=False)
    keys = list(totals.index)
    return keys[:CHART_SERIES], len(keys) > CHART_SERIES


def pivot_chart(
    long: pd.DataFrame, rows: str, columns: str | None, rows_type: str, aggregate: str,
    label: str, title: str,
) -> tuple[go.Figure, list[str]]:  # fmt: skip
    """The pivot as lines (rows are dates) or horizontal bars, and notes on what was left out.

    With a column dimension, the largest column values get a series each; for sums and counts
    the rest are added up as one grey "other" series, so bars keep their full length.
    """
    notes: list[str] = []
    fig = go.Figure()
    as_lines = rows_type in TIME_TYPES
    frame = long.assign(row_text=long["row"].map(display))
    if columns:
        frame = frame.assign(col_text=frame["col"].map(display))
    if not as_lines:
        order = frame.groupby("row_text")["value"].sum().sort_values(ascending=False)
        if len(order) > CHART_BARS:
            notes.append(f"The chart shows the {CHART_BARS} largest of {len(order)} rows.")
        keep = list(order.index[:CHART_BARS])
        frame = frame[frame["row_text"].isin(keep)]
    traces: list[tuple[str, pd.DataFrame, str]] = [(label, frame, SERIES_COLOURS[0])]
    if columns:
        keys, cut = chart_series(frame)
        traces = [
            (key, frame[frame["col_text"] == key], SERIES_COLOURS[i]) for i, key in enumerate(keys)
        ]
        if cut and aggregate != "mean":
            rest = frame[~frame["col_text"].isin(keys)]
            rest = rest.groupby(["row", "row_text"], dropna=False, as_index=False)["value"].sum()
            traces.append((f"all other {columns} values", rest, OTHER_COLOUR))
            notes.append(f"Beyond the {CHART_SERIES} largest, {columns} values are added up.")
        elif cut:
            notes.append(f"The chart shows the {CHART_SERIES} largest {columns} values.")
    for name, part, colour in traces:
        if as_lines:
            part = part.sort_values("row")
            fig.add_trace(
                go.Scatter(x=part["row"], y=part["value"], mode="lines", name=name,
                           line={"color": colour, "width": 2})
            )  # fmt: skip
        else:
            fig.add_trace(
                go.Bar(x=part["value"], y=part["row_text"], orientation="h", name=name,
                       marker_color=colour)
            )  # fmt: skip
    if not as_lines:
        fig.update_yaxes(categoryorder="array", categoryarray=list(reversed(keep)))
    stacked = bool(columns) and aggregate != "mean" and not as_lines
    legend_height = 24 * len(traces) + 140 if columns else 0
    if as_lines:
        height = max(420, legend_height)
    else:
        per_row = 26 if stacked or not columns else 12 + 10 * len(traces)
        height = max(320, per_row * frame["row_text"].nunique() + 140, legend_height)
    base_layout(fig, title, height=height)
    fig.update_layout(
        barmode="stack" if stacked else "group",
        showlegend=bool(columns),
        legend={"orientation": "v", "x": 1.01, "xanchor": "left", "y": 1, "yanchor": "top",
                "title": {"text": columns or ""}, "traceorder": "normal"},
    )  # fmt: skip
    if as_lines:
        fig.update_xaxes(title_text=rows)
        fig.update_yaxes(title_text=label)
    else:
        fig.update_xaxes(title_text=label, gridcolor="#e5e5e5", rangemode="tozero")
        fig.update_yaxes(title_text=None, gridcolor="rgba(0,0,0,0)", automargin=True)
    return fig, notes
