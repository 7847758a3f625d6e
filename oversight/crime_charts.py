"""Plotly figures for the Crime page: XmR trend, trend lines, funnel, tile map and ward bars.

DataFrame in, figure out; no streamlit. Colours come from :mod:`oversight.charts`. Crime
counts and rates are context here, so nothing is coloured good or bad: special-cause months
and boroughs outside the funnel limits are marked by symbol *and* colour, and named.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from datetime import date

import pandas as pd
import plotly.graph_objects as go
from plotly.colors import sample_colorscale

from oversight import crime
from oversight.charts import (
    BREAK_COLOUR,
    LIMIT_COLOUR,
    LONDON_COLOUR,
    NEUTRAL,
    PALETTE,
    base_layout,
)
from oversight.plan import Break

SPECIAL_CAUSE = "#7B3294"  # Making Data Count's neutral purple: a signal, neither good nor bad
HISTORY = "#9E9E9E"
OUTSIDE_WIDE = PALETTE[0]
OUTSIDE_NARROW = PALETTE[3]
OUTSIDE_MPS = "#D9D9D9"
TILE_SCALE = "cividis"

NAMES = {
    "value": "{label}",
    "centre": "Mean since {since}",
    "upper": "Upper process limit",
    "lower": "Lower process limit",
    "high": "Special cause: high (▲)",
    "low": "Special cause: low (▼)",
}


def _short_month(month: date | pd.Timestamp) -> str:
    return f"{pd.Timestamp(month):%b %Y}"


def add_breaks(fig: go.Figure, breaks: Sequence[Break], first: date, last: date) -> go.Figure:
    """A dotted vertical line at each break in view, labelled with the break and its month."""
    span = (pd.Timestamp(last) - pd.Timestamp(first)).days or 1
    for number, brk in enumerate(crime.breaks_in_view(breaks, first, last)):
        when = pd.Timestamp(crime.month_date(brk.date))
        right_half = (when - pd.Timestamp(first)).days / span > 0.5
        fig.add_shape(
            type="line",
            x0=when,
            x1=when,
            y0=0,
            y1=1,
            xref="x",
            yref="paper",
            line={"color": BREAK_COLOUR, "width": 2, "dash": "dot"},
            name=brk.id,
        )
        fig.add_annotation(
            x=when,
            y=1 - 0.09 * number,
            xref="x",
            yref="paper",
            text=f"{brk.label}, {_short_month(when)}",
            showarrow=False,
            xanchor="right" if right_half else "left",
            xshift=-4 if right_half else 4,
            yanchor="top",
            font={"size": 12, "color": BREAK_COLOUR},
            bgcolor="rgba(255,255,255,0.85)",
            name=brk.id,
        )
    return fig


TITLE_WIDTH = 95  # characters per title line before wrapping (plotly titles do not wrap)
SUBTITLE_WIDTH = 130


def wrap(text: str, width: int) -> str:
    """Break a title into lines of at most ``width`` characters with <br>."""
    return "<br>".join(textwrap.wrap(text, width, break_long_words=False)) if text else ""


def _layout(fig: go.Figure, title: str, subtitle: str, height: int) -> None:
    """The house layout with a wrapped finding as the title and a wrapped subtitle."""
    title_text, subtitle_text = wrap(title, TITLE_WIDTH), wrap(subtitle, SUBTITLE_WIDTH)
    base_layout(fig, title_text, height=height)
    lines = title_text.count("<br>") + 1
    sub_lines = subtitle_text.count("<br>") + 1 if subtitle_text else 0
    top = 40 + 24 * lines + 19 * sub_lines
    total = height + top - 70
    fig.update_layout(
        height=total,
        margin={"t": top, "b": 120},
        title={"y": 1 - 12 / total, "yanchor": "top"},
        # below the axis title, not over the tick labels
        legend={"y": -0.1, "yanchor": "top", "yref": "paper"},
    )
    if subtitle_text:
        fig.update_layout(title_subtitle_text=subtitle_text, title_subtitle_font={"size": 13})


def xmr_figure(
    xmr: crime.Xmr,
    breaks: Sequence[Break],
    *,
    title: str,
    subtitle: str,
    value_label: str,
    y_title: str,
    value_format: str = ",.0f",
) -> go.Figure:
    """Monthly values with the centre line and natural process limits since the last break."""
    frame = xmr.frame
    fig = go.Figure()
    hover = f"%{{x|%B %Y}}: %{{y:{value_format}}}" + (
        f" seasonally adjusted (published %{{customdata[0]:{value_format}}})<extra></extra>"
        if xmr.adjusted
        else "<extra></extra>"
    )
    history = frame[~frame["in_limits"]]
    if not history.empty:
        # Earlier months are drawn for context but take no part in the limits.
        joined = pd.concat([history, frame[frame["in_limits"]].head(1)])
        fig.add_trace(
            go.Scatter(
                x=joined["month"],
                y=joined["value"],
                mode="lines",
                name=f"{value_label}, before {_short_month(xmr.since)}",
                line={"color": HISTORY, "width": 1.5},
                customdata=joined[["raw"]],
                hovertemplate=hover,
            )
        )
    current = frame[frame["in_limits"]]
    fig.add_trace(
        go.Scatter(
            x=current["month"],
            y=current["value"],
            mode="lines+markers",
            name=value_label,
            line={"color": NEUTRAL, "width": 2},
            marker={"color": NEUTRAL, "size": 6, "symbol": "circle"},
            customdata=current[["signal", "raw"]],
            hovertemplate=(
                f"%{{x|%B %Y}}: %{{y:{value_format}}}"
                + (f" seasonally adjusted (published %{{customdata[1]:{value_format}}})"
                   if xmr.adjusted else "")
                + " %{customdata[0]}<extra></extra>"
            ),
        )
    )
    if xmr.limits is not None:
        x = [current["month"].iloc[0], current["month"].iloc[-1]]
        lower = max(xmr.limits.lower, 0.0)
        for key, level, dash in (
            ("upper", xmr.limits.upper, "dash"),
            ("centre", xmr.limits.centre, "solid"),
            ("lower", lower, "dash"),
        ):
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=[level, level],
                    mode="lines",
                    name=NAMES[key].format(since=_short_month(xmr.since)),
                    line={
                        "color": LONDON_COLOUR if key == "centre" else LIMIT_COLOUR,
                        "width": 1.5,
                        "dash": dash,
                    },
                    hovertemplate=f"{NAMES[key].split(' since')[0]}: %{{y:{value_format}}}"
                    "<extra></extra>",
                )
            )
        for key, sign, symbol in (("high", 1, "triangle-up"), ("low", -1, "triangle-down")):
            flagged = current[(current["signal"] != "") & (current["direction"] == sign)]
            if flagged.empty:
                continue
            fig.add_trace(
                go.Scatter(
                    x=flagged["month"],
                    y=flagged["value"],
                    mode="markers",
                    name=NAMES[key],
                    marker={
                        "color": SPECIAL_CAUSE,
                        "size": 12,
                        "symbol": symbol,
                        "line": {"color": "white", "width": 1},
                    },
                    customdata=flagged[["signal"]],
                    hovertemplate=(
                        f"%{{x|%B %Y}}: %{{y:{value_format}}}<br>special cause: "
                        "%{customdata[0]}<extra></extra>"
                    ),
                )
            )
    _layout(fig, title, subtitle, 470)
    fig.update_yaxes(title_text=y_title)
    first, last = frame["month"].min().date(), frame["month"].max().date()
    return add_breaks(fig, breaks, first, last)


def trend_figure(
    periods: pd.DataFrame,
    breaks: Sequence[Break],
    *,
    value: str,
    title: str,
    subtitle: str,
    value_label: str,
    y_title: str,
    value_format: str = ",.0f",
) -> go.Figure:
    """A plain trend line; periods that span a series break are drawn as open circles."""
    fig = go.Figure()
    spans = periods["spans_break"] != ""
    fig.add_trace(
        go.Scatter(
            x=periods["period_end"],
            y=periods[value],
            mode="lines+markers",
            name=value_label,
            line={"color": PALETTE[0], "width": 2},
            marker={"color": PALETTE[0], "size": 6},
            customdata=periods[["period"]],
            hovertemplate=f"%{{customdata[0]}}: %{{y:{value_format}}}<extra></extra>",
        )
    )
    if spans.any():
        crossing = periods[spans]
        fig.add_trace(
            go.Scatter(
                x=crossing["period_end"],
                y=crossing[value],
                mode="markers",
                name="Period spans a series break (○)",
                marker={
                    "color": "white",
                    "size": 10,
                    "symbol": "circle",
                    "line": {"color": BREAK_COLOUR, "width": 2},
                },
                customdata=crossing[["period", "spans_break"]],
                hovertemplate=(
                    f"%{{customdata[0]}}: %{{y:{value_format}}}<br>spans: %{{customdata[1]}}"
                    "<extra></extra>"
                ),
            )
        )
    _layout(fig, title, subtitle, 470)
    fig.update_yaxes(title_text=y_title)
    first = periods["period_start"].min().date()
    last = periods["period_end"].max().date()
    return add_breaks(fig, breaks, first, last)


def funnel_figure(
    funnel: crime.BoroughFunnel, *, title: str, subtitle: str, highlight: str | None = None
) -> go.Figure:
    """Borough rates against population with London's rate and the funnel limits."""
    fig = go.Figure()
    curve = funnel.curve
    narrow, wide = sorted(funnel.levels)
    for level, dash in ((wide, "dot"), (narrow, "dash")):
        label = crime.level_label(level)
        for side in ("upper", "lower"):
            fig.add_trace(
                go.Scatter(
                    x=curve["population"],
                    y=curve[f"{side}_{label}"].clip(lower=0),
                    mode="lines",
                    name=f"{level * 100:g}% limits",
                    legendgroup=label,
                    showlegend=side == "upper",
                    line={"color": LIMIT_COLOUR, "width": 1.3, "dash": dash},
                    hoverinfo="skip",
                )
            )
    fig.add_trace(
        go.Scatter(
            x=curve["population"],
            y=curve["centre"],
            mode="lines",
            name=f"{crime.LONDON_NAME}: {crime.format_rate(funnel.london_rate)} per 1,000",
            line={"color": LONDON_COLOUR, "width": 1.5},
            hoverinfo="skip",
        )
    )
    table = funnel.table
    wide_label, narrow_label = crime.level_label(wide), crime.level_label(narrow)
    groups = (
        ("Within the limits", ~table[f"outside_{narrow_label}"], NEUTRAL, "circle", 9),
        (
            f"Outside the {narrow * 100:g}% limits (■)",
            table[f"outside_{narrow_label}"] & ~table[f"outside_{wide_label}"],
            OUTSIDE_NARROW,
            "square",
            11,
        ),
        (
            f"Outside the {wide * 100:g}% limits (◆)",
            table[f"outside_{wide_label}"],
            OUTSIDE_WIDE,
            "diamond",
            13,
        ),
    )
    for name, mask, colour, symbol, size in groups:
        points = table[mask]
        if points.empty:
            continue
        labelled = points["borough_code"].eq(highlight) | (symbol != "circle")
        fig.add_trace(
            go.Scatter(
                x=points["population"],
                y=points["rate"],
                mode="markers+text",
                name=name,
                text=points["borough_name"].where(labelled, ""),
                textposition="top center",
                textfont={"size": 12, "color": "#1f1f1f"},
                marker={
                    "color": colour,
                    "size": size,
                    "symbol": symbol,
                    "line": {"color": "#1f1f1f", "width": 1},
                },
                customdata=points[["borough_name", "offences", "position"]],
                hovertemplate=(
                    "%{customdata[0]}: %{y:,.3g} per 1,000 (%{customdata[1]:,} offences, "
                    "%{x:,.0f} residents), %{customdata[2]}<extra></extra>"
                ),
            )
        )
    _layout(fig, title, subtitle, 540)
    fig.update_layout(legend={"y": -0.16})
    fig.update_xaxes(title_text="Residents", tickformat=",.0f")
    fig.update_yaxes(title_text="Offences per 1,000 residents")
    return fig


