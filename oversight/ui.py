"""Streamlit helpers shared by the pages: first run, the synthetic label, cached reads.

The only core module that imports streamlit. The app never imports ``pipelines``: when no
warehouse exists it runs ``python -m pipelines sample`` as a subprocess, so Great Expectations
and the loaders stay off the page path.
"""

from __future__ import annotations

import subprocess
import sys

import streamlit as st

from oversight import queries
from oversight.settings import Settings
from oversight.warehouse import WarehouseMissing, connect, version_key

FIRST_RUN_TIMEOUT_S = 600


def build_sample_warehouse(settings: Settings) -> subprocess.CompletedProcess[str]:
    """Write and load the synthetic sample in a subprocess, within a time limit."""
    return subprocess.run(
        [sys.executable, "-m", "pipelines", "--warehouse", str(settings.warehouse), "sample"],
        cwd=settings.root,
        capture_output=True,
        text=True,
        timeout=FIRST_RUN_TIMEOUT_S,
        check=False,
    )


def ensure_warehouse(settings: Settings) -> None:
    """On first run, build the warehouse from the synthetic sample behind a spinner."""
    if settings.warehouse.exists():
        return
    with st.spinner(
        "First run: building the warehouse from the synthetic sample (about a minute)..."
    ):
        try:
            result = build_sample_warehouse(settings)
        except subprocess.TimeoutExpired:
            st.error(
                f"Building the sample warehouse took longer than {FIRST_RUN_TIMEOUT_S} s and "
                "was stopped. Run `python -m pipelines sample` in a terminal to see why."
            )
            st.stop()
    if result.returncode != 0 or not settings.warehouse.exists():
        st.error("The sample warehouse could not be built. The loader said:")
        st.code(result.stderr[-4000:] or result.stdout[-4000:])
        st.stop()


@st.cache_data(show_spinner=False)
def data_status(warehouse: str, key: object) -> dict[str, object]:
    """Whether the data shown is synthetic, and its span; cached per published version."""
    from pathlib import Path

    with connect(Path(warehouse)) as con:
        return queries.data_status(con)


def current_status(settings: Settings) -> dict[str, object] | None:
    """The data status of the warehouse as published now, or None if there is none."""
    try:
        key = version_key(settings.warehouse)
    except WarehouseMissing:
        return None
    return data_status(str(settings.warehouse), key)


def show_synthetic_banner(status: dict[str, object] | None) -> None:
    """Label every page while the synthetic sample is what is shown."""
    if status and status.get("synthetic"):
        st.warning(
            "**Synthetic sample data.** These figures are generated for demonstration and are "
            "not real MPS or MOPAC data. Load the published files to see real figures "
            "(see README, Using real data).",
            icon="⚠️",
        )


def show_footer(status: dict[str, object] | None) -> None:
    """Data as-at and load time, at the foot of every page."""
    if not status:
        return
    parts = []
    if status.get("data_to"):
        parts.append(f"Data to end of {status['data_to']:%B %Y}")
    if status.get("loaded_at"):
        parts.append(f"loaded on {status['loaded_at']:%d %B %Y}")
    if status.get("synthetic"):
        parts.append("synthetic sample")
    st.caption(" · ".join(parts))
