"""The app-state store (forward plan, actions, risks, decisions, snapshots) and its two pages."""

from __future__ import annotations

import json
import shutil
import sqlite3
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from oversight import governance, scorecard
from oversight import plan as plan_mod
from oversight.charts import STATUS_SYMBOLS
from oversight.governance import StateError, StateStore
from tests.helpers import apptest

TODAY = date(2026, 11, 23)
EDITOR = "editor@example.org"
BOARD = "London Policing Board"
PLAN = "pcp-2025-29"


@pytest.fixture
def store(tmp_path: Path) -> StateStore:
    return StateStore(tmp_path / "state" / "oversight_state.sqlite")


@pytest.fixture
def seeded(store: StateStore) -> StateStore:
    governance.load_seed(store, governance.default_seed_path(), EDITOR)
    return store


def tables_of(path: Path) -> dict[str, list[tuple]]:
    """Every row of every table, read straight from the SQLite file."""
    con = sqlite3.connect(path)
    try:
        names = [r[0] for r in con.execute("select name from sqlite_master where type='table'")]
        return {n: con.execute(f'select * from "{n}" order by 1').fetchall() for n in names}
    finally:
        con.close()


# --- the store ---------------------------------------------------------------------------------


def test_new_store_is_versioned_wal_with_foreign_keys(store: StateStore) -> None:
    assert store.schema_version() == governance.SCHEMA_VERSION
    con = sqlite3.connect(store.path)
    assert con.execute("pragma journal_mode").fetchone()[0] == "wal"
    con.close()
    with pytest.raises(StateError, match="No meeting"):
        store.save_agenda_item({"meeting_id": "LPB-2099-01-01", "title": "x"}, EDITOR)


def test_every_change_is_audited_with_before_and_after(store: StateStore) -> None:
    meeting = {"body": BOARD, "date": "2026-12-09", "papers_due": "2026-12-01", "theme": "Trust"}
    meeting_id = store.save_meeting(meeting, EDITOR)
    store.save_meeting({**meeting, "meeting_id": meeting_id, "theme": "Victims"}, "second@x.org")
    store.save_meeting({**meeting, "meeting_id": meeting_id, "theme": "Victims"}, EDITOR)  # same
    item_id = store.save_agenda_item(
        {"meeting_id": meeting_id, "title": "Robbery", "measure_ids": ["robbery"]}, EDITOR
    )
    action_id = store.save_action({"action": "Report", "due": "2027-01-10"}, EDITOR)
    store.save_action({"action_id": action_id, "action": "Report", "status": "done"}, EDITOR)
    risk_id = store.save_risk({"title": "Trust falls", "likelihood": 4, "impact": 4}, EDITOR)
    store.record_decision("point-1", "dismissed", "Already on the agenda", EDITOR)
    store.delete_risk(risk_id, EDITOR)

    audit = store.audit()
    assert list(audit["action"]) == [
        "insert", "update", "insert", "insert", "update", "insert", "insert", "delete",
    ]  # fmt: skip
    assert list(audit["record_id"][:2]) == [meeting_id, meeting_id]
    update = audit.iloc[1]
    assert update["who"] == "second@x.org"
    assert json.loads(update["before"])["theme"] == "Trust"
    assert json.loads(update["after"])["theme"] == "Victims"
    assert json.loads(audit.iloc[2]["after"])["item_id"] == item_id
    action_change = audit.iloc[4]
    assert json.loads(action_change["before"])["status"] == "open"
    assert json.loads(action_change["after"])["status"] == "done"
    deleted = audit.iloc[-1]
    assert deleted["table"] == "risks"
    assert json.loads(deleted["before"])["likelihood"] == 4
    assert pd.isna(deleted["after"])
    assert store.risks().empty


