"""Briefing pack: the Deputy Mayor's pack as Word and PDF, from one composition."""

from __future__ import annotations

import streamlit as st

from oversight import briefing, challenge, governance, ui
from oversight.settings import get_settings

ui.ensure_navigation()
settings = get_settings()
ui.require_warehouse(settings)
status = ui.current_status(settings)

st.title("Briefing pack")
plan_id, _, as_at = ui.plan_filters(settings, geography=False)
shown_at = f"{as_at:%B %Y}" if as_at else "the latest data"

snapshot_id = None
try:
    store = governance.StateStore(settings.state)
    snapshots = store.snapshots()
except governance.StateError as exc:
    store, snapshots = None, None
    st.warning(f"The app-state store cannot be read, so the pack has no actions: {exc}")
if snapshots is not None and not snapshots.empty:
    mine = snapshots[snapshots["plan_id"] == plan_id]
    chosen = ui.param_select(
        "Snapshot named on the cover",
        ["none", *mine["snapshot_id"]],
        "snapshot",
        format_func=lambda s: "None" if s == "none" else s,
        help="A snapshot frozen for a meeting (Board forward plan page).",
    )
    snapshot_id = None if chosen == "none" else chosen

st.caption(
    f"A short pack for the Deputy Mayor for Policing and Crime, as at {shown_at}"
    f"{ui.synthetic_suffix(status)}: a cover, one section per priority (status table, charts "
    "with their data tables and alt text, the key sentences), the challenge points for the "
    "next meeting (editors' decisions applied: dismissed points left out, edits used), overdue "
    "actions, and methods and caveats. Word and PDF are drawn from the same content."
)

key = (plan_id, str(as_at), snapshot_id)
if st.button("Prepare the briefing pack", type="primary"):
    with st.spinner("Drawing the charts and writing the pack..."):
        quarantined = challenge.quarantined_files(settings.quarantine_dir)
        data = ui.read(
            settings, briefing.read_pack_data, plan_id, as_at, settings.today, quarantined
        )
        decisions, actions = briefing.state_inputs(settings.state, settings.today)
        st.session_state["briefing_pack"] = (
            key,
            briefing.pack_bytes(data, decisions, actions, snapshot_id),
        )

prepared = st.session_state.get("briefing_pack")
if prepared and prepared[0] == key:
    files = prepared[1]
    name = f"briefing-{plan_id}-{as_at:%Y-%m}" if as_at else f"briefing-{plan_id}-latest"
    st.success("The pack is ready.")
    left, right = st.columns(2)
    left.download_button(
        "Download Word (DOCX)",
        files["docx"],
        file_name=f"{name}.docx",
        mime="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        key="download_docx",
    )
    right.download_button(
        "Download PDF",
        files["pdf"],
        file_name=f"{name}.pdf",
        mime="application/pdf",
        key="download_pdf",
    )
elif prepared:
    st.info("The filters have changed since the pack was prepared: prepare it again.")
