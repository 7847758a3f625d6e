"""Police and Crime Plans and series breaks, read from config/ as checked, frozen dataclasses.

A plan (config/plans/<id>.yaml) lists priorities and their measures; each measure names the mart
and filter it is read from. Loading rejects unknown or missing keys, wrong types, duplicate
measure ids, unknown directions, marts that do not exist (pipelines/sql/marts/*.sql, read as
data) and filter columns or values the mart does not have (config/dictionary.yaml,
config/categories.yaml, config/pas_measures.yaml). Every error names the file and the key path.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from oversight.settings import get_settings

logger = logging.getLogger(__name__)

DIRECTIONS = ("higher_is_better", "lower_is_better", "context")
UNITS = ("count", "proportion", "rate_per_1000")
GEOGRAPHIES = ("london", "borough")
TARGET_TYPES = ("absolute", "percent_vs_baseline")
TOLERANCE_TYPES = ("relative", "absolute")
BREAK_KINDS = ("recording_system", "category_scheme")
MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

PLAN_KEYS = {"id", "title", "period", "publisher", "url", "priorities"}
PLAN_REQUIRED = {"id", "title", "period", "priorities"}
PRIORITY_KEYS = {"id", "title", "measures"}
MEASURE_KEYS = {
    "id",
    "label",
    "description",
    "unit",
    "direction",
    "source",
    "geographies",
    "baseline",
    "target",
    "tolerance",
    "small_count",
    "caveats",
    "proxy",
    "proxy_for",
}
MEASURE_REQUIRED = {
    "id",
    "label",
    "description",
    "unit",
    "direction",
    "source",
    "geographies",
    "baseline",
    "tolerance",
    "small_count",
}
SOURCE_KEYS = {"mart", "filter"}
PERIOD_KEYS = {"start", "end"}
TARGET_KEYS = {"type", "value", "by"}
TOLERANCE_KEYS = {"type", "value"}
BREAK_KEYS = {
    "id",
    "label",
    "kind",
    "date",
    "marts",
    "measures",
    "note",
    "source",
    "evidence",
    "from_scheme",
    "to_scheme",
    "overlap",
    "mapping",
}
BREAK_REQUIRED = {"id", "label", "kind", "date", "marts", "note", "source"}
EVIDENCE_KEYS = {"series", "month", "ratio", "lower", "upper", "p_value", "checked", "vintage"}
EVIDENCE_REQUIRED = EVIDENCE_KEYS
# How far a break's date may sit from the month the step detector found (oversight/steps.py).
EVIDENCE_TOLERANCE_MONTHS = 1
MAPPING_KEYS = {"old", "new", "exact", "note"}
MAPPING_REQUIRED = {"old", "new", "exact"}

FilterValue = str | int | bool


class PlanError(ValueError):
    """A plan or breaks file is not in the expected shape."""


@dataclass(frozen=True)
class Period:
    """A span of whole months, both ends inclusive (YYYY-MM)."""

    start: str
    end: str

    def contains(self, month: str) -> bool:
        return self.start <= month <= self.end


@dataclass(frozen=True)
class Source:
    """Where a measure is read from: a mart and equality (or membership) filters on its columns."""

    mart: str
    filter: tuple[tuple[str, tuple[FilterValue, ...]], ...] = ()

    def filters(self) -> dict[str, tuple[FilterValue, ...]]:
        """The filter as column -> allowed values."""
        return dict(self.filter)


@dataclass(frozen=True)
class Target:
    """An absolute level, or a percentage change against the baseline, to reach by a month."""

    type: str
    value: float
    by: str | None = None


@dataclass(frozen=True)
class Tolerance:
    """The smallest difference that matters: relative (0.05 = 5%) or in the measure's unit."""

    type: str
    value: float


@dataclass(frozen=True)
class Measure:
    """One measure of a plan."""

    id: str
    label: str
    description: str
    unit: str
    direction: str
    source: Source
    geographies: tuple[str, ...]
    baseline: Period
    tolerance: Tolerance
    small_count: int
    target: Target | None = None
    caveats: tuple[str, ...] = ()
    proxy: bool = False
    proxy_for: str = ""


