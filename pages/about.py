"""About, methods and accessibility: renders docs/about.md and docs/accessibility.md.

The text lives in the markdown files so it can be edited without code. docs/about.md names
configuration values as ``${name}`` placeholders (the series breaks, the PAS assumed bases,
the significance level), filled here from config/ so the page always says what the
statistics actually use.
"""

from __future__ import annotations

from string import Template

import streamlit as st

from oversight import scorecard, step_scan, ui
from oversight.measures import load_statistics
from oversight.plan import Break, list_plans, load_breaks
from oversight.settings import get_settings

ui.ensure_navigation()
settings = get_settings()


def month_text(month: str) -> str:
    """'2024-11' -> 'November 2024'."""
    import datetime as dt

    return f"{dt.date.fromisoformat(month + '-01'):%B %Y}"


def break_item(item: Break) -> str:
    """One series break as a markdown list item."""
    line = f"- **{item.label}**, from {month_text(item.date)}. {item.note}"
    return f"{line} *{item.basis()}.*"


def placeholders() -> dict[str, str]:
    """The values docs/about.md refers to, from config/statistics.yaml and breaks.yaml."""
    stats = load_statistics(settings.root)
    levels = [f"{level:.1%}".replace(".0%", "%") for level in stats.funnel_levels]
    return {
        "breaks": "\n".join(break_item(b) for b in load_breaks(settings.root)),
        "pas_base_borough": f"{stats.pas_base_borough:,}",
        "pas_base_london": f"{stats.pas_base_london:,}",
        "pas_design_effect": f"{stats.pas_design_effect:g}",
        "pas_source": stats.pas_source,
        "significance_level": f"{stats.significance_level:g}",
        "confidence": f"{1 - stats.significance_level:.0%}",
        "spc_min_points": str(stats.spc_min_points),
        "funnel_levels": " and ".join(levels),
        "funnel_method": stats.funnel_method,
        "history_months": str(stats.history_months),
        "min_pairs": str(stats.min_pairs),
        "fallback_tau2": f"{stats.fallback_tau2:g}",
        "season_min_months": str(stats.season_min_months),
        "baseline_min": str(stats.baseline_min),
        "baseline_max": str(stats.baseline_max),
        "rebase_run": str(stats.rebase_run),
        **step_placeholders(),
    }


def step_placeholders() -> dict[str, str]:
    """The level-step scan's settings (config/steps.yaml) as docs/about.md quotes them."""
    scan = step_scan.load_step_config(settings.root)
    return {
        "step_window": str(scan.window_months),
        "step_segment": str(scan.settings.min_segment),
        "step_simulations": f"{scan.settings.simulations:,}",
        "step_level": f"{scan.settings.level:g}",
        "step_level_pct": f"{scan.settings.level:.0%}",
        "step_max": str(scan.settings.max_steps),
        "step_confirm": str(scan.confirm_within),
    }


def document(name: str) -> str:
    return (settings.root / "docs" / name).read_text(encoding="utf-8")


st.title("About, methods and accessibility")
st.markdown(Template(document("about.md")).safe_substitute(placeholders()))
if settings.warehouse.exists():
    plan_id = list_plans(settings.root)[-1]
    st.subheader("The dispersion estimated on the data now loaded")
    st.caption(
        "For each count measure of the newest plan, the 12-month comparison's estimated noise: "
        "phi (monthly variation as a multiple of Poisson), tau² (between-year variation of the "
        "level, log scale) and the variance of the comparison as a multiple of Poisson."
    )
    st.dataframe(ui.read(settings, scorecard.dispersion_summary, plan_id), hide_index=True)
st.markdown(document("accessibility.md"))
