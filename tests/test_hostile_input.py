"""Hostile input, property-based: random mutations of real published files meet the loader.

Small cuts of four real files (a Datastore 24-month borough file, the PAS borough sheet, a
police.uk stop-and-search month and the homicide file) are mutated by Hypothesis: bytes
flipped, inserted, deleted or replaced by NUL; the file truncated anywhere; lines duplicated or
dropped; columns swapped (with their headers, or the values only); a cell replaced by random
text, a number, nothing or something huge; the text re-encoded (latin-1, cp1252, UTF-16, UTF-32,
with and without BOMs); line endings changed or mixed. Each mutant is loaded with
``pipelines.build.load_paths`` into a copy of a warehouse that already holds one good file.
Whatever the mutant, the loader either

- refuses it, naming the file, and leaves the live warehouse byte-for-byte as it was; or
- loads it, publishing marts that passed their suites, with the rows and totals an independent
  reading of the mutant (the csv module) gives.

Any other exception fails. Examples are derandomised, so every run tries the same mutants.
Named mutants pin each attack family, and the crashes found here that the loader does not yet
crashed the loader until it was fixed are kept as regular cases (``KNOWN_CRASHES``).
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

import pipelines.build as build
from pipelines.errors import PipelineError
from tests.conftest import TODAY, sha256_of

pytestmark = pytest.mark.realdata

DATASTORE_24 = "lds_borough_crime/MPS Borough Level Crime (most recent 24 months)__{}.csv"
BOROUGH_24 = DATASTORE_24.format("2024-01_to_2025-12")
BASE_FILE = DATASTORE_24.format("2017-01_to_2018-12")


@dataclass(frozen=True)
class Sample:
    """A real file cut to its first ``rows`` data rows, and the name it is loaded under."""

    path: str
    rows: int
    name: str
    marker: str  # a column name found only in the header row
    table: str  # the mart holding one row per loaded row, keyed by source_file_id
    total: tuple[str, str] | None = None  # (published column or "<months>", mart column)

    def cut(self, realdata: Path) -> bytes:
        data = (realdata / self.path).read_bytes()
        if self.path.endswith(".gz"):
            data = gzip.decompress(data)
        return b"".join(data.splitlines(keepends=True)[: self.rows + 1])


SAMPLES = {
    "borough_crime": Sample(
        BOROUGH_24, 50, "MPS Borough Level Crime (most recent 24 months).csv", "MajorText",
        "crime_borough_monthly", ("<months>", "offences"),
    ),
    "pas_borough": Sample(
        "mopac_pas/PAS_TandC_dashboard_Borough_sheet__to_Q3_23-24.csv", 100,
        "PAS_TandC_dashboard_Borough.csv", "Proportion", "pas_borough",
        ("Proportion", "proportion"),
    ),
    "stop_search": Sample(
        "police_uk/met_stop_and_search/2024-03-metropolitan-stop-and-search.csv.gz", 100,
        "2024-03-metropolitan-stop-and-search.csv", "Object of search", "stop_search",
    ),
    "homicide": Sample(
        "mps_homicide/Homicides_2003_2023.csv", 100, "Homicides_2003_2023.csv",
        "Count of Victims", "homicide_victims", ("Count of Victims", "victims"),
    ),
}  # fmt: skip


@pytest.fixture(scope="module")
def base(realdata: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse holding one good file (the 2017-18 borough file, cut to 50 rows)."""
    from oversight.settings import get_settings

    folder = tmp_path_factory.mktemp("hostile-base")
    good = folder / "good.csv"
    good.write_bytes(Sample(BASE_FILE, 50, "", "", "").cut(realdata))
    warehouse = folder / "oversight.duckdb"
    result = build.load_paths([good], get_settings().with_warehouse(warehouse).with_today(TODAY))
    assert result.published, [o.message for o in result.outcomes]
    return warehouse


@pytest.fixture(scope="module")
def originals(realdata: Path) -> dict[str, bytes]:
    return {kind: sample.cut(realdata) for kind, sample in SAMPLES.items()}


