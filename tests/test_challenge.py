"""Challenge points: each rule fires when it should and not when it should not, ranking and the
meeting cap, stable ids, the data-supply rules, the real warehouse, the CLI and the page."""

from __future__ import annotations

import contextlib
import io
import json
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import streamlit
from streamlit.testing.v1 import AppTest

from oversight import challenge, measures, ui
from oversight import plan as plan_mod
from oversight.__main__ import main as cli_main
from tests.conftest import ROOT, TODAY

PLAN_ID = "pcp-2025-29"
PLAN = plan_mod.load_plan(PLAN_ID)
RULES = challenge.load_rules()
STATS = measures.load_statistics()
SETTING = challenge.Setting.build(PLAN, RULES, STATS)
END = date(2023, 3, 1)
WESTMINSTER, CAMDEN = "E09000033", "E09000007"


def row(measure_id: str, geo: str = WESTMINSTER, window: str = "r12", **values) -> dict:
    """One measure_values row with the plan's labels and neutral defaults."""
    measure, priority = SETTING.by_id[measure_id]
    names = {
        measures.LONDON: measures.LONDON_NAME, WESTMINSTER: "Westminster", CAMDEN: "Camden"
    }
    base = dict.fromkeys(measures.COLUMNS)
    base.update(
        plan_id=PLAN_ID,
        priority_id=priority.id,
        priority_title=priority.title,
        measure_id=measure_id,
        measure_label=measure.label,
        unit=measure.unit,
        direction=measure.direction,
        geography_code=geo,
        geography_name=names.get(geo, geo),
        window=window,
        period_start=date(2022, 4, 1),
        period_end=END,
        status="no significant change",
        significant=False,
        material=False,
        small_count=False,
        source_mart=measure.source.mart,
        vintage="2023-03",
    )
    base.update(values)
    return base


def frame(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=list(measures.COLUMNS))


def robbery_rise(geo: str = measures.LONDON, **overrides) -> dict:
    values = dict(
        value=3512.0, lower=3397.0, upper=3629.0, comparison_value=3080.0, change=0.14,
        change_lower=0.08, change_upper=0.20, p_value=0.0001, significant=True, material=True,
        status="deteriorating",
    )  # fmt: skip
    values.update(overrides)
    return row("robbery", geo, **values)


def raised(values: pd.DataFrame) -> list[challenge.ChallengePoint]:
    return challenge.points_from_values(values, SETTING)


# --- deterioration -------------------------------------------------------------------------------


def test_a_significant_material_rise_in_robbery_raises_a_point_quoting_its_figures() -> None:
    points = raised(frame(robbery_rise()))
    assert [p.rule for p in points] == ["deterioration"]
    point = points[0]
    assert point.question == (
        "What explains the rise in robbery in London (MPS area) to 3,512 offences in the 12 "
        "months to March 2023, 14.0% above the 12 months before (95% CI +8.0% to +20.0%), and "
        "what is the MPS doing about it?"
    )
    assert "3,512 offences (95% CI 3,397 to 3,629)" in point.evidence
    assert "against 3,080 offences" in point.evidence
    assert "p < 0.001" in point.evidence
    assert "marts.crime_borough_monthly, vintage 2023-03" in point.evidence
    assert point.period_end == END
    assert point.vintage == "2023-03"


def test_significant_but_immaterial_raises_nothing() -> None:
    small = robbery_rise(
        value=3150.0, change=0.02, change_lower=0.01, change_upper=0.03, material=False,
        status="no significant change",
    )  # fmt: skip
    assert raised(frame(small)) == []
    # Even a row mislabelled deteriorating is refused without materiality.
    assert raised(frame(robbery_rise(material=False))) == []


def test_a_rise_that_is_not_significant_raises_nothing() -> None:
    assert raised(frame(robbery_rise(significant=False, p_value=0.2))) == []


def test_a_context_measure_rise_raises_nothing_even_outside_the_funnel() -> None:
    rise = row(
        "possession_of_weapons", value=600.0, comparison_value=400.0, change=0.5,
        change_lower=0.3, change_upper=0.7, p_value=1e-9, significant=True, material=True,
        status="context", funnel_outside=True, funnel_z=6.0, rate_per_1000=3.0,
        population=200000,
    )  # fmt: skip
    month = row(
        "possession_of_weapons", window="month", value=80.0, comparison_value=40.0,
        lower=20.0, upper=60.0, spc_signal="beyond_limit", significant=True, material=True,
        status="context",
    )  # fmt: skip
    assert raised(frame(rise, month)) == []


