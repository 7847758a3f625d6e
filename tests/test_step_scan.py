"""Level steps in London's series (oversight/step_scan.py), the configured break dates they
back (config/breaks.yaml) and the data health page that shows them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
import yaml

from oversight import step_scan, steps
from oversight.plan import load_breaks
from tests.conftest import ROOT, TODAY
from tests.helpers import apptest

CONNECT = next(b for b in load_breaks() if b.id == "mps_connect")


def fast_config() -> step_scan.StepConfig:
    """config/steps.yaml with fewer simulations."""
    config = step_scan.load_step_config()
    return dataclasses.replace(
        config, settings=dataclasses.replace(config.settings, simulations=299)
    )


def stepped_series(step_month: dt.date, ratio: float, mart: str) -> step_scan.Series:
    """72 seasonal months to 2025-12 with a level step at ``step_month``."""
    rng = np.random.default_rng(11)
    months = [steps.index_month(steps.month_index(dt.date(2020, 1, 1)) + i) for i in range(72)]
    level = np.array([2000 * (1 + 0.1 * np.cos(m.month)) for m in months])
    level *= np.where(np.array(months) >= step_month, ratio, 1.0)
    counts = rng.poisson(level).astype(float)
    return step_scan.Series("Test offences", "major category", mart, tuple(months), tuple(counts))


def test_a_step_at_a_configured_break_is_confirmed_by_it() -> None:
    series = stepped_series(dt.date(2024, 4, 1), 0.8, "crime_borough_monthly")
    frame = step_scan.scan_all([series], fast_config(), (CONNECT,))
    row = frame.iloc[0]
    assert row["found"]
    assert row["step_month"] == "2024-04"
    assert row["confirmed_by"] == "mps_connect"  # one month from 2024-03
    assert "CONNECT" in row["note"]
    assert row["lower"] < 0.8 < row["upper"]


def test_a_step_far_from_any_break_or_in_another_mart_is_not_confirmed() -> None:
    far = stepped_series(dt.date(2022, 6, 1), 1.3, "crime_borough_monthly")
    elsewhere = stepped_series(dt.date(2024, 3, 1), 0.8, "stop_search")
    frame = step_scan.scan_all([far, elsewhere], fast_config(), (CONNECT,))
    assert frame["found"].all()
    assert set(frame["step_month"]) == {"2022-06", "2024-03"}
    assert frame["confirmed_by"].isna().all()
    assert (frame["note"] == "no configured break").all()


def test_steps_config_is_checked(tmp_path: Path) -> None:
    raw = yaml.safe_load((ROOT / "config" / "steps.yaml").read_text(encoding="utf-8"))
    (tmp_path / "config").mkdir()
    raw["level"] = 5
    (tmp_path / "config" / "steps.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(step_scan.StepConfigError, match="level must be in"):
        step_scan.load_step_config(tmp_path)
    raw["level"], raw["window"] = 0.01, 60
    (tmp_path / "config" / "steps.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(step_scan.StepConfigError, match=r"unknown key\(s\) \['window'\]"):
        step_scan.load_step_config(tmp_path)


# --- the real published borough files -----------------------------------------------------


@pytest.fixture(scope="module")
def borough_warehouse(realdata: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Only the real London Datastore borough crime files, loaded as the README says."""
    warehouse = tmp_path_factory.mktemp("borough") / "oversight.duckdb"
    run = subprocess.run(
        [sys.executable, "-m", "pipelines", "--warehouse", str(warehouse), "load",
         "--today", TODAY.isoformat(), str(realdata / "lds_borough_crime")],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    return warehouse


@pytest.fixture(scope="module")
def real_steps(borough_warehouse: Path) -> pd.DataFrame:
    con = duckdb.connect(str(borough_warehouse), read_only=True)
    try:
        return step_scan.step_candidates(con)
    finally:
        con.close()


def test_real_violence_with_injury_steps_in_early_2024(real_steps: pd.DataFrame) -> None:
    row = real_steps[real_steps["series"] == "Violence with injury"].iloc[0]
    assert row["found"]
    assert "2024-01" <= row["step_month"] <= "2024-06"
    assert row["upper"] < 0.85  # at least 15% lower on the new level
    assert row["p_value"] < 0.01
    assert row["confirmed_by"] == "mps_connect"


def test_configured_connect_date_matches_the_detector(real_steps: pd.DataFrame) -> None:
    row = real_steps[real_steps["series"] == "Violence with injury"].iloc[0]
    found = steps.month_index(dt.date.fromisoformat(row["step_month"] + "-01"))
    configured = steps.month_index(dt.date.fromisoformat(CONNECT.date + "-01"))
    assert abs(found - configured) <= 1
    evidence = CONNECT.evidence
    assert evidence is not None
    assert evidence.month == row["step_month"]
    assert evidence.ratio == pytest.approx(row["ratio"], abs=0.005)
    assert evidence.lower == pytest.approx(row["lower"], abs=0.005)
    assert evidence.upper == pytest.approx(row["upper"], abs=0.005)
    assert evidence.p_value >= row["p_value"] - 1e-9


def test_data_health_page_lists_the_steps(
    monkeypatch: pytest.MonkeyPatch, borough_warehouse: Path, real_steps: pd.DataFrame
) -> None:
    at = apptest.open_page(monkeypatch, borough_warehouse, "pages/data_health.py",
                           today=TODAY.isoformat(), timeout=300)  # fmt: skip
    shown = next(d.value for d in at.dataframe if "step month" in d.value.columns)
    violence = shown[shown["series"] == "Violence with injury"].iloc[0]
    assert violence["step month"] == "2024-03"
    assert violence["step?"] == "yes"
    assert violence["configured break"] == f"{CONNECT.label} (2024-03)"
    assert violence["size"].startswith("0.75 (")
    assert len(shown) == len(real_steps)
    unmatched = int((real_steps["found"] & real_steps["confirmed_by"].isna()).sum())
    assert any(f"**{unmatched}** not matched" in m.value for m in at.markdown)


# --- comparisons across the break ---------------------------------------------------------


def test_scorecard_does_not_call_violence_improving_across_the_recording_step(
    borough_warehouse: Path,
) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "oversight", "--warehouse", str(borough_warehouse), "scorecard",
         "--plan", "pcp-2022-25", "--as-at", "2024-10", "--format", "json"],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    rows = [
        r
        for r in json.loads(run.stdout)
        if r["measure_id"] == "violence_with_injury" and r["geography_code"] == "MPS"
    ]
    assert len(rows) == 1
    assert rows[0]["status"] == "not comparable"
    assert rows[0]["change"] is None
    assert "'MPS crime recording system change (CONNECT)' (2024-03)" in rows[0]["reason"]


