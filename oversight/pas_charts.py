"""Plotly figures for the Public Attitude Survey: DataFrame in, figure out (no streamlit).

Proportions are plotted on their published 0–1 scale with percentage ticks, so a charted value
is exactly the published one. Trust and confidence measures are higher-is-better: boroughs
significantly above London are marked in blue with an upward triangle, below in dark
vermillion with a downward triangle (symbol and legend as well as colour); neighbourhood
figures by ethnic group are context and take plain categorical colours. The published figures
are whole percents, so hover labels show them and their differences without spurious decimals
("69%", "+3 points"), formatted by :mod:`oversight.public_voice`.
"""

from __future__ import annotations

import textwrap

import pandas as pd
import plotly.graph_objects as go

from oversight import charts
from oversight import public_voice as pv

BOROUGH_COLOUR = charts.PALETTE[0]
BAND_ALPHA = 0.18
COMPARISON_STYLE = {
    "above London": ("#0072B2", "triangle-up", "Significantly above London"),
    "below London": ("#B34700", "triangle-down", "Significantly below London"),
    "not significantly different": (charts.NEUTRAL, "circle", "Not significantly different"),
}
GROUP_SYMBOLS = ("circle", "square", "diamond", "x", "triangle-up")


def wrap_title(text: str, width: int = 90) -> str:
    """Break a long finding over lines (Plotly titles do not wrap by themselves)."""
    return "<br>".join(textwrap.wrap(text, width)) or text


def _layout(
    fig: go.Figure, title: str, height: int, width: int = 90, extra_lines: int = 0
) -> go.Figure:
    """The house layout with the title wrapped and the top margin fitted to it."""
    wrapped = wrap_title(title, width)
    lines = wrapped.count("<br>") + 1 + extra_lines
    charts.base_layout(fig, wrapped, height=height + 22 * (lines - 1))
    fig.update_layout(margin={"t": 50 + 24 * lines})
    return fig


def _rgba(hex_colour: str, alpha: float) -> str:
    red, green, blue = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha})"


def _band(
    fig: go.Figure, x: pd.Series, lower: pd.Series, upper: pd.Series, colour: str, name: str
) -> None:
    """A shaded confidence band (upper edge, then lower edge filled up to it)."""
    fig.add_trace(
        go.Scatter(
            x=x,
            y=upper,
            mode="lines",
            line={"width": 0},
            hoverinfo="skip",
            showlegend=False,
            legendgroup=name,
            name=f"{name} upper",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=lower,
            mode="lines",
            line={"width": 0},
            fill="tonexty",
            fillcolor=_rgba(colour, BAND_ALPHA),
            hoverinfo="skip",
            legendgroup=name,
            name=f"{name} 95% CI",
            showlegend=True,
        )
    )


def trend_chart(series: pd.DataFrame, title: str, london_code: str) -> go.Figure:
    """A borough and London over time, each with its confidence band.

    ``series`` has period_end, geography_code, geography_name, proportion, lower, upper.
    """
    fig = go.Figure()
    ordered = [c for c in series["geography_code"].unique() if c != london_code]
    ordered += [london_code]
    for code in ordered:
        part = series[series["geography_code"] == code].sort_values("period_end")
        if part.empty:
            continue
        is_london = code == london_code
        colour = charts.LONDON_COLOUR if is_london else BOROUGH_COLOUR
        name = str(part["geography_name"].iloc[0])
        _band(fig, part["period_end"], part["lower"], part["upper"], colour, name)
        fig.add_trace(
            go.Scatter(
                x=part["period_end"],
                y=part["proportion"],
                mode="lines+markers",
                name=name,
                legendgroup=name,
                line={"color": colour, "width": 2.5, "dash": "dash" if is_london else "solid"},
                marker={"size": 5, "symbol": "square" if is_london else "circle"},
                customdata=part[["lower", "upper"]].to_numpy(),
                hovertemplate=(
                    f"{name}<br>12 months to %{{x|%b %Y}}: %{{y:.0%}}"
                    "<br>95% CI %{customdata[0]:.0%} to %{customdata[1]:.0%}<extra></extra>"
                ),
            )
        )
    _layout(fig, title, 440)
    fig.update_yaxes(tickformat=".0%", title="Share of respondents", rangemode="normal")
    return fig


