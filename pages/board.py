"""Board forward plan: meetings of the London Policing Board and its committees, their agendas
linked to the plan's measures, what changed since the last meeting, and frozen snapshots.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import streamlit as st

from oversight import governance, measures, queries, scorecard, ui
from oversight.charts import STATUS_COLOURS
from oversight.settings import get_settings

ui.ensure_navigation()
settings = get_settings()
ui.require_warehouse(settings)
status = ui.current_status(settings)
viewer = ui.current_viewer(settings)
who = (viewer.email or viewer.name) if viewer.can_edit else None
today = settings.today
FLAG_DAYS = 14
FLAG_COLOUR = STATUS_COLOURS["deteriorating"]
FLASH = "board_flash"

st.title("Board forward plan")
try:
    store = governance.StateStore(settings.state)
    meetings = store.meetings()
    agenda_all = store.agenda()
except governance.StateError as exc:
    st.error(str(exc))
    st.stop()

plan_id, _, as_at = ui.plan_filters(settings, geography=False)
values = ui.read(settings, scorecard.values_for, plan_id, measures.LONDON, as_at)
headline = governance.headline_status(values)
shown_at = f"{as_at:%B %Y}" if as_at else "the latest data"
st.caption(
    "Meetings of the London Policing Board and its committees, with each agenda item's linked "
    f"measures and their current status for London (MPS area) as at {shown_at}"
    f"{ui.synthetic_suffix(status)}. Papers due within {FLAG_DAYS} days of "
    f"{today:%d %B %Y} are flagged."
)
if not viewer.can_edit:
    st.info("You are signed in as a reader: you can see the forward plan but not change it.")
ui.show_flash(FLASH)


def day(value: date | None) -> str:
    return f"{value:%d %b %Y}" if value is not None and pd.notna(value) else "–"


def meeting_name(meeting_id: str) -> str:
    row = meetings.set_index("meeting_id").loc[meeting_id]
    return f"{day(row['date'])} · {row['body']}"


# --- the meetings ------------------------------------------------------------------------------

bodies = ["all", *governance.BODIES]
body = ui.param_select(
    "Board or committee", bodies, "body", format_func=lambda b: "All" if b == "all" else b
)
show_past = st.sidebar.toggle("Include past meetings", key="board_past")
chosen = meetings if body == "all" else meetings[meetings["body"] == body]
upcoming = chosen[chosen["date"] >= today]
flags = [
    governance.papers_flag(p, d, today, FLAG_DAYS, s)
    for p, d, s in zip(chosen["papers_due"], chosen["date"], chosen["status"], strict=True)
]
chosen = chosen.assign(flag=flags)

next_board = meetings[(meetings["body"] == governance.BODIES[0]) & (meetings["date"] >= today)]
papers_soon = sum(1 for f in flags if f)
linked_now = governance.linked_measures(
    agenda_all[agenda_all["meeting_id"].isin(upcoming["meeting_id"])], "measure_ids", headline
)
a, b, c, d = st.columns(4)
a.metric("Next Board meeting", day(next_board["date"].iloc[0]) if len(next_board) else "–")
b.metric("Upcoming meetings", len(upcoming))
c.metric(f"Papers due within {FLAG_DAYS} days", papers_soon)
d.metric(
    "Deteriorating linked measures",
    int((linked_now["status"] == "deteriorating").sum()) if len(linked_now) else 0,
)

st.header("Meetings")
if meetings.empty:
    st.info(
        "No meetings in the forward plan yet. Editors can add them below; the example plan "
        "loads with `python -m oversight state seed`."
    )
listed = chosen if show_past else chosen[chosen["date"] >= today]
items_per_meeting = agenda_all.groupby("meeting_id").size()
table = pd.DataFrame(
    {
        "Date": [day(x) for x in listed["date"]],
        "Body": listed["body"],
        "Theme": listed["theme"],
        "Status": listed["status"],
        "Papers due": [day(x) for x in listed["papers_due"]],
        "Papers": [f"⚑ {f}" if f else "" for f in listed["flag"]],
        "Agenda items": [int(items_per_meeting.get(m, 0)) for m in listed["meeting_id"]],
    }
)
if len(table):
    st.table(
        table.style.map(
            lambda v: f"color: {FLAG_COLOUR}; font-weight: bold" if v else "", subset=["Papers"]
        ).hide(axis="index")
    )
    ui.download_buttons(listed.drop(columns="flag"), "board-forward-plan", "meetings")
elif len(meetings):
    st.info("No upcoming meetings for this choice; switch on 'Include past meetings'.")

# --- one meeting: agenda, what changed, snapshots ----------------------------------------------

options = list(chosen["meeting_id"])
if options:
    soonest = upcoming["meeting_id"].iloc[0] if len(upcoming) else options[-1]
    st.header("Meeting")
    meeting_id = ui.param_select(
        "Meeting",
        options,
        "meeting",
        default=soonest,
        format_func=meeting_name,
        container=st,
    )
    meeting = meetings.set_index("meeting_id").loc[meeting_id]
    st.subheader(f"{meeting['body']}, {day(meeting['date'])}: {meeting['theme']}")
    flag = governance.papers_flag(
        meeting["papers_due"], meeting["date"], today, FLAG_DAYS, meeting["status"]
    )
    st.caption(
        f"Papers due {day(meeting['papers_due'])}"
        + (f" (⚑ {flag})" if flag else "")
        + f" · status: {meeting['status']} · id {meeting_id}"
    )
    agenda = agenda_all[agenda_all["meeting_id"] == meeting_id]
    titles = dict(zip(headline["priority_id"], headline["priority_title"], strict=True))
    if agenda.empty:
        st.info("No agenda items for this meeting yet.")
    else:
        st.table(
            pd.DataFrame(
                {
                    "Agenda item": agenda["title"],
                    "Priority": [titles.get(p, p or "–") for p in agenda["priority_id"]],
                    "Lead": agenda["lead"],
                    "Linked measures (current status, London)": [
                        governance.linked_status(m, headline) or "–" for m in agenda["measure_ids"]
                    ],
                }
            ).set_index("Agenda item")
        )

    st.subheader("Since the last meeting")
    try:
        previous = governance.previous_snapshot(store, meeting_id)
        since = governance.since_last_meeting(store, values, meeting_id)
    except governance.StateError as exc:
        st.error(str(exc))
        previous, since = None, pd.DataFrame()
    if previous is None:
        st.info(
            f"No earlier {meeting['body']} meeting has frozen figures, so there is nothing to "
            "compare with yet. Freeze the figures at each meeting (below) to see what changed."
        )
    else:
        frozen = store.snapshots().set_index("snapshot_id").loc[previous]
        basis = (
            f"Compared with the figures frozen for {meeting_name(frozen['meeting_id'])} "
            f"on {frozen['frozen_at'][:10]} (warehouse version {frozen['warehouse_version']})."
        )
        if since.empty:
            st.success(f"No linked measure has changed status. {basis}")
        else:
            st.table(
                pd.DataFrame(
                    {
                        "Measure": since["measure_label"],
                        "Agenda item": since["agenda_items"],
                        "Then": [governance.status_label(s) for s in since["previous_status"]],
                        "Now": [governance.status_label(s) for s in since["current_status"]],
                    }
                ).set_index("Measure")
            )
            st.caption(basis)

    st.subheader("Frozen snapshots")
    snaps = store.snapshots()
    snaps = snaps[snaps["meeting_id"] == meeting_id]
    if snaps.empty:
        st.caption("No figures frozen for this meeting yet.")
    else:
        picked = st.selectbox(
            "Snapshot",
            list(snaps["snapshot_id"]),
            format_func=lambda s: (
                f"{snaps.set_index('snapshot_id').at[s, 'frozen_at'][:16].replace('T', ' ')} "
                f"by {snaps.set_index('snapshot_id').at[s, 'frozen_by']}"
            ),
            key="snapshot_pick",
        )
        frozen = store.snapshot(picked)
        frozen_head = governance.headline_status(frozen["figures"])
        st.caption(
            f"Plan {frozen['plan_id']}, as at "
            f"{day(frozen['as_at']) if frozen['as_at'] else 'the latest data'}, "
            f"warehouse version {frozen['warehouse_version']}, "
            f"{len(frozen['points'])} challenge point(s) frozen with it."
        )
        st.dataframe(
            pd.DataFrame(
                {
                    "Measure": frozen_head["measure_label"],
                    "Status then": [governance.status_label(s) for s in frozen_head["status"]],
                    "Value then": [
                        scorecard.fmt_value(v, u)
                        for v, u in zip(frozen_head["value"], frozen_head["unit"], strict=True)
                    ],
                }
            ),
            hide_index=True,
            width="stretch",
            key="snapshot_table",
        )
    if viewer.can_edit:
        st.caption(
            "Freezing records London's figures for every measure of the plan as now shown, the "
            "warehouse version and the current challenge points, so this meeting can be "
            "compared with the next whatever the data do later."
        )
        if st.button("Freeze figures for this meeting", key="freeze", type="primary"):
            info = ui.read(settings, queries.warehouse_info)
            points: list[dict] = []
            try:
                with st.spinner("Raising the current challenge points to freeze with the figures"):
                    points = ui.read(settings, governance.current_points, plan_id, as_at, today)
            except Exception as exc:  # points are optional in a snapshot
                st.warning(f"Challenge points could not be raised, so none were frozen: {exc}")
            ui.attempt(
                lambda: store.freeze_snapshot(
                    meeting_id, plan_id, as_at, info["version"], values, points, who
                ),
                FLASH,
                lambda snapshot_id: f"Froze snapshot {snapshot_id} with {len(points)} point(s).",
            )

# --- editing (editors only) --------------------------------------------------------------------


def meeting_form() -> None:
    ids = list(meetings["meeting_id"])
    target = st.selectbox(
        "Meeting to edit",
        ["new", *ids],
        format_func=lambda m: "New meeting" if m == "new" else meeting_name(m),
        key="edit_meeting_pick",
    )
    current = {} if target == "new" else meetings.set_index("meeting_id").loc[target].to_dict()
    with st.form(f"meeting_form_{target}"):
        body_in = st.selectbox(
            "Body",
            governance.BODIES,
            index=governance.BODIES.index(current.get("body", governance.BODIES[0])),
        )
        when = st.date_input("Date", value=current.get("date") or today + timedelta(days=28))
        papers = st.date_input(
            "Papers due", value=current.get("papers_due") or today + timedelta(days=20)
        )
        theme = st.text_input("Theme", value=current.get("theme", ""))
        state = st.selectbox(
            "Status",
            governance.MEETING_STATUSES,
            index=governance.MEETING_STATUSES.index(current.get("status", "planned")),
        )
        if st.form_submit_button("Save meeting"):
            record = {
                "body": body_in,
                "date": when,
                "papers_due": papers,
                "theme": theme,
                "status": state,
            }
            ui.save_form(store.save_meeting, record, who, target, "meeting_id", "meeting", FLASH)


def agenda_form(meeting_id: str) -> None:
    items = agenda_all[agenda_all["meeting_id"] == meeting_id].set_index("item_id")
    target = st.selectbox(
        "Agenda item to edit",
        ["new", *items.index],
        format_func=lambda i: "New agenda item" if i == "new" else items.at[i, "title"],
        key="edit_item_pick",
    )
    current = {} if target == "new" else items.loc[target].to_dict()
    priorities = dict(zip(headline["priority_id"], headline["priority_title"], strict=True))
    labels = dict(zip(headline["measure_id"], headline["measure_label"], strict=True))
    with st.form(f"agenda_form_{meeting_id}_{target}"):
        title = st.text_input("Title", value=current.get("title", ""))
        choices = ["", *priorities]
        priority = st.selectbox(
            "Priority",
            choices,
            index=choices.index(current.get("priority_id") or "")
            if (current.get("priority_id") or "") in choices
            else 0,
            format_func=lambda p: priorities.get(p, "(none)"),
        )
        linked = st.multiselect(
            "Linked measures",
            list(labels),
            default=[
                m for m in governance.split_measures(current.get("measure_ids")) if m in labels
            ],
            format_func=labels.__getitem__,
        )
        lead = st.text_input("Lead (a role)", value=current.get("lead", ""))
        if st.form_submit_button("Save agenda item"):
            record = {
                "meeting_id": meeting_id,
                "title": title,
                "priority_id": priority,
                "measure_ids": linked,
                "lead": lead,
            }
            ui.save_form(
                store.save_agenda_item, record, who, target, "item_id", "agenda item", FLASH
            )


if viewer.can_edit:
    st.header("Edit the forward plan")
    with st.expander("Add or edit a meeting"):
        meeting_form()
    if options:
        with st.expander(f"Add or edit an agenda item for {meeting_name(meeting_id)}"):
            agenda_form(meeting_id)

st.caption(
    "Forward plan, agendas and snapshots: the app-state store "
    f"({settings.state.name}); every change is audited (see Actions and risks). Measure status: "
    "London (MPS area), headline window of the plan scorecard."
)
