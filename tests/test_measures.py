"""Plan measures: windows, significance with materiality, breaks, small counts, real figures."""

from __future__ import annotations

import csv
import dataclasses
import json
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from oversight import measures, scorecard, stats
from oversight.plan import Break, Tolerance, load_breaks, load_plan
from tests.conftest import ROOT

PLAN = load_plan("pcp-2022-25")
BY_ID = {m.id: m for p in PLAN.priorities for m in p.measures}
# The newest publication covering 2010-04..2023-11 (vintage 2023-11): the current view takes
# those months from it, not from the earlier 24-month files.
HISTORICAL = "MPS Borough Level Crime (Historical).csv"


def context(breaks: tuple[Break, ...] = (), as_at: date | None = None) -> measures.Context:
    ctx = measures.make_context(PLAN, as_at=as_at)
    return dataclasses.replace(ctx, breaks=breaks)


def monthly(values: list[float], start: str = "2020-01-01", geo: str = "MPS") -> pd.DataFrame:
    months = pd.date_range(start, periods=len(values), freq="MS")
    return pd.DataFrame(
        {
            "geography_code": geo,
            "month": months,
            "value": [float(v) for v in values],
            "numerator": float("nan"),
            "denominator": float("nan"),
            "vintage": "2025-12",
        }
    )


def london_row(rows: list[dict], window: str) -> dict:
    return next(r for r in rows if r["geography_code"] == "MPS" and r["window"] == window)


# --- judging a change ---------------------------------------------------------------------------


def test_a_real_material_rise_in_a_lower_is_better_count_is_deteriorating() -> None:
    robbery = dataclasses.replace(BY_ID["robbery"], geographies=("london",))
    # four steady years, then a 20% rise: against the series' own (quiet) history
    rows = measures.measure_rows(robbery, monthly([1000] * 48 + [1200] * 12), context())
    row = london_row(rows, "r12")
    assert row["tau2"] == 0.0
    assert row["value"] == 14400
    assert row["comparison_value"] == 12000
    assert row["change"] == pytest.approx(0.2)
    assert row["p_value"] < 1e-6
    assert row["status"] == "deteriorating"
    assert "20.0% more" in row["sentence"]
    assert "deteriorating" in row["sentence"]


def test_significant_but_immaterial_change_is_not_called_a_deterioration() -> None:
    # 1% more on London-sized counts is significant but below the 5% tolerance.
    robbery = dataclasses.replace(BY_ID["robbery"], geographies=("london",))
    rows = measures.measure_rows(robbery, monthly([50000] * 48 + [50500] * 12), context())
    row = london_row(rows, "r12")
    assert row["significant"] is True
    assert row["material"] is False
    assert row["status"] == "no significant change"
    assert "smaller than the materiality tolerance" in row["sentence"]


def test_a_context_measure_is_never_judged_good_or_bad() -> None:
    sexual = dataclasses.replace(BY_ID["reported_sexual_offences"], geographies=("london",))
    rows = measures.measure_rows(sexual, monthly([1000] * 12 + [1500] * 12), context())
    assert {r["status"] for r in rows if r["window"] != "month"} <= {"context", "no data"}
    assert "not judged better or worse" in london_row(rows, "r12")["sentence"]


def test_small_counts_get_no_percentage() -> None:
    homicide = dataclasses.replace(BY_ID["homicide_victims"], geographies=("london",))
    rows = measures.measure_rows(homicide, monthly([1] * 12 + [2] * 12), context())
    row = london_row(rows, "r12")
    assert row["small_count"] is True
    assert "%" not in row["sentence"].split(";")[0]
    assert "too few to quote a percentage change" in row["sentence"]


def test_a_comparison_across_a_break_is_suppressed_and_named() -> None:
    brk = next(b for b in load_breaks() if b.id == "mps_connect")
    robbery = dataclasses.replace(BY_ID["robbery"], geographies=("london",))
    series = monthly([1000] * 24, start="2023-11-01")  # to 2025-10: r12 crosses 2024-03
    rows = measures.measure_rows(robbery, series, context(breaks=(brk,)))
    row = london_row(rows, "r12")
    assert row["status"] == "not comparable"
    assert row["p_value"] is None
    assert row["comparison_value"] is None
    assert "CONNECT" in row["reason"]
    assert row["value"] == 12000  # the figure itself is still shown