def _text_colour(fraction: float) -> str:
    """Black or white text, whichever reads better on the tile's colour."""
    rgb = sample_colorscale(TILE_SCALE, [fraction], colortype="tuple")[0]
    channels = [c / 255 if c > 1 else c for c in rgb]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return "#000000" if luminance > 0.179 else "#FFFFFF"


def tile_map_figure(tiles: pd.DataFrame, *, title: str, subtitle: str) -> go.Figure:
    """Boroughs as tiles coloured by rate per 1,000 (a sequential scale); the City greyed."""
    width = int(tiles["tile_x"].max()) + 1
    height = int(tiles["tile_y"].max()) + 1
    grid: list[list[float | None]] = [[None] * width for _ in range(height)]
    hover: list[list[str]] = [[""] * width for _ in range(height)]
    outside: list[list[float | None]] = [[None] * width for _ in range(height)]
    shown = tiles[tiles["in_mps_area"]]
    low, high = float(shown["rate"].min()), float(shown["rate"].max())
    fig = go.Figure()
    for row in tiles.itertuples(index=False):
        x, y = int(row.tile_x), int(row.tile_y)
        if row.in_mps_area:
            grid[y][x] = float(row.rate)
            hover[y][x] = (
                f"{row.borough_name}: {crime.format_rate(row.rate)} per 1,000 "
                f"({int(row.offences):,} offences, {int(row.population):,} residents)"
            )
            fraction = (row.rate - low) / (high - low) if high > low else 0.5
            colour = _text_colour(fraction)
            text = f"<b>{row.abbreviation}</b><br>{crime.format_rate(row.rate)}"
        else:
            outside[y][x] = 1.0
            hover[y][x] = f"{row.borough_name}: outside the MPS area (City of London Police)"
            colour, text = "#1f1f1f", f"<b>{row.abbreviation}</b><br>n/a"
        fig.add_annotation(
            x=x, y=y, text=text, showarrow=False, font={"size": 12, "color": colour}
        )
    fig.add_trace(
        go.Heatmap(
            z=grid,
            text=hover,
            hovertemplate="%{text}<extra></extra>",
            colorscale=TILE_SCALE,
            zmin=low,
            zmax=high,
            xgap=3,
            ygap=3,
            name="Rate per 1,000",
            colorbar={"title": {"text": "per 1,000"}, "thickness": 14},
        )
    )
    fig.add_trace(
        go.Heatmap(
            z=outside,
            text=hover,
            hovertemplate="%{text}<extra></extra>",
            colorscale=[[0, OUTSIDE_MPS], [1, OUTSIDE_MPS]],
            showscale=False,
            xgap=3,
            ygap=3,
            name="Outside the MPS area",
        )
    )
    _layout(fig, title, subtitle, 470)
    fig.update_xaxes(visible=False, showgrid=False, constrain="domain")
    fig.update_yaxes(
        visible=False, showgrid=False, autorange="reversed", scaleanchor="x", rangemode="normal"
    )
    fig.update_layout(plot_bgcolor="white", margin={"l": 20, "r": 20, "b": 10})
    return fig


def ward_bar_figure(wards: pd.DataFrame, *, title: str, subtitle: str, top: int = 10) -> go.Figure:
    """The wards with most offences in the latest 12 months, largest at the top."""
    shown = wards.sort_values(["latest", "ward_name"], ascending=[False, True]).head(top)
    fig = go.Figure(
        go.Bar(
            x=shown["latest"],
            y=shown["ward_name"],
            orientation="h",
            marker={"color": PALETTE[0]},
            text=shown["latest"].map("{:,}".format),
            textposition="outside",
            cliponaxis=False,
            name="Offences, latest 12 months",
            hovertemplate="%{y}: %{x:,} offences<extra></extra>",
        )
    )
    _layout(fig, title, subtitle, max(320, 60 + 34 * len(shown)))
    fig.update_yaxes(autorange="reversed", gridcolor="rgba(0,0,0,0)", title_text=None)
    fig.update_xaxes(title_text="Offences in the latest 12 months", showgrid=True, tickformat=",")
    fig.update_layout(showlegend=False, margin={"l": 200, "r": 50})
    return fig
