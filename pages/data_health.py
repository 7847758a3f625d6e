"""Data health: sources loaded, freshness against the publication schedule, validation,
quarantined files, and what the newest crime publication revised.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from oversight import charts, health, queries, step_scan, ui
from oversight.settings import get_settings

ui.ensure_navigation()
settings = get_settings()
ui.require_warehouse(settings)
status = ui.current_status(settings)
STATUS_MARKS = {"Up to date": "✓", "Not loaded": "–", "No fixed schedule": "○"}


def day(value: object) -> str:
    return f"{pd.Timestamp(value):%d %b %Y}" if value is not None and pd.notna(value) else ""


def show_sources() -> pd.DataFrame:
    st.header("Sources loaded")
    loaded = ui.read(settings, health.sources_loaded)
    info = ui.read(settings, queries.warehouse_info)
    current = loaded[loaded["status"] == "loaded"]
    a, b, c, d = st.columns(4)
    a.metric("Sources", f"{current['source'].nunique():,}")
    b.metric("Files loaded", f"{int(current['files'].sum()):,}")
    c.metric("Rows loaded", f"{int(current['rows'].sum()):,}")
    published = f"published {day(info['published_at'])}"
    d.metric("Warehouse version", f"{info['version']}", help=published)
    table = pd.DataFrame(
        {
            "source": loaded["source"],
            "status": loaded["status"],
            "files": loaded["files"].map("{:,}".format),
            "rows": loaded["rows"].map("{:,}".format),
            "vintages": loaded["vintages"],
            "last loaded": loaded["last_loaded"].map(day),
            "synthetic": loaded["synthetic"].map({True: "yes", False: "no"}),
        }
    )
    st.table(table.set_index("source"))
    st.caption(
        "From marts.loads. A vintage is the last period a publication covers. 'superseded' "
        "files had every row replaced by a later download of the same months."
    )
    return loaded


def show_freshness() -> None:
    st.header("Freshness and next data due")
    feeds = health.load_schedule(settings.config_dir / "publication_schedule.yaml")
    targets = tuple((f.mart, f.period_column) for f in feeds if f.period_column)
    latest = ui.read(settings, health.latest_periods, targets)
    fresh = health.freshness(feeds, latest, settings.today)
    scheduled = fresh[fresh["cadence"] != "irregular"]
    overdue = scheduled[scheduled["status"].str.startswith("Overdue")]
    st.markdown(
        f"Judged on **{settings.today:%d %B %Y}** against the usual publication pattern "
        f"(config/publication_schedule.yaml): **{len(overdue)} of {len(scheduled)}** scheduled "
        "sources are overdue."
    )
    table = pd.DataFrame(
        {
            "source": fresh["source"],
            "latest period held": fresh["latest"].fillna("–"),
            "published": fresh["cadence"] + ", " + fresh["expected"],
            "next period": fresh["next_period"].fillna("–"),
            "next due": fresh["next_due"].map(day).replace("", "–"),
            "status": fresh["status"].map(lambda s: f"{STATUS_MARKS.get(s, '⚠')} {s}"),
        }
    )
    st.table(table.set_index("source"))
    st.caption(
        "Latest period: the newest month, quarter or year in the source's mart. Due dates "
        "follow past releases, not a publisher's commitment; a source is overdue when the next "
        "period is later than usual."
    )


def show_validation() -> None:
    st.header("Validation results per file")
    files = ui.read(settings, health.files_loaded)
    shown = pd.DataFrame(
        {
            "#": files["load_seq"],
            "file": files["file"],
            "source": files["source"],
            "rows": files["rows"],
            "vintage": files["vintage"],
            "status": files["status"],
            "suite": files["suite"],
            "expectations": files["expectations"],
            "failed": files["failed"],
            "result": files["passed"].map({True: "✓ passed", False: "✗ failed"}).fillna("–"),
            "loaded": files["loaded_at"].map(day),
        }
    )
    st.dataframe(shown, hide_index=True, width="stretch")
    passed = int(files["passed"].fillna(False).sum())
    st.caption(
        f"{passed:,} of {len(files):,} loaded files passed every expectation of their Great "
        "Expectations suite. A file that fails any expectation is never loaded: it goes to "
        "quarantine (below)."
    )
    ui.download_buttons(shown, "validation_results", "validation")


def show_quarantine() -> None:
    st.header("Quarantined files")
    records = health.read_quarantine(settings.quarantine_dir)
    if not records:
        st.markdown("No file has been refused: the quarantine folder is empty.")
        return
    st.markdown(
        f"**{len(records)}** refused file{'s' if len(records) != 1 else ''}, newest first. "
        "Nothing from them reached the warehouse."
    )
    for record in records:
        where = ", ".join(
            f"{k} {record[k]}" for k in ("row", "column") if record.get(k) not in (None, "")
        )
        title = f"{record['name']} — {record.get('source') or 'unknown source'}"
        with st.expander(title):
            st.markdown(f"**Reason:** {record.get('reason', '')}")
            if where:
                st.markdown(f"**Where:** {where}")
            if record.get("refused_at"):
                st.markdown(f"**Refused:** {record['refused_at']}")
            st.code(record["report_text"] or "(no readable report)", language=None)


def show_revisions() -> None:
    st.header("What changed between publications")
    summary = ui.read(settings, health.revision_summary)
    if not summary.get("newer_vintage") or not summary.get("older_vintage"):
        st.markdown("Fewer than two borough crime publications are loaded: nothing to compare.")
        return
    older = health.vintage_text(summary["older_vintage"])
    newer = health.vintage_text(summary["newer_vintage"])
    first, last = pd.Timestamp(summary["first_month"]), pd.Timestamp(summary["last_month"])
    before, after = summary["total_before"] or 0, summary["total_after"] or 0
    change = after - before
    st.markdown(
        "The MPS revises past months in every publication. Borough crime published to "
        f"**{newer}** compared with the publication to **{older}**, for the "
        f"{summary['months']} months both cover ({first:%B %Y} to {last:%B %Y}):"
    )
    a, b, c, d = st.columns(4)
    a.metric("Cells revised", f"{summary['cells_revised']:,}",
             help="borough × minor category × month counts that differ")  # fmt: skip
    b.metric("Cells compared", f"{summary['cells_compared']:,}")
    c.metric("Offences before revision", f"{before:,}", help=f"publication to {older}")
    d.metric("Offences after revision", f"{after:,}", delta=f"{change:+,}",
             delta_color="off", help=f"publication to {newer}")  # fmt: skip
    if summary["cells_added"] or summary["cells_removed"]:
        st.caption(
            f"{summary['cells_added']:,} cells appear only in the newer publication and "
            f"{summary['cells_removed']:,} only in the older one (new or dropped categories)."
        )
    by_month = ui.read(settings, health.revisions_by_month)
    compared = summary["cells_compared"]
    share = summary["cells_revised"] / compared if compared else 0.0
    direction = "up" if change > 0 else "down" if change < 0 else "unchanged"
    title = (
        f"The publication to {newer} revised {share:.0%} of the cells it shares with the one "
        f"before; total offences {direction}"
        + (f" by {abs(change):,}" if change else "")
        + ui.synthetic_suffix(status)
    )
    fig = go.Figure(
        go.Bar(
            x=by_month["month"], y=by_month["change"], marker_color=charts.NEUTRAL,
            name="net change", hovertemplate="%{x|%b %Y}: %{y:+,}<extra></extra>",
        )
    )  # fmt: skip
    charts.base_layout(fig, title, height=380)
    fig.update_yaxes(title_text="Net change in offences", rangemode="normal", zeroline=True,
                     zerolinecolor="#767676")  # fmt: skip
    fig.update_xaxes(title_text="Month")
    ui.show_chart(
        fig,
        by_month,
        key="revisions",
        source=f"marts.crime_borough_all_vintages, publications to {older} and {newer}.",
        filename="revisions_by_month",
        notes=["Newer minus older publication; revisions are expected, not errors."],
    )
    st.subheader("Largest revisions")
    biggest = ui.read(settings, health.biggest_revisions, 20)
    st.dataframe(
        biggest.rename(
            columns={"offences_before": f"to {older}", "offences_after": f"to {newer}"}
        ),
        hide_index=True,
        width="stretch",
    )


def show_steps() -> None:
    st.header("Level steps in London's series")
    found = ui.read(settings, health.level_steps)
    config = step_scan.load_step_config(settings.root)
    steps_found = found[found["found"]]
    unconfirmed = steps_found[steps_found["confirmed_by"].isna()]
    st.markdown(
        f"Each plan measure's London series and each recorded-crime category, scanned over its "
        f"last {config.window_months} months for a lasting change of level (seasonality and "
        f"trend allowed for): **{len(steps_found)}** step{'s' if len(steps_found) != 1 else ''} "
        f"found in {found['series'].nunique()} series, **{len(unconfirmed)}** not matched by a "
        "configured series break. A step that no break explains may be a recording change "
        "to add to config/breaks.yaml, or a real change: check before comparing across it."
    )
    table = pd.DataFrame(
        {
            "series": found["series"],
            "what": found["kind"],
            "step month": found["step_month"].fillna("–"),
            "size": found.apply(step_size, axis=1),
            "evidence": found["p_value"].map(step_evidence),
            "step?": found["found"].map({True: "yes", False: "no"}),
            "configured break": found["note"],
        }
    )
    st.dataframe(table, hide_index=True, width="stretch")
    st.caption(
        "Size: the new level over the old (seasonality and trend held) with its 95% confidence "
        "interval. Evidence: the p-value of the scan, simulated so that it allows for every "
        f"month tried; a step is reported below p = {config.settings.level:g}. A configured "
        f"break confirms a step within {config.confirm_within} month of it. Method: About page."
    )
    ui.download_buttons(found, "level_steps", "steps")


def step_size(row: pd.Series) -> str:
    """'0.75 (0.71 to 0.79)', or a dash."""
    if pd.isna(row["ratio"]):
        return "–"
    return f"{row['ratio']:.2f} ({row['lower']:.2f} to {row['upper']:.2f})"


def step_evidence(p_value: float) -> str:
    """'p ≤ 0.001' at the simulation floor, else 'p = 0.015'."""
    if pd.isna(p_value):
        return "–"
    return "p ≤ 0.001" if p_value <= 0.001 else f"p = {p_value:.3f}"


st.title("Data health")
st.markdown(
    "What the warehouse holds, how up to date each source is, whether every file passed its "
    "checks, which files were refused, what the latest crime publication changed, and where a "
    "series steps to a new level."
)
show_sources()
show_freshness()
show_validation()
show_quarantine()
show_revisions()
show_steps()
