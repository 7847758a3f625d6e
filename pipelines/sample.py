"""Deterministic synthetic extracts in exactly the published formats: the embedded default.

``python -m pipelines sample`` writes them to data/sample/ and loads them, so a fresh machine
has a working dashboard with no download. Magnitudes follow config/sample.yaml (London means
and borough shares taken from a real publication); everything else is random but seeded, so
two runs write identical bytes. Every load from here is recorded as synthetic and the app
labels it so wherever it is shown.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import fcntl
import io
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from oversight.reference import load_borough_lookup, load_boroughs, load_wards

logger = logging.getLogger(__name__)
SYNTHETIC_NOTE = "SYNTHETIC SAMPLE - not real data"
PAS_NAMES = {"Westminster": "City of Westminster"}  # the PAS spells it so
FORCES = {"metropolitan": "Metropolitan Police Service", "city-of-london": "City of London Police"}
# Rough London bounding box for placing points by tile-map position.
LON_RANGE = (-0.45, 0.25)
LAT_RANGE = (51.33, 51.66)
TILE_COLS, TILE_ROWS = 8, 7


def month_range(first: str, last: str) -> list[dt.date]:
    """Months from ``first`` to ``last`` (YYYY-MM) inclusive, as 1st-of-month dates."""
    start = pd.Period(str(first), "M")
    end = pd.Period(str(last), "M")
    return [p.to_timestamp().date() for p in pd.period_range(start, end, freq="M")]


def read_config(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def write_csv(path: Path, header: list[str], rows: list[list[Any]], newline: str = "\r\n") -> Path:
    """Write a CSV the way the publisher does (quoting only where needed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator=newline)
    writer.writerow(header)
    writer.writerows(rows)
    path.write_bytes(buf.getvalue().encode("utf-8"))
    return path


class CrimeModel:
    """Expected monthly offences per borough and category, with trend and seasonality."""

    def __init__(self, config: dict[str, Any], rng: np.random.Generator) -> None:
        self.config = config
        self.rng = rng
        self.means: dict[str, dict[str, float]] = config["datastore_shape_london_monthly_mean"]
        self.shares: dict[str, dict[str, float]] = config["datastore_shape_borough_share"]
        latest = month_range(*config["datastore"]["vintages"][-1])[-1]
        self.latest_year = latest.year + (latest.month - 0.5) / 12

    def expected(self, major: str, minor: str, borough: str, month: dt.date) -> float:
        spec = self.config["datastore"]
        amplitude, peak = spec["seasonality"].get(major, spec["seasonality"]["default"])
        season = 1 + amplitude * np.cos(2 * np.pi * (month.month - peak) / 12)
        years_back = self.latest_year - (month.year + (month.month - 0.5) / 12)
        trend = (1 + spec["trend_per_year"]) ** (-years_back)
        share = self.shares.get(major, {}).get(borough, 0.0)
        return self.means[major][minor] * share * season * trend

    def draw(self, months: list[dt.date]) -> pd.DataFrame:
        """One Poisson draw per borough, category and month."""
        rows = []
        for major, minors in self.means.items():
            for minor in minors:
                for borough in self.shares.get(major, {}):
                    lam = [self.expected(major, minor, borough, m) for m in months]
                    if max(lam) < 0.05:
                        continue
                    counts = self.rng.poisson(lam)
                    rows.extend(
                        (major, minor, borough, m, int(c))
                        for m, c in zip(months, counts, strict=True)
                    )
        return pd.DataFrame(rows, columns=["major", "minor", "borough", "month", "offences"])


def wide_rows(frame: pd.DataFrame, id_cols: list[str]) -> tuple[list[str], list[list[Any]]]:
    """Pivot long counts to the published wide layout (one column per YYYYMM)."""
    frame = frame.assign(key=[f"{m:%Y%m}" for m in frame["month"]])
    wide = frame.pivot_table(
        index=id_cols, columns="key", values="offences", aggfunc="sum", fill_value=0
    ).sort_index()
    wide = wide[(wide.sum(axis=1) > 0)]
    rows = [
        [*idx, *map(int, values)] for idx, values in zip(wide.index, wide.to_numpy(), strict=True)
    ]
    return list(wide.columns), rows


