"""Crime: recorded offences by area and category, their trend, boroughs against London, wards."""

from __future__ import annotations

import streamlit as st

from oversight import crime, crime_charts, reference, ui
from oversight import plan as plan_config
from oversight.measures import load_statistics
from oversight.settings import get_settings

ui.ensure_navigation()
ui.ensure_navigation()
settings = get_settings()
ui.require_warehouse(settings)
status = ui.current_status(settings)
suffix = ui.synthetic_suffix(status)

stats_cfg = load_statistics(settings.root)
all_breaks = plan_config.load_breaks(settings.root)
breaks = crime.crime_breaks(all_breaks, crime.BOROUGH_MART)
ward_breaks = crime.crime_breaks(all_breaks, crime.WARD_MART)
scheme, scheme_start = crime.current_scheme(breaks)
scheme_change = next(b for b in reversed(breaks) if b.kind == "category_scheme")
boroughs = reference.load_boroughs()
populations = crime.make_populations(reference.load_population(), boroughs)
mps = boroughs[boroughs["in_mps_area"]].sort_values("borough_name")
names = {
    crime.LONDON: crime.LONDON_NAME,
    **dict(zip(mps.borough_code, mps.borough_name, strict=True)),
}

st.title("Crime")
st.write(
    "Offences recorded by the Metropolitan Police Service, by area and category: the trend, "
    "how boroughs compare with London, and which wards the offences are in. Choose the area, "
    "category and view in the sidebar; the address bar keeps your choice, so every view is a "
    "link."
)

categories = ui.read(settings, crime.read_categories, scheme)
if categories.empty:
    st.info("The warehouse holds no borough crime figures yet (see README, Using real data).")
    st.stop()

geography = ui.param_select("Area", list(names), "area", format_func=names.get)
majors = sorted(categories["major_category"].unique())
major = ui.param_select(
    "Crime category", [crime.ALL, *majors], "category", format_func=crime.category_label
)
minor = crime.ALL
if major != crime.ALL:
    minors = categories.loc[categories["major_category"] == major, "minor_category"].tolist()
    minor = ui.param_select(
        "Sub-category",
        [crime.ALL, *minors],
        "minor",
        format_func=lambda m: "All" if m == crime.ALL else crime.sentence_case(m),
    )
view = ui.param_select("View", crime.VIEWS, "view", format_func=crime.VIEW_LABELS.get)
measure = ui.param_select(
    "Measure", crime.MEASURES, "measure", format_func=crime.MEASURE_LABELS.get
)
span = ui.param_select(
    "Period shown",
    crime.SPANS,
    "span",
    default=crime.DEFAULT_SPAN.get(view, "all"),
    format_func=crime.SPAN_LABELS.get,
)

area = names[geography]
category = crime.category_label(major, minor)
monthly = ui.read(settings, crime.read_monthly_series, scheme, geography, major, minor)
head = crime.headline(monthly, populations, geography, breaks)
if head is None:
    st.info(f"No {category.lower()} figures for {area}.")
    st.stop()
end = head.end
source = crime.source_line(end, suffix)
rate_note = crime.population_note(populations, [head.population_year])

c1, c2, c3 = st.columns(3)
c1.metric(f"Offences, 12 months to {end:%b %Y}", f"{head.offences:,}")
c2.metric(
    "Per 1,000 residents",
    crime.format_rate(head.rate),
    help=f"{populations.source}, mid-{head.population_year}.",
)
c3.markdown(f"**Change on the 12 months before**  \n{head.change_text}")
st.caption(f"{category}, {area}. {rate_note}")

# --- trend ---------------------------------------------------------------------------------------

st.subheader("Trend")
periods = crime.aggregate_view(monthly, view)
periods = crime.mark_spanning(crime.add_rates(periods, populations, geography), breaks)
periods = crime.limit_span(periods, span, end)
value = "offences" if measure == "count" else "rate"
value_format = ",.0f" if measure == "count" else ",.3g"
per = crime.PERIOD_WORDS[view]
y_title = "Offences" if measure == "count" else f"Offences per 1,000 residents, {per}"
value_label = category if measure == "count" else f"{category} per 1,000 residents"
title = crime.trend_title(category, area, head, measure, suffix)
shown_breaks = crime.breaks_in_view(
    breaks, periods["period_start"].min().date(), periods["period_end"].max().date()
)
notes = [
    f"The series starts in {crime.month_label(scheme_start)}: earlier months are published in "
    f"the old category scheme ({scheme_change.from_scheme}), which does not map exactly onto "
    f"the current categories, so only the current scheme ({scheme}) is shown."
]
notes += [
    f"Dotted line: {b.label}, {crime.month_label(crime.month_date(b.date))}"
    + (" (dated from the data)" if b.evidence else "")
    + "; counts either side are not like for like."
    for b in shown_breaks
    if b.kind != "category_scheme"
]
if measure == "rate":
    notes.append(crime.population_note(populations, periods["population_year"]))