def test_rows_across_a_series_break_never_raise_a_point_over_time() -> None:
    across = robbery_rise(status="not comparable")
    month = row(
        "robbery", window="month", value=400.0, comparison_value=300.0, lower=250.0,
        upper=350.0, spc_signal="beyond_limit", significant=True, material=True,
        status="not comparable",
    )  # fmt: skip
    assert raised(frame(across, month)) == []


def test_one_point_per_measure_and_area_names_the_other_windows() -> None:
    points = raised(frame(robbery_rise(window="quarter"), robbery_rise()))
    assert len(points) == 1
    assert points[0].window == "r12"
    assert "Also deteriorating over the latest 3 months." in points[0].evidence


def test_a_window_that_is_not_material_gives_way_to_one_that_is() -> None:
    (point,) = raised(frame(robbery_rise(material=False), robbery_rise(window="quarter")))
    assert point.window == "quarter"
    assert "in the 3 months to March 2023" in point.question


def test_a_fall_in_trust_quotes_points_and_the_assumed_base() -> None:
    fall = row(
        "trust_mps", measures.LONDON, value=0.64, comparison_value=0.72, change=-0.08,
        change_lower=-0.158,
        change_upper=-0.001, p_value=0.048, significant=True, material=True,
        status="deteriorating", assumed_base=400, design_effect=1.5, lower=0.58, upper=0.70,
        source_mart="pas_borough",
    )  # fmt: skip
    (point,) = raised(frame(fall))
    assert "to 64% in the 12 months to March 2023, 8.0 points below" in point.question
    assert "95% CI -15.8 to -0.1 points; assumed base 400 interviews, design effect 1.5" in (
        point.question
    )


# --- SPC ----------------------------------------------------------------------------------------


def spc_row(**overrides) -> dict:
    values = dict(
        value=181.0, comparison_value=167.6, lower=155.0, upper=209.0, change=0.08,
        spc_centre=167.6, spc_lower=127.0, spc_upper=209.0, seasonal_factor=1.0,
        spc_signal="run", significant=True, material=True, small_count=False, p_value=0.0156,
        status="deteriorating", comparison_start=date(2022, 4, 1),
    )  # fmt: skip
    values.update(overrides)
    return row("violence_with_injury", window="month", **values)


def test_an_unfavourable_spc_signal_raises_a_point_with_its_limits() -> None:
    (point,) = raised(frame(spc_row()))
    assert point.rule == "spc_signal"
    assert "XmR centre line 167.6, natural process limits 127 to 209" in point.evidence
    assert "a run of 7 or more months on one side of the average" in point.evidence


@pytest.mark.parametrize(
    "overrides",
    [
        {"status": "improving", "value": 140.0, "change": -0.16},  # favourable direction
        {"small_count": True},  # centre line below the small-count threshold
        {"spc_signal": None, "significant": False, "status": "no significant change"},
        {"material": False, "status": "no significant change"},
    ],
)
def test_spc_rows_that_must_not_raise_a_point(overrides: dict) -> None:
    assert raised(frame(spc_row(**overrides))) == []


# --- targets -------------------------------------------------------------------------------------


def calls_row(status: str, value: float, lower: float, upper: float) -> dict:
    return row(
        "emergency_calls_answered_10s", geo=measures.LONDON, value=value, lower=lower,
        upper=upper, target_value=0.9, target_status=status, source_mart="measure_extract",
    )  # fmt: skip


def test_a_target_missed_by_more_than_the_tolerance_is_raised() -> None:
    (point,) = raised(frame(calls_row("missed", 0.816, 0.813, 0.818)))
    assert point.rule == "target_missed"
    assert "81.6% (95% CI 81.3% to 81.8%)" in point.evidence
    assert "target 90%" in point.evidence
    assert "shortfall 8.4 points" in point.evidence
    assert point.severity == "high"  # London, eight tolerances short


def test_targets_met_or_missed_by_less_than_the_tolerance_are_not_raised() -> None:
    assert raised(frame(calls_row("missed", 0.895, 0.893, 0.897))) == []
    assert raised(frame(calls_row("met", 0.93, 0.92, 0.94))) == []
    assert raised(frame(calls_row("met (within the CI)", 0.905, 0.89, 0.92))) == []