@dataclass(frozen=True)
class Priority:
    """A priority (objective) of a plan and its measures."""

    id: str
    title: str
    measures: tuple[Measure, ...]


@dataclass(frozen=True)
class Plan:
    """A Police and Crime Plan."""

    id: str
    title: str
    period: Period
    priorities: tuple[Priority, ...]
    publisher: str = ""
    url: str = ""

    @property
    def measures(self) -> tuple[Measure, ...]:
        return tuple(m for p in self.priorities for m in p.measures)

    def measure(self, measure_id: str) -> Measure:
        """The measure with this id; KeyError if the plan has none."""
        for measure in self.measures:
            if measure.id == measure_id:
                return measure
        raise KeyError(f"plan {self.id} has no measure {measure_id!r}")


@dataclass(frozen=True)
class CategoryMapping:
    """An old-scheme major category and the new-scheme majors its offences now fall under."""

    old: str
    new: tuple[str, ...]
    exact: bool
    note: str = ""


@dataclass(frozen=True)
class Evidence:
    """The level step the detector found where a break is dated from the data."""

    series: str
    month: str
    ratio: float
    lower: float
    upper: float
    p_value: float
    checked: str
    vintage: str


@dataclass(frozen=True)
class Break:
    """A series break: no comparison spans its date for the marts and measures it affects."""

    id: str
    label: str
    kind: str
    date: str
    marts: tuple[str, ...]
    note: str
    measures: tuple[str, ...] = ()
    source: str = ""
    evidence: Evidence | None = None
    from_scheme: str = ""
    to_scheme: str = ""
    overlap: Period | None = None
    mapping: tuple[CategoryMapping, ...] = ()

    def affects(self, measure: Measure) -> bool:
        """Whether the break applies to this measure (by its mart or by its id)."""
        return measure.source.mart in self.marts or measure.id in self.measures

    def within(self, period: Period) -> bool:
        """Whether the break falls strictly inside the period (so the period spans it)."""
        return period.start < self.date <= period.end

    def basis(self) -> str:
        """How the date was set, in a sentence: the detector's evidence, or the source."""
        found = self.evidence
        if found is None:
            return f"Dated from: {' '.join(self.source.split())}"
        series = found.series.split(":")[0].strip()
        p_value = "p ≤ 0.001" if found.p_value <= 0.001 else f"p = {found.p_value:.3f}"
        return (
            f"Dated from the data: a level step in {series} from {found.month}, the new level "
            f"{found.ratio:.2f} times the old (95% CI {found.lower:.2f} to {found.upper:.2f}; "
            f"{p_value} over every month scanned), checked {found.checked} on the publication "
            f"to {found.vintage}"
        )


@dataclass(frozen=True)
class Vocabulary:
    """What sources may name: marts and their columns, and the known values of some columns."""

    columns: dict[str, frozenset[str]]
    schemes: dict[str, dict[str, tuple[str, ...]]]
    pas_measures: frozenset[str]


