"""Home: what the warehouse holds, and London's recorded crime by year."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from oversight import queries, ui
from oversight.settings import get_settings
from oversight.warehouse import WarehouseMissing, connect

settings = get_settings()
status = ui.current_status(settings)
suffix = " — synthetic sample" if status and status["synthetic"] else ""
st.title("London policing oversight")
st.caption(
    "Metropolitan Police Service performance data and MOPAC's Public Attitude Survey, "
    "validated and loaded into one warehouse."
)

try:
    with connect(settings.warehouse) as con:
        info = queries.warehouse_info(con)
        loads = queries.loads_by_source(con)
        annual = queries.london_annual_offences(con)
except WarehouseMissing:
    st.info(
        f"No warehouse yet at `{settings.warehouse}`. Load published files with "
        "`python -m pipelines load PATH...` (see README)."
    )
    st.stop()

st.subheader("Recorded crime, London (MPS area)")
if annual.empty:
    st.write("No complete year of borough crime data is loaded yet.")
else:
    last = annual.iloc[-1]
    st.metric(f"Offences in {int(last['year'])}", f"{int(last['offences']):,}")
    fig = px.bar(
        annual,
        x="year",
        y="offences",
        title="Police recorded offences per calendar year, London (MPS area)" + suffix,
        labels={"offences": "offences", "year": "year"},
    )
    st.plotly_chart(fig, width="stretch")
    st.caption(
        "Source: MPS Borough Level Crime, London Datastore (OGL v3.0). Excludes NFIB fraud. "
        "Years before April 2010 use the old category scheme; police recorded crime is not "
        "accredited official statistics."
    )
    with st.expander("Show as table"):
        st.dataframe(annual, hide_index=True)

st.subheader("Data loaded")
st.dataframe(loads, hide_index=True)
published = f"{info['published_at']:%d %B %Y %H:%M}"
st.caption(f"Warehouse version {info['version']}, published {published}.")