def test_a_target_at_risk_is_a_low_severity_point() -> None:
    (point,) = raised(frame(calls_row("at risk", 0.89, 0.85, 0.93)))
    assert point.rule == "target_at_risk"
    assert point.severity == "low"


# --- funnel --------------------------------------------------------------------------------------


def boroughs(outlier: dict) -> pd.DataFrame:
    rows = [
        row("robbery", f"E0900000{i}", value=1000.0, population=250000, rate_per_1000=4.0,
            funnel_z=0.1, funnel_outside=False, population_year=2022)
        for i in range(1, 7)
    ]  # fmt: skip
    rows.append(row("robbery", WESTMINSTER, population_year=2022, **outlier))
    return frame(*rows)


def test_a_borough_above_the_998_funnel_on_a_lower_is_better_measure_is_raised() -> None:
    outlier = dict(
        value=4000.0, population=250000, rate_per_1000=16.0, funnel_z=4.5, funnel_outside=True
    )
    (point,) = raised(boroughs(outlier))
    assert point.rule == "funnel_outlier"
    assert "16.0 per 1,000 residents" in point.evidence
    assert "adjusted z = 4.5" in point.evidence
    assert "population 250,000" in point.evidence


def test_a_funnel_outlier_is_raised_although_the_comparison_over_time_crosses_a_break() -> None:
    # The funnel compares boroughs with London inside one 12-month window: no break inside it.
    outlier = dict(
        value=4000.0, population=250000, rate_per_1000=16.0, funnel_z=4.5, funnel_outside=True,
        status="not comparable",
    )  # fmt: skip
    assert [p.rule for p in raised(boroughs(outlier))] == ["funnel_outlier"]


@pytest.mark.parametrize(
    "outlier",
    [
        {"value": 100.0, "population": 250000, "rate_per_1000": 0.4, "funnel_z": -4.0,
         "funnel_outside": True},  # below London: better, not a challenge
        {"value": 1300.0, "population": 250000, "rate_per_1000": 5.2, "funnel_z": 2.5,
         "funnel_outside": False},  # inside the 99.8% limits
    ],
)  # fmt: skip
def test_boroughs_below_london_or_inside_the_funnel_are_not_raised(outlier: dict) -> None:
    assert raised(boroughs(outlier)) == []


# --- widening gap --------------------------------------------------------------------------------


def gap_rows(borough_now: float, borough_before: float) -> pd.DataFrame:
    common = dict(source_mart="pas_borough", status="no significant change")
    london = row("trust_mps", measures.LONDON, value=0.75, comparison_value=0.75, **common)
    borough = row("trust_mps", value=borough_now, comparison_value=borough_before, **common)
    return frame(london, borough)


def test_a_borough_falling_further_behind_london_on_a_pas_measure_is_raised() -> None:
    (point,) = raised(gap_rows(0.60, 0.74))
    assert point.rule == "widening_gap"
    test = challenge.gap_test(0.60, 0.75, 0.74, 0.75, STATS)
    assert test["p_value"] < 0.05
    assert test["change"] == pytest.approx(-0.14)
    assert f"p = {test['p_value']:.3f}" in point.evidence
    assert "assumed bases 400 (borough) and 12,800 (London) interviews" in point.evidence


@pytest.mark.parametrize(("now", "before"), [(0.73, 0.74), (0.80, 0.66), (0.70, 0.72)])
def test_gaps_that_did_not_widen_materially_are_not_raised(now: float, before: float) -> None:
    assert raised(gap_rows(now, before)) == []


# --- ranking, cap and ids ------------------------------------------------------------------------


def divergence(geo: str = WESTMINSTER, **overrides) -> dict:
    """A borough whose robbery rose 14% while London's did not move."""
    values = dict(
        relative_change=0.14, relative_lower=0.08, relative_upper=0.20, relative_p_value=0.0001
    )
    values.update(overrides)
    return robbery_rise(geo, **values)


def many_rises(count: int) -> pd.DataFrame:
    return frame(
        *(divergence(f"E09{i:06d}", relative_change=0.10 + i / 100) for i in range(count))
    )


