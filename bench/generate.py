"""Deterministic London-scale extracts in the published formats, for the benchmarks.

``python bench/generate.py --scale S --out DIR`` writes, under ``DIR/full``:

- police.uk monthly files for the Met (``YYYY-MM/YYYY-MM-metropolitan-street.csv``,
  ``-outcomes.csv`` and ``-stop-and-search.csv``);
- London Datastore files: one borough-level crime file and ward-level crime files, one per
  24-month window (the Datastore's "most recent 24 months" shape);
- the synthetic PAS workbook and MPS measure extract from the embedded sample, so every page
  of the dashboard has something to show;

and under ``DIR/next`` the police.uk files of the month after (the incremental load).

Scale 1.0 is ten years of Met-sized files: 120 months of about 85,000 street rows (about
10 million), outcomes of a similar size and about 20,000 searches a month (about 2.4 million).
A smaller scale keeps whole months while it can (scale 0.1 is twelve full months) and then
shrinks the one month left. Every month draws from its own seeded generator, so the same scale
writes the same bytes. The row and file writers are the sample's (pipelines/sample.py).
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import logging
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pipelines import sample  # noqa: E402

logger = logging.getLogger("bench.generate")
SEED = 20261124
LAST_MONTH = "2025-12"  # the newest month of the full load; the incremental month follows
FULL_MONTHS = 120  # ten years at scale 1.0
STREET_PER_MONTH = 85_000  # Met street rows a month (police.uk, 2023-2025: 80-95k)
SEARCHES_PER_MONTH = 20_000  # Met stop and search a month at its recent peak
OUTCOMES_OF_EARLIER = 0.3  # outcomes for crimes of earlier months, as a share of this month's
WARD_WINDOW = 24  # months per Datastore ward file


@dataclass
class Manifest:
    """What a generation wrote: the shape, the rows and bytes per kind, and how long it took."""

    scale: float
    months: int
    first_month: str
    last_month: str
    next_month: str
    rows: dict[str, int]
    bytes: dict[str, int]
    files: dict[str, int]
    seconds: float


def shape(scale: float) -> tuple[int, float]:
    """Months of files and the share of a Met-sized month each holds."""
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    month_equivalents = FULL_MONTHS * scale
    months = max(1, round(month_equivalents))
    return months, month_equivalents / months


def month_rng(index: int) -> np.random.Generator:
    """The generator of one month (by its index from the first month of ten years)."""
    return np.random.default_rng([SEED, index])


def street_means(config: dict[str, Any], size: float) -> dict[str, float]:
    """Mean rows per crime type for a month of ``size`` Met months."""
    means = config["police_uk"]["met_monthly"]
    factor = STREET_PER_MONTH * size / sum(means.values())
    return {t: v * factor for t, v in means.items()}


def outcomes_for(
    street: pd.DataFrame, earlier: pd.DataFrame | None, rng: np.random.Generator
) -> pd.DataFrame:
    """This month's outcomes: its own crimes' plus later outcomes of some earlier crimes."""
    frame = sample.outcome_rows(street, rng)
    if earlier is None or earlier.empty:
        return frame
    n = min(len(earlier), int(len(frame) * OUTCOMES_OF_EARLIER))
    later = earlier.iloc[np.sort(rng.choice(len(earlier), size=n, replace=False))].copy()
    later["Month"] = street["Month"].iloc[0]
    later["Outcome type"] = rng.choice(
        ["Awaiting court outcome", "Offender sent to prison", "Court result unavailable"], size=n
    )
    return pd.concat([frame, later], ignore_index=True)


def write_police_month(
    folder: Path,
    month: dt.date,
    index: int,
    size: float,
    config: dict[str, Any],
    lsoas: pd.DataFrame,
    earlier: pd.DataFrame | None,
    counts: dict[str, int],
    sizes: dict[str, int],
) -> pd.DataFrame:
    """Write one month's three Met files; return its outcomes (the next month's "earlier")."""
    rng = month_rng(index)
    spec = config["police_uk"]
    street = sample.street_rows(
        month, "metropolitan", street_means(config, size), lsoas, spec["last_outcomes"], rng
    )
    outcomes = outcomes_for(street, earlier, rng)
    searches_config = copy.deepcopy(config)
    searches_config["police_uk"]["stop_search_monthly"] = SEARCHES_PER_MONTH * size
    searches = sample.stop_search_rows(month, searches_config, rng)
    day = folder / f"{month:%Y-%m}"
    for kind, frame in (
        ("street", street),
        ("outcomes", outcomes),
        ("stop-and-search", searches),
    ):
        path = sample.write_frame(day / f"{month:%Y-%m}-metropolitan-{kind}.csv", frame)
        counts[kind] = counts.get(kind, 0) + len(frame)
        sizes[kind] = sizes.get(kind, 0) + path.stat().st_size
    return outcomes


def datastore_config(config: dict[str, Any], months: list[dt.date]) -> dict[str, Any]:
    """The sample's Datastore settings with its newest publication ending at ``months[-1]``."""
    spec = copy.deepcopy(config)
    last = f"{months[-1]:%Y-%m}"
    spec["datastore"]["vintages"] = [[f"{months[0]:%Y-%m}", last]]
    return spec


