"""The public voice (PAS) page: figures against the published file, CIs, filters, labels."""

from __future__ import annotations

import base64
import csv
import json
import math
from pathlib import Path

import duckdb
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from oversight import public_voice as pv
from oversight.measures import load_statistics
from tests.helpers import apptest

ROOT = Path(__file__).resolve().parents[1]
PAGE = "pages/public_voice.py"
PAS_CSV = "mopac_pas/PAS_TandC_dashboard_Borough_sheet__to_Q3_23-24.csv"


def open_page(monkeypatch: pytest.MonkeyPatch, warehouse: Path, **params: str) -> AppTest:
    """The public voice page on ``warehouse`` with ``params`` in the URL."""
    return apptest.open_page(monkeypatch, warehouse, PAGE, **params)


def specs(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def chart_with(at: AppTest, words: str) -> dict:
    """The one chart whose title contains ``words`` (line breaks read as spaces)."""
    found = [s for s in specs(at) if words in title_of(s)]
    assert len(found) == 1, [title_of(s) for s in specs(at)]
    return found[0]


def title_of(spec: dict) -> str:
    return spec["layout"]["title"]["text"].replace("<br>", " ")


def trace(spec: dict, name: str) -> dict:
    found = [t for t in spec["data"] if t.get("name") == name]
    assert len(found) == 1, [t.get("name") for t in spec["data"]]
    return found[0]


def decode(values: list | dict) -> list:
    """A trace's array as a list (Plotly sends numeric arrays as base64 typed arrays)."""
    if isinstance(values, dict) and "bdata" in values:
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).tolist()
    return list(values)


def value_at(tr: dict, day: str) -> float:
    """The y value of a trace at the date ``day`` (YYYY-MM-DD)."""
    xs = [str(x)[:10] for x in decode(tr["x"])]
    return decode(tr["y"])[xs.index(day)]


def published(realdata: Path, borough: str, measure: str, date_text: str) -> tuple[float, float]:
    """(borough proportion, London proportion) from the published Borough sheet, read as text."""
    with (realdata / PAS_CSV).open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if (row["Date"], row["Borough"], row["Measure"]) == (date_text, borough, measure):
                return float(row["Proportion"]), float(row["MPS"])
    raise AssertionError(f"no published row for {borough}, {measure}, {date_text}")