def write_borough_file(path: Path, frame: pd.DataFrame) -> Path:
    months, rows = wide_rows(frame, ["major", "minor", "borough"])
    return write_csv(path, ["MajorText", "MinorText", "BoroughName", *months], rows)


def revise(frame: pd.DataFrame, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """A later vintage: the same figures with a few cells revised by a small amount."""
    revised = frame.copy()
    candidates = revised.index[revised["offences"] > 3]
    picks = rng.choice(candidates, size=min(n, len(candidates)), replace=False)
    revised.loc[picks, "offences"] += rng.choice([-2, -1, 1, 2, 3], size=len(picks))
    return revised


def spread_over_wards(
    frame: pd.DataFrame, config: dict[str, Any], rng: np.random.Generator
) -> pd.DataFrame:
    """Split borough counts over the borough's wards (multinomial, fixed ward weights)."""
    wards = load_wards()
    lookup = load_borough_lookup()
    concentration = config["datastore"]["ward_concentration"]
    codes = frame["borough"].map({b: lookup.code_for(b) for b in frame["borough"].unique()})
    parts = []
    for code, group in wards.groupby("borough_code", sort=True):
        rows = frame[(codes == code).to_numpy()]
        if rows.empty:
            continue
        weights = rng.dirichlet(np.full(len(group), concentration))
        split = rng.multinomial(rows["offences"].to_numpy(), weights)
        row_idx, ward_idx = np.nonzero(split)
        published = np.where(
            group["ward_code"].to_numpy() == "E05013570",
            "Aviation Security (SO18)",
            rows["borough"].iloc[0],
        )
        parts.append(
            pd.DataFrame(
                {
                    "major": rows["major"].to_numpy()[row_idx],
                    "minor": rows["minor"].to_numpy()[row_idx],
                    "ward_name": group["ward_name"].to_numpy()[ward_idx],
                    "ward_code": group["ward_code"].to_numpy()[ward_idx],
                    "borough": published[ward_idx],
                    "month": rows["month"].to_numpy()[row_idx],
                    "offences": split[row_idx, ward_idx],
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def write_ward_file(path: Path, frame: pd.DataFrame) -> Path:
    months, rows = wide_rows(frame, ["major", "minor", "ward_name", "ward_code", "borough"])
    header = ["MajorText", "MinorText", "WardName", "WardCode", "LookUp_BoroughName", *months]
    return write_csv(path, header, rows)


def write_datastore(out: Path, config: dict[str, Any], rng: np.random.Generator) -> list[Path]:
    """The historical file, two overlapping 24-month vintages and the ward file."""
    model = CrimeModel(config, rng)
    spec = config["datastore"]
    folder = out / "london_datastore"
    historical = model.draw(month_range(*spec["historical_months"]))
    first_window, last_window = spec["vintages"]
    recent = model.draw(month_range(first_window[0], last_window[1]))
    older = recent[recent["month"] <= month_range(*first_window)[-1]]
    newer = revise(
        recent[recent["month"] >= month_range(*last_window)[0]], spec["revised_cells"], rng
    )
    wards = spread_over_wards(newer, config, rng)
    return [
        write_borough_file(folder / "MPS Borough Level Crime (Historical).csv", historical),
        write_borough_file(
            folder / f"MPS Borough Level Crime (most recent 24 months) {first_window[1]}.csv",
            older,
        ),
        write_borough_file(
            folder / f"MPS Borough Level Crime (most recent 24 months) {last_window[1]}.csv", newer
        ),
        write_ward_file(folder / "MPS Ward Level Crime (most recent 24 months).csv", wards),
    ]


def tile_points(
    tile_x: np.ndarray, tile_y: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Longitude and latitude scattered inside each borough's tile of the London box."""
    lon = LON_RANGE[0] + (tile_x + rng.random(len(tile_x))) / TILE_COLS * (
        LON_RANGE[1] - LON_RANGE[0]
    )
    lat = LAT_RANGE[1] - (tile_y + rng.random(len(tile_y))) / TILE_ROWS * (
        LAT_RANGE[1] - LAT_RANGE[0]
    )
    return np.round(lon, 6), np.round(lat, 6)


def lsoa_table(rng: np.random.Generator) -> pd.DataFrame:
    """Synthetic LSOAs in the published code format, about 150 per borough."""
    boroughs = load_boroughs()
    rows = []
    serial = 1
    for rec in boroughs.itertuples(index=False):
        n = 5 if rec.borough_code == "E09000001" else 150
        for i in range(n):
            rows.append(
                (
                    f"E01{serial:06d}",
                    f"{rec.borough_name} {i // 4 + 1:03d}{'ABCD'[i % 4]}",
                    rec.borough_code,
                    rec.tile_x,
                    rec.tile_y,
                )
            )
            serial += 1
    return pd.DataFrame(
        rows, columns=["lsoa_code", "lsoa_name", "borough_code", "tile_x", "tile_y"]
    )


def crime_ids(n: int, rng: np.random.Generator) -> np.ndarray:
    """64-hex-digit crime identifiers like police.uk's."""
    digits = rng.bytes(32 * n).hex()
    return np.array([digits[i : i + 64] for i in range(0, 64 * n, 64)])


def street_rows(
    month: dt.date,
    force: str,
    types: dict[str, float],
    lsoas: pd.DataFrame,
    outcomes: dict[str, float],
    rng: np.random.Generator,
) -> pd.DataFrame:
    """One month of street-level crime for a force."""
    counts = {t: rng.poisson(mean) for t, mean in types.items()}
    crime_type = np.repeat(list(counts), list(counts.values()))
    n = len(crime_type)
    places = lsoas.iloc[rng.integers(0, len(lsoas), n)].reset_index(drop=True)
    lon, lat = tile_points(places["tile_x"].to_numpy(), places["tile_y"].to_numpy(), rng)
    asb = crime_type == "Anti-social behaviour"
    ids = np.where(asb, "", crime_ids(n, rng))
    last = np.where(asb, "", rng.choice(list(outcomes), size=n, p=normalised(outcomes)))
    frame = pd.DataFrame(
        {
            "Crime ID": ids,
            "Month": f"{month:%Y-%m}",
            "Reported by": FORCES[force],
            "Falls within": FORCES[force],
            "Longitude": lon,
            "Latitude": lat,
            "Location": STREETS[rng.integers(0, len(STREETS), n)],
            "LSOA code": places["lsoa_code"],
            "LSOA name": places["lsoa_name"],
            "Crime type": crime_type,
            "Last outcome category": last,
            "Context": "",
        }
    )
    return frame.sample(frac=1, random_state=int(rng.integers(0, 2**31))).reset_index(drop=True)


def normalised(shares: dict[str, float]) -> np.ndarray:
    p = np.array(list(shares.values()), dtype=float)
    return p / p.sum()


def outcome_rows(street: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Outcomes file: one row per crime with an outcome (not anti-social behaviour)."""
    crimes = street[street["Crime ID"] != ""]
    frame = crimes[
        [
            "Crime ID",
            "Month",
            "Reported by",
            "Falls within",
            "Longitude",
            "Latitude",
            "Location",
            "LSOA code",
            "LSOA name",
        ]
    ].copy()
    frame["Outcome type"] = crimes["Last outcome category"].replace(
        {"Under investigation": "Investigation complete; no suspect identified"}
    )
    return frame.reset_index(drop=True)


def stop_search_rows(
    month: dt.date, config: dict[str, Any], rng: np.random.Generator
) -> pd.DataFrame:
    """One month of Met stop and search, timestamps in UTC as published."""
    spec = config["police_uk"]["stop_search"]
    n = int(rng.poisson(config["police_uk"]["stop_search_monthly"]))
    start = pd.Timestamp(month, tz="Europe/London")
    end = start + pd.offsets.MonthBegin(1)
    seconds = rng.integers(0, int((end - start).total_seconds()), n)
    when = (start + pd.to_timedelta(np.sort(seconds), unit="s")).tz_convert("UTC")
    pick = {
        col: rng.choice(list(shares), size=n, p=normalised(shares))
        for col, shares in spec.items()
        if isinstance(shares, dict)
    }
    located = rng.random(n) >= spec["blank_location_share"]
    lon, lat = tile_points(rng.integers(0, TILE_COLS, n), rng.integers(1, TILE_ROWS - 1, n), rng)
    person = pick["Type"] != "Vehicle search"
    legislation = np.where(
        pick["Object of search"] == "Controlled drugs",
        "Misuse of Drugs Act 1971 (section 23)",
        np.where(
            pick["Object of search"] == "Firearms",
            "Firearms Act 1968 (section 47)",
            "Police and Criminal Evidence Act 1984 (section 1)",
        ),
    )
    strip = np.where(
        person, np.where(rng.random(n) < spec["strip_search_share"], "True", "False"), ""
    )
    return pd.DataFrame(
        {
            "Type": pick["Type"],
            "Date": [t.strftime("%Y-%m-%dT%H:%M:%S+00:00") for t in when],
            "Part of a policing operation": "False",
            "Policing operation": "",
            "Latitude": np.where(located, lat.astype(str), ""),
            "Longitude": np.where(located, lon.astype(str), ""),
            "Gender": np.where(person, pick["Gender"], ""),
            "Age range": np.where(person, pick["Age range"], ""),
            "Self-defined ethnicity": np.where(
                person, self_defined(pick["Officer-defined ethnicity"], rng), ""
            ),
            "Officer-defined ethnicity": np.where(person, pick["Officer-defined ethnicity"], ""),
            "Legislation": legislation,
            "Object of search": pick["Object of search"],
            "Outcome": pick["Outcome"],
            "Outcome linked to object of search": np.where(
                pick["Outcome"] == "Arrest", "True", "False"
            ),
            "Removal of more than just outer clothing": strip,
        }
    )


STREETS = np.array([f"On or near Sample Street {i}" for i in range(1, 501)])
SELF_DEFINED = {
    "White": "White - English/Welsh/Scottish/Northern Irish/British",
    "Black": "Black/African/Caribbean/Black British - African",
    "Asian": "Asian/Asian British - Bangladeshi",
    "Other": "Other ethnic group - Not stated",
    "": "",
}


def self_defined(officer: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Self-defined ethnicity consistent with the officer's view most of the time."""
    stated = np.array([SELF_DEFINED[o] for o in officer])
    unknown = rng.random(len(officer)) < 0.2
    return np.where(unknown, "Other ethnic group - Not stated", stated)


def write_police_uk(out: Path, config: dict[str, Any], rng: np.random.Generator) -> list[Path]:
    """Met street and outcomes files, one City of London file, Met stop and search."""
    spec = config["police_uk"]
    lsoas = lsoa_table(rng)
    met_lsoas = lsoas[lsoas["borough_code"] != "E09000001"]
    city_lsoas = lsoas[lsoas["borough_code"] == "E09000001"]
    folder = out / "police_uk"
    paths = []
    for month in month_range(*spec["street_months"]):
        street = street_rows(
            month, "metropolitan", spec["met_monthly"], met_lsoas, spec["last_outcomes"], rng
        )
        paths.append(
            write_frame(
                folder / f"{month:%Y-%m}" / f"{month:%Y-%m}-metropolitan-street.csv", street
            )
        )
        paths.append(
            write_frame(
                folder / f"{month:%Y-%m}" / f"{month:%Y-%m}-metropolitan-outcomes.csv",
                outcome_rows(street, rng),
            )
        )
    month = month_range(spec["city_of_london_month"], spec["city_of_london_month"])[0]
    city_types = {
        t: v * spec["city_of_london_monthly"] / sum(spec["met_monthly"].values())
        for t, v in spec["met_monthly"].items()
    }
    city = street_rows(month, "city-of-london", city_types, city_lsoas, spec["last_outcomes"], rng)
    paths.append(
        write_frame(folder / f"{month:%Y-%m}" / f"{month:%Y-%m}-city-of-london-street.csv", city)
    )
    for month in month_range(*spec["stop_search_months"]):
        frame = stop_search_rows(month, config, rng)
        paths.append(
            write_frame(
                folder / f"{month:%Y-%m}" / f"{month:%Y-%m}-metropolitan-stop-and-search.csv",
                frame,
            )
        )
    return paths


def write_frame(path: Path, frame: pd.DataFrame) -> Path:
    return write_csv(
        path, list(frame.columns), frame.astype(str).to_numpy().tolist(), newline="\n"
    )


def quarter_ends(first: str, last: str) -> list[dt.date]:
    """Quarter-end dates between two quarter-end months (YYYY-MM)."""
    months = month_range(first, last)[::3]
    return [(pd.Timestamp(m) + pd.offsets.MonthEnd(0)).date() for m in months]


def pas_rows(config: dict[str, Any], rng: np.random.Generator) -> list[list[Any]]:
    """The PAS Borough sheet: rolling-12-month proportions by quarter, borough and measure."""
    spec = config["pas"]
    quarters = quarter_ends(*spec["quarters"])
    boroughs = load_boroughs()
    boroughs = boroughs[boroughs["in_mps_area"]]
    rows = []
    for label, (start, end) in spec["measures"].items():
        london = np.linspace(start, end, len(quarters))
        offsets = rng.normal(0, spec["borough_spread"], len(boroughs))
        for b, offset in zip(boroughs.itertuples(index=False), offsets, strict=True):
            noise = np.cumsum(rng.normal(0, spec["quarter_noise"], len(quarters))) * 0.5
            values = np.clip(london + offset + noise, 0.02, 0.98)
            name = PAS_NAMES.get(b.borough_name, b.borough_name)
            for q, value, mps in zip(quarters, values, london, strict=True):
                rows.append([q, "PAS", name, label, round(float(value), 2), round(float(mps), 2)])
    return rows


def write_pas_workbook(out: Path, config: dict[str, Any], rng: np.random.Generator) -> Path:
    """The trust-and-confidence dashboard workbook: a notes sheet, then the Borough sheet."""
    from openpyxl import Workbook

    path = out / "mopac_pas" / "PAS_T&Cdashboard_sample.xlsx"
    path.parent.mkdir(parents=True, exist_ok=True)
    book = Workbook()
    notes = book.active
    notes.title = "Notes"
    notes.append([SYNTHETIC_NOTE])
    notes.append(["Public Attitude Survey trust and confidence dashboard data (synthetic)."])
    sheet = book.create_sheet("Borough")
    sheet.append(["Date", "Survey", "Borough", "Measure", "Proportion", "MPS", None, None])
    for row in pas_rows(config, rng):
        sheet.append([dt.datetime.combine(row[0], dt.time()), *row[1:]])
    book.properties.creator = SYNTHETIC_NOTE
    book.properties.created = dt.datetime(2026, 1, 1)
    book.properties.modified = dt.datetime(2026, 1, 1)
    book.save(path)
    fix_zip_timestamps(path)
    return path


def fix_zip_timestamps(path: Path) -> None:
    """Rewrite a workbook's zip entries with a fixed time, so the bytes are reproducible."""
    import zipfile

    with zipfile.ZipFile(path) as source:
        entries = [(info, source.read(info)) for info in source.infolist()]
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for info, data in entries:
            if info.filename == "docProps/core.xml":  # openpyxl stamps "modified" on save
                data = re.sub(
                    rb"<dcterms:modified([^>]*)>[^<]*<",
                    rb"<dcterms:modified\1>2026-01-01T00:00:00Z<",
                    data,
                )
            fixed = zipfile.ZipInfo(info.filename, date_time=(2026, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(fixed, data)


def write_measure_extract(out: Path, config: dict[str, Any], rng: np.random.Generator) -> Path:
    """An MPS measure extract in the documented long format."""
    spec = config["measure_extract"]
    rows = []
    for measure, (unit, mean, sd) in spec["measures"].items():
        for month in month_range(*spec["months"]):
            end = (pd.Timestamp(month) + pd.offsets.MonthEnd(0)).date()
            if unit == "count":  # a count has no base: numerator and denominator blank
                figures = [max(round(rng.normal(mean, sd)), 0), "", ""]
            else:
                denominator = int(rng.integers(8000, 12000))
                value = float(np.clip(rng.normal(mean, sd), 0, 1))
                figures = [round(value, 4), round(value * denominator), denominator]
            period = [month.isoformat(), end.isoformat()]
            rows.append([measure, *period, "MPS", *figures, unit, SYNTHETIC_NOTE])
    header = [
        "measure_id",
        "period_start",
        "period_end",
        "geography_code",
        "value",
        "numerator",
        "denominator",
        "unit",
        "source",
    ]
    return write_csv(out / "mps" / "mps_measure_extract_sample.csv", header, rows, newline="\n")


HOMICIDE_HEADER = [
    "Count of Victims",
    "Age Group",
    "Sex",
    "Method of Killing",
    "Domestic Abuse",
    "Recorded Date",
    "Homicide Offence Type",
    "Solved Status",
    "Borough",
    "Officer Observed Ethnicity",
]


def write_homicide(out: Path, config: dict[str, Any], rng: np.random.Generator) -> Path:
    """The MPS Homicide Dashboard victim file: CRLF, "Jan-24" months, the published spellings."""
    spec = config["homicide"]
    shares = config["datastore_shape_borough_share"]["VIOLENCE AGAINST THE PERSON"]
    names = [spec["published_names"].get(b, b) for b in shares]
    weights = normalised(dict(shares)) * (1 - spec["heathrow_share"])
    boroughs = np.array([*names, "Heathrow "])
    borough_p = np.append(weights, spec["heathrow_share"])
    fields = (
        "age_group", "sex", "method", "domestic_abuse", "offence_type", "solved_status",
        "officer_observed_ethnicity",
    )  # fmt: skip
    rows = []
    for month in month_range(*spec["months"]):
        for _ in range(int(rng.poisson(spec["victims_per_month"]))):
            drawn = {f: rng.choice(list(spec[f]), p=normalised(spec[f])) for f in fields}
            borough = rng.choice(boroughs, p=borough_p)
            rows.append(
                [
                    1,
                    drawn["age_group"],
                    drawn["sex"],
                    drawn["method"],
                    drawn["domestic_abuse"],
                    f"{month:%b-%y}",
                    drawn["offence_type"],
                    drawn["solved_status"],
                    borough,
                    drawn["officer_observed_ethnicity"],
                ]
            )
    return write_csv(out / "mps" / "Homicides_sample.csv", HOMICIDE_HEADER, rows)


@contextlib.contextmanager
def sample_lock(out: Path) -> Iterator[None]:
    """Hold the sample folder's lock (waiting for it) while writing and loading the sample."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / f".{out.name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_sample(out: Path, config_path: Path) -> list[Path]:
    """Write every synthetic extract under ``out``; the same config gives the same bytes."""
    config = read_config(config_path)
    rng = np.random.default_rng(config["seed"])
    paths = [
        *write_datastore(out, config, rng),
        *write_police_uk(out, config, rng),
        write_pas_workbook(out, config, rng),
        write_measure_extract(out, config, rng),
        write_homicide(out, config, rng),  # last: the files before keep their bytes
    ]
    logger.info("wrote %d synthetic files under %s", len(paths), out)
    return paths