# --- mutations -----------------------------------------------------------------------------------
# A mutation is a tuple (kind, *parameters); positions are fractions of the length, so a
# mutation drawn once applies to any file. Text mutations run first, then the encoding, then the
# byte mutations on the encoded bytes.

fraction = st.floats(0, 1, allow_nan=False)
huge = st.tuples(st.sampled_from(["9", "x", "é", '"', "\u202e"]), st.sampled_from([400, 70_000]))
cell_values = st.one_of(
    st.text(max_size=12),
    st.integers(-(10**25), 10**25).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["", " ", "NULL", "N/A", "-", "1,000", "0x10", "1e3", "'; drop table x;--"]),
    huge.map(lambda pair: pair[0] * pair[1]),
)
text_mutation = st.one_of(
    st.tuples(st.just("duplicate_line"), fraction, fraction),
    st.tuples(st.just("drop_line"), fraction),
    st.tuples(st.sampled_from(["swap_columns", "swap_values"]), fraction, fraction),
    st.tuples(st.just("cell"), fraction, fraction, cell_values),
    st.tuples(st.just("line_endings"), st.sampled_from(["\n", "\r\n", "\r", "mixed"])),
)
other_encodings = st.sampled_from(
    ["utf-8-sig", "latin-1", "cp1252", "utf-16", "utf-16-le", "utf-16-be", "utf-32"]
)
byte_mutation = st.one_of(
    st.tuples(st.just("flip"), fraction, st.integers(0, 255)),
    st.tuples(st.just("insert"), fraction, st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("delete"), fraction, st.integers(1, 64)),
    st.tuples(st.just("truncate"), fraction),
    st.tuples(st.just("nul"), fraction),
)


@dataclass(frozen=True)
class Plan:
    text: tuple[tuple, ...]
    encoding: str
    bytes: tuple[tuple, ...]


def mutations(strategy: st.SearchStrategy, least: int, most: int) -> st.SearchStrategy:
    return st.lists(strategy, min_size=least, max_size=most).map(tuple)


# Every plan changes something: edits to the text, a new encoding, or damaged bytes.
plans = st.one_of(
    st.builds(
        Plan,
        mutations(text_mutation, 1, 3),
        st.just("utf-8") | other_encodings,
        mutations(byte_mutation, 0, 1),
    ),
    st.builds(Plan, mutations(text_mutation, 0, 1), other_encodings, st.just(())),
    st.builds(Plan, st.just(()), st.just("utf-8"), mutations(byte_mutation, 1, 2)),
)


def at(fraction_: float, length: int) -> int:
    """A position in ``range(length)`` (0 when empty)."""
    return min(int(fraction_ * length), max(length - 1, 0))