def wilson(p: float, n: float, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval written out independently of the project's statistics module."""
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


@pytest.fixture
def barnet_trust() -> dict[str, str]:
    """URL parameters for Trust MPS in Barnet (E09000003)."""
    return {"measure": "trust_mps", "borough": "E09000003"}


@pytest.mark.parametrize(
    ("date_text", "day"), [("12/31/2023", "2023-12-31"), ("6/30/2019", "2019-06-30")]
)
def test_charted_pas_figure_equals_the_published_csv(
    monkeypatch, real_warehouse, realdata, barnet_trust, date_text, day
):
    borough_value, london_value = published(realdata, "Barnet", "Trust MPS", date_text)
    at = open_page(monkeypatch, real_warehouse, **barnet_trust)
    spec = chart_with(at, "Trust MPS: Barnet")
    assert value_at(trace(spec, "Barnet"), day) == pytest.approx(borough_value, abs=1e-12)
    assert value_at(trace(spec, "London (MPS area)"), day) == pytest.approx(
        london_value, abs=1e-12
    )


def test_ci_band_uses_the_assumed_base_and_the_caption_says_so(
    monkeypatch, real_warehouse, realdata, barnet_trust
):
    cfg = load_statistics()
    at = open_page(monkeypatch, real_warehouse, **barnet_trust)
    spec = chart_with(at, "Trust MPS: Barnet")
    p, _ = published(realdata, "Barnet", "Trust MPS", "12/31/2023")
    low, high = wilson(p, cfg.pas_base_borough / cfg.pas_design_effect)
    assert value_at(trace(spec, "Barnet 95% CI"), "2023-12-31") == pytest.approx(low, abs=1e-9)
    assert value_at(trace(spec, "Barnet upper"), "2023-12-31") == pytest.approx(high, abs=1e-9)
    captions = [c.value for c in at.caption if c.value.startswith("Source:")]
    ci_captions = [c for c in captions if "confidence interval" in c]
    assert len(ci_captions) >= 4  # trend, gap, change over a year, all boroughs
    for text in ci_captions:
        assert f"assume {cfg.pas_base_borough:,} interviews per borough" in text
        assert f"{cfg.pas_base_london:,} for London" in text
        assert f"design effect of {cfg.pas_design_effect:g}" in text


def test_gap_to_london_is_the_published_difference_with_its_test(
    monkeypatch, real_warehouse, realdata, barnet_trust
):
    cfg = load_statistics()
    borough_value, london_value = published(realdata, "Barnet", "Trust MPS", "12/31/2023")
    at = open_page(monkeypatch, real_warehouse, **barnet_trust)
    gap = at.metric[2]
    assert gap.label.startswith("Gap to London")
    # Whole published percents: the gap is a whole number of points ("+1", not "+1.0").
    assert gap.value == f"{round((borough_value - london_value) * 100):+d}"
    # A 1-point gap on 400 (effective 267) interviews cannot be significant.
    test = pv.gap_test(borough_value, london_value, pv.PasAssumptions.from_config(cfg))
    assert test.p_value > cfg.significance_level
    assert "not significantly different from London" in title_of(
        chart_with(at, "Trust MPS: Barnet")
    )


def test_change_is_tested_between_non_overlapping_years(monkeypatch, real_warehouse, realdata):
    latest, _ = published(realdata, "Barnet", "Trust MPS", "12/31/2023")
    year_before, _ = published(realdata, "Barnet", "Trust MPS", "12/31/2022")
    at = open_page(monkeypatch, real_warehouse, measure="trust_mps", borough="E09000003")
    texts = " ".join(m.value for m in at.markdown)
    assert "share about 75% of their interviews" in texts
    assert (
        f"**Barnet**, Trust MPS: {year_before:.0%} in the 12 months to December 2022, "
        f"{latest:.0%} in the 12 months to December 2023" in texts
    )
    spec = chart_with(at, "measures rose")
    barnet = trace(spec, "Barnet")
    change = decode(barnet["x"])[decode(barnet["y"]).index("Trust MPS")]
    assert change == pytest.approx(latest - year_before, abs=1e-9)


def test_url_filters_open_the_chosen_measure_and_borough(monkeypatch, real_warehouse, realdata):
    at = open_page(monkeypatch, real_warehouse, measure="informed_local", borough="E09000005")
    assert at.selectbox(key="param_measure").value == "informed_local"
    assert at.selectbox(key="param_borough").value == "E09000005"
    spec = chart_with(at, "Informed local: Brent")
    brent, _ = published(realdata, "Brent", "Informed local", "6/30/2019")
    assert value_at(trace(spec, "Brent"), "2019-06-30") == pytest.approx(brent)
    assert at.query_params["measure"] == "informed_local"


def test_all_boroughs_are_shown_against_london_with_significance(
    monkeypatch, real_warehouse, realdata
):
    at = open_page(monkeypatch, real_warehouse, measure="trust_mps", borough="E09000003")
    spec = chart_with(at, "boroughs significantly above London")
    by_name = {}
    for tr in spec["data"]:
        for name, x in zip(decode(tr["y"]), decode(tr["x"]), strict=True):
            by_name[name] = (tr["name"], x)
    assert len(by_name) == 32
    harrow, london = published(realdata, "Harrow", "Trust MPS", "12/31/2023")
    wandsworth, _ = published(realdata, "Wandsworth", "Trust MPS", "12/31/2023")
    lewisham, _ = published(realdata, "Lewisham", "Trust MPS", "12/31/2023")
    assert by_name["Harrow"][0].startswith("Significantly above")
    assert by_name["Harrow"][1] == pytest.approx(harrow)
    assert by_name["Wandsworth"][0].startswith("Not significantly different")
    assert by_name["Lewisham"][0].startswith("Significantly below")
    assert by_name["Lewisham"][1] == pytest.approx(lewisham)
    assert harrow > london > lewisham
    # Not a league table: boroughs in alphabetical order.
    order = spec["layout"]["yaxis"]["categoryarray"]
    assert order == sorted(order, reverse=True)


def test_neighbourhood_figures_by_ethnic_group_match_the_mart(monkeypatch, real_warehouse):
    with duckdb.connect(str(real_warehouse), read_only=True) as con:
        expected = con.execute(
            """
            select neighbourhood, "group", percent from marts.pas_neighbourhood
            where borough_code = 'E09000003' and measure_id = 'stop_search_fair'
              and "group" <> 'all' and percent is not null
            """
        ).fetchall()
    assert expected
    at = open_page(monkeypatch, real_warehouse, measure="trust_mps", borough="E09000003")
    spec = chart_with(at, "Stop and search used fairly:")
    shown = {
        (place, tr["name"]): x
        for tr in spec["data"]
        for place, x in zip(decode(tr["y"]), decode(tr["x"]), strict=True)
    }
    for neighbourhood, group, percent in expected:
        place = neighbourhood.split(" - ", 1)[-1]
        assert shown[(place, group)] == pytest.approx(percent / 100)
    assert len(shown) == len(expected)


def test_sample_warehouse_labels_every_chart_synthetic(monkeypatch, sample_warehouse):
    at = open_page(monkeypatch, sample_warehouse)
    titles = [title_of(s) for s in specs(at)]
    assert len(titles) >= 4
    assert all(t.endswith("— synthetic sample") for t in titles), titles


def test_regression_to_the_mean_is_noted_after_an_extreme_year(
    monkeypatch, real_warehouse, realdata
):
    lambeth, london = published(realdata, "Lambeth", "Trust MPS", "12/31/2022")
    gap = round((lambeth - london) * 100)
    assert gap <= -10  # Lambeth's year to December 2022 was far below London
    at = open_page(monkeypatch, real_warehouse, measure="trust_mps", borough="E09000022")
    lines = [m.value for m in at.markdown if m.value.startswith("**Lambeth**")]
    assert len(lines) == 1
    assert f"Lambeth's gap to London ({gap:+d} points) was one of its most extreme" in lines[0]
    assert "regression to the mean" in lines[0]
    # Whole published percents: the change is a whole number of points.
    latest, _ = published(realdata, "Lambeth", "Trust MPS", "12/31/2023")
    assert f": {round((latest - lambeth) * 100):+d} points (95% CI" in lines[0]
    barnet = open_page(monkeypatch, real_warehouse, measure="trust_mps", borough="E09000003")
    assert not any("regression to the mean" in m.value for m in barnet.markdown)
