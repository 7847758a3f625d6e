"""Public voice (PAS) logic on inline frames: non-overlapping years, whole percents, RTM notes."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from oversight import public_voice as pv
from oversight import scorecard
from oversight.measures import load_statistics

QUARTERS = ["2022-12-31", "2023-03-31", "2023-06-30", "2023-09-30", "2023-12-31"]


@pytest.fixture(scope="module")
def assumptions() -> pv.PasAssumptions:
    return pv.PasAssumptions.from_config(load_statistics())


def all_measures(values: list[float], quarters: list[str] = QUARTERS) -> pd.DataFrame:
    """pas_all_measures for one borough and one measure."""
    return pd.DataFrame(
        {
            "period_end": pd.to_datetime(quarters),
            "measure_id": "trust_mps",
            "geography_code": "E09000001",
            "geography_name": "Camden",
            "proportion": values,
            "measure_label": "Trust MPS",
        }
    )


def test_change_is_against_the_year_earlier_not_the_previous_quarter(assumptions):
    # The previous quarter (60%) would show a large, significant rise to 70%; the rolling
    # year ending 12 months earlier (70%) shows none.
    frame = all_measures([0.70, 0.66, 0.63, 0.60, 0.70])
    row = pv.change_over_year(frame, assumptions, {"trust_mps": "higher_is_better"}).iloc[0]
    assert row["comparison_period_end"] == pd.Timestamp("2022-12-31")
    assert row["year_earlier"] == pytest.approx(0.70)
    assert row["change"] == pytest.approx(0.0)
    assert not row["significant"]
    assert row["status"] == "no significant change"
    assert pv.year_earlier(row["period_end"]) == row["comparison_period_end"]


def test_no_year_earlier_means_no_change_rather_than_an_overlapping_one(assumptions):
    frame = all_measures([0.66, 0.63, 0.60, 0.70], QUARTERS[1:])
    row = pv.change_over_year(frame, assumptions, {}).iloc[0]
    assert math.isnan(row["change"])
    assert row["status"] == "no data"
    assert row["comparison_period_end"] == pd.Timestamp("2022-12-31")


def test_quarter_ends_on_another_day_still_match_their_month(assumptions):
    frame = all_measures([0.60, 0.70], ["2022-12-30", "2023-12-31"])
    row = pv.change_over_year(frame, assumptions, {}).iloc[0]
    assert row["year_earlier"] == pytest.approx(0.60)
    assert row["change"] == pytest.approx(0.10)


def test_non_overlapping_keeps_whole_years_back_from_the_latest():
    quarters = pd.date_range("2019-12-31", "2023-12-31", freq="QE")
    gaps = pd.DataFrame({"period_end": quarters, "significant": True})
    kept = pv.non_overlapping(gaps)
    assert list(kept["period_end"].dt.strftime("%Y-%m")) == [
        "2019-12",
        "2020-12",
        "2021-12",
        "2022-12",
        "2023-12",
    ]


def test_whole_percents_are_shown_without_decimals():
    assert pv.pct(0.69) == "69%"
    assert pv.pct(0.685) == "68.5%"
    assert pv.points(0.72 - 0.69) == "+3"
    assert pv.points(0.69 - 0.69) == "0"
    assert pv.points(-0.005) == "-0.5"
    assert pv.points_words(0.70 - 0.69) == "+1 point"
    assert pv.difference_text(0.70, 0.76, -0.134, 0.015) == "-6 points (95% CI -13.4 to +1.5)"
    assert pv.pct_interval(0.642, 0.752, 0.70) == "64% to 75%"


def series(borough: list[float], london: list[float]) -> tuple[pd.DataFrame, pd.DataFrame]:
    quarters = pd.date_range("2019-03-31", periods=len(borough), freq="QE")
    own = pd.DataFrame({"period_end": quarters, "proportion": borough})
    return own, pd.DataFrame({"period_end": quarters, "proportion": london})


# Twenty quarters near London; one year-earlier quarter (index 15) far below it.
BOROUGH = [0.70, 0.71, 0.69, 0.70, 0.71, 0.70, 0.69, 0.70, 0.71, 0.70,
           0.69, 0.70, 0.71, 0.70, 0.69, 0.58, 0.66, 0.68, 0.69, 0.69]  # fmt: skip
LONDON_VALUES = [0.70] * 20


def test_a_borough_coming_off_an_extreme_year_gets_a_regression_note(assumptions):
    own, london = series(BOROUGH, LONDON_VALUES)
    earlier = own["period_end"].iloc[15]
    check = pv.check_extreme(
        own, london, earlier, assumptions.base_borough, assumptions.design_effect
    )
    assert check is not None
    assert check.extreme
    assert check.in_tail
    assert check.outside_funnel  # -12 points on an effective 267 interviews
    assert not check.high
    note = pv.regression_note("Camden", check, 0.69 - 0.58, earlier)
    assert "regression to the mean" in note
    assert "some of this rise" in note
    assert "12 months to December 2022" in note
    assert "(-12 points)" in note


def test_no_regression_note_for_an_ordinary_year_or_a_move_further_out(assumptions):
    own, london = series(BOROUGH, LONDON_VALUES)
    ordinary = own["period_end"].iloc[11]
    check = pv.check_extreme(
        own, london, ordinary, assumptions.base_borough, assumptions.design_effect
    )
    assert not check.extreme
    assert pv.regression_note("Camden", check, -0.01, ordinary) == ""
    extreme = own["period_end"].iloc[15]
    low = pv.check_extreme(own, london, extreme, assumptions.base_borough, 1.5)
    assert pv.regression_note("Camden", low, -0.02, extreme) == ""  # fell further: no RTM
    assert pv.check_extreme(own, london, pd.Timestamp("2030-03-31"), 400, 1.5) is None


def test_a_shared_london_trend_does_not_make_a_borough_extreme(assumptions):
    # Borough and London fall together: the borough's latest-but-four figure is its lowest,
    # but its gap to London is ordinary, so no note.
    falling = [0.80 - 0.005 * i for i in range(20)]
    own, london = series([round(v + 0.02, 4) for v in falling], falling)
    check = pv.check_extreme(own, london, own["period_end"].iloc[15], 400, 1.5)
    assert not check.extreme


def test_scorecard_and_briefing_cells_show_whole_percents():
    assert scorecard.fmt_value(0.69, "proportion") == "69%"
    assert scorecard.fmt_value(0.6925, "proportion") == "69.2%"  # e.g. an extract proportion
    assert scorecard.fmt_value(1234.0, "count") == "1,234"
    row = {
        "unit": "proportion",
        "value": 0.72,
        "comparison_value": 0.69,
        "change": 0.72 - 0.69,
        "change_lower": -0.043,
        "change_upper": 0.103,
    }
    assert scorecard.fmt_change(row) == "+3 pts (-4.3 to +10.3)"
    row.update(value=0.7221, change=0.7221 - 0.69)
    assert scorecard.fmt_change(row) == "+3.2 pts (-4.3 to +10.3)"
