"""The stop and search page: counts against the published files, rates by hand, filters."""

from __future__ import annotations

import base64
import csv
import gzip
import json
import math
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from oversight import stop_search as ss
from tests.helpers import apptest

ROOT = Path(__file__).resolve().parents[1]
PAGE = "pages/stop_search.py"
SEARCHES = "police_uk/met_stop_and_search"
MPS_2023 = {"from": "2023-01-01", "to": "2023-12-01"}


def open_page(monkeypatch: pytest.MonkeyPatch, warehouse: Path, **params: str) -> AppTest:
    """The stop and search page on ``warehouse`` with ``params`` in the URL."""
    return apptest.open_page(monkeypatch, warehouse, PAGE, **params)


def title_of(spec: dict) -> str:
    return spec["layout"]["title"]["text"].replace("<br>", " ")


def chart_with(at: AppTest, words: str) -> dict:
    """The one chart whose title contains ``words``."""
    specs = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    found = [s for s in specs if words in title_of(s)]
    assert len(found) == 1, [title_of(s) for s in specs]
    return found[0]


def decode(values: list | dict) -> list:
    """A trace's array as a list (Plotly sends numeric arrays as base64 typed arrays)."""
    if isinstance(values, dict) and "bdata" in values:
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]).tolist()
    return list(values)


def by_x(tr: dict) -> dict:
    return dict(zip((str(x)[:10] for x in decode(tr["x"])), decode(tr["y"]), strict=True))


def by_y(tr: dict) -> dict:
    return dict(zip(decode(tr["y"]), decode(tr["x"]), strict=True))


def raw_rows(realdata: Path, month: str) -> list[dict[str, str]]:
    """Every data row of the published police.uk file for a month, read with the csv module."""
    folder = realdata / SEARCHES
    plain = folder / f"{month}-metropolitan-stop-and-search.csv"
    if plain.exists():
        with plain.open(newline="", encoding="utf-8-sig") as handle:
            return list(csv.DictReader(handle))
    with gzip.open(f"{plain}.gz", "rt", newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle))


def query(warehouse: Path, sql: str, params: list | None = None) -> list[tuple]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


@pytest.mark.parametrize("month", ["2023-05", "2023-11"])
def test_monthly_count_equals_the_published_file(monkeypatch, real_warehouse, realdata, month):
    rows = raw_rows(realdata, month)
    at = open_page(monkeypatch, real_warehouse, **MPS_2023)
    spec = chart_with(at, "searches (all types of search) from January 2023 to December 2023")
    charted = sum(by_x(tr).get(f"{month}-01", 0) for tr in spec["data"])
    assert charted == len(rows)
    arrests = sum("arrest" in r["Outcome"].lower() for r in rows)
    assert by_x(next(t for t in spec["data"] if t["name"] == "Arrest"))[f"{month}-01"] == arrests


def test_arrest_rate_and_its_wilson_interval(monkeypatch, real_warehouse, realdata):
    rows = raw_rows(realdata, "2023-05")
    n = len(rows)
    arrests = sum("arrest" in r["Outcome"].lower() for r in rows)
    at = open_page(monkeypatch, real_warehouse, **MPS_2023)
    spec = chart_with(at, "of searches ended in arrest")
    traces = {t["name"]: t for t in spec["data"] if t.get("name")}
    assert by_x(traces["Arrest rate"])["2023-05-01"] == pytest.approx(arrests / n)
    z, p = 1.959963984540054, arrests / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert by_x(traces["95% CI"])["2023-05-01"] == pytest.approx(centre - half)


def population(group: str, year: int) -> float:
    """Residents of a Census group in the 32 MPS boroughs, from the reference CSVs by hand."""
    folder = ROOT / "data" / "reference"
    with (folder / "boroughs.csv").open(newline="") as handle:
        mps = {r["borough_code"] for r in csv.DictReader(handle) if r["in_mps_area"] == "true"}
    if year == 2011:
        with (folder / "ethnicity_census2011.csv").open(newline="") as handle:
            return sum(int(r[group]) for r in csv.DictReader(handle) if r["borough_code"] in mps)
    with (folder / "ethnicity_census2021.csv").open(newline="") as handle:
        return sum(
            int(r["population_total"]) * float(r[f"{group}_pct"]) / 100
            for r in csv.DictReader(handle)
            if r["borough_code"] in mps
        )


def self_defined_counts(warehouse: Path, start: str, end: str) -> dict[str, int]:
    """Searches whose self-defined ethnicity starts with White / Black (both generations)."""
    white, black, blank = query(
        warehouse,
        """
        select count(*) filter (where self_defined_ethnicity like 'White%'),
               count(*) filter (where self_defined_ethnicity like 'Black%'),
               count(*) filter (where self_defined_ethnicity is null
                                or self_defined_ethnicity ilike '%not stated%')
        from marts.stop_search where month between ?::date and ?::date
        """,
        [start, end],
    )[0]
    return {"white": white, "black": black, "not_stated": blank}


