"""What a reader sees when the warehouse cannot be read: one plain sentence, never a traceback.

A warehouse built by an older version (a mart column renamed since) and a warehouse whose write
lock another process holds are the two cases met in practice. Public pages say what is wrong
in a sentence with no paths, commands, process ids or DuckDB words; internal pages add the
command to run; the details go to the server's log. Streamlit's own error display is set to
show no details either (``client.showErrorDetails`` in .streamlit/config.toml).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import duckdb
import pytest
from streamlit.config import ShowErrorDetailsConfigOptions
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from tests.helpers.apptest import open_app, open_page

# What a public page must never show.
LEAKS = ("Traceback", "BinderException", "Binder Error", "IOException", "PID", "python", "/")


def page_text(at: AppTest) -> str:
    """Every message, text and caption the run drew, in one string."""
    parts = [
        *(e.value for e in at.error),
        *(e.value for e in at.warning),
        *(e.value for e in at.info),
        *(e.value for e in at.markdown),
        *(e.value for e in at.caption),
        *(str(e.value) for e in at.exception),
    ]
    return "\n".join(str(p) for p in parts)


def copy_warehouse(source: Path, folder: Path) -> Path:
    """A private copy of the sample warehouse (its own cache key in the app)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "oversight.duckdb"
    shutil.copyfile(source, target)
    return target


@pytest.fixture
def outdated(sample_warehouse: Path, tmp_path: Path) -> Path:
    """The sample warehouse as an older build would have it: a mart column under another name."""
    path = copy_warehouse(sample_warehouse, tmp_path / "old")
    with duckdb.connect(str(path)) as con:
        con.execute(
            "alter table marts.crime_borough_monthly rename column minor_category to minor_text"
        )
    return path


def test_public_page_on_an_older_warehouse_says_so_plainly(
    monkeypatch: pytest.MonkeyPatch, outdated: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="oversight.ui"):
        at = open_page(monkeypatch, outdated, "pages/crime.py")
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1
    assert "built by an older version" in errors[0]
    shown = page_text(at)
    for leak in (*LEAKS, "rebuild`", "minor_category"):
        assert leak not in shown, leak
    # The server's log has the details: which column is missing and what to run.
    logged = caplog.text
    assert "marts.crime_borough_monthly.minor_category" in logged
    assert "python -m pipelines rebuild" in logged


def test_internal_page_on_an_older_warehouse_names_the_command(
    monkeypatch: pytest.MonkeyPatch, outdated: Path, local_server: None
) -> None:
    at = open_page(monkeypatch, outdated, "pages/crime.py", mode="internal")
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1
    assert "this warehouse was built by an older version; run `python -m pipelines rebuild`" in (
        errors[0].lower()
    )
    assert "marts.crime_borough_monthly.minor_category" in errors[0]


def test_a_current_warehouse_passes_the_schema_check(sample_warehouse: Path) -> None:
    """The check compares with config/dictionary.yaml: a fresh build has every mart and column."""
    from oversight import ui
    from oversight.warehouse import connect, schema_gaps

    expected = ui.expected_schema(str(ROOT / "config" / "dictionary.yaml"))
    assert "crime_borough_monthly" in expected
    with connect(sample_warehouse) as con:
        assert schema_gaps(con, expected) == []
        gaps = schema_gaps(con, {**expected, "no_such_mart": ["x"]})
    assert gaps == ["marts.no_such_mart"]


@pytest.fixture
def locked(sample_warehouse: Path, tmp_path: Path):
    """A copy of the warehouse, and a second process that opens it to write and holds on."""
    path = copy_warehouse(sample_warehouse, tmp_path / "locked")
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, duckdb; con = duckdb.connect(sys.argv[1]); print('held', flush=True); "
         "sys.stdin.read()", str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        yield path
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)


def test_public_page_while_another_process_holds_the_lock(
    monkeypatch: pytest.MonkeyPatch, locked: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="oversight.ui"):
        at = open_page(monkeypatch, locked, "pages/scorecard.py")
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1
    assert "the warehouse is being updated" in errors[0]
    shown = page_text(at)
    for leak in (*LEAKS, str(locked.parent)):
        assert leak not in shown, leak
    assert "lock" in caplog.text.lower()
    assert str(locked) in caplog.text  # the details are in the server's log


def test_a_page_read_meets_the_lock_after_the_status_was_cached(
    monkeypatch: pytest.MonkeyPatch, sample_warehouse: Path, tmp_path: Path
) -> None:
    """The lock taken after the first page: the next page's own reads stop with the sentence."""
    path = copy_warehouse(sample_warehouse, tmp_path / "later")
    at = open_app(monkeypatch, path)
    at.run()
    assert not at.exception
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, duckdb; con = duckdb.connect(sys.argv[1]); print('held', flush=True); "
         "sys.stdin.read()", str(path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "held"
        at.switch_page("pages/stop_search.py").run()
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert not at.exception
    assert any("the warehouse is being updated" in e.value for e in at.error)
    shown = page_text(at)
    for leak in LEAKS:
        assert leak not in shown, leak


def test_streamlit_shows_no_error_details() -> None:
    """Anything uncaught still reaches a reader without its message or traceback."""
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["client"]["showErrorDetails"] == ShowErrorDetailsConfigOptions.NONE.value
