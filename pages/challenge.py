"""Challenge points: ranked findings with evidence and a draft question for the Commissioner.

Filters (plan, as-at, priority, area, meeting) live in the URL. Each point opens its chart;
editors accept, edit or dismiss a point with a reason (kept in the app-state store and shown).
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from oversight import challenge, governance, measures, scorecard, ui
from oversight.settings import get_settings

ui.ensure_navigation()
settings = get_settings()
ui.require_warehouse(settings)
status = ui.current_status(settings)
viewer = ui.current_viewer(settings)
who = (viewer.email or viewer.name) if viewer.can_edit else None
rules = challenge.load_rules()
stats_cfg = ui.read_config_statistics()
SEVERITY_BADGES = {"high": "red", "medium": "orange", "low": "gray"}
DECISION_WORDS = {"accepted": "Accept", "edited": "Edit", "dismissed": "Dismiss"}

st.title("Challenge points")
plan_id, _, as_at = ui.plan_filters(settings, geography=False)
shown_at = f"{as_at:%B %Y}" if as_at else "the latest data"
st.caption(
    f"Findings for the London Policing Board as at {shown_at}{ui.synthetic_suffix(status)}, "
    f"ranked by severity. A point is raised only for a change that is both statistically "
    f"significant (p < {stats_cfg.significance_level:g}) and at least the measure's "
    "materiality tolerance, never from a context measure and never across a series break; "
    "a movement London shares is one London point, and a borough is raised only where it "
    "differs from London; false discoveries are controlled across every test of the run. "
    "Overdue and refused data are listed separately for the data team. The questions are "
    "drafts for officers to accept, edit or dismiss."
)
ui.show_flash("challenge_flash")

try:
    store = governance.StateStore(settings.state)
    decisions = store.decisions()
    meetings = store.meetings()
except governance.StateError as exc:
    store, decisions, meetings = None, None, None
    st.warning(f"Decisions cannot be read or recorded: {exc}")

quarantined = challenge.quarantined_files(settings.quarantine_dir)
points, values = ui.read(
    settings, challenge.read_challenge, plan_id, as_at, settings.today, quarantined
)

# --- filters (in the URL) ------------------------------------------------------------------------

priorities = {p.priority_id: p.priority_title for p in points}
plan_priorities = {
    row.priority_id: row.priority_title
    for row in values[["priority_id", "priority_title"]].drop_duplicates().itertuples()
}
priorities = {**plan_priorities, **priorities}
priority = ui.param_select(
    "Priority",
    ["all", *priorities],
    "priority",
    format_func=lambda p: "All priorities" if p == "all" else priorities[p],
)
names = scorecard.geography_names()
area = ui.param_select(
    "Area", ["all", *names], "area", format_func=lambda a: "All areas" if a == "all" else names[a]
)
meeting = "all"
if meetings is not None and not meetings.empty:
    labels = {
        r.meeting_id: f"{r.date:%d %b %Y} · {r.body}" for r in meetings.itertuples(index=False)
    }
    meeting = ui.param_select(
        "Meeting",
        ["all", *labels],
        "meeting",
        format_func=lambda m: "Any meeting" if m == "all" else labels[m],
        help="Only points on measures or priorities linked to the meeting's agenda.",
    )

shown = [p for p in points if priority in ("all", p.priority_id)]
shown = [p for p in shown if area in ("all", p.geography_code)]
if meeting != "all" and store is not None:
    # An agenda item links measures; an item that names none links its whole priority.
    agenda = store.agenda(meeting)
    linked_measures: set[str] = set()
    linked_priorities: set[str] = set()
    for item_priority, ids in zip(agenda["priority_id"], agenda["measure_ids"], strict=True):
        named = governance.split_measures(ids)
        linked_measures.update(named)
        if not named and item_priority:
            linked_priorities.add(item_priority)
    shown = [
        p for p in shown if p.measure_id in linked_measures or p.priority_id in linked_priorities
    ]

latest = challenge.decisions_by_point(decisions)
dismissed = [p for p in shown if str(latest.get(p.point_id, {}).get("decision")) == "dismissed"]
kept = challenge.apply_decisions(shown, decisions, drop_dismissed=True)
top, rest = challenge.for_meeting(kept, rules=rules)

columns = st.columns(4)
counts = pd.Series([p.severity for p in kept]).value_counts()
columns[0].metric("Points for the meeting", len(top), help=f"At most {rules.meeting_cap}.")
for column, level in zip(columns[1:], challenge.SEVERITIES, strict=True):
    column.metric(f"{level.capitalize()} severity", int(counts.get(level, 0)))

if ui.read(settings, scorecard.stale):
    st.info(
        "The plan configuration has changed since the warehouse was built, so the figures are "
        "computed from the marts now."
    )


# --- one point -----------------------------------------------------------------------------------


def decision_line(point: challenge.ChallengePoint) -> str | None:
    decision = latest.get(point.point_id)
    if not decision:
        return None
    reason = f": {decision['reason']}" if decision.get("reason") else ""
    return (
        f"**{str(decision['decision']).capitalize()}** by {decision['who']} on "
        f"{str(decision['at'])[:10]}{reason}"
    )


def show_chart(point: challenge.ChallengePoint, key: str) -> None:
    """The measure's series for the point's area, with its comparison or limits."""
    if point.rule in challenge.DATA_RULES:
        st.caption("A data-supply point: see the Data health page for the source's history.")
        return
    rows = values[
        values["measure_id"].eq(point.measure_id)
        & values["geography_code"].eq(point.geography_code)
        & values["window"].eq(point.window)
    ]
    row = rows.iloc[0].to_dict() if len(rows) else {}
    boroughs = None
    if point.rule == "funnel_outlier":
        boroughs = values[
            values["measure_id"].eq(point.measure_id)
            & values["window"].eq("r12")
            & values["geography_code"].ne(measures.LONDON)
            & values["value"].notna()
            & values["population"].notna()
        ][["geography_code", "geography_name", "value", "population"]]
    series = ui.read(
        settings, challenge.point_series, plan_id, point.measure_id, point.geography_code
    )
    if series.empty:
        st.caption("No series to chart for this measure.")
        return
    fig, table = challenge.point_figure(point, series, row, boroughs, stats_cfg.funnel_method)
    fig.update_layout(title_text=fig.layout.title.text + ui.synthetic_suffix(status))
    mart = row.get("source_mart") or "the marts"
    ui.show_chart(
        fig,
        table,
        key=f"point_{key}",
        source=f"marts.{mart}" + (f", vintage {point.vintage}" if point.vintage else "") + ".",
        filename=f"challenge-{point.point_id}",
    )


def decision_form(point: challenge.ChallengePoint, key: str) -> None:
    """Accept, edit or dismiss, with a reason (editors only)."""
    if store is None:
        return
    if not viewer.can_edit:
        st.caption("Only editors can accept, edit or dismiss a point.")
        return
    with st.form(f"decide_{key}"):
        choice = st.radio(
            "Decision",
            list(DECISION_WORDS),
            format_func=DECISION_WORDS.__getitem__,
            horizontal=True,
            key=f"decision_{key}",
        )
        reason = st.text_input("Reason (needed to edit or dismiss)", key=f"reason_{key}")
        finding = st.text_area("Finding (for an edit)", point.finding, key=f"finding_{key}")
        question = st.text_area("Question (for an edit)", point.question, key=f"question_{key}")
        if st.form_submit_button("Record decision"):
            ui.attempt(
                lambda: store.record_decision(
                    point.point_id,
                    choice,
                    reason,
                    who,
                    edited_finding=finding if choice == "edited" else None,
                    edited_question=question if choice == "edited" else None,
                ),
                "challenge_flash",
                lambda _: f"Recorded: {choice} ({point.measure_label}, {point.geography_name}).",
            )


def show_point(number: int, point: challenge.ChallengePoint, *, nested: bool = False) -> None:
    """A point's finding, evidence and question; its chart and the decision form below.

    ``nested`` (inside an expander already): tabs, since expanders cannot be nested.
    """
    key = point.point_id
    with st.container(border=True):
        colour = SEVERITY_BADGES[point.severity]
        st.markdown(
            f"#### {number}. {point.measure_label}, {point.geography_name}\n"
            f":{colour}-badge[{point.severity.capitalize()} severity] "
            f":gray-badge[{rules.labels[point.rule]}] "
            f":gray-badge[{point.priority_title}]"
        )
        st.markdown(f"**Finding.** {point.finding}")
        st.markdown(f"**Evidence.** {point.evidence}")
        st.markdown(f"**Question.** {point.question}")
        line = decision_line(point)
        if line:
            st.caption(line)
        if nested:
            chart_tab, decide_tab = st.tabs(["Chart", "Decide"])
        else:
            chart_tab, decide_tab = st.expander("Chart"), st.expander("Decide")
        with chart_tab:
            show_chart(point, key)
        with decide_tab:
            decision_form(point, key)


# --- the list ------------------------------------------------------------------------------------

st.header(f"For the next meeting ({len(top)})")
if not top:
    st.info("No point is both statistically significant and material for these filters.")
for number, point in enumerate(top, 1):
    show_point(number, point)

st.header(f"The rest ({len(rest)})")
if rest:
    table = pd.DataFrame(
        {
            "Severity": [p.severity for p in rest],
            "Area": [p.geography_name for p in rest],
            "Measure": [p.measure_label for p in rest],
            "Point": [rules.labels[p.rule] for p in rest],
            "Finding": [p.finding for p in rest],
        }
    )
    st.dataframe(table, hide_index=True, width="stretch", key="rest_table")
    for number, point in enumerate(rest, len(top) + 1):
        with st.expander(f"{number}. {point.measure_label}, {point.geography_name}"):
            show_point(number, point, nested=True)
else:
    st.caption("Every point raised is in the meeting list above.")

if dismissed:
    with st.expander(f"Dismissed ({len(dismissed)})"):
        for point in dismissed:
            st.markdown(f"- **{point.measure_label}, {point.geography_name}**: {point.finding}")
            st.caption(decision_line(point) or "")

ui.download_buttons(
    challenge.points_frame([*top, *rest]), f"challenge-points-{plan_id}", "challenge_points"
)

operations = ui.read(
    settings, challenge.read_data_operations, plan_id, as_at, settings.today, quarantined
)
st.header(f"For the data team, not the MPS ({len(operations)})")
st.caption(
    "Feeds late at the as-at date against their publication lag, and files refused at load: "
    "questions for MOPAC's own data team, never points for the meeting."
)
for point in operations:
    label = rules.labels[point.rule].lower()
    st.markdown(f"- **{point.measure_label}** ({label}): {point.finding}")
