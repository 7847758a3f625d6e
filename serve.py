"""Server entry point: ``streamlit run serve.py`` serves app.py with the hidden paths hidden.

Streamlit's own server, routes and settings (.streamlit/config.toml, command-line flags), with
oversight.server.HiddenPaths in front: the paths in config/server.yaml (Streamlit's
unauthenticated /_stcore/metrics) answer 404. Run the dashboard this way wherever others can
reach it; ``streamlit run app.py`` still works for a quick local look.
"""

import streamlit as st
from starlette.middleware import Middleware

from oversight.server import HiddenPaths

app = st.App("app.py", middleware=[Middleware(HiddenPaths)])