def test_points_are_ranked_and_the_meeting_cap_is_respected() -> None:
    points = challenge.rank_points(raised(many_rises(12)))
    scores = [p.score for p in points]
    assert scores == sorted(scores, reverse=True)
    top, rest = challenge.for_meeting(points)
    assert len(top) == RULES.meeting_cap == 8
    assert len(rest) == 4
    assert top + rest == points
    top3, rest9 = challenge.for_meeting(points, cap=3)
    assert len(top3) == 3
    assert len(rest9) == 9


def test_london_outranks_a_borough_for_the_same_change() -> None:
    points = challenge.rank_points(raised(frame(divergence(), robbery_rise(measures.LONDON))))
    assert [p.geography_code for p in points] == [measures.LONDON, WESTMINSTER]
    assert [p.rule for p in points] == ["deterioration", "borough_divergence"]


def test_the_meeting_takes_one_point_per_measure_and_area() -> None:
    rise = divergence()
    outlier = row("robbery", WESTMINSTER, window="r12", value=3512.0, population=250000,
                  rate_per_1000=14.0, funnel_z=4.5, funnel_outside=True, population_year=2022)
    others = [
        row("robbery", f"E0900000{i}", value=1000.0, population=250000, rate_per_1000=4.0,
            funnel_z=0.1, funnel_outside=False, population_year=2022)
        for i in range(1, 7)
    ]  # fmt: skip
    rise.update({k: outlier[k] for k in ("population", "rate_per_1000", "funnel_z",
                                         "funnel_outside", "population_year")})
    points = challenge.rank_points(raised(frame(rise, *others)))
    assert sorted(p.rule for p in points) == ["borough_divergence", "funnel_outlier"]
    top, rest = challenge.for_meeting(points)
    assert len(top) == 1
    assert len(rest) == 1


def test_point_ids_are_stable_and_change_with_the_period() -> None:
    first = [p.point_id for p in raised(many_rises(3))]
    again = [p.point_id for p in raised(many_rises(3))]
    assert first == again
    assert len(set(first)) == 3
    later = raised(frame(robbery_rise(period_end=date(2023, 4, 1))))[0].point_id
    assert later != raised(frame(robbery_rise()))[0].point_id
    assert challenge.point_id("deterioration", "robbery", measures.LONDON, END) == (
        raised(frame(robbery_rise()))[0].point_id
    )


def test_decisions_drop_dismissed_points_and_apply_edits() -> None:
    points = raised(many_rises(2))
    decisions = pd.DataFrame(
        [
            {"point_id": points[0].point_id, "decision": "dismissed", "reason": "known"},
            {"point_id": points[1].point_id, "decision": "edited", "reason": "wording",
             "edited_question": "Why?", "edited_finding": None},
        ]
    )  # fmt: skip
    kept = challenge.apply_decisions(points, decisions, drop_dismissed=True)
    assert [p.point_id for p in kept] == [points[1].point_id]
    assert kept[0].question == "Why?"
    assert kept[0].finding == points[1].finding


# --- data supply ---------------------------------------------------------------------------------


def data_warehouse(last_month: date, load_status: str = "loaded") -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create schema marts")
    con.execute("create table marts.crime_borough_monthly (month date)")
    con.execute("insert into marts.crime_borough_monthly values (?)", [last_month])
    con.execute(
        "create table marts.loads (load_seq integer, source_file_id varchar, path varchar, "
        "sha256 varchar, source varchar, status varchar, report varchar, vintage varchar, "
        "loaded_at timestamptz)"
    )
    con.execute(
        "insert into marts.loads values (1, 'abc', '/data/raw/crime.csv', 'ff00', "
        '\'lds_borough_crime\', ?, \'{"failures": [{"expectation": "not null", '
        "\"column\": \"offences\"}]}', '2025-12', '2026-01-05 10:00:00+00')",
        [load_status],
    )
    return con


def test_a_source_past_its_schedule_is_raised_and_one_on_time_is_not() -> None:
    con = data_warehouse(date(2025, 12, 1))
    late = challenge.stale_points(con, SETTING, date(2026, 4, 1), ROOT)
    (point,) = [p for p in late if p.measure_id == "crime_borough_monthly"]
    assert point.rule == "stale_data"
    assert point.priority_id == RULES.data_priority_id
    assert "data only to December 2025; January 2026 was due by 21 February 2026" in (
        point.finding
    )
    assert "Robbery" in point.evidence
    assert challenge.stale_points(con, SETTING, date(2026, 2, 10), ROOT) == []


