"""Reference facts shipped with the project: boroughs, name spellings, population, census, wards.

The CSVs under ``data/reference/`` are small transcriptions of published figures (see the
README there for sources and caveats). This module reads them and resolves the many ways the
published files spell a borough to its GSS code. It uses pandas and the standard library only.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import pandas as pd

REFERENCE_DIR = Path(__file__).resolve().parents[1] / "data" / "reference"

KINDS = ("borough", "pseudo", "london")
POPULATION_SERIES = ("ons_mye_rebased", "ons_mye_original")
ETHNICITY_2021_SHARES = ("white_pct", "black_pct", "asian_pct", "mixed_pct", "other_pct")
ETHNICITY_2011_GROUPS = ("white", "mixed", "asian", "black", "other")


def normalise_name(name: str) -> str:
    """Key for matching a spelling: trimmed, single-spaced, casefolded, '&' read as 'and'."""
    return " ".join(name.replace("&", " and ").split()).casefold()


@dataclass(frozen=True, repr=False)
class BoroughLookup:
    """Resolve published borough spellings to GSS codes and kinds.

    ``names`` holds ``(spelling, code, kind)``: kind ``"borough"`` has a code, ``"pseudo"``
    (airports, unknown) and ``"london"`` (the force-wide figure) have ``None``. ``boroughs``
    holds ``(code, canonical name, in MPS area)`` for the 33 London local authorities.
    """

    names: tuple[tuple[str, str | None, str], ...]
    boroughs: tuple[tuple[str, str, bool], ...]
    _by_name: MappingProxyType[str, tuple[str | None, str]] = field(init=False, compare=False)
    _by_code: MappingProxyType[str, str] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        """Build the normalised indexes and reject inconsistent entries."""
        by_code = {code: name for code, name, _ in self.boroughs}
        if len(by_code) != len(self.boroughs):
            raise ValueError("duplicate borough code in the borough list")
        entries = [(name, code, "borough") for code, name, _ in self.boroughs]
        by_name: dict[str, tuple[str | None, str]] = {}
        for spelling, code, kind in [*entries, *self.names]:
            if kind not in KINDS:
                raise ValueError(f"{spelling!r}: unknown kind {kind!r}")
            if (kind == "borough") != (code is not None) or (code and code not in by_code):
                raise ValueError(f"{spelling!r}: kind {kind!r} does not fit code {code!r}")
            key = normalise_name(spelling)
            if by_name.setdefault(key, (code, kind)) != (code, kind):
                raise ValueError(f"{spelling!r} conflicts with another spelling of {key!r}")
        object.__setattr__(self, "_by_name", MappingProxyType(by_name))
        object.__setattr__(self, "_by_code", MappingProxyType(by_code))

    def __repr__(self) -> str:
        """Short form: how many spellings and boroughs are known."""
        return f"BoroughLookup({len(self._by_name)} spellings, {len(self._by_code)} boroughs)"

    def _entry(self, name: object) -> tuple[str | None, str] | None:
        """The (code, kind) of a spelling, or None if the spelling is not known."""
        if not isinstance(name, str):
            return None
        return self._by_name.get(normalise_name(name))

    def code_for(self, name: str) -> str | None:
        """GSS code of a borough spelling; None for pseudo-boroughs, London and unknown names."""
        entry = self._entry(name)
        return entry[0] if entry else None

    def kind_for(self, name: str) -> str | None:
        """Kind of a spelling ('borough', 'pseudo' or 'london'); None if the name is unknown."""
        entry = self._entry(name)
        return entry[1] if entry else None

    def canonical_name(self, code: str) -> str:
        """The borough's name as the MPS crime files spell it; KeyError for an unknown code."""
        try:
            return self._by_code[code.strip().upper()]
        except KeyError:
            raise KeyError(f"not a London borough code: {code!r}") from None

    def is_known(self, name: str) -> bool:
        """Whether a spelling is recognised (borough, pseudo-borough or London-wide)."""
        return self._entry(name) is not None

    @property
    def borough_codes(self) -> tuple[str, ...]:
        """The 33 London local authority codes, E09000001 to E09000033."""
        return tuple(sorted(self._by_code))

    @property
    def mps_codes(self) -> tuple[str, ...]:
        """The 32 borough codes policed by the Met (all but the City of London)."""
        return tuple(sorted(code for code, _, in_mps in self.boroughs if in_mps))