def eol_of(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def parse_table(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def write_table(rows: list[list[str]], eol: str) -> str:
    out = io.StringIO(newline="")
    csv.writer(out, lineterminator=eol).writerows(rows)
    return out.getvalue()


def apply_text(text: str, mutation: tuple) -> str:
    kind, *args = mutation
    eol = eol_of(text)
    if kind in ("duplicate_line", "drop_line"):
        lines = text.splitlines(keepends=True)
        if not lines:
            return text
        i = at(args[0], len(lines))
        if kind == "drop_line":
            return "".join(lines[:i] + lines[i + 1 :])
        j = at(args[1], len(lines) + 1)
        line = lines[i] if lines[i].endswith(("\n", "\r")) else lines[i] + eol
        return "".join(lines[:j] + [line] + lines[j:])
    if kind == "line_endings":
        lines = text.splitlines()
        if args[0] != "mixed":
            return args[0].join(lines) + args[0]
        return "".join(line + ("\r\n" if n % 2 else "\n") for n, line in enumerate(lines))
    rows = parse_table(text)
    width = max((len(r) for r in rows), default=0)
    if not rows or not width:
        return text
    if kind in ("swap_columns", "swap_values"):  # with their headers, or the values only
        a, b = at(args[0], width), at(args[1], width)
        for row in rows if kind == "swap_columns" else rows[1:]:
            if max(a, b) < len(row):
                row[a], row[b] = row[b], row[a]
    elif kind == "cell":
        row = rows[at(args[0], len(rows))]
        if row:
            row[at(args[1], len(row))] = args[2]
    return write_table(rows, eol)


def encode(text: str, encoding: str) -> bytes:
    return text.encode(encoding, errors="replace")


def apply_bytes(data: bytes, mutation: tuple) -> bytes:
    kind, *args = mutation
    i = at(args[0], len(data) + 1)
    if kind == "flip":
        return data[:i] + bytes([args[1]]) + data[i + 1 :]
    if kind == "insert":
        return data[:i] + args[1] + data[i:]
    if kind == "delete":
        return data[:i] + data[i + args[1] :]
    if kind == "truncate":
        return data[:i]
    return data[:i] + b"\x00" + data[i:]  # nul


def mutate(original: bytes, plan: Plan) -> bytes:
    text = original.decode("utf-8")
    for mutation in plan.text:
        text = apply_text(text, mutation)
    data = encode(text, plan.encoding)
    for mutation in plan.bytes:
        data = apply_bytes(data, mutation)
    return data


# --- an independent reading of what was loaded ---------------------------------------------------


def decode_like_a_spreadsheet(data: bytes) -> str:
    """UTF-8 (BOM or not), else cp1252, else latin-1: how the published files are written."""
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1")


@dataclass(frozen=True)
class Reading:
    records: int  # data records (non-blank, after the header)
    rows: int  # rows the mart should hold: records, times months for a wide file
    total: float | None


def whole_number(cell: str, where: str) -> int:
    text = cell.strip()
    assert text.isdigit(), f"the loader accepted {cell!r} as a count ({where})"
    return int(text)


def read_independently(data: bytes, sample: Sample) -> Reading:
    table = [r for r in parse_table(decode_like_a_spreadsheet(data)) if any(c.strip() for c in r)]
    # A workbook saved as CSV may carry title rows above its header; the loader skips them.
    start = next(n for n, r in enumerate(table) if sample.marker in (c.strip() for c in r))
    header, records = [c.strip() for c in table[start]], table[start + 1 :]
    if sample.total is None:
        return Reading(len(records), len(records), None)
    published, _ = sample.total
    if published == "<months>":
        months = [i for i, h in enumerate(header) if len(h) == 6 and h.isdigit()]
        total = sum(whole_number(r[i], f"line {n}") for n, r in enumerate(records) for i in months)
        return Reading(len(records), len(records) * len(months), total)
    column = header.index(published)
    if published == "Count of Victims":
        total = sum(whole_number(r[column], f"record {n}") for n, r in enumerate(records))
    else:
        total = math.fsum(float(r[column]) for r in records)
    return Reading(len(records), len(records), total)


# --- the property --------------------------------------------------------------------------------


def check_load(
    base: Path, kind: str, data: bytes, inspect: Callable[[Path], None] | None = None
) -> str:
    """Load one mutant into a copy of ``base``; assert the property; return what happened.

    ``inspect`` is called with the published warehouse after a clean load.
    """
    from oversight.settings import get_settings

    sample = SAMPLES[kind]
    with tempfile.TemporaryDirectory(prefix="hostile-") as tmp:
        folder = Path(tmp)
        live = folder / "oversight.duckdb"
        shutil.copyfile(base, live)
        mutant = folder / "in" / sample.name
        mutant.parent.mkdir()
        mutant.write_bytes(data)
        before = sha256_of(live)
        settings_ = get_settings().with_warehouse(live).with_today(TODAY)
        try:
            result = build.load_paths([mutant], settings_)
        except PipelineError as exc:  # a mart suite failed after staging
            message = str(exc)
        else:
            message = None
        if message is not None:
            assert sha256_of(live) == before
            assert sample.name in message, f"the refusal does not name the file: {message}"
            return "refused (marts)"
        if not result.published:
            assert sha256_of(live) == before
            assert result.refused, result.outcomes
            for outcome in result.refused:
                assert str(mutant) in outcome.message, outcome.message
                assert outcome.message.startswith("Refused file"), outcome.message
            assert any((folder / "quarantine").glob("*.txt"))
            return "refused"
        check_clean_load(live, sample, data)
        if inspect is not None:
            inspect(live)
        return "loaded"


def check_clean_load(live: Path, sample: Sample, data: bytes) -> None:
    """The mutant's rows and totals in the published marts are those of the file itself."""
    import hashlib

    reading = read_independently(data, sample)
    file_id = hashlib.sha256(data).hexdigest()[:16]
    with duckdb.connect(str(live), read_only=True) as con:
        loads = con.execute(
            "select rows, published_rows, status from marts.loads where source_file_id = ?",
            [file_id],
        ).fetchall()
        assert loads, "the published warehouse does not record the file"
        rows, published_rows, status = loads[0]
        assert status == "loaded"
        assert published_rows == reading.records
        assert rows == reading.rows
        column = sample.total[1] if sample.total else "1"
        mart_rows, mart_total = con.execute(
            f"select count(*), sum({column}) from marts.{sample.table} where source_file_id = ?",
            [file_id],
        ).fetchall()[0]
        versions = con.execute("select count(*) from meta.warehouse").fetchall()[0][0]
    assert versions == 2  # the base load and this one
    assert mart_rows == reading.rows
    if reading.total is not None:
        assert math.isclose(float(mart_total), reading.total, rel_tol=1e-9, abs_tol=1e-6)


HYPOTHESIS = settings(
    derandomize=True,
    max_examples=30,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.parametrize("kind", list(SAMPLES))
@HYPOTHESIS
@given(plan=plans)
def test_mutated_file_is_loaded_exactly_or_refused_cleanly(base, originals, kind, plan) -> None:
    event(check_load(base, kind, mutate(originals[kind], plan)))


def test_the_unmutated_cuts_load(base, originals) -> None:
    # The yardstick itself: every cut loads, with its rows and totals read independently.
    for kind in SAMPLES:
        assert check_load(base, kind, originals[kind]) == "loaded", kind


def planned(*text: tuple, encoding: str = "utf-8", edits: tuple = ()) -> Callable[[bytes], bytes]:
    return lambda original: mutate(original, Plan(tuple(text), encoding, edits))


# Named mutants, one or more per attack family, that must be refused whatever Hypothesis draws.
REFUSED: list[tuple[str, str, Callable[[bytes], bytes]]] = [
    ("utf16_bom", "homicide", planned(encoding="utf-16")),
    ("utf16_no_bom", "stop_search", planned(encoding="utf-16-le")),
    ("utf32", "pas_borough", planned(encoding="utf-32")),
    ("nul_in_a_row", "borough_crime", planned(edits=(("nul", 0.5),))),
    ("flipped_byte_in_a_count", "borough_crime", planned(edits=(("flip", 0.999, ord("x")),))),
    ("truncated_mid_row", "borough_crime", planned(edits=(("truncate", 0.5),))),
    ("text_count", "homicide", planned(("cell", 0.5, 0.0, "one"))),
    ("negative_count", "borough_crime", planned(("cell", 0.5, 0.9, "-3"))),
    ("empty_borough", "borough_crime", planned(("cell", 0.5, 0.1, ""))),
    ("proportion_with_a_comma", "pas_borough", planned(("cell", 0.5, 0.45, "0,56"))),
    ("proportion_over_one", "pas_borough", planned(("cell", 0.5, 0.45, "56"))),
    ("sql_in_a_category", "borough_crime", planned(("cell", 0.5, 0.0, "'; drop table x;--"))),
    ("huge_text_cell", "homicide", planned(("cell", 0.5, 0.3, "x" * 70_000))),
    ("duplicated_row", "pas_borough", planned(("duplicate_line", 0.5, 0.9))),
    ("swapped_values_not_headers", "homicide", planned(("swap_values", 0.2, 0.85))),
    ("swapped_month_values", "borough_crime", planned(("swap_values", 0.05, 0.5))),
    ("header_only", "homicide", lambda b: b.splitlines(keepends=True)[0]),
    ("empty", "stop_search", lambda b: b""),
]

# Awkward but harmless changes: these must load, with exactly the mutant's rows and totals.
LOADED: list[tuple[str, str, Callable[[bytes], bytes]]] = [
    ("swapped_month_columns", "borough_crime", planned(("swap_columns", 0.2, 0.3))),
    ("swapped_text_columns", "homicide", planned(("swap_columns", 0.2, 0.85))),
    ("crlf_to_lf", "borough_crime", planned(("line_endings", "\n"))),
    ("lf_to_crlf", "stop_search", planned(("line_endings", "\r\n"))),
    ("mixed_line_endings", "pas_borough", planned(("line_endings", "mixed"))),
    ("utf8_bom", "homicide", planned(encoding="utf-8-sig")),
    ("dropped_row", "homicide", planned(("drop_line", 0.5))),
    ("changed_count", "borough_crime", planned(("cell", 0.5, 0.9, "12345"))),
]

# Found by this module and not yet fixed in the loader: each crashes instead of a clean
# refusal or load. Strict, so fixing the loader turns them into failures that ask for the
# marker to go.
# Mutants that once crashed the loader (the exception and where), now refused or loaded.
KNOWN_CRASHES: list[tuple[str, str, Callable[[bytes], bytes], type, str]] = [
    (
        "cr_only_line_endings", "stop_search", planned(("line_endings", "\r")), csv.Error,
        "police_uk.read_published splits the header off at '\\n' only",
    ),
    (
        "count_beyond_int32", "borough_crime", planned(("cell", 0.5, 0.9, "9" * 400)),
        duckdb.ConversionException,
        "the staged suite accepts any whole number; the mart cast to INTEGER then fails",
    ),
    (
        "victims_beyond_int32", "homicide", planned(("cell", 0.5, 0.0, "9" * 30)),
        duckdb.ConversionException,
        "the staged suite accepts any whole number; the mart cast to INTEGER then fails",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "make"), [pytest.param(k, m, id=n) for n, k, m in REFUSED])
def test_named_hostile_mutants_are_refused(base, originals, kind, make) -> None:
    assert check_load(base, kind, make(originals[kind])) == "refused"


@pytest.mark.parametrize(("kind", "make"), [pytest.param(k, m, id=n) for n, k, m in LOADED])
def test_named_harmless_mutants_load_exactly(base, originals, kind, make) -> None:
    assert check_load(base, kind, make(originals[kind])) == "loaded"


@pytest.mark.parametrize(
    ("kind", "make"),
    [pytest.param(k, m, id=n) for n, k, m, _e, _r in KNOWN_CRASHES],
)
def test_known_crashes_are_refused_or_loaded(base, originals, kind, make) -> None:
    assert check_load(base, kind, make(originals[kind])) in ("refused", "loaded")


def test_windows_1252_text_loads_intact(base, originals) -> None:
    # A free-text column with accents, saved by a spreadsheet as Windows-1252: decoded, not
    # mangled. The policing operation column is published free text.
    operation = "Opération Café – Saint-Gilles"
    data = planned(("cell", 0.5, 3 / 15, operation), encoding="cp1252")(originals["stop_search"])
    assert operation.encode("cp1252") in data
    found: list[tuple] = []

    def operations(live: Path) -> None:
        with duckdb.connect(str(live), read_only=True) as con:
            found.extend(
                con.execute(
                    "select distinct operation_name from marts.stop_search "
                    "where coalesce(operation_name, '') <> ''"
                ).fetchall()
            )

    assert check_load(base, "stop_search", data, operations) == "loaded"
    assert found == [(operation,)]
