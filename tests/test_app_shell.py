"""The app shell: page sets per mode, the login gate, URL filters and the scorecard pages."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from oversight import charts, navigation
from oversight.charts import STATUS_SYMBOLS
from tests.conftest import ROOT

APP = str(ROOT / "app.py")


def app(monkeypatch: pytest.MonkeyPatch, warehouse: Path, mode: str = "public", **env: str):
    monkeypatch.setenv("OVERSIGHT_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("OVERSIGHT_MODE", mode)
    monkeypatch.delenv("OVERSIGHT_DEV_LOGIN", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return AppTest.from_file(APP, default_timeout=120)


def test_public_mode_registers_no_internal_page(monkeypatch: pytest.MonkeyPatch) -> None:
    extra = navigation.PageSpec("pages/secret.py", "Secret", "Internal", "secret", internal=True)
    monkeypatch.setattr(navigation, "PAGES", (*navigation.PAGES, extra))
    public = navigation.pages_for("public")
    internal = navigation.pages_for("internal")
    assert extra not in public
    assert extra in internal
    assert all(not p.internal for p in public)
    with pytest.raises(ValueError, match="mode"):
        navigation.pages_for("admin")


def test_every_registered_page_script_exists() -> None:
    for spec in navigation.PAGES:
        assert (ROOT / spec.path).is_file(), spec.path


def test_internal_mode_without_login_configured_shows_nothing_internal(
    monkeypatch: pytest.MonkeyPatch, sample_warehouse: Path
) -> None:
    at = app(monkeypatch, sample_warehouse, "internal")
    at.user = {}
    at.run()
    assert any("Internal mode needs login" in e.value for e in at.error)
    assert not at.dataframe
    assert not at.metric


def test_dev_flag_is_refused_unless_bound_to_localhost(
    monkeypatch: pytest.MonkeyPatch, sample_warehouse: Path
) -> None:
    st_config.set_option("server.address", "0.0.0.0")
    try:
        at = app(monkeypatch, sample_warehouse, "internal", OVERSIGHT_DEV_LOGIN="1").run()
    finally:
        st_config.set_option("server.address", None)
    assert any("local development only" in e.value for e in at.error)
    assert not at.dataframe


def test_dev_flag_on_localhost_opens_the_internal_app(
    monkeypatch: pytest.MonkeyPatch, sample_warehouse: Path, local_server
) -> None:
    at = app(monkeypatch, sample_warehouse, "internal", OVERSIGHT_DEV_LOGIN="1").run()
    assert not at.exception
    assert not at.error
    assert "(internal)" not in at.title[0].value  # the scorecard's own title
    assert at.dataframe


def test_login_gate_with_auth_configured(
    monkeypatch: pytest.MonkeyPatch, sample_warehouse: Path
) -> None:
    at = app(monkeypatch, sample_warehouse, "internal")
    at.user = {"is_logged_in": False}
    at.run()
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.dataframe
    at = app(monkeypatch, sample_warehouse, "internal")
    at.user = {"is_logged_in": True, "name": "A Reader", "email": "reader@example.org"}
    at.run()
    assert not at.exception
    assert at.dataframe


def test_scorecard_shows_the_stored_measure_values(
    monkeypatch: pytest.MonkeyPatch, sample_warehouse: Path
) -> None:
    at = app(monkeypatch, sample_warehouse).run()
    assert not at.exception
    plan = at.query_params["plan"][0] if isinstance(at.query_params["plan"], list) else None
    plan = plan or "pcp-2025-29"
    with duckdb.connect(str(sample_warehouse), read_only=True) as con:
        stored = con.execute(
            'select measure_label, status, value, unit, "window" from marts.measure_values '
            "where plan_id = ? and geography_code = 'MPS'",
            [plan],
        ).df()
    shown = {}
    for frame in at.dataframe:
        table = frame.value
        if "Measure" in table.columns:
            shown.update(dict(zip(table["Measure"], table["Status"], strict=True)))
    # Every measure appears with the status stored for one of its windows.
    # ("no comparison" is a stored "no data" that has a value: nothing to compare it with.)
    for label, status in shown.items():
        name = label.removesuffix(" (proxy)")
        rows = stored[stored.measure_label == name]
        statuses = set(rows["status"])
        word = status.split(" ", 1)[1]
        if word == "no comparison":
            assert ((rows.status == "no data") & rows.value.notna()).any(), (label, statuses)
        else:
            assert word in statuses, (label, status, statuses)
    robbery = stored[(stored.measure_label == "Robbery") & (stored.window == "month")]
    assert robbery.empty or any(
        f"{robbery['value'].iloc[0]:,.0f}" in str(t.value.get("Latest", "")) for t in at.dataframe
    )
    # The tiles count every measure once; a figure with nothing to compare is "not compared".
    metrics = {m.label: int(m.value) for m in at.metric}
    assert sum(metrics.values()) == len(shown)
    statuses = [s.split(" ", 1)[1] for s in shown.values()]
    assert metrics["Not compared"] == statuses.count("no comparison") + statuses.count(
        "not comparable"
    )
    assert metrics["No data"] == statuses.count("no data")
    assert any("Synthetic sample data" in w.value for w in at.warning)
    assert "synthetic sample" in at.caption[0].value
    # The trend sparklines are drawn in neutral grey, never the theme's red accent: a trend
    # says nothing good or bad, and context measures are never shown in a status colour.
    trends = [
        json.loads(frame.proto.columns)["Trend"] for frame in at.dataframe if frame.value.size
    ]
    assert trends
    assert {column["type_config"]["color"] for column in trends} == {charts.NEUTRAL}


def test_url_filters_open_a_borough_and_plan(
    monkeypatch: pytest.MonkeyPatch, real_warehouse: Path
) -> None:
    at = app(monkeypatch, real_warehouse)
    at.query_params["plan"] = "pcp-2022-25"
    at.query_params["area"] = "E09000007"
    at.run()
    assert not at.exception
    assert at.title[0].value == "Police and Crime Plan for London 2022-25: Camden"
    assert at.query_params["area"] in ("E09000007", ["E09000007"])
    with duckdb.connect(str(real_warehouse), read_only=True) as con:
        value = con.execute(
            "select value from marts.measure_values where plan_id = 'pcp-2022-25' and "
            "geography_code = 'E09000007' and measure_id = 'trust_mps' and \"window\" = 'r12'"
        ).fetchall()[0][0]
    latest = [
        row
        for t in at.dataframe
        if "Measure" in t.value.columns
        for _, row in t.value.iterrows()
        if row["Measure"] == "Trust in the MPS"
    ]
    assert latest[0]["Latest"] == f"{value:.0%}"  # a whole published percent: "69%"
    assert not any("Synthetic" in w.value for w in at.warning)


def test_as_at_cuts_the_scorecard(monkeypatch: pytest.MonkeyPatch, real_warehouse: Path) -> None:
    at = app(monkeypatch, real_warehouse)
    at.query_params["plan"] = "pcp-2022-25"
    at.query_params["as_at"] = "2023-02"
    at.run()
    assert not at.exception
    periods = [
        p
        for t in at.dataframe
        if "Period" in t.value.columns
        for p in t.value["Period"]
        if p != "–"
    ]
    assert periods
    assert all(int(p[-4:]) <= 2023 for p in periods)
    assert "February 2023" in at.caption[0].value


def test_borough_profile_against_london(
    monkeypatch: pytest.MonkeyPatch, real_warehouse: Path
) -> None:
    at = app(monkeypatch, real_warehouse)
    at.query_params["area"] = "E09000033"
    at.query_params["plan"] = "pcp-2025-29"
    at.switch_page("pages/borough.py").run()
    assert not at.exception
    assert at.title[0].value == "Westminster: borough profile"
    table = at.table[0].value
    robbery = table.loc["Robbery"]
    with duckdb.connect(str(real_warehouse), read_only=True) as con:
        rate, london_rate, outside = con.execute(
            "select b.rate_per_1000, l.rate_per_1000, b.funnel_outside "
            "from marts.measure_values b join marts.measure_values l using "
            "(plan_id, measure_id, \"window\") where b.plan_id = 'pcp-2025-29' and "
            "b.measure_id = 'robbery' and b.\"window\" = 'r12' and b.geography_code = 'E09000033' "
            "and l.geography_code = 'MPS'"
        ).fetchall()[0]
    assert robbery["Westminster per 1,000"] == f"{rate:.3g}"
    assert robbery["London per 1,000"] == f"{london_rate:.3g}"
    assert robbery["Against London"] == ("outside funnel (higher)" if outside else "within funnel")
    assert robbery["Status"] in STATUS_SYMBOLS.values()
    assert [b.label for b in at.get("download_button")]


def test_every_page_hands_control_to_app_navigation_first() -> None:
    # Without this, the first request after a server starts could run a page script directly
    # (Streamlit's pages/ folder discovery), bypassing the mode and login gate in app.py.
    import ast

    for page in sorted((ROOT / "pages").glob("*.py")):
        tree = ast.parse(page.read_text())
        body = [
            node
            for node in tree.body
            if not isinstance(node, ast.Import | ast.ImportFrom)
            and not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
        ]
        first = ast.unparse(body[0])
        assert first == "ui.ensure_navigation()", (page.name, first)


def test_a_newly_published_warehouse_is_read_without_restart(
    monkeypatch: pytest.MonkeyPatch, sample_warehouse: Path, real_warehouse: Path, tmp_path: Path
) -> None:
    import os
    import shutil

    live = tmp_path / "live.duckdb"
    shutil.copyfile(sample_warehouse, live)
    at = app(monkeypatch, live).run()
    assert any("Synthetic sample data" in w.value for w in at.warning)
    staged = tmp_path / "next.duckdb"
    shutil.copyfile(real_warehouse, staged)
    os.replace(staged, live)  # as the pipeline publishes
    at.run()
    assert not at.exception
    assert not any("Synthetic sample data" in w.value for w in at.warning)


def test_page_url_paths_match_their_script_names() -> None:
    # Streamlit's folder discovery names a page by its file; app.py's navigation must use the
    # same path, or the hand-over in ui.ensure_navigation would land on the default page.
    for spec in navigation.PAGES:
        assert spec.url_path == Path(spec.path).stem, spec
