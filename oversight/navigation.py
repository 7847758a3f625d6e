"""Which pages exist in which mode: pure data, so tests can check it without Streamlit.

Public mode registers only the open-data pages; internal pages are never handed to
``st.navigation`` there, so their URLs do not exist on a public server.
"""

from __future__ import annotations

from dataclasses import dataclass

from oversight.settings import MODES


@dataclass(frozen=True)
class PageSpec:
    """One page script and where it sits in the navigation."""

    path: str
    title: str
    section: str
    url_path: str
    internal: bool = False
    icon: str | None = None


PAGES: tuple[PageSpec, ...] = (
    PageSpec("pages/scorecard.py", "Plan scorecard", "Performance", "scorecard"),
    PageSpec("pages/crime.py", "Crime", "Performance", "crime"),
    PageSpec("pages/borough.py", "Borough profile", "Performance", "borough"),
    PageSpec("pages/public_voice.py", "Public voice (PAS)", "Trust and fairness", "public_voice"),
    PageSpec("pages/stop_search.py", "Stop and search", "Trust and fairness", "stop_search"),
    PageSpec("pages/explorer.py", "Data explorer", "Data", "explorer"),
    PageSpec("pages/data_health.py", "Data health", "Data", "data_health"),
    PageSpec("pages/about.py", "About, methods and accessibility", "Data", "about"),
    PageSpec("pages/challenge.py", "Challenge points", "Scrutiny", "challenge", internal=True),
    PageSpec("pages/board.py", "Board forward plan", "Scrutiny", "board", internal=True),
    PageSpec("pages/actions.py", "Actions and risks", "Scrutiny", "actions", internal=True),
    PageSpec("pages/briefing.py", "Briefing pack", "Scrutiny", "briefing", internal=True),
)


def pages_for(mode: str, available: set[str] | None = None) -> tuple[PageSpec, ...]:
    """The pages registered in ``mode``; ``available`` limits them to scripts that exist."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    chosen = tuple(p for p in PAGES if mode == "internal" or not p.internal)
    if available is not None:
        chosen = tuple(p for p in chosen if p.path in available)
    return chosen
