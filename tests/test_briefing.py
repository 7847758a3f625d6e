"""The briefing pack: one composition drawn as DOCX and PDF, its figures against the scorecard
and the warehouse, alt text and a table for every chart, decisions and overdue actions, the CLI
and the page."""

from __future__ import annotations

import re
import subprocess
from datetime import date
from pathlib import Path

import docx
import duckdb
import pytest
import streamlit
from streamlit.testing.v1 import AppTest

from oversight import briefing, governance, measures, scorecard, ui
from oversight import plan as plan_mod
from oversight.__main__ import main as cli_main
from oversight.charts import STATUS_SYMBOLS
from tests.conftest import ROOT, TODAY

PLAN_ID = "pcp-2025-29"
PLAN = plan_mod.load_plan(PLAN_ID)


@pytest.fixture(scope="module")
def state(sample_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state store with one overdue action, one action not yet due and one dismissed point."""
    path = tmp_path_factory.mktemp("state") / "state.sqlite"
    store = governance.StateStore(path)
    store.save_action(
        {"action": "Report on 999 answer times", "owner": "MPS", "due": date(2026, 6, 30)},
        "tester",
    )
    store.save_action(
        {"action": "Review robbery hot spots", "owner": "MPS", "due": date(2027, 1, 31)},
        "tester",
    )
    return path


@pytest.fixture(scope="module")
def built(sample_warehouse: Path, state: Path, tmp_path_factory: pytest.TempPathFactory):
    """The pack composed once on the sample warehouse, drawn as DOCX and PDF."""
    with duckdb.connect(str(sample_warehouse), read_only=True) as con:
        data = briefing.read_pack_data(con, PLAN_ID, None, TODAY)
        card = scorecard.scorecard(con, PLAN_ID, measures.LONDON, None)
        robbery_latest = con.execute(
            "select sum(offences) from marts.crime_borough_monthly "
            "where category_scheme = 'mps_2024' and major_category = 'ROBBERY' "
            "and month = (select max(month) from marts.crime_borough_monthly)"
        ).fetchall()[0][0]
    dismissed = data.points[0]
    governance.StateStore(state).record_decision(
        dismissed.point_id, "dismissed", "Already on the agenda", "tester"
    )
    decisions, actions = briefing.state_inputs(state, TODAY)
    pack = briefing.compose(data, decisions=decisions, actions=actions, snapshot_id="S-test-1")
    folder = tmp_path_factory.mktemp("pack")
    docx_path, pdf_path = folder / "pack.docx", folder / "pack.pdf"
    docx_path.write_bytes(briefing.render_docx(pack))
    pdf_path.write_bytes(briefing.render_pdf(pack))
    return {
        "pack": pack, "data": data, "card": card, "docx": docx_path, "pdf": pdf_path,
        "dismissed": dismissed, "robbery_latest": robbery_latest,
    }  # fmt: skip


def pdf_text(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout


def headings(document: docx.document.Document, level: int) -> list[str]:
    return [p.text for p in document.paragraphs if p.style.name == f"Heading {level}"]


def header_of(table) -> tuple[str, ...]:
    return tuple(cell.text for cell in table.rows[0].cells)


# --- DOCX ----------------------------------------------------------------------------------------


def test_the_docx_has_a_section_per_priority_and_the_fixed_sections(built) -> None:
    document = docx.Document(str(built["docx"]))
    found = headings(document, 1)
    for priority in PLAN.priorities:
        assert priority.title in found
    for title in ("Challenge points for the next meeting", "Overdue actions",
                  "Methods and caveats"):  # fmt: skip
        assert title in found
    text = "\n".join(p.text for p in document.paragraphs)
    assert "Synthetic sample data: not real MPS or MOPAC figures." in text
    assert "Snapshot: S-test-1" in text


def test_every_docx_picture_has_alt_text_and_a_table_of_its_values(built) -> None:
    document = docx.Document(str(built["docx"]))
    pictures = list(document.inline_shapes)
    figures = [b for b in built["pack"].blocks if isinstance(b, briefing.Figure)]
    assert len(pictures) == len(figures) >= len(PLAN.priorities)
    for picture, figure in zip(pictures, figures, strict=True):
        descr = picture._inline.docPr.get("descr")
        assert descr == figure.alt_text
        assert descr.startswith("Line chart of ")
    chart_tables = [t for t in document.tables if header_of(t)[0] == "Year"]
    assert len(chart_tables) == len(pictures)
    captions = [p.text for p in document.paragraphs if p.style.name == "Caption"]
    for number in range(1, len(pictures) + 1):
        assert any(c.startswith(f"Figure {number}. ") for c in captions)
        assert any(c.startswith(f"Table for figure {number}: ") for c in captions)


def test_the_status_tables_show_the_scorecard_figures(built) -> None:
    document = docx.Document(str(built["docx"]))
    shown = {}
    for table in document.tables:
        if header_of(table) == briefing.STATUS_TABLE_COLUMNS:
            for row in table.rows[1:]:
                cells = tuple(cell.text for cell in row.cells)
                shown[cells[0].removesuffix(" (proxy)")] = cells
    card = built["card"]
    assert set(shown) == set(card["measure_label"])
    for _, row in card.iterrows():
        cells = shown[row["measure_label"]]
        has_figure = row["value"] is not None and row["value"] == row["value"]
        expected = (
            "– no comparison"
            if row["status"] == "no data" and has_figure
            else STATUS_SYMBOLS[row["status"]]
        )
        assert cells[1] == expected
        assert cells[2] == scorecard.fmt_value(row["value"], row["unit"])
        assert cells[4] == scorecard.fmt_change(row)
    # One figure checked against the warehouse itself: robbery in the latest month.
    robbery = card.set_index("measure_id").loc["robbery"]
    if robbery["window"] == "month":
        assert shown["Robbery"][2] == f"{built['robbery_latest']:,.0f}"


def test_the_summary_counts_every_measure_once(built) -> None:
    """The cover's counts add up to the plan's measures, as the scorecard page's tiles do; a
    figure with nothing to compare it with is "not compared", not "no data"."""
    document = docx.Document(str(built["docx"]))
    summary = next(p.text for p in document.paragraphs if p.text.startswith("Across the plan's"))
    counted = dict((name, int(n)) for n, name in re.findall(r"(\d+) ([a-z ]+?)(?:,|\.)", summary))
    card = built["card"]
    assert sum(counted.values()) == len(card)
    has_figure = card["value"].notna()
    assert counted["no data"] == int(((card["status"] == "no data") & ~has_figure).sum())
    assert counted["not compared"] == int(
        (card["status"] == "not comparable").sum()
        + ((card["status"] == "no data") & has_figure).sum()
    )


def test_dismissed_points_are_left_out_and_overdue_actions_listed(built) -> None:
    document = docx.Document(str(built["docx"]))
    point = built["dismissed"]
    text = "\n".join(p.text for p in document.paragraphs)
    assert point.question not in text
    assert "point(s) dismissed by editors are left out" in text
    actions = [t for t in document.tables if header_of(t)[:2] == ("Id", "Action")]
    assert len(actions) == 1
    rows = [tuple(c.text for c in r.cells) for r in actions[0].rows[1:]]
    assert [r[1] for r in rows] == ["Report on 999 answer times"]  # the one past due only
    assert rows[0][3] == "30 Jun 2026"


# --- PDF -----------------------------------------------------------------------------------------


def test_the_pdf_carries_the_same_headings_and_figures(built) -> None:
    text = pdf_text(built["pdf"])
    flat = re.sub(r"\s+", " ", text)
    for priority in PLAN.priorities:
        assert priority.title in flat
    for value, unit in zip(built["card"]["value"], built["card"]["unit"], strict=True):
        figure = scorecard.fmt_value(value, unit)
        if figure != "–":
            assert figure in flat
    assert "Synthetic sample data" in flat
    pages = text.count("\f")
    assert 6 <= pages <= 30
    figures = [b for b in built["pack"].blocks if isinstance(b, briefing.Figure)]
    raw = built["pdf"].read_bytes()
    assert raw.count(b"/Alt (Line chart of ") == len(figures)


def test_the_pdf_falls_back_to_latin1_text_without_a_unicode_font(built, tmp_path: Path) -> None:
    path = tmp_path / "latin1.pdf"
    path.write_bytes(briefing.render_pdf(built["pack"], unicode=False))
    flat = re.sub(r"\s+", " ", pdf_text(path))
    statuses = set(built["card"]["status"])
    plain = {"no significant change": "o no significant change", "context": "* context",
             "no data": "- no data", "not comparable": "o not comparable",
             "deteriorating": "v deteriorating", "improving": "^ improving"}  # fmt: skip
    for status in statuses:
        assert plain[status] in flat
    assert "▼" not in flat


# --- CLI and page --------------------------------------------------------------------------------


def test_the_cli_writes_a_pdf(sample_warehouse: Path, tmp_path: Path) -> None:
    out = tmp_path / "pack.pdf"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OVERSIGHT_TODAY", TODAY.isoformat())
        mp.setenv("OVERSIGHT_STATE", str(tmp_path / "none.sqlite"))
        mp.setenv("OVERSIGHT_MODE", "internal")  # the briefing is internal
        code = cli_main(["--warehouse", str(sample_warehouse), "briefing", "--as-at", "2025-12",
                         "--format", "pdf", "--out", str(out)])  # fmt: skip
    assert code == 0
    flat = re.sub(r"\s+", " ", pdf_text(out))
    assert "figures as at December 2025" in flat
    assert "No actions log is available" in flat
    assert not (tmp_path / "none.sqlite").exists()


def test_the_page_prepares_both_downloads(sample_warehouse: Path, state: Path) -> None:
    with pytest.MonkeyPatch.context() as mp:
        for name, value in {
            "OVERSIGHT_WAREHOUSE": str(sample_warehouse), "OVERSIGHT_MODE": "internal",
            "OVERSIGHT_DEV_LOGIN": "1", "OVERSIGHT_STATE": str(state),
            "OVERSIGHT_TODAY": TODAY.isoformat(),
        }.items():  # fmt: skip
            mp.setenv(name, value)
        mp.setattr(ui, "ensure_navigation", lambda: None)  # see test_challenge
        streamlit.config.set_option("server.address", "127.0.0.1")
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
        at.switch_page("pages/briefing.py").run()
        assert not at.exception, [e.value for e in at.exception]
        assert not at.get("download_button")
        next(b for b in at.button if b.label == "Prepare the briefing pack").click().run()
        assert not at.exception, [e.value for e in at.exception]
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Download Word (DOCX)", "Download PDF"]
    assert [s.value for s in at.success] == ["The pack is ready."]
