"""Stop and search disproportionality: both ethnicity bases, unstated bounds, dispersion."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from oversight import stats
from oversight import stop_search as ss

ROOT = Path(__file__).resolve().parents[1]
POPULATION = pd.DataFrame(
    {
        "group": ["asian", "black", "mixed", "other", "white"],
        "population": [1_000_000.0, 800_000.0, 300_000.0, 200_000.0, 4_000_000.0],
    }
)


@pytest.fixture(scope="module")
def groups() -> ss.EthnicityGroups:
    return ss.load_ethnicity_groups()


def counts(**by_group: int) -> pd.Series:
    return pd.Series(
        {g: by_group.get(g, 0) for g in POPULATION["group"]}, dtype="int64", name="searches"
    )


def test_unstated_bounds_put_all_or_none_of_the_unstated_in_the_group():
    lowest, highest = ss.unstated_bounds(300, 800_000, 400, 4_000_000, unstated=200)
    assert lowest == pytest.approx((300 / 800_000) / (600 / 4_000_000))
    assert highest == pytest.approx((500 / 800_000) / (400 / 4_000_000))
    ratio = (300 / 800_000) / (400 / 4_000_000)
    assert lowest < ratio < highest
    assert ss.unstated_bounds(300, 800_000, 400, 4_000_000, unstated=0) == pytest.approx(
        (ratio, ratio)
    )


def test_dispersion_widens_the_interval_but_not_the_ratio(groups):
    by_group = counts(asian=500, black=3000, mixed=200, other=150, white=4000)
    plain = ss.disproportionality(by_group, POPULATION, groups, 0.95)
    dispersions = {
        g: stats.RatioDispersion(9.0, 9.0, 24, 22, stats.DISPERSION_METHOD)
        for g in ("asian", "black", "mixed", "other")
    }
    wide = ss.disproportionality(
        by_group, POPULATION, groups, 0.95, dispersions, not_stated=1000
    ).set_index("group")
    plain = plain.set_index("group")
    black = wide.loc["black"]
    assert black["ratio"] == pytest.approx((3000 / 800_000) / (4000 / 4_000_000))
    assert black["ratio"] == plain.loc["black", "ratio"]
    # Without a dispersion the interval is the exact Poisson one.
    assert plain.loc["black", "ratio_lower"] == plain.loc["black", "poisson_lower"]
    assert black["poisson_lower"] == plain.loc["black", "ratio_lower"]
    # phi = 9 triples the log-scale half-widths (and a little more for t on 22 df).
    t_over_z = sps.t.ppf(0.975, 22) / sps.norm.ppf(0.975)
    assert math.log(black["ratio"] / black["ratio_lower"]) == pytest.approx(
        3 * t_over_z * math.log(black["ratio"] / black["poisson_lower"])
    )
    assert black["phi"] == 9.0
    assert bool(black["phi_estimated"])
    assert black["bound_lower"] == pytest.approx((3000 / 800_000) / (5000 / 4_000_000))
    assert black["bound_upper"] == pytest.approx((4000 / 800_000) / (4000 / 4_000_000))
    assert wide.loc["white", "ratio"] == 1.0


def monthly_frame(basis: str) -> pd.DataFrame:
    """Ten months of searches by published string, with a month-to-month swing in the split."""
    rng = np.random.default_rng(7)
    if basis == "self":
        black, white, blank = (
            "Black/African/Caribbean/Black British - African",
            "White - Any other White background",
            None,
        )
    else:
        black, white, blank = "Black", "White", None
    rows = []
    for number, month in enumerate(pd.date_range("2024-01-01", periods=10, freq="MS")):
        swing = 1 + 0.3 * (-1) ** number
        rows += [
            (month, black, int(rng.poisson(300 * swing))),
            (month, white, int(rng.poisson(400))),
            (month, blank, 100),
        ]
    return pd.DataFrame(rows, columns=["month", "ethnicity", "searches"])


def test_both_bases_side_by_side_with_the_unstated_share(groups):
    ratios = {}
    for basis in ("self", "officer"):
        history = monthly_frame(basis)
        period = history.groupby("ethnicity", dropna=False, as_index=False)["searches"].sum()
        ratios[basis] = ss.basis_ratios(period, history, POPULATION, groups, basis, 0.95)
    comparison = ss.compare_bases(ratios["self"], ratios["officer"], groups.reference_group)
    assert list(comparison["group"]) == ["black"]  # white is the reference; no one else searched
    row = comparison.iloc[0]
    history = monthly_frame("self")
    black = history.loc[history["ethnicity"].str.startswith("Black", na=False), "searches"].sum()
    white = history.loc[history["ethnicity"].str.startswith("White", na=False), "searches"].sum()
    assert row["self_ratio"] == pytest.approx((black / 800_000) / (white / 4_000_000))
    assert row["self_phi"] > 3  # the +-30% swing in the split is far beyond Poisson
    assert row["self_ratio_lower"] < row["self_ratio"] < row["self_ratio_upper"]
    assert ratios["self"].unstated_share == pytest.approx(1000 / (black + white + 1000))
    sentence = ss.bases_sentence(comparison, "White", ratios["self"])
    assert f"{row['self_ratio']:.2f} times the rate of White people by self-defined" in sentence
    assert f"{row['officer_ratio']:.2f} times by officer-defined" in sentence
    assert f"would be {row['self_bound_lower']:.2f}" in sentence
    table = ss.bases_table(comparison, ratios["self"].unstated_share, 0.05)
    assert table.iloc[0, 1] == ss.ratio_text(
        row["self_ratio"], row["self_ratio_lower"], row["self_ratio_upper"]
    )


def test_bad_dispersion_config_names_the_key(tmp_path, groups):
    (tmp_path / "config").mkdir()
    text = (ROOT / "config" / "ethnicity_groups.yaml").read_text(encoding="utf-8")
    bad = text.replace("  min_months: 8", "  min_months: two")
    (tmp_path / "config" / "ethnicity_groups.yaml").write_text(bad, encoding="utf-8")
    with pytest.raises(ss.EthnicityConfigError, match="dispersion.min_months"):
        ss.load_ethnicity_groups(tmp_path)
    assert groups.history_months == 36
    assert groups.min_months == 8


def test_history_start_counts_calendar_months():
    assert str(ss.history_start(pd.Timestamp("2024-08-01").date(), 36)) == "2021-09-01"
