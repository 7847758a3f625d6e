"""Streamlit entry point: first run, the page set for the mode and the shared frame."""

from __future__ import annotations

import streamlit as st

from oversight import ui
from oversight.settings import get_settings

settings = get_settings()
st.set_page_config(page_title="London policing oversight", layout="wide")
pages = [st.Page("pages/home.py", title="Home", default=True)]
page = st.navigation(pages)  # first, so no default page list shows while the sample builds
ui.ensure_warehouse(settings)
status = ui.current_status(settings)
ui.show_synthetic_banner(status)
page.run()
ui.show_footer(status)