def write_datastore(
    folder: Path, config: dict[str, Any], months: list[dt.date], counts: dict, sizes: dict
) -> None:
    """One borough-level file over all months and one ward file per 24-month window."""
    spec = datastore_config(config, months)
    rng = np.random.default_rng([SEED, 0, 1])
    model = sample.CrimeModel(spec, rng)
    borough = model.draw(months)
    last = f"{months[-1]:%Y-%m}"
    path = sample.write_borough_file(
        folder / f"MPS Borough Level Crime (most recent months) {last}.csv", borough
    )
    counts["borough"] = len(borough)
    sizes["borough"] = path.stat().st_size
    for start in range(0, len(months), WARD_WINDOW):
        window = months[start : start + WARD_WINDOW]
        rows = borough[borough["month"].isin(window)]
        wards = sample.spread_over_wards(rows, spec, rng)
        path = sample.write_ward_file(
            folder / f"MPS Ward Level Crime (most recent 24 months) {window[-1]:%Y-%m}.csv",
            wards,
        )
        counts["ward"] = counts.get("ward", 0) + len(wards)
        sizes["ward"] = sizes.get("ward", 0) + path.stat().st_size


def generate(scale: float, out: Path) -> Manifest:
    """Write every benchmark file for ``scale`` under ``out`` (``full/`` and ``next/``)."""
    started = time.perf_counter()
    config = sample.read_config(ROOT / "config" / "sample.yaml")
    months_n, size = shape(scale)
    last = pd.Period(LAST_MONTH, "M")
    months = sample.month_range(str(last - (months_n - 1)), LAST_MONTH)
    next_month = sample.month_range(str(last + 1), str(last + 1))[0]
    lsoas = sample.lsoa_table(np.random.default_rng([SEED, 0, 0]))
    met_lsoas = lsoas[lsoas["borough_code"] != "E09000001"]
    counts: dict[str, int] = {}
    sizes: dict[str, int] = {}
    full = out / "full"
    earlier = None
    base = FULL_MONTHS - months_n  # month indexes count from ten years before LAST_MONTH
    for i, month in enumerate(months):
        earlier = write_police_month(
            full / "police_uk", month, base + i + 1, size, config, met_lsoas, earlier, counts,
            sizes,
        )  # fmt: skip
    next_counts: dict[str, int] = {}
    next_sizes: dict[str, int] = {}
    write_police_month(
        out / "next" / "police_uk", next_month, FULL_MONTHS + 1, size, config, met_lsoas,
        earlier, next_counts, next_sizes,
    )  # fmt: skip
    write_datastore(full / "london_datastore", config, months, counts, sizes)
    rng = np.random.default_rng(config["seed"])
    sample.write_pas_workbook(full, config, rng)
    sample.write_measure_extract(full, config, rng)
    files = {
        "full": sum(1 for p in full.rglob("*") if p.is_file()),
        "next": sum(1 for p in (out / "next").rglob("*") if p.is_file()),
    }
    manifest = Manifest(
        scale=scale,
        months=months_n,
        first_month=f"{months[0]:%Y-%m}",
        last_month=f"{months[-1]:%Y-%m}",
        next_month=f"{next_month:%Y-%m}",
        rows={**counts, **{f"next_{k}": v for k, v in next_counts.items()}},
        bytes={**sizes, **{f"next_{k}": v for k, v in next_sizes.items()}},
        files=files,
        seconds=round(time.perf_counter() - started, 1),
    )
    (out / "manifest.json").write_text(json.dumps(asdict(manifest), indent=2) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = ten Met-sized years")
    parser.add_argument("--out", type=Path, required=True, help="folder to write (not the repo)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    manifest = generate(args.scale, args.out)
    logger.info("wrote %s", json.dumps(asdict(manifest)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