def test_reader_cannot_write(store: StateStore) -> None:
    meeting_id = store.save_meeting({"body": BOARD, "date": "2026-12-09"}, EDITOR)
    before = tables_of(store.path)
    attempts = [
        lambda who: store.save_meeting({"body": BOARD, "date": "2027-03-10"}, who),
        lambda who: store.save_agenda_item({"meeting_id": meeting_id, "title": "x"}, who),
        lambda who: store.save_action({"action": "x"}, who),
        lambda who: store.save_risk({"title": "x", "likelihood": 1, "impact": 1}, who),
        lambda who: store.record_decision("p", "accepted", "", who),
        lambda who: store.freeze_snapshot(None, PLAN, None, 1, pd.DataFrame(), [], who),
        lambda who: store.delete_meeting(meeting_id, who),
        lambda who: store.import_csv(store.path.parent, who),
    ]
    for attempt in attempts:
        for who in (None, "", "   "):
            with pytest.raises(governance.ReadOnlyError, match="Only an editor"):
                attempt(who)
    assert tables_of(store.path) == before


def test_overdue_is_judged_against_the_given_today(store: StateStore) -> None:
    rows = {
        "past open": ("2026-10-05", "open"),
        "past in progress": ("2026-11-22", "in progress"),
        "due today": ("2026-11-23", "open"),
        "past done": ("2026-01-15", "done"),
        "past closed": ("2026-03-31", "closed"),
        "no due date": (None, "open"),
    }
    for text, (due, status) in rows.items():
        store.save_action({"action": text, "due": due, "status": status}, EDITOR)
    actions = store.actions(today=TODAY).set_index("action")
    assert actions["overdue"].dtype == bool
    assert set(actions.index[actions["overdue"]]) == {"past open", "past in progress"}
    later = store.actions(today=date(2026, 11, 24)).set_index("action")
    assert later.at["due today", "overdue"]
    assert actions.at["past open", "quarter"] == "2026-27 Q3"
    assert actions.at["past done", "quarter"] == "2025-26 Q4"
    assert actions.at["past closed", "quarter"] == "2025-26 Q4"
    assert pd.isna(actions.at["no due date", "quarter"])
    counts = governance.quarter_counts(actions.reset_index()).set_index("quarter")
    assert counts.at["2026-27 Q3", "overdue"] == 2
    assert counts.at["2025-26 Q4", "done"] == 1
    assert counts["total"].sum() == len(rows)


def test_decisions_need_reasons_and_the_latest_wins(store: StateStore) -> None:
    with pytest.raises(StateError, match="needs a reason"):
        store.record_decision("p1", "dismissed", "  ", EDITOR)
    with pytest.raises(StateError, match="needs a reason"):
        store.record_decision("p1", "edited", "", EDITOR, edited_question="Why?")
    with pytest.raises(StateError, match="must be one of"):
        store.record_decision("p1", "ignored", "because", EDITOR)
    store.record_decision("p1", "accepted", "", EDITOR)
    store.record_decision("p1", "edited", "Sharper", "second@x.org", edited_question="Why now?")
    store.record_decision("p2", "dismissed", "Duplicate of p1", EDITOR)
    latest = store.decisions().set_index("point_id")
    assert latest.at["p1", "decision"] == "edited"
    assert latest.at["p1", "who"] == "second@x.org"
    assert latest.at["p1", "edited_question"] == "Why now?"
    assert latest.at["p2", "reason"] == "Duplicate of p1"
    assert len(store.decision_history()) == 3