@pytest.mark.parametrize(
    ("as_at", "compared"),
    [
        # every window at 2024-10 holds months before and after 2024-03
        (dt.date(2024, 10, 1), set()),
        # by 2025-12 the financial year to date and the quarter sit wholly after the break
        (dt.date(2025, 12, 1), {"fytd", "quarter", "month"}),
    ],
)
def test_every_window_across_the_break_is_not_compared_and_names_it(
    borough_warehouse: Path, as_at: dt.date, compared: set[str]
) -> None:
    from oversight import measures, plan

    pcp = plan.load_plan("pcp-2022-25")
    measure = pcp.measure("violence_with_injury")
    con = duckdb.connect(str(borough_warehouse), read_only=True)
    try:
        frame = measures.read_series(con, measure)
    finally:
        con.close()
    ctx = measures.make_context(pcp, as_at=as_at)
    rows = {
        r["window"]: r for r in measures.measure_rows(measure, frame, ctx, geographies=["MPS"])
    }
    assert set(rows) == set(measures.WINDOWS)
    for window, row in rows.items():
        if window in compared:
            assert row["status"] != "not comparable", (window, row["reason"])
            continue
        assert row["status"] == "not comparable", (window, row["status"])
        assert row["status"] not in ("improving", "deteriorating")
        assert CONNECT.label in row["reason"], (window, row["reason"])
        assert "(2024-03)" in row["reason"], (window, row["reason"])


def test_about_page_states_the_scan_settings_in_force(
    monkeypatch: pytest.MonkeyPatch, borough_warehouse: Path
) -> None:
    config = step_scan.load_step_config()
    at = apptest.open_page(monkeypatch, borough_warehouse, "pages/about.py",
                           today=TODAY.isoformat())  # fmt: skip
    text = "\n".join(m.value for m in at.markdown)
    assert f"takes the last {config.window_months}\nmonths" in text
    assert f"{config.settings.simulations:,} series simulated" in text
    assert "Andrews 1993" in text
    assert "${step" not in text
    assert "Dated from the data: a level step in Violence with injury" in text
