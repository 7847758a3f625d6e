"""Tests for oversight/plan.py and the plan and breaks configuration it reads."""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from oversight.plan import (
    DIRECTIONS,
    PlanError,
    breaks_spanned,
    list_marts,
    list_plans,
    load_breaks,
    load_plan,
    read_breaks,
    read_plan,
)
from oversight.settings import PROJECT_ROOT

CONFIG = PROJECT_ROOT / "config"
PLANS = ("pcp-2022-25", "pcp-2025-29")
EXTRACT_ONLY = (
    "knife_crime_with_injury",
    "hate_crime",
    "domestic_abuse_offences",
    "emergency_calls_answered_10s",
    "i_grade_attended_15min",
    "victim_satisfaction",
)


def read_config(name: str) -> dict:
    return yaml.safe_load((CONFIG / name).read_text(encoding="utf-8"))


def write_plan(tmp_path: Path, edit: Callable[[dict], None], plan_id: str = "pcp-2022-25") -> Path:
    """A copy of a real plan, edited, written where read_plan can read it."""
    data = copy.deepcopy(read_config(f"plans/{plan_id}.yaml"))
    edit(data)
    path = tmp_path / f"{plan_id}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def measure(data: dict, priority: int, index: int) -> dict:
    return data["priorities"][priority]["measures"][index]


def test_list_plans_finds_both_plans():
    assert list_plans() == PLANS


@pytest.mark.parametrize(("plan_id", "priorities"), [("pcp-2022-25", 4), ("pcp-2025-29", 3)])
def test_plan_loads_with_its_priorities(plan_id, priorities):
    plan = load_plan(plan_id)
    assert plan.id == plan_id
    assert len(plan.priorities) == priorities
    assert all(p.measures for p in plan.priorities)
    assert len({m.id for m in plan.measures}) == len(plan.measures)


def test_priority_titles_follow_the_published_plans():
    titles_2022 = [p.title for p in load_plan("pcp-2022-25").priorities]
    titles_2025 = [p.title for p in load_plan("pcp-2025-29").priorities]
    assert titles_2022 == [
        "Reducing and preventing violence",
        "Increasing trust and confidence",
        "Better supporting victims",
        "Protecting people from exploitation and harm",
    ]
    assert titles_2025 == [
        "Reducing violence and criminal exploitation",
        "Increasing trust and confidence in the MPS",
        "Improving the criminal justice system and supporting victims",
    ]


@pytest.mark.parametrize("plan_id", PLANS)
def test_every_source_mart_and_filter_column_exists(plan_id):
    marts = {p.stem for p in (PROJECT_ROOT / "pipelines" / "sql" / "marts").glob("*.sql")}
    dictionary = read_config("dictionary.yaml")["marts"]
    for m in load_plan(plan_id).measures:
        assert m.source.mart in marts, m.id
        assert set(m.source.filters()) <= set(dictionary[m.source.mart]["columns"]), m.id


@pytest.mark.parametrize("plan_id", PLANS)
def test_crime_and_pas_filter_values_are_in_config(plan_id):
    schemes = read_config("categories.yaml")["schemes"]
    pas_ids = {m["id"] for m in read_config("pas_measures.yaml")["measures"]}
    for m in load_plan(plan_id).measures:
        filters = m.source.filters()
        if m.source.mart == "crime_borough_monthly":
            majors = schemes[filters["category_scheme"][0]]["majors"]
            minors = {minor for names in majors.values() for minor in names}
            assert set(filters.get("major_category", ())) <= set(majors), m.id
            assert set(filters.get("minor_category", ())) <= minors, m.id
        if m.source.mart.startswith("pas_"):
            assert set(filters["measure_id"]) <= pas_ids, m.id


@pytest.mark.parametrize("plan_id", PLANS)
def test_context_measures_include_reported_sexual_offences(plan_id):
    plan = load_plan(plan_id)
    assert plan.measure("reported_sexual_offences").direction == "context"
    assert {m.direction for m in plan.measures} == set(DIRECTIONS)


@pytest.mark.parametrize("plan_id", PLANS)
def test_extract_only_measures_read_the_measure_extract(plan_id):
    plan = load_plan(plan_id)
    for measure_id in EXTRACT_ONLY:
        source = plan.measure(measure_id).source
        assert source.mart == "measure_extract", measure_id
        assert source.filters() == {"measure_id": (measure_id,)}


def test_sample_extract_measures_are_in_both_plans():
    sample_ids = set(read_config("sample.yaml")["measure_extract"]["measures"])
    for plan_id in PLANS:
        extract = {
            m.source.filters()["measure_id"][0]
            for m in load_plan(plan_id).measures
            if m.source.mart == "measure_extract"
        }
        assert sample_ids <= extract