def test_snapshot_reproduces_figures_after_the_warehouse_changes(
    store: StateStore, sample_warehouse: Path, tmp_path: Path
) -> None:
    warehouse = tmp_path / "copy.duckdb"
    shutil.copy(sample_warehouse, warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        figures = scorecard.values_for(con, PLAN)
    assert len(figures) > 20
    points = [{"point_id": "robbery-MPS", "as_at": date(2025, 12, 1), "score": 2.5}]
    snapshot_id = store.freeze_snapshot(None, PLAN, None, 3, figures, points, EDITOR)

    with duckdb.connect(str(warehouse)) as con:
        con.execute("update marts.measure_values set value = value * 2, status = 'no data'")
    with duckdb.connect(str(warehouse), read_only=True) as con:
        changed = scorecard.values_for(con, PLAN)
    assert not changed["value"].equals(figures["value"])

    frozen = store.snapshot(snapshot_id)
    pd.testing.assert_frame_equal(frozen["figures"], figures.reset_index(drop=True))
    assert frozen["points"] == [{"point_id": "robbery-MPS", "as_at": "2025-12-01", "score": 2.5}]
    assert (frozen["plan_id"], frozen["warehouse_version"], frozen["frozen_by"]) == (
        PLAN,
        3,
        EDITOR,
    )
    listed = store.snapshots().set_index("snapshot_id")
    assert listed.at[snapshot_id, "points"] == 1


def test_since_last_meeting_lists_linked_measures_whose_status_changed(store: StateStore) -> None:
    first = store.save_meeting({"body": BOARD, "date": "2026-09-16"}, EDITOR)
    other = store.save_meeting({"body": governance.BODIES[1], "date": "2026-10-14"}, EDITOR)
    current = store.save_meeting({"body": BOARD, "date": "2026-12-09"}, EDITOR)
    store.save_agenda_item(
        {"meeting_id": current, "title": "Violence", "measure_ids": "robbery,trust_mps"}, EDITOR
    )

    def figures(robbery: str, trust: str) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "measure_id": ["robbery", "trust_mps", "hate_crime"],
                "measure_label": ["Robbery", "Trust in the MPS", "Hate crime"],
                "status": [robbery, trust, "context"],
                "value": [100.0, 0.7, 5.0],
            }
        )

    now = figures("deteriorating", "no significant change")
    assert governance.since_last_meeting(store, now, current).empty  # nothing frozen yet
    before = figures("improving", "no significant change")
    store.freeze_snapshot(first, PLAN, None, 1, before, [], EDITOR)
    # A committee's snapshot is not the Board's previous meeting.
    store.freeze_snapshot(other, PLAN, None, 1, figures("deteriorating", "improving"), [], EDITOR)
    since = governance.since_last_meeting(store, now, current)
    assert list(since["measure_id"]) == ["robbery"]
    assert since.iloc[0]["previous_status"] == "improving"
    assert since.iloc[0]["current_status"] == "deteriorating"
    assert since.iloc[0]["agenda_items"] == "Violence"


def test_backup_and_restore_round_trip(seeded: StateStore, tmp_path: Path) -> None:
    seeded.record_decision("p1", "accepted", "", EDITOR)
    original = tables_of(seeded.path)
    copy = governance.backup(seeded.path, tmp_path / "backups" / "state.sqlite")
    seeded.save_action({"action": "Added after the backup"}, EDITOR)
    seeded.delete_risk("R-001", EDITOR)
    assert tables_of(seeded.path) != original
    governance.restore(copy, seeded.path)
    assert tables_of(seeded.path) == original
    # The usual reason to restore: the live file is damaged.
    seeded.path.write_bytes(b"damaged" * 500)
    with pytest.raises(StateError):
        StateStore(seeded.path)
    governance.restore(copy, seeded.path)
    assert tables_of(seeded.path) == original
    assert len(StateStore(seeded.path).actions()) == 10


def test_restore_refuses_a_file_that_is_not_a_store(seeded: StateStore, tmp_path: Path) -> None:
    original = seeded.path.read_bytes()
    text = tmp_path / "notes.csv"
    text.write_text("action,owner\nx,y\n")
    other = tmp_path / "other.sqlite"
    con = sqlite3.connect(other)
    con.execute("create table things (x)")
    con.commit()
    con.close()
    for bad in (text, other, tmp_path / "missing.sqlite"):
        with pytest.raises(StateError, match="not an oversight state store|No file"):
            governance.restore(bad, seeded.path)
    assert seeded.path.read_bytes() == original
    assert len(seeded.meetings()) == 14


