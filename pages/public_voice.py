"""Public voice: the Public Attitude Survey by borough and measure, against London."""

from __future__ import annotations

import streamlit as st

from oversight import pas_charts, ui
from oversight import public_voice as pv
from oversight.measures import LONDON, load_statistics
from oversight.settings import get_settings

ui.ensure_navigation()
settings = get_settings()
ui.require_warehouse(settings)
status = ui.current_status(settings)
suffix = ui.synthetic_suffix(status)
assumptions = pv.PasAssumptions.from_config(load_statistics())
directions = pv.load_directions()

st.title("Public voice: the Public Attitude Survey")
st.write(
    "MOPAC's Public Attitude Survey asks Londoners every year what they think of policing in "
    "their area. Each figure is the share of respondents giving a positive answer over a "
    "rolling 12 months, published every quarter."
)

measures = ui.read(settings, pv.pas_measures)
boroughs = ui.read(settings, pv.pas_boroughs)
if measures.empty or boroughs.empty:
    st.info("No Public Attitude Survey figures are loaded yet (see README, Using real data).")
    st.stop()

labels = dict(zip(measures["measure_id"], measures["measure_label"], strict=True))
names = dict(zip(boroughs["borough_code"], boroughs["borough_name"], strict=True))
default_measure = "trust_mps" if "trust_mps" in labels else measures["measure_id"].iloc[0]
measure_id = ui.param_select(
    "Measure", list(labels), "measure", default=default_measure, format_func=labels.get
)
borough_code = ui.param_select("Borough", list(names), "borough", format_func=names.get)
label, borough = labels[measure_id], names[borough_code]

series = ui.read(settings, pv.pas_series, measure_id, borough_code)
series = pv.with_intervals(series, assumptions)
own = series[series["geography_code"] == borough_code]
london_rows = series[series["geography_code"] == LONDON]
if own.empty:
    st.info(f"No figures for {label} in {borough}.")
    st.stop()
latest = own.iloc[-1]
period = pv.period_label(latest["period_end"])
as_at = f"Rolling 12 months to {latest['period_end']:%B %Y}."
source = f"{pv.SOURCE}. {as_at}"
st.caption(assumptions.note())

# --- the borough against London -----------------------------------------------------------------

st.header(f"{borough} against London")
london_latest = london_rows[london_rows["period_end"] == latest["period_end"]]
gap_text = "no London figure for this quarter"
if not london_latest.empty:
    lon = london_latest.iloc[0]
    gap = pv.gap_test(latest["proportion"], lon["proportion"], assumptions)
    gap_text = pv.verdict(gap.difference, gap.p_value, assumptions.alpha, "London")
    own_ci = pv.pct_interval(latest["lower"], latest["upper"], latest["proportion"])
    cols = st.columns(3)
    cols[0].metric(
        f"{label}, {borough}",
        pv.pct(latest["proportion"]),
        help=f"{period}; 95% CI {own_ci}",
        border=True,
    )
    cols[1].metric(
        "London",
        pv.pct(lon["proportion"]),
        help=f"{period}; 95% CI {pv.pct_interval(lon['lower'], lon['upper'], lon['proportion'])}",
        border=True,
    )
    gap_words = pv.difference_text(latest["proportion"], lon["proportion"], gap.lower, gap.upper)
    cols[2].metric(
        "Gap to London (points)",
        pv.points(gap.difference),
        help=f"95% CI {pv.points_interval(gap.lower, gap.upper)}; {gap_text}",
        border=True,
    )
    st.write(
        f"In the {period}, {pv.pct(latest['proportion'])} of respondents in {borough} "
        f"({label.strip(chr(34))}; 95% CI {own_ci}) against {pv.pct(lon['proportion'])} in "
        "London: a gap of "
        f"{gap_words}, {gap_text} at the {assumptions.level:.0%} level."
    )

title = f"{label}: {borough} {pv.pct(latest['proportion'])} in the {period}, {gap_text}"
if not london_latest.empty:
    title += f" ({pv.pct(london_latest['proportion'].iloc[0])})"
ui.show_chart(
    pas_charts.trend_chart(series, title + suffix, LONDON),
    series.assign(period_end=series["period_end"].dt.date),
    key="pas_trend",
    source=source,
    filename=f"pas_{measure_id}_{borough_code}",
    notes=[assumptions.note()],
)

gaps = pv.gap_series(series, assumptions)
if not gaps.empty:
    years = pv.non_overlapping(gaps)
    n_sig = int(years["significant"].sum())
    last_gap = gaps.iloc[-1]
    gap_title = (
        f"{borough}'s gap to London was significant in {n_sig} of {len(years)} separate years "
        f"to {last_gap['period_end']:%B}; latest {pv.points(last_gap['gap'])} points"
        f" ({'significant' if last_gap['significant'] else 'not significant'})"
    )
    ui.show_chart(
        pas_charts.gap_chart(gaps, gap_title + suffix),
        gaps.assign(period_end=gaps["period_end"].dt.date),
        key="pas_gap",
        source=source,
        filename=f"pas_gap_{measure_id}_{borough_code}",
        notes=[
            "Two-proportion z-test, borough against London, with a Newcombe–Wilson interval.",
            "Neighbouring quarters overlap by about 75%, so they are not independent checks: "
            "the title counts only the years that share no interviews (every fourth quarter "
            "back from the latest).",
            assumptions.note(),
        ],
    )

# --- change over a year -------------------------------------------------------------------------

