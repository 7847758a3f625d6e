"""Stop and search: volumes, outcomes, disproportionality and strip searches (police.uk)."""

from __future__ import annotations

import streamlit as st

from oversight import stats, ui
from oversight import stop_search as ss
from oversight.measures import load_statistics
from oversight.settings import get_settings

ui.ensure_navigation()
settings = get_settings()
ui.require_warehouse(settings)
status = ui.current_status(settings)
suffix = ui.synthetic_suffix(status)
level = 1 - load_statistics().significance_level
groups = ss.load_ethnicity_groups()

st.title("Stop and search")
st.write(
    "Every stop and search the Metropolitan Police Service publishes on police.uk: how many, "
    "what the police were looking for, what happened next, who was searched and how often "
    "searches went beyond outer clothing."
)

months_held = ui.read(settings, ss.search_months)
if months_held.empty:
    st.info("No police.uk stop and search files are loaded yet (see README, Using real data).")
    st.stop()

months = [m.date() for m in months_held["month"]]
first_default, last_default = ss.default_range(months)
start = ui.param_select(
    "From", months, "from", default=first_default, format_func=lambda m: f"{m:%b %Y}"
)
end = ui.param_select("To", months, "to", default=last_default, format_func=lambda m: f"{m:%b %Y}")
if start > end:
    start, end = end, start
types = [ss.ALL_TYPES, *ui.read(settings, ss.search_types)]
search_type = ui.param_select(
    "Type of search",
    types,
    "type",
    format_func=lambda t: "All types" if t == ss.ALL_TYPES else t,
)
period = ss.range_label(start, end)
when = ss.during(start, end)
type_text = "all types of search" if search_type == ss.ALL_TYPES else search_type.lower()
loaded = status.get("loaded_at") if status else None
as_at = f"{period}" + (f"; loaded {loaded:%d %B %Y}" if loaded else "")
source = f"{ss.SOURCE}, {as_at}."

st.info(
    "**Whole MPS area only.** police.uk gives each search an anonymised point (latitude and "
    "longitude), not a borough. Placing points in boroughs needs borough boundary geometry, "
    "which this dashboard does not hold, so there is no borough filter: every figure here is "
    "for the whole Metropolitan Police area."
)
gaps = ss.missing_months(months, start, end)
if gaps:
    st.warning(
        f"No stop and search file is loaded for {len(gaps)} of the months {when} "
        f"(e.g. {ss.month_label(gaps[0])}); they are left out of every total below."
    )

outcomes = ui.read(settings, ss.monthly_outcomes, start, end, search_type)
if outcomes.empty:
    st.info(f"No searches of this type {when}.")
    st.stop()
monthly = ss.monthly_summary(outcomes, level)
total = int(monthly["searches"].sum())
arrests = int(monthly["arrest"].sum())
nfa = int(monthly["no_further_action"].sum())

# --- volumes and outcomes -----------------------------------------------------------------------

st.header("How many searches, and what happened")
cols = st.columns(3)
cols[0].metric(f"Searches, {period}", f"{total:,}", border=True)
if total >= ss.SMALL_COUNT and arrests >= ss.SMALL_COUNT:
    low, high = stats.wilson_interval(arrests, total, level)
    arrest_text = f"{arrests / total:.1%}"
    arrest_help = f"{arrests:,} of {total:,}; {level:.0%} CI {low:.1%} to {high:.1%} (Wilson)"
else:
    arrest_text, arrest_help = "too few", f"fewer than {ss.SMALL_COUNT} searches or arrests"
cols[1].metric("Ended in arrest", arrest_text, help=arrest_help, border=True)
cols[2].metric(
    "No further action",
    ss.share_text(nfa, total, 1),
    help=f"{nfa:,} searches: 'A no further action disposal' or 'Nothing found'",
    border=True,
)

n_months = len(monthly)
volume_title = (
    f"{total:,} searches ({type_text}) {when}, {total / n_months:,.0f} a month on average"
    if n_months > 1
    else f"{total:,} searches ({type_text}) {when}"
)
ui.show_chart(
    ss.volumes_chart(monthly, volume_title + suffix),
    monthly.assign(month=monthly["month"].dt.date),
    key="ss_volumes",
    source=source,
    filename="stop_search_monthly",
    notes=["Months are London local months. Exact copies of published rows are counted."],
)

if monthly["arrest_rate"].notna().any():
    rates = monthly.dropna(subset=["arrest_rate"])
    low_row = rates.loc[rates["arrest_rate"].idxmin()]
    high_row = rates.loc[rates["arrest_rate"].idxmax()]
    rate_title = (
        f"{arrest_text} of searches ended in arrest; between {low_row['arrest_rate']:.1%} "
        f"({ss.month_label(low_row['month'])}) and {high_row['arrest_rate']:.1%} "
        f"({ss.month_label(high_row['month'])}) a month"
    )
    ui.show_chart(
        ss.arrest_rate_chart(monthly, rate_title + suffix),
        rates[
            ["month", "searches", "arrest", "arrest_rate", "arrest_lower", "arrest_upper"]
        ].assign(month=rates["month"].dt.date),
        key="ss_arrest_rate",
        source=source,
        filename="stop_search_arrest_rate",
        notes=[
            f"Shaded: {level:.0%} Wilson confidence interval on the month's searches. "
            "Arrest: outcomes 'Arrest' and 'Suspect arrested'. Months with fewer than "
            f"{ss.SMALL_COUNT} searches are not given a rate."
        ],
    )