if view == "monthly":
    since = crime.segment_start(
        breaks, periods["period_start"].min().date(), periods["period_end"].max().date()
    )
    xmr = crime.xmr_chart(periods, value, since, stats_cfg.spc_min_points)
    fmt = crime.format_count if measure == "count" else crime.format_rate
    fig = crime_charts.xmr_figure(
        xmr,
        breaks,
        title=title,
        subtitle=crime.xmr_summary(xmr, fmt),
        value_label=value_label,
        y_title=y_title,
        value_format=value_format,
    )
    notes.insert(
        0,
        "XmR chart (NHS Making Data Count)"
        + (", seasonally adjusted: each month divided by its month-of-year factor, so the "
           "season is not read as a special cause" if xmr.adjusted else "")
        + f". The mean and natural process limits (mean ± 2.66 × the average moving range) come "
        f"from a fixed baseline of the first 12 to 24 of the {xmr.points} months since "
        f"{crime.month_label(since)} and are re-based only at a sustained shift, as limits "
        "across a recording change are meaningless; the lower limit is shown no lower than "
        "zero. Special cause (purple triangles): a month beyond a limit, a run of 7 on one side "
        "of the mean, a trend of 7, or 2 of 3 months near a limit.",
    )
    table = periods[["period", "offences", "population", "population_year", "rate"]].copy()
    table["in_limits"] = xmr.frame["in_limits"].to_numpy()
    if xmr.limits is not None:
        table.loc[table["in_limits"], "mean"] = xmr.limits.centre
        table.loc[table["in_limits"], "lower_limit"] = max(xmr.limits.lower, 0.0)
        table.loc[table["in_limits"], "upper_limit"] = xmr.limits.upper
    table["special_cause"] = xmr.frame["signal"].to_numpy()
else:
    first_label, last_label = periods["period"].iloc[0], periods["period"].iloc[-1]
    subtitle = f"{crime.VIEW_LABELS[view]}: {first_label} to {last_label} (complete periods)"
    if (periods["spans_break"] != "").any():
        subtitle += "; open circles mix months either side of a series break"
    fig = crime_charts.trend_figure(
        periods,
        breaks,
        value=value,
        title=title,
        subtitle=subtitle,
        value_label=value_label,
        y_title=y_title,
        value_format=value_format,
    )
    table = periods[["period", "offences", "population", "population_year", "rate", "spans_break"]]
ui.show_chart(
    fig,
    table.rename(columns={"rate": "rate_per_1000"}),
    key="crime_trend",
    source=source,
    filename=f"crime_trend_{geography}_{view}",
    notes=notes,
)
if shown_breaks:
    with st.expander("About the series breaks"):
        for brk in shown_breaks:
            st.markdown(
                f"**{brk.label}** ({crime.month_label(crime.month_date(brk.date))}). {brk.note}"
            )

# --- boroughs against London ---------------------------------------------------------------------

st.subheader("Boroughs against London")
start = crime.shift_months(end, -11)
totals = ui.read(settings, crime.read_borough_totals, scheme, major, minor, start, end)
rates, london_offences, london_population, pop_year = crime.borough_rates(
    totals, boroughs, populations, crime.shift_months(end, -6).year
)
if not crime.funnel_possible(london_offences, len(rates)):
    st.info(crime.funnel_refusal(london_offences, len(rates), end))