@pytest.mark.parametrize("year", [2021, 2011])
def test_disproportionality_ratio_equals_a_hand_computation(monkeypatch, real_warehouse, year):
    counts = self_defined_counts(real_warehouse, "2023-01-01", "2023-12-01")
    expected = (counts["black"] / population("black", year)) / (
        counts["white"] / population("white", year)
    )
    at = open_page(monkeypatch, real_warehouse, census=str(year), **MPS_2023)
    spec = chart_with(at, f"Census {year} population")
    ratio = next(t for t in spec["data"] if t.get("name") == "Rate ratio")
    assert by_y(ratio)["Black"] == pytest.approx(expected, rel=1e-9)
    bars = next(t for t in spec["data"] if t.get("name") == "Searches per 1,000 people")
    assert by_y(bars)["White"] == pytest.approx(
        counts["white"] / population("white", year) * 1000, rel=1e-9
    )
    text = " ".join(m.value for m in at.markdown)
    assert f"Census {year} usual residents" in text
    assert "self-defined ethnicity" in text
    assert f"{counts['not_stated']:,} of" in text
    assert at.selectbox(key="param_census").value == year


def test_every_published_ethnicity_string_is_mapped(real_warehouse):
    groups = ss.load_ethnicity_groups()
    for basis, column in ss.BASES.items():
        rows = query(real_warehouse, f"select distinct {column} from marts.stop_search")
        unmapped = [r[0] for r in rows if groups.group_for(basis, r[0]) == ss.UNMAPPED]
        assert unmapped == [], basis
    assert groups.group_for("self", "Chinese or other ethnic group - Chinese (O1)") == "asian"
    assert groups.group_for("self", "Other ethnic group - Not stated") == ss.NOT_STATED
    assert groups.group_for("self", "Martian") == ss.UNMAPPED


def test_type_filter_from_the_url(monkeypatch, real_warehouse):
    (expected,) = query(
        real_warehouse,
        "select count(*) from marts.stop_search where type = 'Vehicle search' "
        "and month between date '2023-01-01' and date '2023-12-01'",
    )[0]
    at = open_page(monkeypatch, real_warehouse, type="Vehicle search", **MPS_2023)
    assert at.selectbox(key="param_type").value == "Vehicle search"
    assert at.metric[0].value == f"{expected:,}"
    spec = chart_with(at, "searches (vehicle search)")
    assert sum(sum(decode(t["y"])) for t in spec["data"]) == expected


def test_strip_searches_call_out_children(monkeypatch, real_warehouse):
    (children, blank_months) = query(
        real_warehouse,
        """
        select count(*) filter (where more_than_outer_clothing_removed
                                and age_range in ('10-17', 'under 10')),
               (select count(*) from (
                    select month from marts.stop_search
                    where month between date '2023-09-01' and date '2024-08-01'
                    group by month having count(more_than_outer_clothing_removed) = 0))
        from marts.stop_search
        where month between date '2023-09-01' and date '2024-08-01'
        """,
    )[0]
    at = open_page(monkeypatch, real_warehouse, **{"from": "2023-09-01", "to": "2024-08-01"})
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Of them children (under 18)"] == f"{children:,}"
    assert any(f"in {blank_months} of the 12 months" in w.value for w in at.warning)
    spec = chart_with(at, "removed more than outer clothing")
    assert sum(sum(decode(t["y"])) for t in spec["data"] if "(child)" in t["name"]) == children


def test_small_counts_get_no_percentage(monkeypatch, real_warehouse):
    at = open_page(monkeypatch, real_warehouse, **{"from": "2023-09-01", "to": "2024-08-01"})
    spec = chart_with(at, "ended with no further action")
    bars = spec["data"][0]
    labels = dict(zip(decode(bars["y"]), bars["text"], strict=True))
    counts = dict(zip(decode(bars["y"]), decode(bars["x"]), strict=True))
    for outcome, text in labels.items():
        assert text.endswith("(too few)") == (counts[outcome] < ss.SMALL_COUNT), (outcome, text)
    assert any(c < ss.SMALL_COUNT for c in counts.values())


def test_no_borough_filter_is_explained(monkeypatch, real_warehouse):
    at = open_page(monkeypatch, real_warehouse)
    assert any("not a borough" in i.value and "geometry" in i.value for i in at.info)
    keys = {s.key for s in at.selectbox}
    assert "param_borough" not in keys