def gap_chart(gaps: pd.DataFrame, title: str) -> go.Figure:
    """The borough–London gap per quarter with its CI; significant quarters marked."""
    fig = go.Figure()
    _band(fig, gaps["period_end"], gaps["gap_lower"], gaps["gap_upper"], BOROUGH_COLOUR, "Gap")
    significant = gaps["significant"].astype(bool)
    fig.add_trace(
        go.Scatter(
            x=gaps["period_end"],
            y=gaps["gap"],
            mode="lines+markers",
            name="Borough minus London",
            line={"color": BOROUGH_COLOUR, "width": 2},
            marker={
                "size": [10 if s else 6 for s in significant],
                "symbol": ["diamond" if s else "circle" for s in significant],
                "color": [BOROUGH_COLOUR if s else "white" for s in significant],
                "line": {"color": BOROUGH_COLOUR, "width": 1.5},
            },
            customdata=[
                [
                    pv.difference_text(b, lon, low, high),
                    "significant" if sig else "not significant",
                ]
                for b, lon, low, high, sig in zip(
                    gaps["borough"],
                    gaps["london"],
                    gaps["gap_lower"],
                    gaps["gap_upper"],
                    significant,
                    strict=True,
                )
            ],
            hovertemplate=(
                "12 months to %{x|%b %Y}: %{customdata[0]} (%{customdata[1]})<extra></extra>"
            ),
        )
    )
    fig.add_hline(y=0, line={"color": charts.LIMIT_COLOUR, "width": 1})
    _layout(fig, title, 380)
    fig.update_yaxes(tickformat="+.0%", title="Points (borough − London)", rangemode="normal")
    fig.add_annotation(
        text="◆ filled: gap significant · ○ open: not significant",
        xref="paper",
        yref="paper",
        x=1,
        y=1.02,
        showarrow=False,
        xanchor="right",
        font={"size": 12, "color": charts.NEUTRAL},
    )
    return fig


def change_chart(changes: pd.DataFrame, title: str, london_code: str) -> go.Figure:
    """Each measure's change over a non-overlapping year, borough and London, with CIs."""
    fig = go.Figure()
    measures = sorted(changes["measure_label"].unique(), key=lambda s: s.strip('"').lower())
    for offset, code in enumerate(
        [c for c in changes["geography_code"].unique() if c != london_code] + [london_code]
    ):
        part = changes[changes["geography_code"] == code].dropna(subset=["change"])
        if part.empty:
            continue
        is_london = code == london_code
        colour = charts.LONDON_COLOUR if is_london else BOROUGH_COLOUR
        significant = part["significant"].astype(bool)
        labels = [
            f"{status}{'' if sig else ' (not significant)'}"
            for status, sig in zip(part["status"], significant, strict=True)
        ]
        fig.add_trace(
            go.Scatter(
                x=part["change"],
                y=part["measure_label"],
                mode="markers",
                orientation="h",
                name=str(part["geography_name"].iloc[0]),
                marker={
                    "color": [colour if sig else "white" for sig in significant],
                    "line": {"color": colour, "width": 2},
                    "size": 11,
                    "symbol": "square" if is_london else "circle",
                },
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": part["change_upper"] - part["change"],
                    "arrayminus": part["change"] - part["change_lower"],
                    "color": colour,
                    "thickness": 1.5,
                },
                offsetgroup=str(offset),
                customdata=[
                    [
                        f"{pv.pct(earlier)} → {pv.pct(latest)}",
                        pv.difference_text(latest, earlier, low, high),
                        label,
                    ]
                    for latest, earlier, low, high, label in zip(
                        part["latest"],
                        part["year_earlier"],
                        part["change_lower"],
                        part["change_upper"],
                        labels,
                        strict=True,
                    )
                ],
                hovertemplate=(
                    "%{y}: %{customdata[0]}, %{customdata[1]}<br>%{customdata[2]}<extra></extra>"
                ),
            )
        )
    fig.add_vline(x=0, line={"color": charts.LIMIT_COLOUR, "width": 1})
    _layout(fig, title, 140 + 45 * len(measures))
    fig.update_layout(scattermode="group")
    fig.update_xaxes(
        tickformat="+.0%", title="Change in percentage points, with 95% CI", rangemode="normal"
    )
    fig.update_yaxes(categoryorder="array", categoryarray=measures[::-1], title=None)
    fig.add_annotation(
        text="filled: significant change · open: not significant",
        xref="paper",
        yref="paper",
        x=1,
        y=1.0,
        showarrow=False,
        xanchor="right",
        yanchor="bottom",
        font={"size": 12, "color": charts.NEUTRAL},
    )
    return fig