class Checker:
    """Type and key checks that name the file and key path in every error."""

    def __init__(self, label: str) -> None:
        self.label = label

    def fail(self, where: str, message: str) -> PlanError:
        return PlanError(
            f"{self.label}: {where}: {message}" if where else f"{self.label}: {message}"
        )

    def mapping(self, where: str, value: Any, allowed: set[str], required: set[str]) -> dict:
        if not isinstance(value, dict):
            raise self.fail(where, f"expected a mapping, got {type(value).__name__}")
        unknown = sorted(str(k) for k in set(value) - allowed)
        if unknown:
            raise self.fail(join(where, unknown[0]), f"unknown key (allowed: {sorted(allowed)})")
        missing = sorted(required - set(value))
        if missing:
            raise self.fail(join(where, missing[0]), "missing required key")
        return value

    def text(self, where: str, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, f"expected non-empty text, got {value!r}")
        return value.strip()

    def choice(self, where: str, value: Any, choices: Iterable[str]) -> str:
        choices = tuple(choices)
        if value not in choices:
            raise self.fail(where, f"must be one of {', '.join(choices)}, got {value!r}")
        return value

    def number(self, where: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(where, f"expected a number, got {value!r}")
        return float(value)

    def count(self, where: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.fail(where, f"expected a whole number >= 0, got {value!r}")
        return value

    def flag(self, where: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.fail(where, f"expected true or false, got {value!r}")
        return value

    def month(self, where: str, value: Any) -> str:
        if not isinstance(value, str) or not MONTH.match(value):
            raise self.fail(where, f"expected a month as 'YYYY-MM', got {value!r}")
        return value

    def texts(self, where: str, value: Any) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise self.fail(where, f"expected a list, got {type(value).__name__}")
        return tuple(self.text(f"{where}[{i}]", v) for i, v in enumerate(value))

    def period(self, where: str, value: Any) -> Period:
        entry = self.mapping(where, value, PERIOD_KEYS, PERIOD_KEYS)
        period = Period(
            self.month(join(where, "start"), entry["start"]),
            self.month(join(where, "end"), entry["end"]),
        )
        if period.start > period.end:
            raise self.fail(where, f"start {period.start} is after end {period.end}")
        return period


def join(where: str, key: str) -> str:
    """A key path: ``a.b`` (or ``b`` at the top)."""
    return f"{where}.{key}" if where else key


# libyaml's loader where PyYAML was built with it: the same safe subset, about ten times faster.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# The config files a plan is checked against (besides the marts' SQL files).
VOCABULARY_FILES = ("dictionary.yaml", "categories.yaml", "pas_measures.yaml")


def read_yaml(path: Path, label: str) -> Any:
    """A YAML file's content, with a parse error naming the file."""
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)
    except FileNotFoundError as exc:
        raise PlanError(f"{label}: file not found") from exc
    except yaml.YAMLError as exc:
        raise PlanError(f"{label}: not valid YAML ({exc})") from exc


def label_of(path: Path, root: Path) -> str:
    """The path relative to the project root where it is inside it."""
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)


def project_root(root: Path | None) -> Path:
    return (root or get_settings().root).resolve()


def list_marts(root: Path | None = None) -> tuple[str, ...]:
    """The marts the pipeline builds: the stems of pipelines/sql/marts/*.sql."""
    folder = project_root(root) / "pipelines" / "sql" / "marts"
    return tuple(sorted(p.stem for p in folder.glob("*.sql")))


def load_vocabulary(root: Path | None = None) -> Vocabulary:
    """Marts with their dictionary columns, category schemes and PAS measure ids."""
    root = project_root(root)
    config = root / "config"
    dictionary = read_yaml(config / "dictionary.yaml", "config/dictionary.yaml")["marts"]
    columns = {
        mart: frozenset((dictionary.get(mart) or {}).get("columns") or {})
        for mart in list_marts(root)
    }
    categories = read_yaml(config / "categories.yaml", "config/categories.yaml")["schemes"]
    schemes = {
        name: {major: tuple(minors) for major, minors in scheme["majors"].items()}
        for name, scheme in categories.items()
    }
    pas = read_yaml(config / "pas_measures.yaml", "config/pas_measures.yaml")["measures"]
    return Vocabulary(columns, schemes, frozenset(m["id"] for m in pas))


def known_values(
    mart: str, column: str, filters: dict[str, tuple[FilterValue, ...]], vocab: Vocabulary
) -> frozenset[FilterValue] | None:
    """The values a filter column may take, where config lists them; None where it does not."""
    schemes = [vocab.schemes[s] for s in filters.get("category_scheme", ()) if s in vocab.schemes]
    schemes = schemes or list(vocab.schemes.values())
    if column == "category_scheme":
        return frozenset(vocab.schemes)
    if column == "major_category":
        return frozenset(major for scheme in schemes for major in scheme)
    if column == "minor_category":
        return frozenset(m for scheme in schemes for minors in scheme.values() for m in minors)
    if column == "measure_id" and mart.startswith("pas_"):
        return vocab.pas_measures
    return None


def read_filter(
    check: Checker, where: str, mart: str, value: Any, vocab: Vocabulary
) -> tuple[tuple[str, tuple[FilterValue, ...]], ...]:
    """A source filter: each column must be the mart's, each value a scalar or list of them."""
    if not isinstance(value, dict) or not value:
        raise check.fail(where, "expected a non-empty mapping of column: value(s)")
    filters: dict[str, tuple[FilterValue, ...]] = {}
    for column, raw in value.items():
        at = join(where, str(column))
        if column not in vocab.columns[mart]:
            raise check.fail(at, f"mart {mart} has no column {column!r} in config/dictionary.yaml")
        values = raw if isinstance(raw, list) else [raw]
        if not values or not all(isinstance(v, str | int | bool) for v in values):
            raise check.fail(at, f"expected a value or a non-empty list of values, got {raw!r}")
        filters[column] = tuple(values)
    for column, values in filters.items():
        allowed = known_values(mart, column, filters, vocab)
        unknown = [v for v in values if allowed is not None and v not in allowed]
        if unknown:
            raise check.fail(join(where, column), f"unknown value(s) {unknown} for {mart}")
    return tuple(filters.items())


def read_source(check: Checker, where: str, value: Any, vocab: Vocabulary) -> Source:
    entry = check.mapping(where, value, SOURCE_KEYS, {"mart"})
    mart = check.text(join(where, "mart"), entry["mart"])
    if mart not in vocab.columns:
        raise check.fail(
            join(where, "mart"), f"no mart {mart!r} (known: {', '.join(sorted(vocab.columns))})"
        )
    if "filter" not in entry:
        return Source(mart)
    return Source(mart, read_filter(check, join(where, "filter"), mart, entry["filter"], vocab))


def read_target(check: Checker, where: str, value: Any) -> Target:
    entry = check.mapping(where, value, TARGET_KEYS, {"type", "value"})
    by = check.month(join(where, "by"), entry["by"]) if "by" in entry else None
    return Target(
        check.choice(join(where, "type"), entry["type"], TARGET_TYPES),
        check.number(join(where, "value"), entry["value"]),
        by,
    )


def read_tolerance(check: Checker, where: str, value: Any) -> Tolerance:
    entry = check.mapping(where, value, TOLERANCE_KEYS, TOLERANCE_KEYS)
    amount = check.number(join(where, "value"), entry["value"])
    if amount < 0:
        raise check.fail(join(where, "value"), f"must be >= 0, got {amount}")
    return Tolerance(check.choice(join(where, "type"), entry["type"], TOLERANCE_TYPES), amount)


def read_geographies(check: Checker, where: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise check.fail(where, f"expected a non-empty list of {', '.join(GEOGRAPHIES)}")
    return tuple(check.choice(f"{where}[{i}]", v, GEOGRAPHIES) for i, v in enumerate(value))


def read_proxy(check: Checker, where: str, entry: dict) -> tuple[bool, str]:
    """A proxy must say what it stands in for; only a proxy may."""
    proxy = check.flag(join(where, "proxy"), entry.get("proxy", False))
    if proxy and "proxy_for" not in entry:
        raise check.fail(join(where, "proxy_for"), "required when proxy is true")
    if not proxy and "proxy_for" in entry:
        raise check.fail(join(where, "proxy_for"), "only allowed when proxy is true")
    return proxy, check.text(join(where, "proxy_for"), entry["proxy_for"]) if proxy else ""


def read_measure(check: Checker, where: str, value: Any, vocab: Vocabulary) -> Measure:
    entry = check.mapping(where, value, MEASURE_KEYS, MEASURE_REQUIRED)
    proxy, proxy_for = read_proxy(check, where, entry)
    target = entry.get("target")
    return Measure(
        id=check.text(join(where, "id"), entry["id"]),
        label=check.text(join(where, "label"), entry["label"]),
        description=check.text(join(where, "description"), entry["description"]),
        unit=check.choice(join(where, "unit"), entry["unit"], UNITS),
        direction=check.choice(join(where, "direction"), entry["direction"], DIRECTIONS),
        source=read_source(check, join(where, "source"), entry["source"], vocab),
        geographies=read_geographies(check, join(where, "geographies"), entry["geographies"]),
        baseline=check.period(join(where, "baseline"), entry["baseline"]),
        tolerance=read_tolerance(check, join(where, "tolerance"), entry["tolerance"]),
        small_count=check.count(join(where, "small_count"), entry["small_count"]),
        target=None if target is None else read_target(check, join(where, "target"), target),
        caveats=check.texts(join(where, "caveats"), entry.get("caveats", [])),
        proxy=proxy,
        proxy_for=proxy_for,
    )


def read_priority(check: Checker, where: str, value: Any, vocab: Vocabulary) -> Priority:
    entry = check.mapping(where, value, PRIORITY_KEYS, PRIORITY_KEYS)
    measures = entry["measures"]
    if not isinstance(measures, list) or not measures:
        raise check.fail(join(where, "measures"), "expected a non-empty list of measures")
    return Priority(
        id=check.text(join(where, "id"), entry["id"]),
        title=check.text(join(where, "title"), entry["title"]),
        measures=tuple(
            read_measure(check, f"{where}.measures[{i}]", m, vocab) for i, m in enumerate(measures)
        ),
    )


def check_unique_ids(check: Checker, plan: Plan) -> None:
    """Refuse two priorities, or two measures, with one id."""
    seen: dict[str, str] = {}
    for p, priority in enumerate(plan.priorities):
        for m, measure in enumerate(priority.measures):
            where = f"priorities[{p}].measures[{m}].id"
            if measure.id in seen:
                raise check.fail(
                    where, f"duplicate measure id {measure.id!r} (first at {seen[measure.id]})"
                )
            seen[measure.id] = where
    ids = [p.id for p in plan.priorities]
    for p, priority_id in enumerate(ids):
        if ids.index(priority_id) != p:
            raise check.fail(f"priorities[{p}].id", f"duplicate priority id {priority_id!r}")


def read_plan(path: Path, root: Path | None = None) -> Plan:
    """Read and check one plan file."""
    root = project_root(root)
    check = Checker(label_of(path, root))
    vocab = load_vocabulary(root)
    entry = check.mapping("", read_yaml(path, check.label), PLAN_KEYS, PLAN_REQUIRED)
    priorities = entry["priorities"]
    if not isinstance(priorities, list) or not priorities:
        raise check.fail("priorities", "expected a non-empty list of priorities")
    plan = Plan(
        id=check.text("id", entry["id"]),
        title=check.text("title", entry["title"]),
        period=check.period("period", entry["period"]),
        priorities=tuple(
            read_priority(check, f"priorities[{i}]", p, vocab) for i, p in enumerate(priorities)
        ),
        publisher=check.text("publisher", entry["publisher"]) if "publisher" in entry else "",
        url=check.text("url", entry["url"]) if "url" in entry else "",
    )
    if plan.id != path.stem:
        raise check.fail("id", f"must match the file name {path.stem!r}, got {plan.id!r}")
    check_unique_ids(check, plan)
    logger.info("read plan %s: %d measures", plan.id, len(plan.measures))
    return plan


def plans_dir(root: Path | None = None) -> Path:
    return project_root(root) / "config" / "plans"


def list_plans(root: Path | None = None) -> tuple[str, ...]:
    """The ids of the configured plans (file stems of config/plans/*.yaml), in order."""
    return tuple(sorted(p.stem for p in plans_dir(root).glob("*.yaml")))


def stamp(path: Path) -> bytes:
    """A digest of a file's bytes (empty when it is missing): reading a few small files and
    hashing them takes well under a millisecond, and unlike a modification time it cannot miss
    an edit made within the clock's resolution."""
    try:
        return hashlib.blake2b(path.read_bytes(), digest_size=16).digest()
    except FileNotFoundError:
        return b""


# Checked plans by file, with the stamps of every file they were checked against. Pages ask
# for the plan on every rerun; reading and checking it again each time cost about a second.
_checked: dict[Path, tuple[tuple, Plan]] = {}


def load_plan(plan_id: str, root: Path | None = None) -> Plan:
    """The plan with this id, checked; read again only when it or its vocabulary changed."""
    root = project_root(root)
    path = plans_dir(root) / f"{plan_id}.yaml"
    if not path.is_file():
        known = ", ".join(list_plans(root)) or "none"
        raise PlanError(f"config/plans/{plan_id}.yaml: no such plan (known: {known})")
    key = (
        stamp(path),
        tuple(stamp(root / "config" / name) for name in VOCABULARY_FILES),
        list_marts(root),
    )
    cached = _checked.get(path)
    if cached is not None and cached[0] == key:
        return cached[1]
    plan = read_plan(path, root)
    _checked[path] = (key, plan)
    return plan


def read_mapping(
    check: Checker, where: str, value: Any, old: dict, new: dict
) -> tuple[CategoryMapping, ...]:
    """The old -> new major-category mapping; every name must be in its scheme."""
    if not isinstance(value, list) or not value:
        raise check.fail(where, "expected a non-empty list of mappings")
    mappings = []
    for i, raw in enumerate(value):
        at = f"{where}[{i}]"
        entry = check.mapping(at, raw, MAPPING_KEYS, MAPPING_REQUIRED)
        old_major = check.choice(join(at, "old"), entry["old"], old)
        new_majors = check.texts(join(at, "new"), entry["new"])
        for j, major in enumerate(new_majors):
            check.choice(f"{at}.new[{j}]", major, new)
        note = check.text(join(at, "note"), entry["note"]) if "note" in entry else ""
        mappings.append(
            CategoryMapping(
                old_major, new_majors, check.flag(join(at, "exact"), entry["exact"]), note
            )
        )
    return tuple(mappings)


def read_scheme_change(check: Checker, where: str, entry: dict, vocab: Vocabulary) -> dict:
    """The scheme-change fields of a category_scheme break."""
    for key in ("from_scheme", "to_scheme", "mapping"):
        if key not in entry:
            raise check.fail(join(where, key), "required for a category_scheme break")
    old = check.choice(join(where, "from_scheme"), entry["from_scheme"], vocab.schemes)
    new = check.choice(join(where, "to_scheme"), entry["to_scheme"], vocab.schemes)
    overlap = entry.get("overlap")
    return {
        "from_scheme": old,
        "to_scheme": new,
        "overlap": None if overlap is None else check.period(join(where, "overlap"), overlap),
        "mapping": read_mapping(
            check, join(where, "mapping"), entry["mapping"], vocab.schemes[old], vocab.schemes[new]
        ),
    }


def month_gap(first: str, second: str) -> int:
    """Whole months from one 'YYYY-MM' to another."""
    (y1, m1), (y2, m2) = (map(int, first.split("-")), map(int, second.split("-")))
    return (y2 - y1) * 12 + (m2 - m1)


def read_day(check: Checker, where: str, value: Any) -> str:
    """A date as 'YYYY-MM-DD' (YAML may already have read it as a date)."""
    text = value.isoformat() if isinstance(value, dt.date) else value
    try:
        return dt.date.fromisoformat(str(text)).isoformat()
    except ValueError as exc:
        raise check.fail(where, f"expected a date as 'YYYY-MM-DD', got {value!r}") from exc


def read_evidence(check: Checker, where: str, value: Any, date: str) -> Evidence:
    """The detector's evidence for a break: a step month near the date, a ratio in its CI."""
    entry = check.mapping(where, value, EVIDENCE_KEYS, EVIDENCE_REQUIRED)
    evidence = Evidence(
        series=check.text(join(where, "series"), entry["series"]),
        month=check.month(join(where, "month"), entry["month"]),
        ratio=check.number(join(where, "ratio"), entry["ratio"]),
        lower=check.number(join(where, "lower"), entry["lower"]),
        upper=check.number(join(where, "upper"), entry["upper"]),
        p_value=check.number(join(where, "p_value"), entry["p_value"]),
        checked=read_day(check, join(where, "checked"), entry["checked"]),
        vintage=check.month(join(where, "vintage"), str(entry["vintage"])),
    )
    if not 0 < evidence.lower <= evidence.ratio <= evidence.upper:
        raise check.fail(
            join(where, "ratio"),
            f"expected 0 < lower <= ratio <= upper, got {evidence.lower} <= {evidence.ratio} "
            f"<= {evidence.upper}",
        )
    if not 0 < evidence.p_value <= 1:
        raise check.fail(join(where, "p_value"), f"expected 0 < p <= 1, got {evidence.p_value}")
    gap = abs(month_gap(evidence.month, date))
    if gap > EVIDENCE_TOLERANCE_MONTHS:
        raise check.fail(
            join(where, "month"),
            f"the detector dates the step {evidence.month}, {gap} months from the break's date "
            f"{date} (at most {EVIDENCE_TOLERANCE_MONTHS} allowed)",
        )
    return evidence


def read_break(check: Checker, where: str, value: Any, vocab: Vocabulary) -> Break:
    entry = check.mapping(where, value, BREAK_KEYS, BREAK_REQUIRED)
    kind = check.choice(join(where, "kind"), entry["kind"], BREAK_KINDS)
    marts = check.texts(join(where, "marts"), entry["marts"])
    for i, mart in enumerate(marts):
        check.choice(f"{where}.marts[{i}]", mart, vocab.columns)
    extra = read_scheme_change(check, where, entry, vocab) if kind == "category_scheme" else {}
    date = check.month(join(where, "date"), entry["date"])
    evidence = entry.get("evidence")
    return Break(
        id=check.text(join(where, "id"), entry["id"]),
        label=check.text(join(where, "label"), entry["label"]),
        kind=kind,
        date=date,
        marts=marts,
        note=check.text(join(where, "note"), entry["note"]),
        measures=check.texts(join(where, "measures"), entry.get("measures", [])),
        source=check.text(join(where, "source"), entry["source"]),
        evidence=None
        if evidence is None
        else read_evidence(check, join(where, "evidence"), evidence, date),
        **extra,
    )


def read_breaks(path: Path, root: Path | None = None) -> tuple[Break, ...]:
    """Read and check a breaks file."""
    root = project_root(root)
    check = Checker(label_of(path, root))
    entry = check.mapping("", read_yaml(path, check.label), {"breaks"}, {"breaks"})
    if not isinstance(entry["breaks"], list):
        raise check.fail("breaks", "expected a list of breaks")
    vocab = load_vocabulary(root)
    breaks = tuple(
        read_break(check, f"breaks[{i}]", b, vocab) for i, b in enumerate(entry["breaks"])
    )
    ids = [b.id for b in breaks]
    for i, break_id in enumerate(ids):
        if ids.index(break_id) != i:
            raise check.fail(f"breaks[{i}].id", f"duplicate break id {break_id!r}")
    return breaks


def load_breaks(root: Path | None = None) -> tuple[Break, ...]:
    """The series breaks of config/breaks.yaml, checked."""
    return read_breaks(project_root(root) / "config" / "breaks.yaml", root)


def breaks_spanned(measure: Measure, period: Period, breaks: Iterable[Break]) -> tuple[Break, ...]:
    """The breaks affecting this measure that fall inside the period: no comparison across."""
    return tuple(b for b in breaks if b.affects(measure) and b.within(period))