@pytest.mark.parametrize("plan_id", PLANS)
def test_proxies_say_what_they_stand_in_for(plan_id):
    proxies = [m for m in load_plan(plan_id).measures if m.proxy]
    assert {m.id for m in proxies} >= {"possession_of_weapons"}
    assert all(m.proxy_for and m.source.mart != "measure_extract" for m in proxies)
    assert "Knife crime" in load_plan(plan_id).measure("possession_of_weapons").proxy_for


@pytest.mark.parametrize("plan_id", PLANS)
def test_no_baseline_spans_a_series_break(plan_id):
    breaks = load_breaks()
    for m in load_plan(plan_id).measures:
        assert breaks_spanned(m, m.baseline, breaks) == (), m.id


def test_a_baseline_across_connect_is_detected():
    plan = load_plan("pcp-2025-29")
    robbery = plan.measure("robbery")
    knife = plan.measure("knife_crime_with_injury")
    trust = plan.measure("trust_mps")
    spanning = type(robbery.baseline)("2024-01", "2024-12")
    assert [b.id for b in breaks_spanned(robbery, spanning, load_breaks())] == ["mps_connect"]
    assert [b.id for b in breaks_spanned(knife, spanning, load_breaks())] == ["mps_connect"]
    assert breaks_spanned(trust, spanning, load_breaks()) == ()


def test_breaks_load_with_dates_and_mapping():
    breaks = {b.id: b for b in load_breaks()}
    connect = breaks["mps_connect"]
    assert connect.date == "2024-03"
    assert connect.source.startswith("Dated from the data")
    assert connect.evidence is not None
    assert connect.evidence.month == "2024-03"
    assert connect.evidence.lower < connect.evidence.ratio < connect.evidence.upper < 1
    assert "VIOLENCE WITH INJURY" in connect.evidence.series
    assert "2024-03" in connect.basis()
    assert scheme_source_named(breaks["datastore_category_scheme"])
    assert "crime recording system" in connect.label.lower()
    scheme = breaks["datastore_category_scheme"]
    assert (scheme.date, scheme.from_scheme, scheme.to_scheme) == (
        "2010-04",
        "mps_old",
        "mps_2024",
    )
    assert (scheme.overlap.start, scheme.overlap.end) == ("2010-04", "2016-12")
    mapping = {m.old: m for m in scheme.mapping}
    old_majors = read_config("categories.yaml")["schemes"]["mps_old"]["majors"]
    assert set(mapping) == set(old_majors)
    assert mapping["CRIMINAL DAMAGE"].new == ("ARSON AND CRIMINAL DAMAGE",)
    assert mapping["DRUGS"].new == ("DRUG OFFENCES",)
    assert mapping["OTHER NOTIFIABLE OFFENCES"].new[0] == "MISCELLANEOUS CRIMES AGAINST SOCIETY"
    assert {"THEFT", "VEHICLE OFFENCES"} <= set(mapping["THEFT AND HANDLING"].new)
    assert not mapping["THEFT AND HANDLING"].exact
    assert mapping["ROBBERY"].exact


def test_break_measures_are_plan_measures():
    ids = {m.id for plan_id in PLANS for m in load_plan(plan_id).measures}
    for b in load_breaks():
        assert set(b.measures) <= ids, b.id


def set_key(priority: int, index: int, key: str, value) -> Callable[[dict], None]:
    def edit(data: dict) -> None:
        measure(data, priority, index)[key] = value

    return edit


def drop_key(key: str) -> Callable[[dict], None]:
    def edit(data: dict) -> None:
        del measure(data, 0, 0)[key]

    return edit


def duplicate_id(data: dict) -> None:
    measure(data, 1, 2)["id"] = measure(data, 0, 0)["id"]


def unknown_top_key(data: dict) -> None:
    data["owner"] = "MOPAC"


def proxy_without_label(data: dict) -> None:
    del measure(data, 0, 1)["proxy_for"]