st.header("Change over a year")
st.write(pv.OVERLAP_NOTE)
every = ui.read(settings, pv.pas_all_measures, borough_code)
changes = pv.change_over_year(every, assumptions, directions)
own_changes = changes[changes["geography_code"] == borough_code]
tested = own_changes.dropna(subset=["change"])
if tested.empty:
    st.info(f"{borough} has no figure four quarters before its latest to compare with.")
else:
    ups = int((tested["significant"] & (tested["change"] > 0)).sum())
    downs = int((tested["significant"] & (tested["change"] < 0)).sum())
    first = tested.iloc[0]
    change_title = (
        f"{borough}: {ups} of {len(tested)} measures rose and {downs} fell significantly "
        f"between the years to {first['comparison_period_end']:%B %Y} and "
        f"{first['period_end']:%B %Y}"
    )
    chosen = changes[changes["measure_id"] == measure_id]
    for row in chosen.itertuples():
        if row.change == row.change:
            note = ""
            if row.geography_code == borough_code:
                extreme = pv.check_extreme(
                    own, london_rows, row.comparison_period_end,
                    assumptions.base_borough, assumptions.design_effect,
                )  # fmt: skip
                note = pv.regression_note(borough, extreme, row.change, row.comparison_period_end)
            words = pv.difference_text(
                row.latest, row.year_earlier, row.change_lower, row.change_upper
            )
            st.write(
                f"**{row.geography_name}**, {label}: {pv.pct(row.year_earlier)} in the "
                f"{pv.period_label(row.comparison_period_end)}, {pv.pct(row.latest)} in the "
                f"{pv.period_label(row.period_end)}: {words}, "
                f"{'a significant change' if row.significant else 'not a significant change'}"
                f" (p = {row.p_value:.3f}). {note}".rstrip()
            )
    table = changes.assign(
        period_end=changes["period_end"].dt.date,
        comparison_period_end=changes["comparison_period_end"].dt.date,
    )
    ui.show_chart(
        pas_charts.change_chart(changes, change_title + suffix, LONDON),
        table,
        key="pas_change",
        source=source,
        filename=f"pas_change_{borough_code}",
        notes=[
            "Latest rolling year against the one four quarters earlier (no shared interviews);"
            " two-proportion z-test on the assumed bases.",
            assumptions.note(),
        ],
    )

# --- all boroughs -------------------------------------------------------------------------------

st.header(f"All boroughs: {label}")
latest_all = ui.read(settings, pv.pas_latest_boroughs, measure_id)
latest_all = latest_all.dropna(subset=["london_proportion"])
if latest_all.empty:
    st.info("No London figure to compare the boroughs with.")
else:
    compared = pv.compare_boroughs(latest_all, assumptions)
    counts = compared["comparison"].value_counts()
    when = pv.period_label(compared["period_end"].iloc[0])
    above, below = int(counts.get("above London", 0)), int(counts.get("below London", 0))
    all_title = (
        f"{label}, {when}: {above} boroughs significantly above London and {below} below; "
        f"{len(compared) - above - below} not significantly different"
    )
    st.write(
        "Boroughs in alphabetical order with their 95% confidence intervals, against the "
        "London figure (dashed line). This is not a ranking: with about "
        f"{assumptions.base_borough:,} interviews a borough, most differences between boroughs "
        "are within the play of chance."
    )
    london_value = float(compared["london_proportion"].iloc[0])
    ui.show_chart(
        pas_charts.boroughs_chart(compared, london_value, all_title + suffix, borough),
        compared.assign(period_end=compared["period_end"].dt.date),
        key="pas_boroughs",
        source=source,
        filename=f"pas_boroughs_{measure_id}",
        notes=["Each borough against London by a two-proportion z-test.", assumptions.note()],
    )

# --- neighbourhoods by ethnic group -------------------------------------------------------------

st.header(f"Neighbourhoods in {borough}, by ethnic group")
periods = ui.read(settings, pv.pas_neighbourhood_summary)
groups = ui.read(settings, pv.pas_neighbourhood_groups, borough_code)
if groups.empty:
    if periods.empty or not periods["by_group"].any():
        st.info("No neighbourhood figures by ethnic group are loaded.")
    else:
        st.info(f"No neighbourhood figures by ethnic group are published for {borough}.")
else:
    pooled = ", ".join(sorted(groups["period"].unique()))
    st.write(
        f"MOPAC publishes some indicators for neighbourhoods by ethnic group, pooled over "
        f"several years ({pooled}) because neighbourhood samples are small. No base sizes are "
        "published, so there are no confidence intervals: a difference of a few points may be "
        "chance. Ethnic groups are shown as context, not judged."
    )
    cols = st.columns(2)
    for number, (measure_label, part) in enumerate(groups.groupby("measure_label", sort=True)):
        lowest = pv.lowest_group_counts(part)
        places = part["neighbourhood"].nunique()
        if lowest.empty:
            n_title = f"{measure_label}: {places} neighbourhoods in {borough}"
        else:
            n_title = (
                f"{measure_label}: {lowest.index[0]} respondents lowest in "
                f"{int(lowest.iloc[0])} of {places} neighbourhoods"
            )
        with cols[number % 2]:
            ui.show_chart(
                pas_charts.neighbourhood_chart(part, n_title + suffix),
                part,
                key=f"pas_nbhd_{part['measure_id'].iloc[0]}",
                source=f"{pv.SOURCE}, neighbourhood indicators ({pooled}).",
                filename=f"pas_neighbourhoods_{borough_code}_{part['measure_id'].iloc[0]}",
                notes=[f"Positive answers: {part['response_definition'].iloc[0]}."],
            )