def test_without_a_publication_schedule_the_fallback_cadence_is_used(tmp_path: Path) -> None:
    con = data_warehouse(date(2025, 12, 1))
    (tmp_path / "config").mkdir()
    late = challenge.stale_points(con, SETTING, date(2026, 4, 1), tmp_path)
    assert [p.measure_id for p in late] == ["crime_borough_monthly"]


def test_failing_loads_and_quarantined_files_are_raised(tmp_path: Path) -> None:
    quarantine = tmp_path / "quarantine"
    quarantine.mkdir()
    record = {"file": "bad.csv", "sha256": "99", "source": "pas_borough", "column": "proportion",
              "row": 12, "reason": "value above 1"}  # fmt: skip
    (quarantine / "20260101T000000Z__99__bad.csv.json").write_text(json.dumps(record))
    points = challenge.failing_points(data_warehouse(date(2025, 12, 1), "failed"), SETTING,
                                      quarantine)  # fmt: skip
    assert [p.measure_label for p in points] == ["crime.csv", "bad.csv"]
    assert "status failed: 1 failed check(s), first: not null on column offences" in (
        points[0].evidence
    )
    assert "value above 1, column proportion, row 12" in points[1].evidence
    good = challenge.failing_points(data_warehouse(date(2025, 12, 1)), SETTING, tmp_path / "no")
    assert good == []


# --- the real warehouse --------------------------------------------------------------------------


# At the newest data (December 2025) the real files raise no point: CONNECT leaves too few
# months on one basis for most comparisons. December 2023 raises London's robbery rise.
REAL_PLAN, REAL_AS_AT = "pcp-2022-25", date(2023, 12, 1)


@pytest.fixture(scope="module")
def real_points(real_warehouse: Path) -> list[challenge.ChallengePoint]:
    with duckdb.connect(str(real_warehouse), read_only=True) as con:
        return challenge.raise_points(con, REAL_PLAN, as_at=REAL_AS_AT)


@pytest.mark.realdata
def test_real_points_are_few_and_quote_the_measure_values_row(
    real_warehouse: Path, real_points: list[challenge.ChallengePoint]
) -> None:
    assert 0 < len(real_points) <= 20
    with duckdb.connect(str(real_warehouse), read_only=True) as con:
        stored = challenge.plan_values(con, REAL_PLAN, REAL_AS_AT)
    measure_points = [p for p in real_points if p.rule not in challenge.DATA_RULES]
    assert measure_points
    for point in measure_points:
        (source,) = stored[
            stored["measure_id"].eq(point.measure_id)
            & stored["geography_code"].eq(point.geography_code)
            & stored["window"].eq(point.window)
        ].to_dict(orient="records")
        assert source["direction"] != "context"
        barred = (
            ("context", "no data")
            if point.rule == "funnel_outlier"
            else ("not comparable", "context", "no data")
        )
        assert source["status"] not in barred
        assert pd.Timestamp(source["period_end"]).date() == point.period_end
        assert source["vintage"] == point.vintage
        shown = (
            challenge.fmt_share(source["value"])
            if source["unit"] == "proportion"
            else f"{source['value']:,.0f}"
        )
        assert f"{point.geography_name}: {shown}" in point.evidence
        if point.rule == "deterioration":
            assert bool(source["significant"])
            assert bool(source["material"])
            assert f"{source['change_upper'] * 100:+.1f} points" in point.evidence or (
                f"{source['change_lower']:+.1%}" in point.evidence
            )


@pytest.mark.realdata
def test_the_cli_prints_the_meeting_list_as_json(real_warehouse: Path, tmp_path: Path) -> None:
    out = io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OVERSIGHT_TODAY", TODAY.isoformat())
        mp.setenv("OVERSIGHT_STATE", str(tmp_path / "state.sqlite"))
        mp.setenv("OVERSIGHT_MODE", "internal")  # challenge points are internal
        with contextlib.redirect_stdout(out):
            code = cli_main(["--warehouse", str(real_warehouse), "challenge", "--as-at",
                             "2025-12", "--format", "json"])  # fmt: skip
    assert code == 0
    document = json.loads(out.getvalue())
    assert len(document["meeting"]) <= RULES.meeting_cap
    ranked = [p["score"] for p in document["meeting"] + document["rest"]]
    assert ranked == sorted(ranked, reverse=True)
    assert not (tmp_path / "state.sqlite").exists()  # the CLI never creates the store