def test_month_window_uses_xmr_limits_from_months_since_the_break() -> None:
    brk = dataclasses.replace(
        next(b for b in load_breaks() if b.id == "mps_connect"), date="2024-01"
    )
    robbery = dataclasses.replace(BY_ID["robbery"], geographies=("london",))
    before = [5000] * 12
    after = [1000, 1010, 990, 1005, 995, 1000, 1008, 992, 1003, 997, 1001, 999, 1600]
    rows = measures.measure_rows(
        robbery, monthly(before + after, "2023-01-01"), context(breaks=(brk,))
    )
    row = london_row(rows, "month")
    limits = stats.xmr_limits(after)  # the 13 months since the break are the baseline
    assert row["spc_centre"] == pytest.approx(limits.centre)
    assert row["spc_upper"] == pytest.approx(limits.upper)
    # the XmR limits are not the count's confidence interval
    assert row["upper"] == pytest.approx(measures._poisson_ci(1600.0, 0.95)[1])
    assert row["comparison_start"] == date(2024, 1, 1)
    assert "beyond_limit" in row["spc_signal"]
    assert row["status"] == "deteriorating"


def test_headline_falls_back_to_the_month_window_only_when_r12_is_not_comparable() -> None:
    cases = [
        ("a", "r12", "improving"),
        ("a", "month", "context"),
        ("b", "r12", "not comparable"),
        ("b", "month", "deteriorating"),
        ("c", "r12", "not comparable"),
        ("c", "month", "no data"),
    ]
    frame = pd.DataFrame(cases, columns=["measure_id", "window", "status"]).assign(
        geography_code="MPS"
    )
    head = measures.headline(frame).set_index("measure_id")
    assert head.loc["a", "window"] == "r12"
    assert head.loc["b", "window"] == "month"
    assert head.loc["c", "window"] == "r12"


@pytest.mark.parametrize(
    ("window", "end", "current", "previous"),
    [
        ("r12", "2025-12", ("2025-01", "2025-12"), ("2024-01", "2024-12")),
        ("quarter", "2025-12", ("2025-10", "2025-12"), ("2024-10", "2024-12")),
        ("fytd", "2025-12", ("2025-04", "2025-12"), ("2024-04", "2024-12")),
        ("fytd", "2025-04", ("2025-04", "2025-04"), ("2024-04", "2024-04")),
        ("fytd", "2025-03", ("2024-04", "2025-03"), ("2023-04", "2024-03")),
        ("fy", "2025-12", ("2024-04", "2025-03"), ("2023-04", "2024-03")),
        ("fy", "2025-03", ("2024-04", "2025-03"), ("2023-04", "2024-03")),
        ("r12_3yr", "2025-12", ("2025-01", "2025-12"), ("2022-01", "2022-12")),
    ],
)
def test_window_months(window, end, current, previous) -> None:
    cur, comps = measures.window_months(window, stats.month_key(end + "-01"))
    label = lambda k: f"{k // 12}-{k % 12 + 1:02d}"  # noqa: E731
    assert (label(cur[0]), label(cur[-1])) == current
    assert (label(comps[0][0]), label(comps[0][-1])) == previous


def test_r12_vs_three_year_average_tests_against_the_pooled_years() -> None:
    robbery = dataclasses.replace(BY_ID["robbery"], geographies=("london",))
    rows = measures.measure_rows(
        robbery, monthly([100] * 12 + [110] * 12 + [120] * 12 + [150] * 12), context()
    )
    row = london_row(rows, "r12_3yr")
    assert row["comparison_value"] == pytest.approx(12 * 110)
    df = 48 - 24 if row["phi"] > 1 else None  # 48 months, less 12 lost to the average and 12
    expected = stats.overdispersed_rate_ratio(
        1800, 12 * 330, 3, row["tau2"], 0.95, row["phi"], df
    )
    assert row["p_value"] == pytest.approx(expected.p_value)
    # too short a history to estimate tau² for this window: the configured fallback
    assert row["tau2"] == measures.load_statistics().fallback_tau2


