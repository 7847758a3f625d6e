"""London Datastore "MPS Borough Level Crime" and "MPS Ward Level Crime" files.

Wide files: one row per area and category, one column per month (``YYYYMM``). Three header
generations are published (see README): ``Borough,Major Category,Minor Category`` (to 2018),
``MajorText,MinorText,LookUp_BoroughName`` (2019-2023) and ``MajorText,MinorText,BoroughName``
(2024+); the ward file has ``MajorText,MinorText,WardName,WardCode,LookUp_BoroughName``.
Each becomes one row per area, category and month. Counts stay text here: the staged suite
checks they are non-negative integers and staging casts them.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from pipelines.errors import RefusedFile
from pipelines.inputs import InputFile
from pipelines.sources.base import ParseContext, Parsed, Source, decode, read_csv_text

MONTH_HEADER = re.compile(r"^(\d{4})(\d{2})$")
BOROUGH_GENERATIONS = {
    ("Borough", "Major Category", "Minor Category"): "borough",
    ("MajorText", "MinorText", "LookUp_BoroughName"): "borough",
    ("MajorText", "MinorText", "BoroughName"): "borough",
}
WARD_HEADER = ("MajorText", "MinorText", "WardName", "WardCode", "LookUp_BoroughName")
ROLE_OF_HEADER = {
    "Borough": "borough_name",
    "LookUp_BoroughName": "borough_name",
    "BoroughName": "borough_name",
    "Major Category": "major_category",
    "MajorText": "major_category",
    "Minor Category": "minor_category",
    "MinorText": "minor_category",
    "WardName": "ward_name",
    "WardCode": "ward_code",
}


def canonical_text(values: pd.Series) -> pd.Series:
    """Trim, collapse whitespace and upper-case category names."""
    return values.str.strip().str.replace(r"\s+", " ", regex=True).str.upper()


def id_columns_of(header: list[str]) -> tuple[str, ...] | None:
    """The identifying columns if ``header`` starts like a known generation."""
    for known in (*BOROUGH_GENERATIONS, WARD_HEADER):
        if tuple(header[: len(known)]) == known:
            rest = header[len(known) :]
            if rest and MONTH_HEADER.match(rest[0]):
                return known
    return None


def matches_borough(rows: list[list[str]]) -> bool:
    return bool(rows) and id_columns_of(rows[0]) in BOROUGH_GENERATIONS


def matches_ward(rows: list[list[str]]) -> bool:
    return bool(rows) and id_columns_of(rows[0]) == WARD_HEADER


def month_columns(file: InputFile, columns: list[str], frame: pd.DataFrame) -> list[str]:
    """Check the month headers, allowing blank trailing columns an editor may add."""
    months = []
    for column in columns:
        if column.startswith("Unnamed:") and (frame[column].str.strip() == "").all():
            continue
        repeated = re.match(r"^(\d{6})\.\d+$", column)  # pandas renames a repeated header
        if repeated:
            raise RefusedFile(
                file.name, f"month {repeated.group(1)} appears twice", row=1, column=column
            )
        match = MONTH_HEADER.match(column)
        if not match or not 1 <= int(match.group(2)) <= 12:
            raise RefusedFile(file.name, "header is not a month as YYYYMM", row=1, column=column)
        months.append(column)
    return months


def pick_scheme(majors: pd.Series, minors: pd.Series, categories: dict) -> str:
    """The category scheme whose vocabulary covers most of the file's rows."""
    pairs = set(zip(majors, minors, strict=True))
    best, best_hits = "", -1
    for scheme, spec in categories["schemes"].items():
        known = {(m, n) for m, ns in spec["majors"].items() for n in ns}
        hits = len(pairs & known)
        if hits > best_hits:
            best, best_hits = scheme, hits
    return best


def melt_wide(
    file: InputFile, ctx: ParseContext, allowed: tuple[tuple[str, ...], ...]
) -> tuple[pd.DataFrame, dict[str, str], int]:
    """Read a wide file and return one row per id and month."""
    wide = read_csv_text(file, decode(file).text)
    columns = [str(c).strip() for c in wide.columns]
    wide.columns = columns
    id_cols = id_columns_of(columns)
    if id_cols not in allowed:
        expected = " or ".join(", ".join(a) for a in allowed)
        raise RefusedFile(file.name, f"header must start {expected}, then months", row=1)
    if wide.empty:
        raise RefusedFile(file.name, "has a header but no data rows", row=2)
    months = month_columns(file, columns[len(id_cols) :], wide)
    wide = wide.fillna("")
    n_rows, n_months = len(wide), len(months)
    keys = np.array([int(m) for m in months])
    long = {
        "source_line": np.repeat(np.arange(n_rows) + 2, n_months),
        "source_column": np.tile(np.array(months, dtype=object), n_rows),
        "month_key": np.tile(keys, n_rows),
        "offences": wide[months].to_numpy(dtype=object).ravel(),
    }
    roles = {c: ROLE_OF_HEADER[c] for c in id_cols}
    for header, role in roles.items():
        long[role] = np.repeat(wide[header].to_numpy(dtype=object), n_months)
    frame = pd.DataFrame(long)
    frame["month"] = pd.to_datetime(frame["month_key"].astype(str), format="%Y%m").dt.date
    frame["major_category"] = canonical_text(frame["major_category"])
    frame["minor_category"] = canonical_text(frame["minor_category"])
    frame["offences"] = frame["offences"].str.strip()
    scheme = pick_scheme(frame["major_category"], frame["minor_category"], ctx.categories)
    frame["category_scheme"] = scheme
    frame["category_key"] = scheme + "|" + frame["major_category"] + "|" + frame["minor_category"]
    names = {role: header for header, role in roles.items()}
    names["category_key"] = f"{names['major_category']}/{names['minor_category']}"
    names["borough_code"] = names["borough_name"]
    return frame, names, n_rows