def test_share_text_and_outcome_groups():
    assert ss.share_text(19, 1000) == "too few"
    assert ss.share_text(20, 19) == "too few"
    assert ss.share_text(20, 40) == "50%"
    assert ss.outcome_group("Suspect arrested") == "arrest"
    assert ss.outcome_group("Nothing found - no further action") == "no further action"
    assert ss.outcome_group("Community resolution") == "other outcome"
    assert ss.outcome_group(None) == "not recorded"


def test_sample_warehouse_labels_every_chart_synthetic(monkeypatch, sample_warehouse):
    at = open_page(monkeypatch, sample_warehouse)
    titles = [title_of(json.loads(c.proto.spec)) for c in at.get("plotly_chart")]
    assert len(titles) >= 5
    assert all(t.endswith("— synthetic sample") for t in titles), titles


def test_monthly_summary_refuses_a_rate_on_few_searches():
    outcomes = pd.DataFrame(
        {
            "month": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-02-01"]),
            "outcome": ["Arrest", "A no further action disposal", "Arrest"],
            "searches": [30, 70, 5],
        }
    )
    summary = ss.monthly_summary(outcomes, 0.95).set_index("month")
    assert summary.loc["2024-01-01", "arrest_rate"] == pytest.approx(0.3)
    assert math.isnan(summary.loc["2024-02-01", "arrest_rate"])


def raw_frame(realdata: Path, month: str) -> pd.DataFrame:
    """The published police.uk file for a month, read with pandas (independent of the loader)."""
    folder = realdata / SEARCHES
    plain = folder / f"{month}-metropolitan-stop-and-search.csv"
    return pd.read_csv(plain if plain.exists() else f"{plain}.gz", dtype=str)


def test_both_ethnicity_bases_side_by_side_for_one_month(monkeypatch, real_warehouse, realdata):
    from scipy import stats as sps

    raw = raw_frame(realdata, "2024-08")
    own = raw["Self-defined ethnicity"].fillna("")
    officer = raw["Officer-defined ethnicity"].fillna("")
    pop_black, pop_white = population("black", 2021), population("white", 2021)
    self_black, self_white = own.str.startswith("Black").sum(), own.str.startswith("White").sum()
    off_black, off_white = (officer == "Black").sum(), (officer == "White").sum()
    unstated = int(((own == "") | own.str.contains("Not stated", case=False)).sum())
    expected_self = (self_black / pop_black) / (self_white / pop_white)
    expected_officer = (off_black / pop_black) / (off_white / pop_white)
    # The real files: officers' perception gives a markedly higher ratio than self-definition.
    assert expected_officer > expected_self * 1.1

    at = open_page(monkeypatch, real_warehouse, **{"from": "2024-08-01", "to": "2024-08-01"})
    spec = chart_with(at, "by self-defined and")
    traces = {t["name"]: t for t in spec["data"]}
    shown_self = by_y(traces["Self-defined ethnicity"])["Black"]
    shown_officer = by_y(traces["Officer-defined ethnicity"])["Black"]
    assert shown_self == pytest.approx(expected_self, rel=1e-9)
    assert shown_officer == pytest.approx(expected_officer, rel=1e-9)

    # The interval is wider than the exact Poisson one (the months vary beyond Poisson).
    bars = traces["Self-defined ethnicity"]["error_x"]
    row = decode(traces["Self-defined ethnicity"]["y"]).index("Black")
    lower = shown_self - decode(bars["arrayminus"])[row]
    upper = shown_self + decode(bars["array"])[row]
    total = int(self_black + self_white)
    ci = sps.binomtest(int(self_black), total, pop_black / (pop_black + pop_white))
    ci = ci.proportion_ci(method="exact")
    scale = pop_white / pop_black
    assert lower < ci.low / (1 - ci.low) * scale
    assert upper > ci.high / (1 - ci.high) * scale

    # The unstated share and the bounds it implies sit beside the ratio.
    text = " ".join(m.value for m in at.markdown)
    assert f"{unstated:,} of {len(raw):,} searches" in text
    lowest = (self_black / pop_black) / ((self_white + unstated) / pop_white)
    highest = ((self_black + unstated) / pop_black) / (self_white / pop_white)
    assert f"would be {lowest:.2f}; had all of them been, {highest:.2f}" in text
    table = at.table[0].value
    assert table.loc["Black"].iloc[0].startswith(f"{expected_self:.2f} (")
    assert table.loc["Black"].iloc[1] == f"{lowest:.2f} to {highest:.2f}"
    assert table.loc["Black"].iloc[2].startswith(f"{expected_officer:.2f} (")
    notes = " ".join(c.value for c in at.caption)
    assert "quasi-Poisson" in notes
    assert "times the Poisson variance" in notes