def test_pas_change_uses_assumed_bases_and_non_overlapping_years() -> None:
    trust = dataclasses.replace(BY_ID["trust_mps"], geographies=("london",))
    quarters = pd.date_range("2022-03-01", periods=8, freq="3MS")
    frame = monthly([0.0] * 8)
    frame["month"] = quarters
    frame["value"] = [0.70, 0.70, 0.69, 0.69, 0.66, 0.65, 0.64, 0.63]
    row = measures.measure_rows(trust, frame, context())[0]
    cfg = measures.load_statistics()
    assert row["assumed_base"] == cfg.pas_base_london
    assert row["design_effect"] == cfg.pas_design_effect
    # latest (2023-12) against the figure four quarters earlier (2022-12), never the quarter before
    assert row["comparison_value"] == pytest.approx(0.69)
    expected = stats.two_proportion_test(
        0.63, cfg.pas_base_london, 0.69, cfg.pas_base_london, cfg.pas_design_effect
    )
    assert row["p_value"] == pytest.approx(expected.p_value)
    assert row["status"] == "deteriorating"  # 6 points: significant and beyond 3 points
    assert "assumed base 12,800" in row["sentence"]


def test_extract_proportions_pool_numerators_and_denominators() -> None:
    measure = dataclasses.replace(BY_ID["victim_satisfaction"], geographies=("london",))
    frame = monthly([0.0] * 24)
    frame["numerator"] = [700.0] * 12 + [600.0] * 12
    frame["denominator"] = [1000.0] * 24
    frame["value"] = frame["numerator"] / frame["denominator"]
    rows = measures.measure_rows(measure, frame, context())
    row = london_row(rows, "r12")
    assert row["value"] == pytest.approx(0.6)
    assert row["denominator"] == 12000
    assert row["status"] == "deteriorating"


def test_extract_only_measures_say_no_data_rather_than_a_stand_in() -> None:
    rows = measures.measure_rows(BY_ID["knife_crime_with_injury"], None, context())
    assert {r["status"] for r in rows} == {"no data"}
    assert all(r["value"] is None for r in rows)
    assert "measure extract" in rows[0]["sentence"]


def test_as_at_cuts_periods() -> None:
    robbery = dataclasses.replace(BY_ID["robbery"], geographies=("london",))
    rows = measures.measure_rows(
        robbery, monthly(list(range(100, 136))), context(as_at=date(2021, 12, 1))
    )
    row = london_row(rows, "r12")
    assert row["period_end"] == date(2021, 12, 1)
    assert row["value"] == sum(range(112, 124))


def test_absolute_tolerance() -> None:
    trust = dataclasses.replace(
        BY_ID["trust_mps"], tolerance=Tolerance("absolute", 0.10), geographies=("london",)
    )
    quarters = pd.date_range("2022-03-01", periods=5, freq="3MS")
    frame = monthly([0.0] * 5)
    frame["month"], frame["value"] = quarters, [0.70, 0.7, 0.7, 0.7, 0.64]
    row = measures.measure_rows(trust, frame, context())[0]
    assert row["significant"] is True
    assert row["material"] is False


def test_funnel_flags_an_outlying_borough() -> None:
    ctx = context()
    robbery = BY_ID["robbery"]
    boroughs = sorted(c for c in ctx.names if c != "MPS")
    frames = []
    for number, code in enumerate(boroughs):
        pop, _ = ctx.populations.lookup(code, 2025)
        rate = 0.004 if number else 0.02  # the first borough has five times the rate
        frames.append(monthly([round(pop * rate / 12)] * 24, geo=code))
    london = pd.concat(frames).groupby("month", as_index=False)["value"].sum()
    frames.append(monthly(list(london["value"])))
    rows = measures.measure_rows(robbery, pd.concat(frames), ctx)
    measures.add_funnels(rows, ctx)
    r12 = {
        r["geography_code"]: r
        for r in rows
        if r["window"] == "r12" and r["geography_code"] != "MPS"
    }
    assert r12[boroughs[0]]["funnel_outside"] is True
    assert sum(bool(r["funnel_outside"]) for r in r12.values()) == 1