# --- the page ------------------------------------------------------------------------------------


@pytest.mark.realdata
def test_the_page_lists_the_points_and_records_a_dismissal(
    real_warehouse: Path, real_points: list[challenge.ChallengePoint], tmp_path: Path
) -> None:
    top, rest = challenge.for_meeting(real_points)
    state = tmp_path / "state.sqlite"
    with pytest.MonkeyPatch.context() as mp:
        for name, value in {
            "OVERSIGHT_WAREHOUSE": str(real_warehouse), "OVERSIGHT_MODE": "internal",
            "OVERSIGHT_DEV_LOGIN": "1", "OVERSIGHT_STATE": str(state),
            "OVERSIGHT_TODAY": TODAY.isoformat(),
        }.items():  # fmt: skip
            mp.setenv(name, value)
        # AppTest resets Streamlit's pages-folder flag on every run, so the pages' guard would
        # rerun each time and swallow the form's submit; the guard is not what is tested here.
        mp.setattr(ui, "ensure_navigation", lambda: None)
        streamlit.config.set_option("server.address", "127.0.0.1")
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
        at.query_params["plan"] = REAL_PLAN
        at.query_params["as_at"] = f"{REAL_AS_AT:%Y-%m}"
        at.switch_page("pages/challenge.py").run()
        assert not at.exception, [e.value for e in at.exception]
        assert at.get("metric")[0].value == str(len(top))
        headers = [h.value for h in at.header]
        assert f"For the next meeting ({len(top)})" in headers
        texts = " ".join(m.value for m in at.markdown)
        assert top[0].finding in texts
        assert top[0].question in texts
        assert len(at.get("plotly_chart")) >= 1
        # Dismiss the first point with a reason.
        first = top[0].point_id
        at.radio(key=f"decision_{first}").set_value("dismissed")
        at.text_input(key=f"reason_{first}").input("Already on the Board's agenda")
        at.button(key=f"FormSubmitter:decide_{first}-Record decision").click().run()
        assert not at.exception, [e.value for e in at.exception]
    from oversight import governance

    decision = governance.StateStore(state).decisions().set_index("point_id").loc[first]
    assert decision["decision"] == "dismissed"
    assert decision["reason"] == "Already on the Board's agenda"
    texts = " ".join(m.value for m in at.markdown)
    assert f"**{top[0].measure_label}, {top[0].geography_name}**: {top[0].finding}" in texts


def test_points_must_survive_false_discovery_control_across_the_run() -> None:
    # 58 borough comparisons besides two raised: one very strong, one only just under 0.05.
    quiet = [
        row("robbery", f"E09{i:06d}", value=1000.0, relative_p_value=0.6, relative_change=0.01,
            status="no significant change", change=0.01)
        for i in range(100, 158)
    ]  # fmt: skip
    strong = divergence(WESTMINSTER, relative_p_value=0.0001)
    weak = divergence(CAMDEN, relative_p_value=0.04)
    points = raised(frame(strong, weak, *quiet))
    kept = {p.geography_code for p in points if p.rule == "borough_divergence"}
    assert kept == {WESTMINSTER}
    assert "Benjamini–Hochberg" in points[0].evidence
    # Alone, the weaker one would have been raised: it is the family that holds it back.
    assert {p.geography_code for p in raised(frame(weak))} == {CAMDEN}


def test_a_london_wide_rise_is_one_london_point_naming_the_boroughs() -> None:
    london = robbery_rise(measures.LONDON)
    followers = [
        robbery_rise(f"E0900000{i}", change=0.10 + i / 100, relative_change=0.0,
                     relative_lower=-0.05, relative_upper=0.05, relative_p_value=0.9)
        for i in range(1, 8)
    ]  # fmt: skip
    points = raised(frame(london, *followers))
    assert [(p.rule, p.geography_code) for p in points] == [("deterioration", measures.LONDON)]
    assert "7 of 7 boroughs moved the same way" in points[0].finding
    assert "most: Camden +17%, E09000006 +16%" in points[0].finding


def test_a_borough_that_rose_with_london_is_not_a_borough_point() -> None:
    # Its own rise is significant, but it moved as London did: not a finding about it.
    same = robbery_rise(WESTMINSTER, relative_change=0.01, relative_lower=-0.04,
                        relative_upper=0.06, relative_p_value=0.7)  # fmt: skip
    assert raised(frame(same)) == []