def attach_boroughs(frame: pd.DataFrame, ctx: ParseContext) -> pd.DataFrame:
    """Canonicalise borough names and add GSS codes; unknown names stay for validation."""
    lookup = ctx.borough_lookup
    published = frame.pop("borough_name").str.strip()
    names = pd.Series(published.unique())
    codes = {n: lookup.code_for(n) for n in names}
    kinds = {n: lookup.kind_for(n) for n in names}
    canonical = {n: lookup.canonical_name(codes[n]) if codes[n] else n for n in names}
    frame["borough_name_published"] = published
    frame["borough_code"] = published.map(codes)
    frame["borough_name"] = published.map(canonical)
    frame["is_borough"] = published.map(kinds).eq("borough")
    return frame


def vintage_of(frame: pd.DataFrame) -> str:
    """A publication's vintage: the last month it covers, as YYYY-MM."""
    last = int(frame["month_key"].max())
    return f"{last // 100:04d}-{last % 100:02d}"


def parse_borough(file: InputFile, ctx: ParseContext) -> Parsed:
    """Parse a borough-level crime file (any header generation)."""
    frame, columns, n_rows = melt_wide(file, ctx, tuple(BOROUGH_GENERATIONS))
    frame = attach_boroughs(frame, ctx)
    return Parsed(frame[BOROUGH_COLUMNS], vintage_of(frame), n_rows, columns)


def parse_ward(file: InputFile, ctx: ParseContext) -> Parsed:
    """Parse a ward-level crime file.

    A ward published under a pseudo-borough ("Aviation Security (SO18)") takes its borough from
    its ward code. An unknown borough name keeps its published spelling so that validation
    refuses it, even when the ward code alone would say which borough it is.
    """
    frame, columns, n_rows = melt_wide(file, ctx, (WARD_HEADER,))
    frame["ward_code"] = frame["ward_code"].str.strip()
    frame["ward_name"] = frame["ward_name"].str.strip()
    frame = attach_boroughs(frame, ctx)
    lookup = ctx.borough_lookup
    from_ward = frame["ward_code"].map(ctx.ward_boroughs)
    missing = frame["borough_code"].isna()
    frame.loc[missing, "borough_code"] = from_ward[missing]
    kinds = frame["borough_name_published"].map(
        {n: lookup.kind_for(n) for n in frame["borough_name_published"].unique()}
    )
    pseudo = missing & kinds.eq("pseudo") & from_ward.notna()
    frame.loc[pseudo, "borough_name"] = from_ward[pseudo].map(lookup.canonical_name)
    frame["is_borough"] = frame["borough_code"].notna()
    return Parsed(frame[WARD_COLUMNS], vintage_of(frame), n_rows, columns)


BOROUGH_COLUMNS = [
    "month",
    "month_key",
    "borough_name_published",
    "borough_name",
    "borough_code",
    "is_borough",
    "major_category",
    "minor_category",
    "category_scheme",
    "offences",
    "category_key",
    "source_line",
    "source_column",
]
WARD_COLUMNS = [
    "month",
    "month_key",
    "ward_code",
    "ward_name",
    "borough_name_published",
    "borough_name",
    "borough_code",
    "is_borough",
    "major_category",
    "minor_category",
    "category_scheme",
    "offences",
    "category_key",
    "source_line",
    "source_column",
]

BOROUGH_CRIME = Source(
    id="lds_borough_crime",
    label="MPS Borough Level Crime (London Datastore)",
    table="lds_borough_crime",
    suite="stg_lds_borough_crime",
    matches=matches_borough,
    parse=parse_borough,
    publisher="Metropolitan Police Service, via the London Datastore",
)
WARD_CRIME = Source(
    id="lds_ward_crime",
    label="MPS Ward Level Crime (London Datastore)",
    table="lds_ward_crime",
    suite="stg_lds_ward_crime",
    matches=matches_ward,
    parse=parse_ward,
    publisher="Metropolitan Police Service, via the London Datastore",
)
