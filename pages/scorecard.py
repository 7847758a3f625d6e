"""Plan scorecard: each priority's measures with status, latest value, comparison and trend."""

from __future__ import annotations

import streamlit as st

from oversight import scorecard, ui
from oversight.settings import get_settings

ui.ensure_navigation()
settings = get_settings()
ui.require_warehouse(settings)
status = ui.current_status(settings)

plan_id, geo, as_at = ui.plan_filters(settings)
names = scorecard.geography_names()
plan_title = scorecard.plan_title(plan_id)
where = names[geo]

st.title(f"{plan_title}: {where}")
stale = ui.read(settings, scorecard.stale)
if stale:
    st.warning(
        "The plan configuration has changed since the warehouse was built, so these figures are "
        "computed from the marts now; reload or rebuild (`python -m pipelines rebuild`) to "
        "store them."
    )
card = ui.read(settings, scorecard.card_for, plan_id, geo, as_at)
stats_cfg = ui.read_config_statistics()
shown_at = f"{as_at:%B %Y}" if as_at else "the latest data"
st.caption(
    f"How the Metropolitan Police Service is doing against each measure of the plan, as at "
    f"{shown_at}{ui.synthetic_suffix(status)}. A change is called improving or deteriorating "
    "only when it is both statistically significant "
    f"(p < {stats_cfg.significance_level:g}) and at least the measure's materiality tolerance. "
    "Context measures are never judged good or bad."
)

counts = scorecard.status_counts(card)
for column, (name, count) in zip(st.columns(len(counts)), counts.items(), strict=True):
    column.metric(
        name.capitalize(),
        count,
        help="A series break or no complete earlier period: the figure is shown, not judged."
        if name == "not compared"
        else None,
    )

for title, group in card.groupby("priority_title", sort=False):
    st.subheader(title)
    table = ui.scorecard_table(group)
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config=ui.scorecard_column_config(),
        key=f"card_{group['priority_id'].iloc[0]}",
    )
    with st.expander("What the figures say", expanded=False):
        for _, row in group.iterrows():
            proxy = " *(proxy)*" if row.get("proxy") else ""
            st.markdown(f"- **{row['measure_label']}**{proxy}: {row['sentence']}")

st.caption(
    "Sources: MPS recorded crime (London Datastore, OGL v3.0); MOPAC Public Attitude Survey "
    f"(assumed base {stats_cfg.pas_base_borough:,} interviews a borough and "
    f"{stats_cfg.pas_base_london:,} for London per rolling year, design effect "
    f"{stats_cfg.pas_design_effect:g}: the published extract has no base sizes); MPS homicide "
    "data; police.uk stop and search; Home Office use of force statistics; the MPS measure "
    "extract where loaded. Police recorded crime is not accredited official statistics. "
    "Windows: 12 months against the 12 before (r12); where a series break sits inside that "
    "span, the latest month against the XmR limits of the months since the break (month). "
    "See About for methods."
)
ui.download_buttons(card.drop(columns=["trend"]), f"scorecard-{plan_id}-{geo}", "scorecard")
