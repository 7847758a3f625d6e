"""The Crime page: figures against the published file and the warehouse, statistics, URL views."""

from __future__ import annotations

import base64
import csv
import json
import math
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from oversight import crime, reference, stats
from oversight.plan import Break, load_breaks
from tests.helpers import apptest

ROOT = Path(__file__).resolve().parents[1]
PAGE = "pages/crime.py"
BOROUGH_CSV = (
    "lds_borough_crime/MPS Borough Level Crime (most recent 24 months)__2024-01_to_2025-12.csv"
)
CONNECT = date(2024, 11, 1)  # the synthetic breaks below
CONFIGURED_CONNECT = date(2024, 3, 1)  # config/breaks.yaml, as the real-data pages use it


# --- helpers -------------------------------------------------------------------------------------


def open_page(warehouse: Path, **params: str) -> AppTest:
    """Run the crime page on ``warehouse`` (public mode) with ``params`` in the URL."""
    with pytest.MonkeyPatch.context() as mp:
        at = apptest.open_app(mp, warehouse, **params)
        at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def specs(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def title_of(spec: dict) -> str:
    return spec["layout"]["title"]["text"].replace("<br>", " ")


def chart_with(at: AppTest, words: str) -> dict:
    """The one chart whose title contains ``words``."""
    found = [s for s in specs(at) if words in title_of(s)]
    assert len(found) == 1, [title_of(s) for s in specs(at)]
    return found[0]


def trace(spec: dict, name: str) -> dict:
    found = [t for t in spec["data"] if t.get("name") == name]
    assert len(found) == 1, [t.get("name") for t in spec["data"]]
    return found[0]


def decode(values: list | dict) -> list:
    """A trace's array as a list (Plotly sends numeric arrays as base64 typed arrays)."""
    if isinstance(values, dict) and "bdata" in values:
        raw = base64.b64decode(values["bdata"])
        return np.frombuffer(raw, dtype=np.dtype(values["dtype"])).tolist()
    return list(values)


def points(spec: dict, name: str) -> dict[str, float]:
    """A trace's values keyed by its x (month as YYYY-MM)."""
    found = trace(spec, name)
    return dict(zip((x[:7] for x in found["x"]), decode(found["y"]), strict=True))


def published(spec: dict, name: str) -> dict[str, float]:
    """A trace's published figures (the last customdata column) keyed by month."""
    found = trace(spec, name)
    custom = found["customdata"]
    if isinstance(custom, dict):
        flat = decode(custom)
        width = int(str(custom.get("shape", f"{len(flat)}, 1")).split(",")[-1])
        rows = [flat[i : i + width] for i in range(0, len(flat), width)]
    else:
        rows = custom
    return {x[:7]: float(r[-1]) for x, r in zip(found["x"], rows, strict=True)}


def raw_london_month(realdata: Path, major: str, month: str) -> int:
    """A major category's offences in a month over every row of the published borough file."""
    total = 0
    with (realdata / BOROUGH_CSV).open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["MajorText"].strip().upper() == major:
                total += int(row[month.replace("-", "")])
    return total


def london_population_2022() -> int:
    boroughs = reference.load_boroughs()
    mps = set(boroughs.loc[boroughs["in_mps_area"], "borough_code"])
    pop = reference.load_population()
    return int(pop[(pop["year"] == 2022) & pop["geography_code"].isin(mps)]["population"].sum())


@pytest.fixture(scope="module")
def london_robbery(real_warehouse: Path) -> AppTest:
    """The page for robbery in London on the real warehouse, opened once for several checks."""
    return open_page(real_warehouse, area="MPS", category="ROBBERY")


# --- the page on real data -----------------------------------------------------------------------


@pytest.mark.realdata
def test_london_monthly_series_equals_the_published_file(london_robbery, realdata: Path) -> None:
    spec = chart_with(london_robbery, "Robbery in London (MPS area)")
    months = [f"{m:%Y-%m}" for m in pd.date_range("2024-01-01", "2025-12-01", freq="MS")]
    expected = {m: raw_london_month(realdata, "ROBBERY", m) for m in months}
    assert expected["2025-06"] > 1000
    # the chart is drawn seasonally adjusted; each point carries the published figure
    figures = published(spec, "Robbery, before Mar 2024") | published(spec, "Robbery")
    assert {m: figures[m] for m in months} == expected


@pytest.mark.realdata
def test_trend_title_states_the_published_12_month_total(london_robbery, realdata: Path) -> None:
    months = [f"{m:%Y-%m}" for m in pd.date_range("2025-01-01", "2025-12-01", freq="MS")]
    total = sum(raw_london_month(realdata, "ROBBERY", m) for m in months)
    expected = (
        f"Robbery in London (MPS area): {total:,} offences in the 12 months to December 2025"
    )
    assert title_of(chart_with(london_robbery, "Robbery in London")) == expected
    assert london_robbery.metric[0].value == f"{total:,}"


@pytest.mark.realdata
def test_xmr_limits_are_those_of_the_months_since_the_break(
    london_robbery, real_warehouse: Path
) -> None:
    with duckdb.connect(str(real_warehouse), read_only=True) as con:
        since = con.execute(
            "select month, sum(offences) from marts.crime_borough_monthly "
            "where major_category = 'ROBBERY' and month >= ? group by month order by month",
            [CONFIGURED_CONNECT],
        ).fetchall()
    assert len(since) == 22  # March 2024 to December 2025
    spec = chart_with(london_robbery, "Robbery in London")
    # seasonal factors of the whole charted series, then the 22 adjusted months since the break
    figures = published(spec, "Robbery, before Mar 2024") | published(spec, "Robbery")
    months = sorted(figures)
    raw = [figures[m] for m in months]
    keys = [int(m[:4]) * 12 + int(m[5:]) - 1 for m in months]
    factors = stats.seasonal_factors(keys, raw, 36)
    assert factors is not None
    assert [r for m, r in zip(months, raw, strict=True) if m >= "2024-03"] == [
        float(v) for _, v in since
    ]
    adjusted = [r / factors[k % 12] for k, m, r in zip(keys, months, raw, strict=True)
                if m >= "2024-03"]  # fmt: skip
    limits = stats.xmr_limits(adjusted)
    centre = trace(spec, "Mean since Mar 2024")
    upper, lower = trace(spec, "Upper process limit"), trace(spec, "Lower process limit")
    assert decode(centre["y"]) == pytest.approx([limits.centre] * 2)
    assert decode(upper["y"]) == pytest.approx([limits.upper] * 2)
    assert decode(lower["y"]) == pytest.approx([max(limits.lower, 0)] * 2)
    assert centre["x"][0].startswith("2024-03-01")
    assert centre["x"][-1].startswith("2025-12-01")
    # the limits must not be those of the whole series
    whole = stats.xmr_limits(decode(trace(spec, "Robbery, before Mar 2024")["y"]))
    assert not math.isclose(whole.upper, limits.upper, rel_tol=1e-3)


@pytest.mark.realdata
def test_connect_break_is_drawn_and_labelled(london_robbery) -> None:
    layout = chart_with(london_robbery, "Robbery in London")["layout"]
    lines = [s for s in layout["shapes"] if s["type"] == "line"]
    assert [s["x0"][:10] for s in lines] == ["2024-03-01"]
    labels = [a["text"] for a in layout["annotations"]]
    assert any("CONNECT" in text and "Mar 2024" in text for text in labels), labels


@pytest.mark.realdata
def test_funnel_has_32_boroughs_around_the_london_rate(
    london_robbery, real_warehouse: Path
) -> None:
    with duckdb.connect(str(real_warehouse), read_only=True) as con:
        offences = con.execute(
            "select sum(offences) from marts.crime_borough_monthly where major_category = "
            "'ROBBERY' and month between '2025-01-01' and '2025-12-01'"
        ).fetchall()[0][0]
    london_rate = offences / london_population_2022() * 1000
    spec = chart_with(london_robbery, "Robbery, 12 months to December 2025:")
    boroughs = [
        name
        for t in spec["data"]
        if t.get("mode") == "markers+text"
        for name in [c[0] for c in t["customdata"]]
    ]
    assert len(boroughs) == len(set(boroughs)) == 32
    centre = trace(spec, f"London (MPS area): {london_rate:,.1f} per 1,000")
    assert decode(centre["y"]) == pytest.approx([london_rate] * len(decode(centre["y"])))
    caption = " ".join(c.value for c in london_robbery.caption)
    assert "Spiegelhalter 2005" in caption
    assert "additive random-effects (log scale)" in caption
    assert "tau² =" in caption
    # Westminster's visitors make a rate per resident mislead: the caption says so
    assert "Westminster's resident population is small" in caption


@pytest.mark.realdata
def test_tile_map_has_every_borough_and_the_city_greyed(london_robbery) -> None:
    spec = chart_with(london_robbery, "Robbery per 1,000 residents")
    rates, outside = spec["data"]
    assert rates["colorscale"][0][1] != rates["colorscale"][-1][1]  # a sequential scale
    cells = [v for row in rates["z"] for v in row if v is not None]
    city = [v for row in outside["z"] for v in row if v is not None]
    assert len(cells) == 32
    assert len(city) == 1
    labels = [a["text"] for a in spec["layout"]["annotations"]]
    assert len(labels) == 33
    assert any("CoL" in t and "n/a" in t for t in labels)


@pytest.mark.realdata
def test_url_opens_westminster_robbery(real_warehouse: Path) -> None:
    at = open_page(real_warehouse, area="E09000033", category="ROBBERY", view="quarterly")
    chosen = {box.label: box.value for box in at.selectbox}
    assert chosen["Area"] == "E09000033"
    assert chosen["Crime category"] == "ROBBERY"
    assert chosen["View"] == "quarterly"
    with duckdb.connect(str(real_warehouse), read_only=True) as con:
        total, wards = con.execute(
            "select (select sum(offences) from marts.crime_borough_monthly where borough_code "
            "= 'E09000033' and major_category = 'ROBBERY' and month >= '2025-01-01'), "
            "(select sum(offences) from marts.crime_ward_monthly where borough_code = "
            "'E09000033' and major_category = 'ROBBERY' and month >= '2025-01-01')"
        ).fetchall()[0]
    assert title_of(chart_with(at, "Robbery in Westminster:")).startswith(
        f"Robbery in Westminster: {total:,} offences in the 12 months to December 2025"
    )
    quarters = trace(chart_with(at, "Robbery in Westminster:"), "Robbery")
    assert sum(decode(quarters["y"])[-4:]) == total  # the four quarters of 2025
    ward_chart = chart_with(at, "Robbery in Westminster's wards")
    assert f"of {wards:,}" in title_of(ward_chart)


@pytest.mark.slow
def test_sample_warehouse_titles_say_synthetic(sample_warehouse: Path) -> None:
    at = open_page(sample_warehouse, category="BURGLARY")
    titles = [title_of(s) for s in specs(at)]
    assert len(titles) == 4
    assert all(t.endswith("— synthetic sample") for t in titles), titles


# --- pure helpers --------------------------------------------------------------------------------


def brk(date_text: str, kind: str = "recording_system", **extra: str) -> Break:
    return Break(
        id=f"b{date_text}",
        label=f"change {date_text}",
        kind=kind,
        date=date_text,
        marts=(crime.BOROUGH_MART,),
        note="",
        **extra,
    )


BREAKS = (brk("2010-04", "category_scheme", from_scheme="old", to_scheme="new"), brk("2024-11"))


def monthly(start: str, values: list[int]) -> pd.DataFrame:
    months = pd.date_range(start, periods=len(values), freq="MS")
    return pd.DataFrame({"month": months, "offences": values})


def test_current_scheme_comes_from_the_breaks_file() -> None:
    assert crime.current_scheme(load_breaks()) == ("mps_2024", date(2010, 4, 1))
    with pytest.raises(ValueError, match="no category scheme change"):
        crime.current_scheme([brk("2024-11")])


def test_segment_starts_at_the_last_break_in_view() -> None:
    assert crime.segment_start(BREAKS, date(2019, 4, 1), date(2025, 12, 1)) == CONNECT
    assert crime.segment_start(BREAKS, date(2010, 4, 1), date(2024, 10, 1)) == date(2010, 4, 1)
    assert crime.segment_start(BREAKS, date(2012, 1, 1), date(2024, 10, 1)) == date(2012, 1, 1)


def test_spanned_break_needs_months_either_side() -> None:
    assert crime.spanned_break(BREAKS, date(2024, 1, 1), date(2025, 12, 1)) == BREAKS[1]
    assert crime.spanned_break(BREAKS, CONNECT, date(2025, 12, 1)) is None
    assert crime.spanned_break(BREAKS, date(2023, 1, 1), date(2024, 10, 1)) is None


def test_views_keep_complete_periods_only() -> None:
    series = monthly("2023-02-01", list(range(1, 27)))  # February 2023 to March 2025
    quarters = crime.aggregate_view(series, "quarterly")
    assert quarters["period"].iloc[0] == "Apr–Jun 2023"  # Feb-Mar 2023 is incomplete
    assert quarters["offences"].iloc[0] == 3 + 4 + 5
    assert quarters["period"].iloc[-1] == "Jan–Mar 2025"
    years = crime.aggregate_view(series, "fy")
    assert years["period"].tolist() == ["FY 2023-24", "FY 2024-25"]
    assert years["offences"].iloc[0] == sum(range(3, 15))
    rolling = crime.aggregate_view(series, "r12")
    assert len(rolling) == 26 - 11
    assert rolling["offences"].iloc[0] == sum(range(1, 13))
    assert crime.aggregate_view(series, "monthly")["offences"].tolist() == list(range(1, 27))


def test_rolling_view_does_not_bridge_a_missing_month() -> None:
    series = monthly("2023-01-01", [1] * 24).drop(index=5)
    rolling = crime.aggregate_view(series, "r12")
    assert rolling["period_end"].min() == pd.Timestamp("2024-06-01")


def test_xmr_limits_use_only_months_since_the_break() -> None:
    before = [500, 520, 480, 510] * 4
    after = [300, 320, 290, 310, 305, 295, 315, 300, 310, 290, 305, 420]
    series = crime.aggregate_view(monthly("2023-07-01", before + after), "monthly")
    xmr = crime.xmr_chart(series, "offences", CONNECT, min_points=12)
    expected = stats.xmr_limits(after)
    assert xmr.limits == expected
    assert xmr.points == len(after)
    assert not xmr.frame.loc[~xmr.frame["in_limits"], "beyond_limit"].any()
    last = xmr.frame.iloc[-1]
    assert last["beyond_limit"]
    assert last["direction"] == 1
    assert "beyond a limit" in last["signal"]
    assert "special cause in 1 month (1 high)" in crime.xmr_summary(xmr)
    short = crime.xmr_chart(series, "offences", CONNECT, min_points=13)
    assert short.limits is None
    assert "limits need at least 13" in crime.xmr_summary(short)


def test_headline_refuses_a_comparison_across_a_break() -> None:
    pops = crime.Populations({"X": {2022: 100_000}}, "test source")
    series = monthly("2024-01-01", [100] * 24)
    head = crime.headline(series, pops, "X", BREAKS)
    assert head.offences == 1200
    assert head.previous is None
    assert "cross a series break" in head.change_text
    assert "change 2024-11" in head.change_text
    assert head.rate == pytest.approx(12.0)
    assert head.population_year == 2022


def test_headline_tests_a_change_and_respects_small_counts() -> None:
    pops = crime.Populations({"X": {2022: 100_000}}, "test source")
    up = crime.headline(monthly("2022-01-01", [100] * 12 + [130] * 12), pops, "X", BREAKS[:1])
    assert up.previous == 1200
    assert up.change_text.startswith("+30%")
    assert "statistically significant" in up.change_text
    assert "not statistically" not in up.change_text
    small = crime.headline(monthly("2022-01-01", [1] * 12 + [3] * 12), pops, "X", ())
    assert small.change_text.startswith("No % change: fewer than 20")


def test_populations_make_london_the_32_boroughs() -> None:
    boroughs = reference.load_boroughs()
    pops = crime.make_populations(reference.load_population(), boroughs)
    assert pops.lookup(crime.LONDON, 2030) == (london_population_2022(), 2022)
    city = pops.lookup("E09000001", 2022)[0]
    total_33 = sum(pops.lookup(code, 2022)[0] for code in boroughs["borough_code"])
    assert pops.lookup(crime.LONDON, 2022)[0] == total_33 - city
    assert pops.lookup(crime.LONDON, 2005)[1] == 2011  # before the first estimate held


def synthetic_rates(count: int = 32) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    population = rng.integers(150_000, 400_000, count)
    offences = rng.poisson(population * 0.004)
    offences[0] = int(population[0] * 0.02)  # one borough far above the rest
    return pd.DataFrame(
        {
            "borough_code": [f"B{i:02d}" for i in range(count)],
            "borough_name": [f"Borough {i}" for i in range(count)],
            "abbreviation": [f"B{i}" for i in range(count)],
            "population": population,
            "offences": offences,
            "rate": offences / population * 1000,
        }
    )


def test_funnel_centre_is_london_and_curve_matches_the_boroughs_limits() -> None:
    rates = synthetic_rates()
    london_offences = int(rates["offences"].sum()) + 500  # pseudo-boroughs count in London
    london_population = int(rates["population"].sum())
    funnel = crime.borough_funnel(rates, london_offences, london_population, 2022)
    assert funnel.london_rate == pytest.approx(london_offences / london_population * 1000)
    expected = stats.overdispersed_funnel(
        rates["offences"], rates["population"], target=london_offences / london_population
    )
    assert funnel.phi == pytest.approx(expected.phi)
    assert funnel.table["outside_99_8"].tolist() == expected.units["outside_99_8"].tolist()
    assert funnel.table.loc[0, "position"] == "above the 99.8% limits"
    # the drawn curve passes through each borough's own limits
    for row in funnel.table.itertuples(index=False):
        drawn = np.interp(row.population, funnel.curve["population"], funnel.curve["upper_95"])
        assert drawn == pytest.approx(row.upper_95, rel=2e-3)
    outside = len(funnel.outside())
    assert outside >= 1
    assert f"{outside} of 32 boroughs outside the 99.8% limits around London's" in (
        crime.funnel_title("Robbery", funnel, CONNECT)
    )


def test_borough_rates_fill_missing_boroughs_with_zero() -> None:
    boroughs = reference.load_boroughs()
    pops = crime.make_populations(reference.load_population(), boroughs)
    totals = pd.DataFrame({"borough_code": ["E09000033", None], "offences": [100, 7]})
    rates, london, london_pop, year = crime.borough_rates(totals, boroughs, pops, 2025)
    assert len(rates) == 32
    assert "E09000001" not in set(rates["borough_code"])
    assert rates.set_index("borough_code").loc["E09000033", "offences"] == 100
    assert rates["offences"].sum() == 100
    assert london == 107
    assert year == 2022
    tiles = crime.tile_frame(boroughs, rates)
    assert len(tiles) == 33
    city = tiles.set_index("borough_code").loc["E09000001"]
    assert pd.isna(city["rate"])
    assert not city["in_mps_area"]
    assert city["abbreviation"] == "CoL"


def test_ward_table_shows_change_only_where_allowed() -> None:
    wards = pd.DataFrame(
        {"ward_code": ["a", "b"], "ward_name": ["A", "B"], "latest": [30, 5], "previous": [20, 19]}
    )
    table = crime.ward_table(wards, previous_complete=True, crossing=None)
    assert table["change_pct"].iloc[0] == pytest.approx(50.0)
    assert math.isnan(table["change_pct"].iloc[1])
    assert "fewer than 20" in table["note"].iloc[1]
    crossed = crime.ward_table(wards, previous_complete=True, crossing=BREAKS[1])
    assert crossed["change_pct"].isna().all()
    assert crossed["note"].str.contains("November 2024").all()
    partial = crime.ward_table(wards, previous_complete=False, crossing=None)
    assert partial["change_pct"].isna().all()
    assert partial["previous"].isna().all()


def test_abbreviations_are_short_and_unique() -> None:
    names = reference.load_boroughs()["borough_name"]
    short = crime.abbreviate_names(names)
    assert len(set(short.values())) == len(names) == 33
    assert short["Kensington and Chelsea"] == "K&C"
    assert short["City of London"] == "CoL"
    assert short["Kingston upon Thames"] == "Kin"
    assert {short["Harrow"], short["Haringey"]} == {"Harr", "Hari"}
    assert all(len(v) <= 4 for v in short.values())


def test_category_labels() -> None:
    assert crime.category_label(crime.ALL) == "All offences"
    assert crime.category_label("VIOLENCE AGAINST THE PERSON") == "Violence against the person"
    assert crime.category_label("NFIB FRAUD") == "NFIB fraud"
    assert crime.category_label("ROBBERY", "ROBBERY OF PERSONAL PROPERTY") == (
        "Robbery: robbery of personal property"
    )