BROKEN = {
    "unknown key": (
        set_key(0, 0, "colour", "red"),
        "priorities[0].measures[0].colour: unknown key",
    ),
    "unknown top-level key": (unknown_top_key, ": owner: unknown key"),
    "missing key": (drop_key("unit"), "priorities[0].measures[0].unit: missing required key"),
    "wrong type": (
        set_key(0, 0, "small_count", "twenty"),
        "priorities[0].measures[0].small_count: expected a whole number",
    ),
    "wrong type list": (
        set_key(0, 0, "caveats", "one caveat"),
        "priorities[0].measures[0].caveats: expected a list",
    ),
    "duplicate id": (
        duplicate_id,
        "priorities[1].measures[2].id: duplicate measure id 'knife_crime_with_injury'",
    ),
    "unknown direction": (
        set_key(1, 3, "direction", "up"),
        "priorities[1].measures[3].direction: must be one of higher_is_better, lower_is_better",
    ),
    "unknown unit": (set_key(0, 0, "unit", "percent"), "priorities[0].measures[0].unit: must be"),
    "unknown mart": (
        set_key(0, 2, "source", {"mart": "crime_monthly"}),
        "priorities[0].measures[2].source.mart: no mart 'crime_monthly'",
    ),
    "unknown filter column": (
        set_key(0, 4, "source", {"mart": "crime_borough_monthly", "filter": {"major": "ROBBERY"}}),
        "priorities[0].measures[4].source.filter.major: mart crime_borough_monthly has no column",
    ),
    "unknown category": (
        set_key(
            0,
            4,
            "source",
            {"mart": "crime_borough_monthly", "filter": {"major_category": ["ROBBERIES"]}},
        ),
        "priorities[0].measures[4].source.filter.major_category: unknown value(s) ['ROBBERIES']",
    ),
    "unknown PAS measure": (
        set_key(1, 0, "source", {"mart": "pas_borough", "filter": {"measure_id": "trust_met"}}),
        "priorities[1].measures[0].source.filter.measure_id: unknown value(s) ['trust_met']",
    ),
    "unknown geography": (
        set_key(0, 0, "geographies", ["ward"]),
        "priorities[0].measures[0].geographies[0]: must be",
    ),
    "baseline backwards": (
        set_key(0, 0, "baseline", {"start": "2022-03", "end": "2021-04"}),
        "priorities[0].measures[0].baseline: start 2022-03 is after end 2021-04",
    ),
    "baseline not a month": (
        set_key(0, 0, "baseline", {"start": "2021/22", "end": "2022-03"}),
        "priorities[0].measures[0].baseline.start: expected a month",
    ),
    "target type": (
        set_key(0, 0, "target", {"type": "halve", "value": 0.5}),
        "priorities[0].measures[0].target.type: must be one of absolute, percent_vs_baseline",
    ),
    "proxy without label": (
        proxy_without_label,
        "priorities[0].measures[1].proxy_for: required when proxy is true",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_schema_rejects_a_broken_copy(tmp_path, case):
    edit, message = BROKEN[case]
    path = write_plan(tmp_path, edit)
    with pytest.raises(PlanError) as caught:
        read_plan(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_an_unedited_copy_loads(tmp_path):
    path = write_plan(tmp_path, lambda data: None)
    assert read_plan(path) == load_plan("pcp-2022-25")


def test_plan_id_must_match_file_name(tmp_path):
    path = write_plan(tmp_path, lambda data: data.update(id="pcp-2099"))
    with pytest.raises(PlanError, match=r": id: must match the file name 'pcp-2022-25'"):
        read_plan(path)


def test_adding_a_measure_is_a_yaml_edit(tmp_path):
    new = {
        "id": "burglary",
        "label": "Burglary",
        "description": "Recorded burglary.",
        "unit": "count",
        "direction": "lower_is_better",
        "source": {
            "mart": "crime_borough_monthly",
            "filter": {"category_scheme": "mps_2024", "major_category": ["BURGLARY"]},
        },
        "geographies": ["london", "borough"],
        "baseline": {"start": "2024-11", "end": "2025-10"},
        "target": {"type": "percent_vs_baseline", "value": -10, "by": "2029-03"},
        "tolerance": {"type": "relative", "value": 0.05},
        "small_count": 20,
    }
    path = write_plan(
        tmp_path, lambda data: data["priorities"][0]["measures"].append(new), "pcp-2025-29"
    )
    plan = read_plan(path)
    assert len(plan.measures) == len(load_plan("pcp-2025-29").measures) + 1
    burglary = plan.measure("burglary")
    assert burglary.target.type == "percent_vs_baseline"
    assert burglary.source.filters()["major_category"] == ("BURGLARY",)


def test_unknown_plan_names_the_file():
    with pytest.raises(PlanError, match=r"config/plans/pcp-1999\.yaml: no such plan"):
        load_plan("pcp-1999")


def write_breaks(tmp_path: Path, edit: Callable[[dict], None]) -> Path:
    data = copy.deepcopy(read_config("breaks.yaml"))
    edit(data)
    path = tmp_path / "breaks.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def scheme_source_named(item) -> bool:
    """A break dated from a publication names it and carries no detector evidence."""
    return "London Datastore" in item.source and item.evidence is None


BROKEN_BREAKS = {
    "old to_confirm flag": (
        lambda d: d["breaks"][0].update(to_confirm=True),
        "breaks[0].to_confirm: unknown key",
    ),
    "no source": (
        lambda d: d["breaks"][0].pop("source"),
        "breaks[0].source: missing required key",
    ),
    "unknown evidence key": (
        lambda d: d["breaks"][0]["evidence"].update(found_by="eye"),
        "breaks[0].evidence.found_by: unknown key",
    ),
    "evidence without a p-value": (
        lambda d: d["breaks"][0]["evidence"].pop("p_value"),
        "breaks[0].evidence.p_value: missing required key",
    ),
    "evidence far from the date": (
        lambda d: d["breaks"][0].update(date="2024-11"),
        "breaks[0].evidence.month: the detector dates the step 2024-03, 8 months from the "
        "break's date 2024-11",
    ),
    "ratio outside its interval": (
        lambda d: d["breaks"][0]["evidence"].update(ratio=0.5),
        "breaks[0].evidence.ratio: expected 0 < lower <= ratio <= upper",
    ),
    "p-value above one": (
        lambda d: d["breaks"][0]["evidence"].update(p_value=1.5),
        "breaks[0].evidence.p_value: expected 0 < p <= 1",
    ),
    "checked not a date": (
        lambda d: d["breaks"][0]["evidence"].update(checked="last week"),
        "breaks[0].evidence.checked: expected a date",
    ),
    "unknown mart": (
        lambda d: d["breaks"][0]["marts"].append("crime_monthly"),
        "breaks[0].marts[6]: must be one of",
    ),
    "unknown key": (
        lambda d: d["breaks"][0].update(when="2024-11"),
        "breaks[0].when: unknown key",
    ),
    "date not a month": (
        lambda d: d["breaks"][0].update(date="November 2024"),
        "breaks[0].date: expected a month",
    ),
    "mapping to a major not in the scheme": (
        lambda d: d["breaks"][1]["mapping"][2].update(new=["DRUGS"]),
        "breaks[1].mapping[2].new[0]: must be one of",
    ),
    "scheme break without a mapping": (
        lambda d: d["breaks"][1].pop("mapping"),
        "breaks[1].mapping: required for a category_scheme break",
    ),
}


@pytest.mark.parametrize("case", list(BROKEN_BREAKS))
def test_breaks_schema_rejects_a_broken_copy(tmp_path, case):
    edit, message = BROKEN_BREAKS[case]
    path = write_breaks(tmp_path, edit)
    with pytest.raises(PlanError) as caught:
        read_breaks(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_marts_are_read_from_the_sql_folder():
    assert "crime_borough_monthly" in list_marts()
    assert "measure_extract" in list_marts()
    assert "loads" not in list_marts()


def test_plan_module_imports_no_pipeline_streamlit_or_duckdb():
    code = (
        "import sys, oversight.plan; "
        "names = {m.split('.')[0] for m in sys.modules}; "
        "print(sorted(names & {'pipelines', 'streamlit', 'duckdb'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_a_plan_is_read_again_only_when_a_file_it_depends_on_changes(tmp_path):
    """Pages ask for the plan on every rerun, so it is kept; an edit (even one that keeps the
    file's size, made within the clock's resolution) must still be seen at once."""
    import shutil

    shutil.copytree(CONFIG, tmp_path / "config")
    shutil.copytree(PROJECT_ROOT / "pipelines" / "sql" / "marts", tmp_path / "pipelines/sql/marts")
    first = load_plan("pcp-2022-25", tmp_path)
    assert load_plan("pcp-2022-25", tmp_path) is first

    path = tmp_path / "config" / "plans" / "pcp-2022-25.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("for London 2022-25", "for London 2022-26"), encoding="utf-8")
    assert load_plan("pcp-2022-25", tmp_path).title == "Police and Crime Plan for London 2022-26"

    # A vocabulary file the plan is checked against: dropping a mart's column from the
    # dictionary makes the plan's filter on it an error.
    dictionary = tmp_path / "config" / "dictionary.yaml"
    data = yaml.safe_load(dictionary.read_text(encoding="utf-8"))
    mart = first.measures[0].source.mart
    data["marts"][mart]["columns"] = {}
    dictionary.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(PlanError):
        load_plan("pcp-2022-25", tmp_path)