table = ss.outcome_table(outcomes)
outcome_title = (
    f"{ss.share_text(nfa, total)} of searches ended with no further action and "
    f"{ss.share_text(arrests, total)} in arrest"
)
ui.show_chart(
    ss.outcomes_chart(table, outcome_title + suffix),
    table,
    key="ss_outcomes",
    source=source,
    filename="stop_search_outcomes",
    notes=[f"Shares are not given for counts below {ss.SMALL_COUNT} ('too few')."],
)

objects = ui.read(settings, ss.object_by_type, start, end, search_type)
by_object = objects.groupby("object_of_search")[["searches", "arrests"]].sum()
top = by_object["searches"].idxmax()
object_title = (
    f"{top} was the object of {ss.share_text(by_object.loc[top, 'searches'], total)} of "
    f"searches; {ss.share_text(by_object.loc[top, 'arrests'], by_object.loc[top, 'searches'])}"
    " of those ended in arrest"
)
ui.show_chart(
    ss.object_chart(objects, object_title + suffix),
    objects,
    key="ss_objects",
    source=source,
    filename="stop_search_objects",
    notes=["Bars are split by the type of search."],
)

# --- disproportionality -------------------------------------------------------------------------

st.header("Who is searched: rates by ethnic group")
year = ui.param_select(
    "Population denominator",
    list(ss.CENSUS_YEARS),
    "census",
    format_func=lambda y: f"Census {y}",
    container=st,
)
denominators = ss.census_denominators(year)
history_from = next(m for m in months if m >= ss.history_start(end, groups.history_months))
ratios = {
    b: ss.basis_ratios(
        ui.read(settings, ss.ethnicity_counts, start, end, search_type, b),
        ui.read(settings, ss.ethnicity_monthly, history_from, end, search_type, b),
        denominators,
        groups,
        b,
        level,
    )
    for b in ss.BASES
}
labels = groups.labels
ref_label = labels[groups.reference_group]
census_text = (
    "Census 2021 usual residents (21 March 2021): each borough's published share of each group "
    "(to 1 decimal place) times its exact total, so the counts are approximate"
    if year == 2021
    else "Census 2011 usual residents (27 March 2011), exact counts from table QS201EW"
)
population_source = f"{source} Population: ONS Census {year} (OGL v3.0)."
dispersion_text = ss.dispersion_note(
    {b: r.table for b, r in ratios.items()}, groups, (history_from, end)
)

comparison = ss.compare_bases(ratios["self"], ratios["officer"], groups.reference_group)
if comparison.dropna(subset=["self_ratio", "officer_ratio"]).empty:
    st.info("Too few searches with an ethnicity recorded to compare groups.")
else:
    st.subheader("Self-defined and officer-defined ethnicity side by side")
    st.write(ss.BASES_EXPLAINED)
    finding = ss.bases_sentence(comparison, ref_label, ratios["self"])
    st.write(f"**{finding}**")
    st.table(
        ss.bases_table(
            comparison, ratios["self"].unstated_share, ratios["officer"].unstated_share
        ).set_index("Group")
    )
    best = comparison.dropna(subset=["self_ratio", "officer_ratio"])
    top = best.loc[best["self_ratio"].idxmax()]
    bases_title = (
        f"{top['label']} people were searched at {top['self_ratio']:.1f} times the rate of "
        f"{ref_label} people by self-defined and {top['officer_ratio']:.1f} times by "
        f"officer-defined ethnicity {when} (per head of Census {year} residents)"
    )
    ui.show_chart(
        ss.bases_chart(comparison, bases_title + suffix, ref_label),
        comparison.round(4),
        key="ss_bases",
        source=population_source,
        filename=f"stop_search_disproportionality_both_bases_{year}",
        notes=[
            f"Rate ratio with a {level:.0%} confidence interval. {dispersion_text}",
            "Dotted: the ratio if none of the searches with no ethnicity recorded on that basis "
            "were of the group (and all of them were of the reference group), to the ratio if "
            "all were. Ethnic groups are context, not judged.",
        ],
    )