def _read(filename: str, **kwargs: object) -> pd.DataFrame:
    """Read one reference CSV with blank cells as missing and every other text kept as is."""
    return pd.read_csv(REFERENCE_DIR / filename, keep_default_na=False, na_values=[""], **kwargs)


def _as_bool(values: pd.Series) -> pd.Series:
    """Map a column of 'true'/'false' text to booleans, refusing anything else."""
    mapped = values.astype(str).str.strip().str.lower().map({"true": True, "false": False})
    if mapped.isna().any():
        raise ValueError(f"column {values.name!r} holds values other than true/false")
    return mapped.astype(bool)


def load_boroughs() -> pd.DataFrame:
    """The 33 London boroughs with BCU, inner/outer, tile-map position and MPS-area flag."""
    frame = _read(
        "boroughs.csv",
        dtype={
            "borough_code": str,
            "borough_name": str,
            "bcu_code": str,
            "bcu_name": str,
            "inner_outer": str,
            "tile_x": "int64",
            "tile_y": "int64",
            "in_mps_area": str,
        },
    )
    frame["in_mps_area"] = _as_bool(frame["in_mps_area"])
    return frame


def load_borough_names() -> pd.DataFrame:
    """Every published spelling of a borough or pseudo-borough with its code and kind."""
    return _read("borough_names.csv", dtype=str)


@functools.cache
def load_borough_lookup() -> BoroughLookup:
    """The shipped borough lookup (cached: the reference files do not change while running)."""
    boroughs = load_boroughs()
    names = load_borough_names()
    return BoroughLookup(
        names=tuple(
            (row.name, None if pd.isna(row.borough_code) else row.borough_code, row.kind)
            for row in names.itertuples(index=False)
        ),
        boroughs=tuple(
            (row.borough_code, row.borough_name, bool(row.in_mps_area))
            for row in boroughs.itertuples(index=False)
        ),
    )


def load_population(series: str = "ons_mye_rebased") -> pd.DataFrame:
    """Mid-year resident population by borough and year for one ONS series."""
    if series not in POPULATION_SERIES:
        raise ValueError(f"series must be one of {', '.join(POPULATION_SERIES)}, got {series!r}")
    frame = _read(
        "population.csv",
        dtype={
            "geography_code": str,
            "year": "int64",
            "population": "int64",
            "series": str,
            "source": str,
        },
    )
    return frame[frame["series"] == series].reset_index(drop=True)


def load_wards() -> pd.DataFrame:
    """Wards of the MPS ward-level crime file with the borough each belongs to."""
    return _read("wards.csv", dtype=str)


def load_ethnicity_2021() -> pd.DataFrame:
    """Census 2021 usual residents and ethnic-group shares (per cent, 1 d.p.) by borough."""
    dtype: dict[str, object] = {"borough_code": str, "population_total": "int64"}
    dtype.update(dict.fromkeys(ETHNICITY_2021_SHARES, "float64"))
    return _read("ethnicity_census2021.csv", dtype=dtype)


def load_ethnicity_2011() -> pd.DataFrame:
    """Census 2011 usual residents by high-level ethnic group (counts) by borough."""
    dtype: dict[str, object] = {"borough_code": str, "all_people": "int64"}
    dtype.update(dict.fromkeys(ETHNICITY_2011_GROUPS, "int64"))
    return _read("ethnicity_census2011.csv", dtype=dtype)