else:
    funnel = crime.borough_funnel(
        rates,
        london_offences,
        london_population,
        pop_year,
        levels=stats_cfg.funnel_levels,
        method=stats_cfg.funnel_method,
    )
    fig = crime_charts.funnel_figure(
        funnel,
        title=crime.funnel_title(category, funnel, end, suffix),
        subtitle="Rate per 1,000 residents against the number of residents; named boroughs lie "
        "outside the limits",
        highlight=geography,
    )
    columns = {
        "borough_name": "borough",
        "population": "residents",
        "offences": "offences",
        "rate": "rate_per_1000",
        "position": "against_london",
        "z_adjusted": "z_adjusted",
    }
    for level in funnel.levels:
        label = crime.level_label(level)
        columns[f"lower_{label}"] = f"lower_{label}"
        columns[f"upper_{label}"] = f"upper_{label}"
    funnel_table = funnel.table[list(columns)].rename(columns=columns).sort_values("borough")
    funnel_table.insert(4, "london_rate_per_1000", funnel.london_rate)
    ui.show_chart(
        fig,
        funnel_table,
        key="crime_funnel",
        source=source,
        filename="crime_funnel",
        notes=[crime.funnel_caption(funnel, populations)],
    )


if london_offences > 0:
    st.subheader("Map of borough rates")
    tiles = crime.tile_frame(boroughs, rates)
    fig = crime_charts.tile_map_figure(
        tiles,
        title=crime.map_title(category, tiles, end, suffix),
        subtitle="Each square is a borough, placed roughly where it lies; darker is lower, "
        "lighter is higher. The City of London (grey) is policed by the City of London Police.",
    )
    tile_table = tiles.sort_values("borough_name")[
        ["borough_name", "abbreviation", "offences", "population", "rate"]
    ].rename(columns={"population": "residents", "rate": "rate_per_1000"})
    ui.show_chart(
        fig,
        tile_table,
        key="crime_map",
        source=source,
        filename="crime_borough_rates",
        notes=[
            "Rates give context, not a verdict: they reflect where people live, work and visit "
            "(central boroughs have many visitors and few residents). "
            + crime.population_note(populations, [pop_year])
        ],
    )


# --- wards ---------------------------------------------------------------------------------------

st.subheader("Wards")
ward_months = ui.read(settings, crime.read_ward_months, scheme)
if ward_months is None:
    st.info("The warehouse holds no ward crime figures.")
    st.stop()
if geography == crime.LONDON:
    ward_borough = ui.param_select(
        "Borough to break down by ward",
        list(mps["borough_code"]),
        "ward_borough",
        format_func=names.get,
        container=st.columns([1, 2])[0],
    )
else:
    ward_borough = geography
ward_first, ward_end = ward_months
previous_complete = ward_first <= crime.shift_months(ward_end, -23)
crossing = crime.spanned_break(ward_breaks, crime.shift_months(ward_end, -23), ward_end)
wards = ui.read(settings, crime.read_ward_windows, scheme, ward_borough, major, minor, ward_end)
ward_rows = crime.ward_table(
    wards, previous_complete=previous_complete, crossing=crossing, small_count=crime.SMALL_COUNT
)
borough_name = names[ward_borough]
st.caption(
    "Ward counts are small, so a ward's figure can move a lot by chance. No % change is shown "
    f"where the earlier 12 months had fewer than {crime.SMALL_COUNT} offences"
    + (
        f", and none at all while the two years cross the {crossing.label} "
        f"({crime.month_label(crime.month_date(crossing.date))})"
        if crossing is not None
        else ""
    )
    + ". Counts only: ward populations are not held, so there are no ward rates."
)
if ward_rows.empty:
    st.info(f"No wards listed for {borough_name}.")
else:
    fig = crime_charts.ward_bar_figure(
        ward_rows,
        title=crime.ward_title(category, borough_name, ward_rows, ward_end, suffix),
        subtitle=f"The {min(10, len(ward_rows))} wards with most offences in the 12 months to "
        f"{crime.month_label(ward_end)}",
    )
    ward_table = ward_rows.rename(
        columns={
            "latest": f"12 months to {ward_end:%b %Y}",
            "previous": f"12 months to {crime.shift_months(ward_end, -12):%b %Y}",
            "change_pct": "change_%",
        }
    )
    ui.show_chart(
        fig,
        ward_table,
        key="crime_wards",
        source=source.replace("London Datastore", "London Datastore ward file", 1),
        filename=f"crime_wards_{ward_borough}",
        notes=[
            "Wards are those of the MPS ward-level file; Heathrow Villages, which the file lists "
            "under Aviation Security (SO18), is counted in Hillingdon, where its ward code "
            "places it."
        ],
    )

st.caption(
    f"{crime.LONDON_NAME} is the 32 boroughs policed by the Met plus offences the MPS records "
    "outside any borough (unknown location, the airports), which count in London only. "
    f"Data to end of {crime.month_label(end)}."
)