def boroughs_chart(
    compared: pd.DataFrame, london: float, title: str, highlight: str | None = None
) -> go.Figure:
    """Every borough with its CI against London's line, in alphabetical order (not a ranking).

    ``highlight`` (a borough name) is set in bold on the axis.
    """
    fig = go.Figure()
    order = list(compared.sort_values("borough_name")["borough_name"])
    for key, (colour, symbol, label) in COMPARISON_STYLE.items():
        part = compared[compared["comparison"] == key]
        fig.add_trace(
            go.Scatter(
                x=part["proportion"],
                y=part["borough_name"],
                mode="markers",
                name=f"{label} ({len(part)})",
                marker={"color": colour, "symbol": symbol, "size": 11},
                error_x={
                    "type": "data",
                    "symmetric": False,
                    "array": part["upper"] - part["proportion"],
                    "arrayminus": part["proportion"] - part["lower"],
                    "color": colour,
                    "thickness": 1.5,
                },
                customdata=[
                    [pv.pct_interval(low, high, p), pv.points_words(p - lon)]
                    for p, lon, low, high in zip(
                        part["proportion"],
                        part["london_proportion"],
                        part["lower"],
                        part["upper"],
                        strict=True,
                    )
                ],
                hovertemplate=(
                    "%{y}: %{x:.0%} (95% CI %{customdata[0]})"
                    f"<br>gap to London %{{customdata[1]}}<br>{label}<extra></extra>"
                ),
            )
        )
    fig.add_vline(
        x=london,
        line={"color": charts.LONDON_COLOUR, "width": 1.5, "dash": "dash"},
        annotation_text=f"London {pv.pct(london)}",
        annotation_position="top",
    )
    _layout(fig, title, 200 + 22 * len(order))
    fig.update_xaxes(
        tickformat=".0%", title="Share of respondents, with 95% CI", rangemode="normal"
    )
    fig.update_yaxes(
        categoryorder="array",
        categoryarray=order[::-1],
        title=None,
        showgrid=True,
        gridcolor="#f0f0f0",
        tickvals=order,
        ticktext=[f"<b>{n}</b>" if n == highlight else n for n in order],
    )
    fig.update_layout(legend={"y": -0.08 - 60 / (200 + 22 * len(order))})
    return fig


def neighbourhood_chart(frame: pd.DataFrame, title: str) -> go.Figure:
    """One measure's neighbourhood figures, one marker per ethnic group (context colours)."""
    fig = go.Figure()
    short = frame.assign(place=frame["neighbourhood"].str.split(" - ", n=1).str[-1])
    order = sorted(short["place"].unique())
    for number, (group, part) in enumerate(short.groupby("group", sort=True)):
        fig.add_trace(
            go.Scatter(
                x=part["percent"] / 100,
                y=part["place"],
                mode="markers",
                name=str(group),
                marker={
                    "color": charts.PALETTE[(number + 1) % 6],
                    "symbol": GROUP_SYMBOLS[number % len(GROUP_SYMBOLS)],
                    "size": 11,
                    "line": {"color": "white", "width": 0.5},
                },
                hovertemplate=f"%{{y}}, {group}: %{{x:.0%}}<extra></extra>",
            )
        )
    _layout(fig, title, 190 + 30 * len(order), width=50, extra_lines=1)
    fig.update_xaxes(tickformat=".0%", title="Share of respondents", rangemode="normal")
    fig.update_layout(legend={"y": 1.0, "yanchor": "bottom", "x": 0}, margin={"b": 60})
    fig.update_yaxes(
        categoryorder="array",
        categoryarray=order[::-1],
        title=None,
        showgrid=True,
        gridcolor="#f0f0f0",
    )
    return fig
