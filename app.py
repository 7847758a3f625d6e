"""Streamlit entry point: the page set for the mode and the shared sidebar."""

from __future__ import annotations

import streamlit as st

from oversight.settings import get_settings

settings = get_settings()
st.set_page_config(page_title="London policing oversight", layout="wide")
pages = [st.Page("pages/home.py", title="Home", default=True)]
st.navigation(pages).run()
