"""Streamlit entry point: the gate, the page set for the mode, first run and the shared frame.

Public mode registers only the open-data pages of ``oversight.navigation``; internal pages are
registered only after the viewer is authorised (login, or the local-only development flag).
"""

from __future__ import annotations

import streamlit as st

from oversight import navigation, ui
from oversight.settings import get_settings

ui.ensure_navigation()
settings = get_settings()
title = "London policing oversight" + (" (internal)" if settings.mode == "internal" else "")
st.set_page_config(page_title=title, layout="wide")

refusal = ui.access_refusal(settings)
if refusal is not None:
    st.navigation([st.Page(ui.gate_page(refusal), title="Sign in", default=True)]).run()
    st.stop()

available = {str(path.relative_to(settings.root)) for path in settings.root.glob("pages/*.py")}
specs = navigation.pages_for(settings.mode, available)
# A flat list: Streamlit's sectioned navigation nests headers inside its <ul>, which fails
# WCAG's list rules (axe: list, listitem).
pages = [
    st.Page(spec.path, title=spec.title, url_path=spec.url_path, default=number == 0)
    for number, spec in enumerate(specs)
]
page = st.navigation(pages)  # first, so no default page list shows while the sample builds
ui.apply_house_style()
ui.ensure_warehouse(settings)
status = ui.current_status(settings)
ui.show_synthetic_banner(status)
page.run()
ui.show_footer(status)
