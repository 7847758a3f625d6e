"""Borough profile: one borough across every plan measure, against London, printable."""

from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from oversight import charts, scorecard, ui
from oversight.settings import get_settings

ui.ensure_navigation()
settings = get_settings()
ui.require_warehouse(settings)
status = ui.current_status(settings)

plan_id, borough, as_at = ui.plan_filters(settings, boroughs_only=True)
names = scorecard.geography_names()
name = names[borough]
profile = ui.read(settings, scorecard.profile, plan_id, borough, as_at)
suffix = ui.synthetic_suffix(status)

st.title(f"{name}: borough profile")
shown_at = f"{as_at:%B %Y}" if as_at else "the latest data"
st.caption(
    f"{scorecard.plan_title(plan_id)}, as at {shown_at}{suffix}. Each measure for {name} beside "
    "London (MPS area), on the same window. Rates per 1,000 residents use ONS mid-year "
    "population estimates (Census 2021 rebased); London is the 32 MPS boroughs."
)

judged = profile[profile["status"].isin(["improving", "deteriorating"])]
c1, c2, c3 = st.columns(3)
c1.metric("Measures deteriorating", int((profile["status"] == "deteriorating").sum()))
c2.metric("Measures improving", int((profile["status"] == "improving").sum()))
c3.metric(
    "Rates outside London's funnel (99.8%)",
    int(profile["funnel_outside"].fillna(False).astype(bool).sum()),
    help="Overdispersion-adjusted funnel limits against the London rate, 12 months (r12).",
)


def fmt_rate(value: float | None) -> str:
    return "–" if value is None or pd.isna(value) else f"{value:.3g}"


table = pd.DataFrame(
    {
        "Priority": profile["priority_title"],
        "Measure": profile["measure_label"],
        "Status": [
            charts.STATUS_SYMBOLS[scorecard.shown_status(s, v)]
            for s, v in zip(profile["status"], profile["value"], strict=True)
        ],
        name: [
            scorecard.fmt_value(v, u) for v, u in zip(profile.value, profile.unit, strict=True)
        ],
        "London": [
            scorecard.fmt_value(v, u)
            for v, u in zip(profile.london_value, profile.unit, strict=True)
        ],
        f"{name} per 1,000": [fmt_rate(v) for v in profile["rate_per_1000"]],
        "London per 1,000": [fmt_rate(v) for v in profile["london_rate_per_1000"]],
        "Against London": [
            "–"
            if pd.isna(out)
            else ("outside funnel (higher)" if z > 0 else "outside funnel (lower)")
            if out
            else "within funnel"
            for out, z in zip(profile["funnel_outside"], profile["funnel_z"], strict=True)
        ],
        "Change (95% CI)": [scorecard.fmt_change(r) for _, r in profile.iterrows()],
    }
)
for priority, rows in table.groupby("Priority", sort=False):
    st.subheader(priority)
    st.table(rows.drop(columns="Priority").set_index("Measure"))

rates = profile.dropna(subset=["rate_per_1000", "london_rate_per_1000"])
if not rates.empty:
    ratio = rates["rate_per_1000"] / rates["london_rate_per_1000"]
    highest = rates.loc[ratio.idxmax()]
    title = (
        f"{name}: {highest['measure_label'].lower()} is {ratio.max():.1f} times London's rate "
        f"per head{suffix}"
    )
    fig = go.Figure()
    fig.add_bar(
        y=rates["measure_label"],
        x=ratio,
        orientation="h",
        marker_color=charts.NEUTRAL,
        name=f"{name} rate ÷ London rate",
        hovertemplate="%{y}: %{x:.2f} × London<extra></extra>",
    )
    fig.add_vline(x=1, line_color=charts.LONDON_COLOUR, line_dash="dash")
    charts.base_layout(
        fig, title, height=120 + 40 * len(rates), xaxis_title="rate ÷ London rate (1 = London)"
    )
    ui.show_chart(
        fig,
        rates[["measure_label", "rate_per_1000", "london_rate_per_1000"]].assign(ratio=ratio),
        key="profile_rates",
        source=(
            "MPS recorded crime (London Datastore), MPS homicide data; ONS mid-year population "
            "estimates. Rates are context: a high rate in a central borough reflects visitors and "
            "the night-time economy as well as residents."
        ),
        filename=f"profile-rates-{borough}",
    )

st.subheader("What the figures say")
for _, row in profile.iterrows():
    london = row.get("london_sentence")
    st.markdown(f"- **{row['measure_label']}** — {row['sentence']}")
    if isinstance(london, str) and row["status"] != "no data":
        st.caption(f"London: {london}")

rows_html = "".join(
    "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in record) + "</tr>"
    for record in table.itertuples(index=False)
)
head_html = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.columns)
sentences = "".join(f"<li>{html.escape(s)}</li>" for s in profile["sentence"])
printable = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{html.escape(name)} borough profile</title>
<style>body{{font-family:Arial,sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #767676;padding:4px 8px;text-align:left}}</style></head><body>
<h1>{html.escape(name)}: borough profile</h1>
<p>{html.escape(scorecard.plan_title(plan_id))}, as at {html.escape(shown_at + suffix)}.</p>
<table><thead><tr>{head_html}</tr></thead><tbody>{rows_html}</tbody></table>
<h2>What the figures say</h2><ul>{sentences}</ul>
<p>Sources: MPS recorded crime (London Datastore, OGL v3.0), MOPAC Public Attitude Survey,
MPS homicide data, ONS population estimates. Police recorded crime is not accredited official
statistics.</p></body></html>"""
st.download_button(
    "Download printable profile (HTML)",
    printable.encode("utf-8"),
    file_name=f"borough-profile-{borough}.html",
    mime="text/html",
    key="profile_print",
)