st.subheader("Rates per head on one basis")
basis = ui.param_select(
    "Ethnicity recorded",
    list(ss.BASES),
    "ethnicity",
    format_func=lambda b: ss.BASIS_LABELS[b].capitalize(),
    container=st,
    help="Self-defined: as the person searched described themselves. Officer-defined: as the "
    "officer perceived them (White, Black, Asian or Other only).",
)
chosen = ratios[basis]
mapped, table = chosen.counts, chosen.table
excluded = mapped.not_stated + int(mapped.unmapped["searches"].sum())
st.write(
    f"Searches per 1,000 residents of each Census broad ethnic group, using the "
    f"**{ss.BASIS_LABELS[basis]}** of the person searched, compared with the rate for "
    f"{ref_label} people. **Denominator: {census_text}**, summed over the 32 boroughs the Met "
    f"polices (not the City of London). **{excluded:,} of {mapped.total:,} searches "
    f"({ss.share_text(excluded, mapped.total, 1)}) have no ethnicity recorded** (left blank or "
    "'not stated') and are left out of the rates, so every rate is a lower bound. Rates are "
    f"for the {len(monthly)} month(s) selected; residents are not the same as the people "
    "present in London (commuters, visitors)."
)
if basis == "officer":
    st.write(
        "Officers record no Mixed group, so there is no rate for it; people of mixed heritage "
        "are counted in whichever group the officer perceived."
    )
if not mapped.unmapped.empty:
    st.warning(
        f"{int(mapped.unmapped['searches'].sum()):,} searches carry an ethnicity not in "
        "config/ethnicity_groups.yaml and are left out: "
        + "; ".join(f"'{e}' ({n:,})" for e, n in mapped.unmapped.itertuples(index=False))
    )
compared = table[(table["group"] != groups.reference_group) & table["ratio"].notna()]
if compared.empty or table.loc[table["group"] == groups.reference_group, "searches"].iloc[0] == 0:
    st.info("Too few searches with an ethnicity recorded to compare groups.")
else:
    highest = compared.loc[compared["ratio"].idxmax()]
    disp_title = (
        f"{highest['label']} people were searched at {highest['ratio']:.1f} times the rate of "
        f"{ref_label} people ({ss.BASIS_LABELS[basis]}, Census {year} population)"
    )
    shown = table.assign(
        rate_per_1000=table["rate_per_1000"].round(2),
        ratio=table["ratio"].round(3),
        ratio_lower=table["ratio_lower"].round(3),
        ratio_upper=table["ratio_upper"].round(3),
    )
    ui.show_chart(
        ss.disproportionality_chart(table, disp_title + suffix, ref_label),
        shown,
        key="ss_disproportionality",
        source=population_source,
        filename=f"stop_search_disproportionality_{basis}_{year}",
        notes=[
            f"Rate ratio with a {level:.0%} confidence interval. {dispersion_text} "
            f"Denominator: Census {year}; {ss.BASIS_LABELS[basis]}; {excluded:,} searches "
            "with no ethnicity recorded excluded. Ethnic groups are context, not judged."
        ],
    )

# --- strip searches -----------------------------------------------------------------------------

st.header("Searches removing more than outer clothing")
strip = ui.read(settings, ss.strip_search_counts, start, end, search_type)
with_field = ss.recorded_months(strip)
ages = ss.strip_by_age(strip)
n_strip = int(ages["strip_searches"].sum())
children = ages[ages["child"]]
n_children = int(children["strip_searches"].sum())
if not with_field:
    st.info(
        "police.uk records whether more than outer clothing was removed (which includes strip "
        f"searches), but the field was left blank for every search {when}, so these searches "
        "cannot be counted for the months selected."
    )
else:
    field_span = ss.during(with_field[0].date(), with_field[-1].date())
    recorded = int(ages["recorded"].sum())
    st.write(
        "police.uk records whether more than outer clothing was removed (which includes strip "
        f"searches). The field was filled in for {recorded:,} of {total:,} searches "
        f"({ss.share_text(recorded, total)}); a blank is not counted as a strip search."
    )
    if len(with_field) < len(monthly):
        st.warning(
            f"The field was left blank for every search in {len(monthly) - len(with_field)} of "
            f"the {len(monthly)} months selected; the figures below cover the "
            f"{len(with_field)} month(s) with it filled in ({field_span.removeprefix('from ')})."
        )
    cols = st.columns(3)
    cols[0].metric("More than outer clothing removed", f"{n_strip:,}", border=True)
    cols[1].metric(
        "Of them children (under 18)",
        f"{n_children:,}",
        help="Age ranges 'under 10' and '10-17'",
        border=True,
    )
    cols[2].metric(
        "Children's share",
        ss.share_text(n_children, n_strip, 1),
        help="of these searches",
        border=True,
    )
    for row in children.itertuples():
        st.write(f"- Children aged {row.age_range}: **{row.strip_searches:,}** {field_span}.")
    if n_strip == 0:
        st.info(f"No search {field_span} recorded removing more than outer clothing.")
    else:
        strip_title = (
            f"{n_strip:,} searches removed more than outer clothing {field_span}; "
            f"{n_children:,} were of children ({ss.share_text(n_children, n_strip)})"
        )
        ui.show_chart(
            ss.strip_chart(strip, strip_title + suffix),
            ages,
            key="ss_strip",
            source=source,
            filename="stop_search_strip_searches",
            notes=[
                "Children's age ranges are hatched. Months with the field left blank for every "
                f"search are not drawn. Shares are not given for counts below {ss.SMALL_COUNT} "
                "('too few')."
            ],
        )