def test_corrupt_or_unwritable_store_gives_state_error(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StateError, match="not an oversight state store") as caught:
        StateStore(garbage)
    assert "Traceback" not in str(caught.value)
    assert garbage.read_bytes() == b"this is not a database at all" * 100

    good = StateStore(tmp_path / "good.sqlite")
    good.save_action({"action": "x"}, EDITOR)
    damaged = tmp_path / "damaged.sqlite"
    governance.backup(good.path, damaged)
    data = bytearray(damaged.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # wreck the schema page, keep the header
    damaged.write_bytes(bytes(data))
    with pytest.raises(StateError, match="damaged|not an oversight"):
        StateStore(damaged)
    assert damaged.read_bytes() == bytes(data)

    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(StateError, match="cannot be created"):
        StateStore(blocker / "state" / "oversight_state.sqlite")


def test_csv_export_import_round_trip(seeded: StateStore, tmp_path: Path) -> None:
    figures = pd.DataFrame({"measure_id": ["robbery"], "value": [1.25], "day": [date(2025, 1, 1)]})
    snapshot_id = seeded.freeze_snapshot("LPB-2026-12-09", PLAN, None, 2, figures, [], EDITOR)
    seeded.record_decision("p1", "dismissed", "Out of scope, for now", EDITOR)
    written = seeded.export_csv(tmp_path / "export")
    assert {p.name for p in written} == {f"{t}.csv" for t in governance.EXPORT_TABLES}

    fresh = StateStore(tmp_path / "fresh.sqlite")
    changed = fresh.import_csv(tmp_path / "export", "importer@example.org")
    assert changed > 0
    for read in ("meetings", "agenda", "risks", "decisions", "snapshots"):
        pd.testing.assert_frame_equal(getattr(fresh, read)(), getattr(seeded, read)())
    pd.testing.assert_frame_equal(fresh.actions(today=TODAY), seeded.actions(today=TODAY))
    pd.testing.assert_frame_equal(fresh.snapshot(snapshot_id)["figures"], figures)
    history = len(seeded.audit())
    pd.testing.assert_frame_equal(fresh.audit().head(history), seeded.audit())
    assert set(fresh.audit()["who"].iloc[history:]) == {"importer@example.org"}
    assert fresh.import_csv(tmp_path / "export", "importer@example.org") == 0  # idempotent


def test_seed_adds_only_missing_records_and_checks_ids(store: StateStore, tmp_path: Path) -> None:
    added = governance.load_seed(store, governance.default_seed_path(), EDITOR)
    assert added == {"meetings": 14, "agenda": 22, "actions": 10, "risks": 5}
    store.save_risk({"risk_id": "R-001", "title": "Edited", "likelihood": 1, "impact": 1}, EDITOR)
    again = governance.load_seed(store, governance.default_seed_path(), EDITOR)
    assert set(again.values()) == {0}
    assert store.risks().set_index("risk_id").at["R-001", "title"] == "Edited"
    assert set(store.meetings()["body"]) == set(governance.BODIES)
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        governance.default_seed_path().read_text().replace("[robbery]", "[robbery, robery]")
    )
    with pytest.raises(StateError, match="robery"):
        governance.read_seed(bad)


def test_papers_flag_within_fourteen_days() -> None:
    meeting = date(2026, 12, 9)
    assert governance.papers_flag(date(2026, 12, 1), meeting, TODAY) == "papers due in 8 days"
    assert governance.papers_flag(date(2026, 12, 8), meeting, TODAY) == ""  # 15 days away
    assert governance.papers_flag(date(2026, 11, 20), meeting, TODAY) == (
        "papers were due 3 days ago"
    )
    assert governance.papers_flag(date(2026, 12, 1), meeting, TODAY, status="papers issued") == ""


