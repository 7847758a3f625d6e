"""Actions and risks: the Board's actions log with overdue actions flagged, the quarterly view
for the governance improvement plan, the risk register linked to early-warning measures, and
the audit trail of every change.
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from oversight import governance, measures, scorecard, ui
from oversight.charts import STATUS_COLOURS
from oversight.settings import get_settings

ui.ensure_navigation()
settings = get_settings()
ui.require_warehouse(settings)
status = ui.current_status(settings)
viewer = ui.current_viewer(settings)
who = (viewer.email or viewer.name) if viewer.can_edit else None
today = settings.today
FLAG_COLOUR = STATUS_COLOURS["deteriorating"]
FLASH = "actions_flash"
HIGH_RISK = 15  # likelihood x impact at or above this is rated high
SOURCE = "London Policing Board actions log and risk register (MOPAC app-state store)"

st.title("Actions and risks")
try:
    store = governance.StateStore(settings.state)
    actions = store.actions(today=today)
    risks = store.risks()
    meetings = store.meetings()
except governance.StateError as exc:
    st.error(str(exc))
    st.stop()

plan_id, _, as_at = ui.plan_filters(settings, geography=False)
values = ui.read(settings, scorecard.values_for, plan_id, measures.LONDON, as_at)
headline = governance.headline_status(values)
labels = dict(zip(headline["measure_id"], headline["measure_label"], strict=True))
st.caption(
    f"Actions agreed at the Board and its committees, judged overdue against {today:%d %B %Y}, "
    "and the risks the Board watches, each with the current status of its early-warning "
    f"measures for London (MPS area){ui.synthetic_suffix(status)}."
)
if not viewer.can_edit:
    st.info("You are signed in as a reader: you can see actions and risks but not change them.")
ui.show_flash(FLASH)


def day(value: object) -> str:
    return f"{value:%d %b %Y}" if value is not None and pd.notna(value) else "–"


def meeting_name(meeting_id: object) -> str:
    if not meeting_id or pd.isna(meeting_id):
        return "–"
    found = meetings[meetings["meeting_id"] == meeting_id]
    if found.empty:
        return str(meeting_id)
    return f"{found['body'].iloc[0]}, {day(found['date'].iloc[0])}"


def meeting_short(meeting_id: object) -> str:
    """The meeting as body code and date (e.g. 'LPB 17 Jun 2026'), for narrow tables."""
    found = meetings[meetings["meeting_id"] == meeting_id]
    if found.empty:
        return "–" if not meeting_id or pd.isna(meeting_id) else str(meeting_id)
    body = governance.BODY_CODES.get(found["body"].iloc[0], found["body"].iloc[0])
    return f"{body} {day(found['date'].iloc[0])}"


def flag_style(value: object) -> str:
    return f"color: {FLAG_COLOUR}; font-weight: bold" if value else ""


outstanding = actions[~actions["status"].isin(governance.ACTION_FINISHED)]
open_risks = risks[risks["status"] != "closed"]
a, b, c, d = st.columns(4)
a.metric("Outstanding actions", len(outstanding))
b.metric("Overdue actions", int(actions["overdue"].sum()))
c.metric("Open risks", len(open_risks))
d.metric(f"High risks (score {HIGH_RISK}+)", int((open_risks["score"] >= HIGH_RISK).sum()))

# --- actions log -------------------------------------------------------------------------------

st.header("Actions log")
filters = st.columns(3)
status_choice = ui.param_select(
    "Status",
    ["outstanding", "overdue", "all", *governance.ACTION_STATUSES],
    "status",
    format_func=str.capitalize,
    container=filters[0],
)
meeting_choice = ui.param_select(
    "Meeting",
    ["all", *dict.fromkeys(m for m in actions["meeting_id"] if m and pd.notna(m))],
    "action_meeting",
    format_func=lambda m: "All" if m == "all" else meeting_name(m),
    container=filters[1],
)
owner_choice = ui.param_select(
    "Owner",
    ["all", *sorted({o for o in actions["owner"] if o})],
    "owner",
    format_func=lambda o: "All" if o == "all" else o,
    container=filters[2],
)
shown = actions
if status_choice == "outstanding":
    shown = outstanding
elif status_choice == "overdue":
    shown = actions[actions["overdue"]]
elif status_choice != "all":
    shown = actions[actions["status"] == status_choice]
if meeting_choice != "all":
    shown = shown[shown["meeting_id"] == meeting_choice]
if owner_choice != "all":
    shown = shown[shown["owner"] == owner_choice]

if actions.empty:
    st.info(
        "No actions recorded yet. Editors can add them below; the example plan loads with "
        "`python -m oversight state seed`."
    )
elif shown.empty:
    st.info("No actions match these filters.")
else:
    log = pd.DataFrame(
        {
            "Id": shown["action_id"],
            "Action": shown["action"],
            "Owner": shown["owner"],
            "Due": [day(x) for x in shown["due"]],
            "Status": shown["status"],
            "Overdue": [
                governance.overdue_label(d, s, today)
                for d, s in zip(shown["due"], shown["status"], strict=True)
            ],
            "Meeting": [meeting_short(m) for m in shown["meeting_id"]],
            "Linked measure (current status)": [
                governance.linked_status(m, headline) if m and pd.notna(m) else "–"
                for m in shown["measure_id"]
            ],
        }
    ).reset_index(drop=True)
    st.table(log.style.map(flag_style, subset=["Overdue"]).hide(axis="index"))
    st.caption(
        "Meetings: LPB London Policing Board; PFDC Performance and Finance Delivery Committee; "
        "PCC People and Culture Committee."
    )
    ui.download_buttons(shown, "board-actions", "actions")

st.subheader("By quarter: governance improvement plan")
if len(actions):
    counts = governance.quarter_counts(actions)
    overdue_n = int(actions["overdue"].sum())
    title = (
        f"{overdue_n} of {len(outstanding)} outstanding actions "
        f"{'is' if overdue_n == 1 else 'are'} overdue at {today:%d %B %Y}"
    )
    ui.show_chart(
        governance.quarter_figure(counts, title),
        counts,
        key="quarters",
        source=f"{SOURCE}; quarters of the financial year (April to March) the action is due.",
        filename="board-actions-by-quarter",
        notes=["Overdue: past its due date and neither done nor closed."],
    )


def action_form() -> None:
    target = st.selectbox(
        "Action to edit",
        ["new", *actions["action_id"]],
        format_func=lambda a: (
            "New action"
            if a == "new"
            else f"{a}: {actions.set_index('action_id').at[a, 'action'][:70]}"
        ),
        key="edit_action_pick",
    )
    current = {} if target == "new" else actions.set_index("action_id").loc[target].to_dict()
    meeting_ids = ["", *meetings["meeting_id"]]
    measure_ids = ["", *labels]
    with st.form(f"action_form_{target}"):
        text = st.text_area("Action", value=current.get("action", ""))
        owner = st.text_input("Owner (a role)", value=current.get("owner", ""))
        due = st.date_input("Due", value=current.get("due") or today + timedelta(days=42))
        state = st.selectbox(
            "Status",
            governance.ACTION_STATUSES,
            index=governance.ACTION_STATUSES.index(current.get("status", "open")),
        )
        meeting = current.get("meeting_id") or ""
        meeting_id = st.selectbox(
            "Agreed at",
            meeting_ids,
            index=meeting_ids.index(meeting) if meeting in meeting_ids else 0,
            format_func=lambda m: meeting_name(m) if m else "(no meeting)",
        )
        measure = current.get("measure_id") or ""
        measure_id = st.selectbox(
            "Linked measure",
            measure_ids,
            index=measure_ids.index(measure) if measure in measure_ids else 0,
            format_func=lambda m: labels.get(m, "(none)"),
        )
        if st.form_submit_button("Save action"):
            record = {
                "action": text,
                "owner": owner,
                "due": due,
                "status": state,
                "meeting_id": meeting_id,
                "measure_id": measure_id,
            }
            ui.save_form(store.save_action, record, who, target, "action_id", "action", FLASH)


if viewer.can_edit:
    with st.expander("Add or edit an action"):
        action_form()

# --- risk register -----------------------------------------------------------------------------

st.header("Risk register")
if risks.empty:
    st.info("No risks recorded yet.")
else:
    linked = governance.linked_measures(risks, "measure_ids", headline)
    warning = set(linked.loc[linked["status"] == "deteriorating", "risk_id"])
    register = pd.DataFrame(
        {
            "Id": risks["risk_id"],
            "Risk": risks["title"],
            "Owner": risks["owner"],
            "Likelihood": risks["likelihood"],
            "Impact": risks["impact"],
            "Score": risks["score"],
            "Rating": [
                "high" if s >= HIGH_RISK else "medium" if s >= 8 else "low" for s in risks["score"]
            ],
            "Status": risks["status"],
            "Early warning": [
                "⚠ a linked measure is deteriorating" if r in warning else ""
                for r in risks["risk_id"]
            ],
            "Early-warning measures (current status, London)": [
                governance.linked_status(m, headline) or "–" for m in risks["measure_ids"]
            ],
        }
    )
    st.table(
        register.style.map(flag_style, subset=["Early warning"])
        .map(lambda v: "font-weight: bold" if v == "high" else "", subset=["Rating"])
        .hide(axis="index")
    )
    st.caption(
        "Score = likelihood × impact (each 1 to 5); high from "
        f"{HIGH_RISK}, medium from 8. Measure status: the plan scorecard's headline window."
    )
    ui.download_buttons(risks, "board-risk-register", "risks")


def risk_form() -> None:
    target = st.selectbox(
        "Risk to edit",
        ["new", *risks["risk_id"]],
        format_func=lambda r: (
            "New risk" if r == "new" else f"{r}: {risks.set_index('risk_id').at[r, 'title'][:70]}"
        ),
        key="edit_risk_pick",
    )
    current = {} if target == "new" else risks.set_index("risk_id").loc[target].to_dict()
    with st.form(f"risk_form_{target}"):
        title = st.text_input("Risk", value=current.get("title", ""))
        owner = st.text_input("Owner (a role)", value=current.get("owner", ""))
        left, right = st.columns(2)
        likelihood = left.slider("Likelihood", 1, 5, int(current.get("likelihood", 3)))
        impact = right.slider("Impact", 1, 5, int(current.get("impact", 3)))
        linked_ids = st.multiselect(
            "Early-warning measures",
            list(labels),
            default=[
                m for m in governance.split_measures(current.get("measure_ids")) if m in labels
            ],
            format_func=labels.__getitem__,
        )
        state = st.selectbox(
            "Status",
            governance.RISK_STATUSES,
            index=governance.RISK_STATUSES.index(current.get("status", "open")),
        )
        if st.form_submit_button("Save risk"):
            record = {
                "title": title,
                "owner": owner,
                "likelihood": likelihood,
                "impact": impact,
                "measure_ids": linked_ids,
                "status": state,
            }
            ui.save_form(store.save_risk, record, who, target, "risk_id", "risk", FLASH)


if viewer.can_edit:
    with st.expander("Add or edit a risk"):
        risk_form()

# --- audit trail -------------------------------------------------------------------------------

with st.expander("Audit trail: every change to the forward plan, actions, risks and snapshots"):
    trail = store.audit().sort_values("audit_id", ascending=False)
    st.dataframe(trail, hide_index=True, width="stretch", key="audit_table")
    ui.download_buttons(trail, "state-audit-trail", "audit")

st.caption(
    f"Source: {SOURCE} ({settings.state.name}). Export all tables with "
    "`python -m oversight state export --out DIR`."
)