def test_statistics_config_rejects_a_bad_window(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    text = (ROOT / "config" / "statistics.yaml").read_text()
    (tmp_path / "config" / "statistics.yaml").write_text(
        text.replace("headline_window: r12", "headline_window: weekly")
    )
    with pytest.raises(ValueError, match="headline_window"):
        measures.load_statistics(tmp_path)


# --- the warehouse and real figures ------------------------------------------------------------


def raw_datastore_total(path: Path, major: str, months: list[str], borough: str | None = None):
    total = 0
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["MajorText"].strip().lower() != major.lower():
                continue
            name = row.get("LookUp_BoroughName") or row.get("BoroughName")
            if borough and name != borough:
                continue
            total += sum(int(row[m]) for m in months)
    return total


@pytest.mark.realdata
def test_robbery_r12_matches_the_raw_datastore_file(real_warehouse: Path, realdata: Path) -> None:
    raw = realdata / "lds_borough_crime" / HISTORICAL
    current = [
        f"{y}{m:02d}" for y, m in [(2022, k) for k in range(3, 13)] + [(2023, 1), (2023, 2)]
    ]
    previous = [
        f"{y}{m:02d}" for y, m in [(2021, k) for k in range(3, 13)] + [(2022, 1), (2022, 2)]
    ]
    with duckdb.connect(str(real_warehouse), read_only=True) as con:
        card = scorecard.values_for(con, "pcp-2022-25", "MPS", as_at=date(2023, 2, 1))
        camden = scorecard.values_for(con, "pcp-2022-25", "E09000007", as_at=date(2023, 2, 1))
    row = card[(card.measure_id == "robbery") & (card.window == "r12")].iloc[0]
    assert row["value"] == raw_datastore_total(raw, "Robbery", current)
    assert row["comparison_value"] == raw_datastore_total(raw, "Robbery", previous)
    assert row["status"] in measures.STATUSES
    assert row["p_value"] < 1
    crow = camden[(camden.measure_id == "robbery") & (camden.window == "r12")].iloc[0]
    assert crow["value"] == raw_datastore_total(raw, "Robbery", current, "Camden")


@pytest.mark.realdata
def test_homicide_r12_matches_the_raw_homicide_file(real_warehouse: Path, realdata: Path) -> None:
    counts: Counter[str] = Counter()
    with (realdata / "mps_homicide" / "Homicides_2003_2023.csv").open(
        encoding="utf-8-sig", newline=""
    ) as handle:
        for row in csv.DictReader(handle):
            counts[row["Recorded Date"][-2:]] += int(row["Count of Victims"])
    with duckdb.connect(str(real_warehouse), read_only=True) as con:
        card = scorecard.scorecard(con, "pcp-2022-25")
    row = card.set_index("measure_id").loc["homicide_victims"]
    assert row["window"] == "r12"
    assert row["period_end"] == pd.Timestamp("2023-12-01")
    assert row["value"] == counts["23"]
    assert row["comparison_value"] == counts["22"]


@pytest.mark.realdata
def test_pas_trust_matches_the_raw_mps_total_file(real_warehouse: Path, realdata: Path) -> None:
    path = realdata / "mopac_pas" / "PAS_TandC_dashboard_MPS_total__semicolon_eu_decimal.csv"
    with path.open(encoding="utf-8-sig", newline="") as handle:
        raw = {
            (r["Date"], r["Measure"]): float(r["Proportion"].replace(",", "."))
            for r in csv.DictReader(handle, delimiter=";")
        }
    with duckdb.connect(str(real_warehouse), read_only=True) as con:
        card = scorecard.scorecard(con, "pcp-2022-25")
    row = card.set_index("measure_id").loc["trust_mps"]
    assert row["value"] == pytest.approx(raw[("31/12/2023", "Trust MPS")])
    assert row["comparison_value"] == pytest.approx(raw[("31/12/2022", "Trust MPS")])


@pytest.mark.realdata
def test_every_fed_measure_has_values_for_london_and_every_borough(real_warehouse: Path) -> None:
    with duckdb.connect(str(real_warehouse), read_only=True) as con:
        values = con.execute("select * from marts.measure_values").df()
    for plan_id in ("pcp-2022-25", "pcp-2025-29"):
        plan = values[values.plan_id == plan_id]
        fed = plan[
            plan.source_mart.isin(["crime_borough_monthly", "pas_borough", "homicide_monthly"])
        ]
        for measure_id, group in fed.groupby("measure_id"):
            with_value = group.dropna(subset=["value"])
            geos = set(with_value.geography_code)
            if measure_id in {"stop_search_fair", "safe_after_dark"}:
                continue  # not asked in the published PAS extract
            assert "MPS" in geos, measure_id
            assert len(geos - {"MPS"}) == 32, (measure_id, sorted(geos))
        extract = plan[plan.source_mart == "measure_extract"]
        assert set(extract.status) == {"no data"}
        assert extract.value.isna().all()


@pytest.mark.realdata
def test_measure_values_mart_matches_a_fresh_computation(real_warehouse: Path) -> None:
    with duckdb.connect(str(real_warehouse), read_only=True) as con:
        stored = con.execute(
            "select * from marts.measure_values where plan_id = 'pcp-2025-29' "
            "and geography_code = 'E09000022'"
        ).df()
        fresh = measures.compute_plan(con, load_plan("pcp-2025-29"), geographies=["E09000022"])
        assert scorecard.stored_hash(con) == measures.config_hash()
        assert not scorecard.stale(con)
    key = ["measure_id", "window"]
    merged = stored.merge(fresh, on=key, suffixes=("", "_fresh"))
    assert len(merged) == len(stored) == len(fresh)
    for column in ("value", "comparison_value", "p_value"):
        pd.testing.assert_series_equal(
            merged[column], merged[f"{column}_fresh"], check_names=False, check_dtype=False
        )
    assert (merged["status"] == merged["status_fresh"]).all()


def test_stale_when_the_config_changes(sample_warehouse: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "config").mkdir(parents=True)
    for path in (ROOT / "config").rglob("*.yaml"):
        target = root / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    (root / "data" / "reference").mkdir(parents=True)
    pop = ROOT / "data" / "reference" / "population.csv"
    (root / "data" / "reference" / "population.csv").write_bytes(pop.read_bytes())
    with duckdb.connect(str(sample_warehouse), read_only=True) as con:
        assert not scorecard.stale(con, root)
        stats_file = root / "config" / "statistics.yaml"
        stats_file.write_text(
            stats_file.read_text().replace("design_effect: 1.5", "design_effect: 2")
        )
        assert scorecard.stale(con, root)


def test_scorecard_cli(sample_warehouse: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "oversight", "--warehouse", str(sample_warehouse),
             "scorecard", "--plan", "pcp-2022-25", *args],
            cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    table = run()
    assert table.returncode == 0, table.stderr
    assert "Reducing and preventing violence" in table.stdout
    assert "Knife crime with injury" in table.stdout
    assert "no data" in table.stdout
    data = json.loads(
        run("--format", "json", "--borough", "E09000033", "--as-at", "2025-06").stdout
    )
    assert {r["geography_code"] for r in data} == {"E09000033"}
    assert len(data) == sum(len(p.measures) for p in PLAN.priorities)
    assert all(r["period_end"] is None or r["period_end"] <= "2025-06-30" for r in data)
    bad = run("--borough", "E09999999")
    assert bad.returncode == 2
    assert "E09999999" in bad.stderr
    bad_plan = run("--as-at", "2025-13")
    assert bad_plan.returncode == 2
    assert "as-at" in bad_plan.stderr.lower()


def test_measure_values_suite_fails_on_a_broken_copy(sample_warehouse: Path) -> None:
    from pipelines.validate import validate_frame

    with duckdb.connect(str(sample_warehouse), read_only=True) as con:
        good = con.execute("select * from marts.measure_values").df()
    kwargs = {
        "expectations_dir": ROOT / "expectations",
        "parameters": {},
        "file": "marts.measure_values",
    }
    assert validate_frame(good, "marts.measure_values", **kwargs).success
    context_row = good.index[good.direction.eq("context")][0]
    proportion_row = good.index[good.unit.eq("proportion") & good.value.notna()][0]
    breakages = {
        "context judged": lambda f: f.assign(
            status=f.status.where(f.index != context_row, "improving")
        ),
        "proportion over 1": lambda f: f.assign(
            value=f.value.where(f.index != proportion_row, 1.5)
        ),
        "duplicate key": lambda f: pd.concat([f, f.iloc[[0]]], ignore_index=True),
        "unknown status": lambda f: f.assign(status="fine"),
    }
    for name, breaking in breakages.items():
        report = validate_frame(breaking(good.copy()), "marts.measure_values", **kwargs)
        assert not report.success, name