# --- the pages ---------------------------------------------------------------------------------


def open_app(
    monkeypatch: pytest.MonkeyPatch, warehouse: Path, state: Path, mode: str, dev: bool
) -> AppTest:
    return apptest.open_app(
        monkeypatch, warehouse, mode, dev=dev, state=state, today=TODAY, timeout=120
    )


def headline_from_sql(warehouse: Path) -> dict[str, str]:
    """Each measure's stored r12 status for London where that window is comparable."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute(
            "select measure_id, status from marts.measure_values where plan_id = ? and "
            "geography_code = 'MPS' and \"window\" = 'r12' and status not in "
            "('not comparable', 'no data')",
            [PLAN],
        ).fetchall()
    return dict(rows)


def test_board_page_shows_plan_links_and_freezes_a_snapshot(
    monkeypatch: pytest.MonkeyPatch, sample_warehouse: Path, seeded: StateStore, local_server
) -> None:
    at = open_app(monkeypatch, sample_warehouse, seeded.path, "internal", dev=True)
    at.query_params["meeting"] = "LPB-2027-03-10"
    at.run()
    at.switch_page("pages/board.py").run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Board forward plan"]
    meetings = at.table[0].value
    flagged = meetings[meetings["Papers"] != ""]
    assert list(flagged["Theme"]) == [
        "Improving the criminal justice system and supporting victims"
    ]
    assert "papers due in 8 days" in flagged["Papers"].iloc[0]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Next Board meeting"] == "09 Dec 2026"
    assert metrics["Papers due within 14 days"] == "1"

    agenda = at.table[1].value
    assert "Quarter three performance against the Plan" in agenda.index
    links = " ".join(agenda["Linked measures (current status, London)"])
    plan = plan_mod.load_plan(PLAN)
    labels = {m.id: m.label for p in plan.priorities for m in p.measures}
    checked = [m for m in headline_from_sql(sample_warehouse).items() if labels[m[0]] in links]
    assert checked
    for measure_id, status in checked:
        assert f"{labels[measure_id]}: {STATUS_SYMBOLS[status]}" in links
    assert "Save meeting" in [b.label for b in at.button]

    at.button(key="freeze").click().run()
    assert not at.exception
    assert any("Froze snapshot" in s.value for s in at.success)
    frozen = seeded.snapshots()
    assert list(frozen["meeting_id"]) == ["LPB-2027-03-10"]
    with duckdb.connect(str(sample_warehouse), read_only=True) as con:
        version = con.execute("select max(version) from meta.warehouse").fetchall()[0][0]
        figures = scorecard.values_for(con, PLAN)
    snapshot = seeded.snapshot(frozen["snapshot_id"].iloc[0])
    assert snapshot["warehouse_version"] == version
    pd.testing.assert_frame_equal(snapshot["figures"], figures)


def test_actions_page_flags_overdue_actions(
    monkeypatch: pytest.MonkeyPatch, sample_warehouse: Path, seeded: StateStore, local_server
) -> None:
    at = open_app(monkeypatch, sample_warehouse, seeded.path, "internal", dev=True).run()
    at.switch_page("pages/actions.py").run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Actions and risks"]
    log = at.table[0].value.set_index("Id")
    assert log.at["A-005", "Overdue"] == "⚠ overdue by 84 days"  # due 31 Aug 2026
    assert log.at["A-004", "Overdue"] == ""  # due 30 Nov 2026
    assert "A-001" not in log.index  # done: not outstanding
    expected = seeded.actions(today=TODAY)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Overdue actions"] == str(int(expected["overdue"].sum())) == "3"
    chart = json.loads(at.get("plotly_chart")[0].proto.spec)
    overdue = next(t for t in chart["data"] if t["name"] == "overdue")
    assert dict(zip(overdue["x"], overdue["y"], strict=True)) == {
        "2026-27 Q2": 2, "2026-27 Q3": 1, "2026-27 Q4": 0,
    }  # fmt: skip
    assert chart["layout"]["title"]["text"].startswith("3 of 7 outstanding actions are overdue")
    risks = at.table[1].value.set_index("Id")
    assert risks.at["R-002", "Score"] == 16
    assert (
        "Trust in the MPS" in risks.at["R-002", "Early-warning measures (current status, London)"]
    )
    assert {"Save action", "Save risk"} <= {b.label for b in at.button}

    at.query_params["status"] = "all"  # every filter is a link
    at.query_params["owner"] = "MPS Met Operations"
    at.run()
    assert at.table[0].value["Id"].tolist() == ["A-005", "A-006"]


@pytest.mark.parametrize("page", ["pages/board.py", "pages/actions.py"])
def test_reader_sees_no_edit_controls(
    monkeypatch: pytest.MonkeyPatch, sample_warehouse: Path, seeded: StateStore, page: str
) -> None:
    at = open_app(monkeypatch, sample_warehouse, seeded.path, "internal", dev=False)
    at.user = {"is_logged_in": True, "name": "A Reader", "email": "reader@example.org"}
    at.run()
    at.switch_page(page).run()
    assert not at.exception
    assert any("signed in as a reader" in i.value for i in at.info)
    assert at.table  # the content is there
    labels = {b.label for b in at.button}
    assert not labels & {"Save meeting", "Save agenda item", "Save action", "Save risk"}
    assert not any(label.startswith("Freeze") for label in labels)
    assert not at.text_input
    assert not at.text_area
    assert not at.date_input


@pytest.mark.parametrize("page", ["pages/board.py", "pages/actions.py"])
def test_public_mode_does_not_register_the_pages(
    monkeypatch: pytest.MonkeyPatch, sample_warehouse: Path, seeded: StateStore, page: str
) -> None:
    at = open_app(monkeypatch, sample_warehouse, seeded.path, "public", dev=False).run()
    assert not at.exception
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(page)
    assert "Board forward plan" not in [t.value for t in at.title]


def test_corrupt_state_file_shows_a_sentence_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, sample_warehouse: Path, tmp_path: Path, local_server
) -> None:
    state = tmp_path / "state.sqlite"
    state.write_bytes(b"garbage" * 200)
    at = open_app(monkeypatch, sample_warehouse, state, "internal", dev=True).run()
    at.switch_page("pages/actions.py").run()
    assert not at.exception
    assert any("not an oversight state store" in e.value for e in at.error)
    assert state.read_bytes() == b"garbage" * 200


def test_an_editor_saves_an_action_from_the_page_and_a_refusal_changes_nothing(
    monkeypatch: pytest.MonkeyPatch, sample_warehouse: Path, seeded: StateStore, local_server
) -> None:
    at = open_app(monkeypatch, sample_warehouse, seeded.path, "internal", dev=True).run()
    at.switch_page("pages/actions.py").run()
    before = seeded.actions(today=TODAY)

    # A refusal by the store is shown and nothing is written.
    at.button(key="FormSubmitter:action_form_new-Save action").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == ["An action needs a description."]
    pd.testing.assert_frame_equal(seeded.actions(today=TODAY), before)

    # A new action is saved under the editor's name and the rerun says which.
    form = next(t for t in at.text_area if t.label == "Action")
    form.set_value("Report the robbery problem-solving plan to the Board")
    next(t for t in at.text_input if t.label == "Owner (a role)").set_value("MPS Met Operations")
    at.button(key="FormSubmitter:action_form_new-Save action").click().run()
    assert not at.exception
    after = seeded.actions(today=TODAY)
    added = after[~after["action_id"].isin(before["action_id"])]
    assert list(added["action"]) == ["Report the robbery problem-solving plan to the Board"]
    saved = added["action_id"].iloc[0]
    assert [s.value for s in at.success] == [f"Saved action {saved}."]
    assert saved in at.table[0].value["Id"].tolist()
