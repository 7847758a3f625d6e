"""The Data explorer, Data health and About pages, checked against independent SQL.

Runs the app on the synthetic sample warehouse (two overlapping borough crime publications
with revised cells). Figures on the pages are compared with queries written here, not with
the functions the pages use.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest
from streamlit.testing.v1 import AppTest

from oversight import explore, health
from oversight.plan import load_breaks
from tests.conftest import ROOT
from tests.helpers import apptest

TODAY = "2026-11-23"


def open_page(
    monkeypatch: pytest.MonkeyPatch, warehouse: Path, page: str, mode: str = "public",
    today: str = TODAY, **params: str,
) -> AppTest:  # fmt: skip
    """``page`` on ``warehouse`` in ``mode`` with ``params`` in the URL."""
    return apptest.open_page(monkeypatch, warehouse, page, mode, today=today, **params)


def sql(warehouse: Path, query: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(query, params or []).fetchall()
    finally:
        con.close()


def chart(at: AppTest) -> dict:
    charts = at.get("plotly_chart")
    assert len(charts) == 1
    return json.loads(charts[0].proto.spec)


def values(data: list | dict) -> list:
    """A trace's values: a plain list, or Plotly's base64 typed array."""
    if isinstance(data, dict) and "bdata" in data:
        return np.frombuffer(base64.b64decode(data["bdata"]), dtype=data["dtype"]).tolist()
    return list(data)


def bars(spec: dict) -> dict[str, float]:
    """Bar length per label, added up over the (stacked) traces."""
    totals: dict[str, float] = {}
    for trace in spec["data"]:
        for label, value in zip(values(trace["y"]), values(trace["x"]), strict=True):
            totals[label] = totals.get(label, 0) + value
    return totals


# --- Data explorer ---------------------------------------------------------------------------


def test_public_explorer_has_no_console(
    monkeypatch: pytest.MonkeyPatch, sample_warehouse: Path
) -> None:
    at = open_page(monkeypatch, sample_warehouse, "pages/explorer.py")
    assert [t.value for t in at.title] == ["Data explorer"]
    assert len(at.text_area) == 0
    assert "Run query" not in [b.label for b in at.button]
    assert not any("SQL console" in s.value for s in at.subheader)


def test_internal_explorer_console_refuses_and_runs(
    monkeypatch: pytest.MonkeyPatch, sample_warehouse: Path, local_server: None
) -> None:
    at = open_page(monkeypatch, sample_warehouse, "pages/explorer.py", mode="internal")
    assert any("SQL console" in s.value for s in at.subheader)
    at.text_area(key="console_query").input("select 1; drop table marts.loads")
    at.button(key="console_run").click().run()
    assert any("Refused" in e.value and "one statement" in e.value for e in at.error)
    at.text_area(key="console_query").input("select count(*) as files from marts.loads")
    at.button(key="console_run").click().run()
    assert not at.error
    expected = sql(sample_warehouse, "select count(*) from marts.loads")[0][0]
    assert at.dataframe[-1].value["files"].tolist() == [expected]


def test_pivot_figure_equals_sql(monkeypatch: pytest.MonkeyPatch, sample_warehouse: Path) -> None:
    at = open_page(
        monkeypatch, sample_warehouse, "pages/explorer.py", mart="crime_borough_monthly",
        pivot_rows="major_category", pivot_value="sum:offences",
    )  # fmt: skip
    expected = dict(
        sql(
            sample_warehouse,
            "select major_category, sum(offences) from marts.crime_borough_monthly group by 1",
        )
    )
    spec = chart(at)
    assert bars(spec) == expected
    top = max(expected, key=expected.get)
    assert spec["layout"]["title"]["text"].startswith(f"{top} has the largest sum of offences")


def test_filtered_pivot_is_computed_on_the_filtered_rows(
    monkeypatch: pytest.MonkeyPatch, sample_warehouse: Path
) -> None:
    at = open_page(
        monkeypatch, sample_warehouse, "pages/explorer.py", mart="crime_borough_monthly",
        pivot_rows="major_category", pivot_value="sum:offences",
    )  # fmt: skip
    at.multiselect(key="filter_columns_crime_borough_monthly").set_value(["borough_name"]).run()
    at.multiselect(key="filter_crime_borough_monthly_borough_name").set_value(
        ["Westminster", "Camden"]
    ).run()
    where = "where borough_name in ('Westminster', 'Camden')"
    expected = dict(
        sql(
            sample_warehouse,
            f"select major_category, sum(offences) from marts.crime_borough_monthly {where} "
            "group by 1",
        )
    )
    matching = sql(sample_warehouse, f"select count(*) from marts.crime_borough_monthly {where}")
    total = sql(sample_warehouse, "select count(*) from marts.crime_borough_monthly")
    assert bars(chart(at)) == expected
    assert any(f"**{matching[0][0]:,}** of {total[0][0]:,} rows" in m.value for m in at.markdown)


def test_downloads_are_the_filtered_rows_within_the_cap(sample_warehouse: Path) -> None:
    filters = (("in", "borough_name", ("Westminster",)),)
    expected = sql(
        sample_warehouse,
        "select count(*) from marts.crime_borough_monthly where borough_name = 'Westminster'",
    )[0][0]
    parquet = explore.export_filtered(
        sample_warehouse, "crime_borough_monthly", filters, "parquet", 1_000_000
    )
    table = pq.read_table(io.BytesIO(parquet))
    assert table.num_rows == expected
    assert set(table.column("borough_name").to_pylist()) == {"Westminster"}
    csv = explore.export_filtered(sample_warehouse, "crime_borough_monthly", filters, "csv", 25)
    assert len(csv.decode("utf-8").splitlines()) == 26  # header + the cap


def test_explorer_refuses_unknown_names(sample_warehouse: Path) -> None:
    con = duckdb.connect(str(sample_warehouse), read_only=True)
    try:
        with pytest.raises(explore.ExploreError, match="no column"):
            explore.count_rows(con, "loads", (("in", 'source"; drop table x; --', ("a",)),))
        with pytest.raises(explore.ExploreError, match="no table"):
            explore.mart_columns(con, "loads; drop table marts.loads")
    finally:
        con.close()


# --- Data health ----------------------------------------------------------------------------


def test_data_health_lists_every_source_and_revision_count(
    monkeypatch: pytest.MonkeyPatch, sample_warehouse: Path
) -> None:
    at = open_page(monkeypatch, sample_warehouse, "pages/data_health.py")
    sources = at.table[0].value
    loaded = sql(sample_warehouse, "select source, count(*) from marts.loads group by source")
    assert sorted(sources.index) == sorted(s for s, _ in loaded)
    for source, files in loaded:
        assert sources.loc[source, "files"] == f"{files:,}"

    revised = sql(
        sample_warehouse,
        """
        with newest as (
            select distinct vintage from marts.crime_borough_all_vintages
            order by vintage desc limit 2
        ),
        old as (select * from marts.crime_borough_all_vintages
                where vintage = (select min(vintage) from newest)),
        new as (select * from marts.crime_borough_all_vintages
                where vintage = (select max(vintage) from newest))
        select count(*) from old join new
            on old.month = new.month and old.borough_name = new.borough_name
           and old.major_category = new.major_category
           and old.minor_category = new.minor_category
        where old.offences <> new.offences
        """,
    )[0][0]
    assert revised > 0
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Cells revised"] == f"{revised:,}"
    spec = chart(at)
    assert "revised" in spec["layout"]["title"]["text"]


def test_data_health_flags_overdue_sources(
    monkeypatch: pytest.MonkeyPatch, sample_warehouse: Path
) -> None:
    latest = sql(sample_warehouse, "select max(month) from marts.crime_borough_monthly")[0][0]
    next_month_end = (latest + dt.timedelta(days=62)).replace(day=1) - dt.timedelta(days=1)
    due = next_month_end + dt.timedelta(days=21)  # config: about 3 weeks after the month
    on_time = open_page(
        monkeypatch, sample_warehouse, "pages/data_health.py", today=due.isoformat()
    )
    fresh = on_time.table[1].value
    assert fresh.loc["Recorded crime by borough", "status"] == "✓ Up to date"
    late = open_page(
        monkeypatch, sample_warehouse, "pages/data_health.py",
        today=(due + dt.timedelta(days=10)).isoformat(),
    )  # fmt: skip
    fresh = late.table[1].value
    assert fresh.loc["Recorded crime by borough", "status"] == "⚠ Overdue by 10 days"
    assert fresh.loc["Recorded crime by borough", "latest period held"] == f"{latest:%B %Y}"


def test_data_health_shows_quarantined_files(
    monkeypatch: pytest.MonkeyPatch, sample_warehouse: Path, tmp_path: Path
) -> None:
    warehouse = tmp_path / "wh" / "oversight.duckdb"
    warehouse.parent.mkdir()
    shutil.copyfile(sample_warehouse, warehouse)
    unknown = tmp_path / "not_a_publication.csv"
    unknown.write_text("colour,shape\nred,square\n", encoding="utf-8")
    load = subprocess.run(
        [sys.executable, "-m", "pipelines", "--warehouse", str(warehouse), "load", str(unknown)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert load.returncode == 2, load.stderr
    at = open_page(monkeypatch, warehouse, "pages/data_health.py")
    labels = [e.label for e in at.expander]
    assert any("not_a_publication.csv" in label for label in labels)
    report = next((warehouse.parent / "quarantine").glob("*.txt")).read_text(encoding="utf-8")
    shown = report.strip().replace(str(unknown), unknown.name)
    assert "Refused" in shown
    assert any(shown in c.value for c in at.code)
    assert not any(str(tmp_path) in c.value for c in at.code)


def test_schedule_is_checked(tmp_path: Path) -> None:
    feeds = health.load_schedule(ROOT / "config" / "publication_schedule.yaml")
    assert {"lds_borough_crime", "police_uk_stop_search", "pas_borough"} <= {
        s for f in feeds for s in f.sources
    }
    bad = tmp_path / "schedule.yaml"
    bad.write_text(
        "feeds:\n  - {id: x, label: X, publisher: P, sources: [a], mart: m, cadence: weekly}\n",
        encoding="utf-8",
    )
    with pytest.raises(health.ScheduleError, match="cadence"):
        health.load_schedule(bad)


# --- About ------------------------------------------------------------------------------------


def test_about_page_lists_breaks_and_accessibility_statement(
    monkeypatch: pytest.MonkeyPatch, sample_warehouse: Path
) -> None:
    at = open_page(monkeypatch, sample_warehouse, "pages/about.py")
    text = " ".join(" ".join(m.value for m in at.markdown).split())
    breaks = load_breaks(ROOT)
    assert breaks
    for item in breaks:
        assert item.label in text
    for needed in (
        "not accredited official statistics",
        "400 interviews per borough",
        "12,800 for London",
        "design effect of 1.5",
        "## Accessibility statement ",
        "partially compliant",
        "WCAG 2.2",
        "Equality and Human Rights Commission",
        "Open Government Licence v3.0",
    ):
        assert needed in text, needed
    assert "${" not in text  # every placeholder was filled
