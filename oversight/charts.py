"""Plotly figure builders shared by the pages and documents: DataFrame in, figure out.

No streamlit here. Every figure uses the colour-blind-safe Okabe–Ito palette, states its
finding in the title and carries the source and as-at date in its caption (added by the page
via ``ui.show_chart``). Context measures are drawn in neutral colours, never good/bad.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

# Okabe & Ito (2008), safe for the common colour-vision deficiencies.
PALETTE = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#D55E00",  # vermillion
    "#F0E442",  # yellow (fills only: too light for lines or text on white)
    "#000000",
)
LONDON_COLOUR = "#000000"
NEUTRAL = "#595959"  # 7:1 on white
LIMIT_COLOUR = "#767676"  # 4.5:1 on white
BREAK_COLOUR = "#8F4F00"
# Status colours are always paired with the status word (never colour alone).
STATUS_COLOURS = {
    "improving": "#0072B2",
    "deteriorating": "#B34700",  # darker vermillion: 4.9:1 on white for text
    "no significant change": "#595959",
    "context": "#595959",
    "not comparable": "#595959",
    "no data": "#767676",
}
STATUS_SYMBOLS = {
    "improving": "▲ improving",
    "deteriorating": "▼ deteriorating",
    "no significant change": "● no significant change",
    "context": "◆ context",
    "not comparable": "○ not comparable",
    "no data": "– no data",
    # Shown (not stored) for a "no data" row that has a value but nothing to compare it with.
    "no comparison": "– no comparison",
}
FONT = "Source Sans Pro, Arial, sans-serif"


def base_layout(fig: go.Figure, title: str, *, height: int = 420, **axes: Any) -> go.Figure:
    """Apply the house layout: a finding as the title, readable fonts, no chart junk."""
    fig.update_layout(
        title={"text": title, "x": 0, "xanchor": "left", "font": {"size": 17}},
        font={"family": FONT, "size": 14, "color": "#1f1f1f"},
        height=height,
        margin={"l": 60, "r": 20, "t": 70, "b": 50},
        plot_bgcolor="white",
        paper_bgcolor="white",
        legend={"orientation": "h", "yanchor": "bottom", "y": -0.3, "x": 0},
        hoverlabel={"font": {"family": FONT}},
        colorway=list(PALETTE),
    )
    fig.update_xaxes(showgrid=False, linecolor="#767676", ticks="outside")
    fig.update_yaxes(gridcolor="#e5e5e5", linecolor="#767676", rangemode="tozero")
    if axes:
        fig.update_layout(**axes)
    return fig
