"""The Deputy Mayor's briefing pack: one content model, rendered as DOCX and as PDF.

:func:`read_pack_data` reads everything the pack needs from the warehouse (a read function for
``ui.read``); :func:`compose` turns it, with the decisions and actions from the app-state
store, into a list of blocks (headings, paragraphs, tables, figures); :func:`render_docx`
(python-docx) and :func:`render_pdf` (fpdf2) draw the same blocks. Charts are static PNGs made
with matplotlib (no browser), in the Okabe-Ito palette, each with alt text and the table of
its values beside it.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from oversight import challenge, measures, queries, scorecard
from oversight import plan as plan_mod
from oversight.charts import NEUTRAL, PALETTE, STATUS_COLOURS, STATUS_SYMBOLS
from oversight.plan import Break, Measure
from oversight.settings import Settings

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
CHARTS_PER_PRIORITY = 3
CHART_MONTHS = 36
CHART_SIZE_IN = (7.0, 2.5)
CHART_DPI = 150
CHART_ORDER = ("deteriorating", "improving", "no significant change", "not comparable", "context")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
STATUS_TABLE_COLUMNS = ("Measure", "Status", "Latest", "Period", "Change (95% CI)")
LATIN1_SAFE = {
    "▲": "^", "▼": "v", "●": "o", "◆": "*", "○": "o", "–": "-", "—": "-", "‘": "'",
    "’": "'", "“": '"', "”": '"', "…": "...", "−": "-", "≥": ">=", "≤": "<=", "•": "-",
    "·": "-", "→": "->", "×": "x",
}  # fmt: skip


# --- the content model --------------------------------------------------------------------------


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 1


@dataclass(frozen=True)
class Paragraph:
    text: str
    label: str = ""  # shown in bold before the text ("Finding.")
    style: str = "body"  # body | small | title | subtitle | warning


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str = ""
    widths: tuple[float, ...] = ()  # relative column widths
    colours: tuple[tuple[str | None, ...], ...] = ()  # text colour per cell (hex) or None
    small: bool = False


@dataclass(frozen=True)
class Figure:
    png: bytes
    alt_text: str
    caption: str
    aspect: float  # height / width


@dataclass(frozen=True)
class PageBreak:
    pass


Block = Heading | Paragraph | Bullets | Table | Figure | PageBreak


@dataclass(frozen=True)
class Pack:
    """The blocks and what the cover and footer need."""

    title: str
    subtitle: str
    footer: str
    blocks: tuple[Block, ...]


# --- what the pack reads ------------------------------------------------------------------------


@dataclass(frozen=True)
class PackData:
    """Everything the pack takes from the warehouse (picklable, for ``ui.read``)."""

    plan_id: str
    as_at: date | None
    today: date
    synthetic: bool
    data_to: date | None
    card: pd.DataFrame  # London scorecard (headline rows), plan order
    series: dict[str, pd.DataFrame] = field(default_factory=dict)  # London series per measure
    points: tuple[challenge.ChallengePoint, ...] = ()


def read_pack_data(
    con: duckdb.DuckDBPyConnection,
    plan_id: str,
    as_at: date | None,
    today: date,
    quarantined: tuple[str, ...] = (),
) -> PackData:
    """The London scorecard, each measure's London series and the challenge points.

    The plan's values are read (or computed) once and serve both the scorecard and the
    challenge points, so the pack's figures and its points agree. ``quarantined`` is only a
    cache key for the page (see :func:`challenge.read_challenge`).
    """
    plan = plan_mod.load_plan(plan_id)
    values = challenge.plan_values(con, plan_id, as_at)
    card = london_card(con, plan, values, as_at)
    series = {}
    for measure in (m for p in plan.priorities for m in p.measures):
        if not measures.table_exists(con, measure.source.mart):
            continue
        frame = measures.read_series(con, measure)
        frame = frame[frame["geography_code"] == measures.LONDON]
        if as_at is not None:
            frame = frame[frame["month"] <= pd.Timestamp(as_at)]
        series[measure.id] = frame[["geography_code", "month", "value"]].reset_index(drop=True)
    status = queries.data_status(con)
    points = challenge.raise_points(con, plan_id, as_at=as_at, today=today, values=values)
    return PackData(
        plan_id=plan_id,
        as_at=as_at,
        today=today,
        synthetic=bool(status.get("synthetic")),
        data_to=status.get("data_to"),
        card=card,
        series=series,
        points=tuple(points),
    )


def london_card(
    con: duckdb.DuckDBPyConnection,
    plan: plan_mod.Plan,
    values: pd.DataFrame,
    as_at: date | None,
) -> pd.DataFrame:
    """The scorecard's headline rows for London, from values already read."""
    order = [m.id for p in plan.priorities for m in p.measures]
    london = values[values["geography_code"] == measures.LONDON]
    if set(order) - set(london["measure_id"]):
        return scorecard.scorecard(con, plan.id, measures.LONDON, as_at)
    head = measures.headline(london, measures.load_statistics().headline_window)
    return head.set_index("measure_id").reindex(order).reset_index()


# --- wording ------------------------------------------------------------------------------------


def status_rows(group: pd.DataFrame) -> Table:
    """The status table of one priority: the scorecard's own figures and wording."""
    rows, colours = [], []
    for _, row in group.iterrows():
        label = (
            f"{row['measure_label']} (proxy)" if _true(row.get("proxy")) else row["measure_label"]
        )
        rows.append(
            (
                str(label),
                STATUS_SYMBOLS[scorecard.shown_status(row["status"], row["value"])],
                scorecard.fmt_value(row["value"], row["unit"]),
                scorecard.period_text(row),
                scorecard.fmt_change(row),
            )
        )
        colours.append((None, STATUS_COLOURS.get(row["status"]), None, None, None))
    return Table(
        columns=STATUS_TABLE_COLUMNS,
        rows=tuple(rows),
        caption="",
        widths=(3.2, 2.2, 1.2, 1.8, 2.6),
        colours=tuple(colours),
    )


def _true(value: Any) -> bool:
    return value is not None and value is not pd.NA and not pd.isna(value) and bool(value)


def chart_title(row: pd.Series) -> str:
    """The finding the chart shows, in words (the title states the finding)."""
    label, status, unit = row["measure_label"], row["status"], row["unit"]
    value = scorecard.fmt_value(row["value"], unit)
    end = row.get("period_end")
    when = f"{pd.Timestamp(end):%B %Y}" if end is not None and not pd.isna(end) else ""
    change = row.get("change")
    has_change = change is not None and not pd.isna(change)
    if status == "context":
        return f"{label}: {value} in the 12 months to {when} (context: not judged)"
    if status == "not comparable":
        return f"{label}: {value} in the 12 months to {when}; not compared across a series break"
    if status == "no data" or not has_change:
        return f"{label}: {value}" + (f", {when}" if when else "")
    if row.get("window") == "month":
        return f"{label}: {value} in {when}, {status} against its XmR limits"
    if unit == "proportion":
        return (
            f"{label}: {value} in the 12 months to {when}, {change * 100:+.0f} points on a year "
            f"earlier ({status})"
        )
    verb = "rose" if change > 0 else "fell"
    return f"{label} {verb} {abs(change):.0%} in the 12 months to {when} ({status})"


def _fmt(value: float, unit: str) -> str:
    return scorecard.fmt_value(value, unit)


# --- charts -------------------------------------------------------------------------------------


def chart_series(series: pd.DataFrame) -> pd.DataFrame:
    """The part of a series a chart shows: the last 36 months (or every annual point)."""
    data = series.dropna(subset=["value"]).copy()
    data["month"] = pd.to_datetime(data["month"])
    data = data.sort_values("month")
    if data.empty:
        return data
    start = data["month"].max() - pd.DateOffset(months=CHART_MONTHS - 1)
    recent = data[data["month"] >= start]
    return recent if len(recent) >= 3 else data.tail(12)


def chart_breaks(measure: Measure, breaks: Iterable[Break], data: pd.DataFrame) -> list[Break]:
    """Series breaks of this measure inside the charted span."""
    if data.empty:
        return []
    first, last = data["month"].min(), data["month"].max()
    return [
        b for b in breaks if b.affects(measure) and first < pd.Timestamp(b.date + "-01") <= last
    ]


def draw_chart(data: pd.DataFrame, measure: Measure, title: str, breaks: Sequence[Break]) -> bytes:
    """A line chart as PNG (matplotlib's object API: no pyplot state, no display)."""
    from matplotlib.figure import Figure as MplFigure
    from matplotlib.ticker import FuncFormatter

    fig = MplFigure(figsize=CHART_SIZE_IN, dpi=CHART_DPI)
    ax = fig.add_subplot()
    proportion = measure.unit == "proportion"
    colour = NEUTRAL if measure.direction == "context" else PALETTE[0]
    values = data["value"] * (100 if proportion else 1)
    ax.plot(data["month"], values, color=colour, linewidth=1.8, marker="o", markersize=2.5)
    target = measure.target
    if target is not None and target.type == "absolute":
        level = target.value * (100 if proportion else 1)
        ax.axhline(level, color=NEUTRAL, linestyle=":", linewidth=1.2)
        shown = f"{level:.0f}%" if proportion else f"{level:,.0f}"
        ax.annotate(
            f"target {shown}", (0, level), xycoords=("axes fraction", "data"),
            xytext=(3, 3), textcoords="offset points", fontsize=7, color=NEUTRAL,
        )  # fmt: skip
    for brk in breaks:
        when = pd.Timestamp(brk.date + "-01")
        ax.axvline(when, color="#8F4F00", linestyle="--", linewidth=1)
        ax.annotate(
            f"series break ({when:%b %Y})", (when, 1), xycoords=("data", "axes fraction"),
            xytext=(3, -10), textcoords="offset points", fontsize=7, color="#8F4F00",
        )  # fmt: skip
    ax.set_title("\n".join(textwrap.wrap(title, 95)), loc="left", fontsize=9)
    ax.yaxis.set_major_formatter(
        FuncFormatter(lambda v, _: f"{v:.0f}%" if proportion else f"{v:,.0f}")
    )
    ax.set_ylim(bottom=0)
    ax.tick_params(labelsize=7.5)
    ax.grid(axis="y", color="#e5e5e5", linewidth=0.8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.set_ylabel("% of Londoners" if proportion else _per_period(data), fontsize=7.5)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=CHART_DPI)
    return buffer.getvalue()


def _per_period(data: pd.DataFrame) -> str:
    steps = data["month"].diff().dt.days.dropna()
    days = steps.median() if len(steps) else 30
    return "per month" if days < 45 else "per quarter" if days < 120 else "per year"


def alt_text(data: pd.DataFrame, measure: Measure, row: pd.Series, breaks: Sequence[Break]) -> str:
    """What the chart shows, for someone who cannot see it."""
    unit = measure.unit
    lowest = data.loc[data["value"].idxmin()]
    highest = data.loc[data["value"].idxmax()]
    first, last = data.iloc[0], data.iloc[-1]
    text = (
        f"Line chart of {measure.label.lower() if unit != 'proportion' else measure.label} for "
        f"London (MPS area), {_per_period(data)}, from {first['month']:%B %Y} to "
        f"{last['month']:%B %Y}. Latest {_fmt(last['value'], unit)} ({last['month']:%B %Y}); "
        f"lowest {_fmt(lowest['value'], unit)} ({lowest['month']:%B %Y}); highest "
        f"{_fmt(highest['value'], unit)} ({highest['month']:%B %Y})."
    )
    if measure.target is not None and measure.target.type == "absolute":
        text += f" A dotted line marks the target of {_fmt(measure.target.value, unit)}."
    for brk in breaks:
        text += f" A dashed line marks the series break '{brk.label}' ({brk.date})."
    return text + f" {row['sentence']} The table after the chart gives every value."


def chart_table(data: pd.DataFrame, unit: str, caption: str) -> Table:
    """The chart's values, one row per year and a column per month present."""
    frame = data.assign(year=data["month"].dt.year, mon=data["month"].dt.month)
    months = sorted(frame["mon"].unique())
    rows = []
    for year, part in frame.groupby("year"):
        by_month = dict(zip(part["mon"], part["value"], strict=True))
        rows.append(
            (str(year), *(_fmt(by_month[m], unit) if m in by_month else "–" for m in months))
        )
    columns = ("Year", *(MONTHS[m - 1] for m in months))
    return Table(
        columns=columns,
        rows=tuple(rows),
        caption=caption,
        widths=(1.2, *([1.0] * len(months))),
        small=True,
    )


# --- composing the pack -------------------------------------------------------------------------


def choose_charts(group: pd.DataFrame, data: PackData, count: int) -> list[pd.Series]:
    """The measures to chart: judged changes first, then the rest with a series."""
    rank = {s: i for i, s in enumerate(CHART_ORDER)}
    usable = [
        row
        for _, row in group.iterrows()
        if row["status"] in rank and len(data.series.get(row["measure_id"], [])) >= 3
    ]
    usable.sort(key=lambda r: rank[r["status"]])
    return usable[:count]


def priority_blocks(
    priority: plan_mod.Priority,
    group: pd.DataFrame,
    data: PackData,
    breaks: Sequence[Break],
    figure_number: int,
) -> tuple[list[Block], int]:
    """One priority's section: status table, key sentences, charts with their tables."""
    counts = scorecard.status_counts(group)
    judged = ", ".join(
        f"{counts[s]} {s}" for s in ("deteriorating", "improving", "no significant change")
        if counts[s]
    )  # fmt: skip
    summary = (
        f"{len(group)} measures for London (MPS area)"
        + (f": {judged}" if judged else "")
        + (f"; {counts['context']} context" if counts["context"] else "")
        + (f"; {counts['not compared']} not compared" if counts["not compared"] else "")
        + (f"; {counts['no data']} without data" if counts["no data"] else "")
        + "."
    )
    blocks: list[Block] = [PageBreak(), Heading(priority.title, 1), Paragraph(summary)]
    table = status_rows(group)
    blocks.append(
        Table(
            table.columns,
            table.rows,
            caption=f"Status of each measure, London (MPS area): {priority.title}",
            widths=table.widths,
            colours=table.colours,
        )
    )
    sentences = [
        str(row["sentence"])
        for _, row in group.iterrows()
        if row["status"] != "no data" and isinstance(row["sentence"], str)
    ]
    missing = [str(r["measure_label"]) for _, r in group.iterrows() if r["status"] == "no data"]
    if sentences:
        blocks += [Heading("What the figures say", 2), Bullets(tuple(sentences))]
    if missing:
        blocks.append(Paragraph(f"No data loaded for: {', '.join(missing)}.", style="small"))
    by_id = {m.id: m for m in priority.measures}
    for row in choose_charts(group, data, CHARTS_PER_PRIORITY):
        measure = by_id[row["measure_id"]]
        series = chart_series(data.series[measure.id])
        crossing = chart_breaks(measure, breaks, series)
        title = chart_title(row)
        figure_number += 1
        blocks.append(
            Figure(
                png=draw_chart(series, measure, title, crossing),
                alt_text=alt_text(series, measure, row, crossing),
                caption=f"Figure {figure_number}. {title}. {challenge.source_text(row)}",
                aspect=CHART_SIZE_IN[1] / CHART_SIZE_IN[0],
            )
        )
        blocks.append(
            chart_table(series, measure.unit, f"Table for figure {figure_number}: {measure.label}")
        )
    return blocks, figure_number


def point_blocks(
    points: Sequence[challenge.ChallengePoint],
    decisions: pd.DataFrame | None,
    rules: challenge.Rules,
) -> list[Block]:
    """The challenge points for the next meeting, then the rest as a table."""
    kept = challenge.apply_decisions(points, decisions, drop_dismissed=True)
    dismissed = len(points) - len(kept)
    top, rest = challenge.for_meeting(kept, rules=rules)
    latest = challenge.decisions_by_point(decisions)
    blocks: list[Block] = [PageBreak(), Heading("Challenge points for the next meeting", 1)]
    intro = (
        f"{len(top)} point{'s' if len(top) != 1 else ''} for the meeting (at most "
        f"{rules.meeting_cap}), ranked by severity; each is both statistically significant and "
        "at least the measure's materiality tolerance, or is a problem with the data supply."
    )
    if dismissed:
        intro += f" {dismissed} point(s) dismissed by editors are left out."
    blocks.append(Paragraph(intro))
    if not top:
        blocks.append(Paragraph("No point is both statistically significant and material."))
    for number, point in enumerate(top, 1):
        blocks.append(
            Heading(
                f"{number}. {point.measure_label}, {point.geography_name} "
                f"({point.severity} severity: {rules.labels[point.rule].lower()})",
                3,
            )
        )
        blocks += [
            Paragraph(point.finding, label="Finding."),
            Paragraph(point.evidence, label="Evidence.", style="small"),
            Paragraph(point.question, label="Question."),
        ]
        decision = latest.get(point.point_id)
        if decision:
            blocks.append(
                Paragraph(
                    f"{str(decision.get('decision', '')).capitalize()} by "
                    f"{decision.get('who', 'an editor')} ({str(decision.get('at', ''))[:10]})"
                    + (f": {decision['reason']}" if decision.get("reason") else "")
                    + ".",
                    style="small",
                )
            )
    if rest:
        blocks.append(Heading(f"The rest ({len(rest)})", 2))
        blocks.append(
            Table(
                ("Area", "Measure", "Point", "Severity"),
                tuple(
                    (p.geography_name, p.measure_label, rules.labels[p.rule], p.severity)
                    for p in rest
                ),
                caption="Challenge points below the meeting cap",
                widths=(2.0, 3.0, 2.4, 1.2),
            )
        )
    return blocks


def action_blocks(actions: pd.DataFrame | None) -> list[Block]:
    """Overdue actions from the actions log."""
    blocks: list[Block] = [Heading("Overdue actions", 1)]
    if actions is None:
        blocks.append(
            Paragraph("No actions log is available (the app-state store is not set up).")
        )
        return blocks
    overdue = actions[actions["overdue"]] if len(actions) else actions
    if overdue.empty:
        blocks.append(Paragraph("No action is overdue."))
        return blocks
    rows = tuple(
        (
            str(r.action_id),
            str(r.action),
            str(r.owner or "–"),
            f"{r.due:%d %b %Y}" if r.due else "–",
            str(r.status),
        )
        for r in overdue.itertuples(index=False)
    )
    blocks.append(
        Table(
            ("Id", "Action", "Owner", "Due", "Status"),
            rows,
            caption=f"{len(rows)} overdue action(s)",
            widths=(0.9, 4.5, 1.8, 1.3, 1.1),
        )
    )
    return blocks


def method_blocks(stats_cfg: measures.StatisticsConfig, breaks: Sequence[Break]) -> list[Block]:
    """Methods and caveats."""
    level = stats_cfg.significance_level
    items = [
        f"A change is called improving or deteriorating only when it is statistically "
        f"significant (p < {level:g}) and at least the measure's materiality tolerance (set "
        "per measure in the plan configuration). Context measures are never judged better or "
        "worse.",
        "Counts: exact Poisson tests and intervals (12 months against the 12 before). Monthly "
        "series: XmR charts with the NHS Making Data Count rules, on the months since the last "
        "series break. Boroughs against London: overdispersion-adjusted funnel limits "
        f"({stats_cfg.funnel_method} method, 95% and 99.8%).",
        f"Public Attitude Survey: the published extract has no base sizes. Intervals and tests "
        f"assume {stats_cfg.pas_base_borough:,} interviews a borough and "
        f"{stats_cfg.pas_base_london:,} for London per rolling year, with a design effect of "
        f"{stats_cfg.pas_design_effect:g}. {stats_cfg.pas_source}",
        *(
            f"Series break: {b.label} ({b.date}). No comparison crosses it. {b.basis()}."
            for b in breaks
        ),
        "Police recorded crime is not accredited official statistics; the MPS revises past "
        "months each publication, and the figures here are the newest vintage loaded.",
        "Challenge points are drafts for officers to accept, edit or dismiss; the rules and the "
        "meeting cap are in config/challenge_rules.yaml.",
        "Sources: MPS recorded crime (London Datastore); MOPAC Public Attitude Survey; MPS "
        "homicide data; police.uk stop and search; Home Office use of force statistics; the MPS "
        "measure extract where loaded. Contains public sector information licensed under the "
        "Open Government Licence v3.0.",
    ]
    return [PageBreak(), Heading("Methods and caveats", 1), Bullets(tuple(items))]


def compose(
    data: PackData,
    *,
    decisions: pd.DataFrame | None = None,
    actions: pd.DataFrame | None = None,
    snapshot_id: str | None = None,
    root: Path | None = None,
) -> Pack:
    """The pack's blocks, once, for both renderers."""
    plan = plan_mod.load_plan(data.plan_id, root)
    breaks = plan_mod.load_breaks(root)
    rules = challenge.load_rules(root)
    stats_cfg = measures.load_statistics(root)
    as_at_text = f"{data.as_at:%B %Y}" if data.as_at else "the latest data"
    title = "Briefing for the Deputy Mayor for Policing and Crime"
    subtitle = f"{plan.title}: figures as at {as_at_text}"
    synthetic = " Synthetic sample data: not real MPS or MOPAC figures." if data.synthetic else ""
    footer = f"{plan.title} · as at {as_at_text}" + (
        " · synthetic sample" if data.synthetic else ""
    )
    counts = scorecard.status_counts(data.card)
    blocks: list[Block] = [
        Paragraph(title, style="title"),
        Paragraph(subtitle, style="subtitle"),
    ]
    if data.synthetic:
        blocks.append(Paragraph(synthetic.strip(), style="warning"))
    cover = [
        f"Plan: {plan.title} ({plan.publisher or 'MOPAC'}).",
        f"Figures as at: {as_at_text}"
        + (f"; newest crime data {data.data_to:%B %Y}" if data.data_to else "")
        + ".",
        f"Prepared: {data.today.day} {data.today:%B %Y}.",
    ]
    if snapshot_id:
        cover.append(f"Snapshot: {snapshot_id} (the figures frozen for the meeting).")
    blocks.append(Bullets(tuple(cover)))
    blocks.append(Heading("Summary", 2))
    blocks.append(
        Paragraph(
            f"Across the plan's {len(data.card)} measures for London (MPS area): "
            + ", ".join(f"{n} {name}" for name, n in counts.items())
            + f". Challenge points raised: {len(data.points)}."
        )
    )
    blocks.append(Bullets(tuple(f"{p.title}" for p in plan.priorities)))
    kept = challenge.apply_decisions(list(data.points), decisions, drop_dismissed=True)
    top, _ = challenge.for_meeting(kept, rules=rules)
    if top:
        blocks.append(Heading("Points for the next meeting", 2))
        blocks.append(
            Bullets(
                tuple(
                    f"{p.measure_label}, {p.geography_name}: {rules.labels[p.rule].lower()} "
                    f"({p.severity} severity)"
                    for p in top
                )
            )
        )
    figure_number = 0
    for priority in plan.priorities:
        group = data.card[data.card["priority_id"] == priority.id]
        section, figure_number = priority_blocks(priority, group, data, breaks, figure_number)
        blocks += section
    blocks += point_blocks(list(data.points), decisions, rules)
    blocks += action_blocks(actions)
    blocks += method_blocks(stats_cfg, breaks)
    return Pack(title=title, subtitle=subtitle, footer=footer, blocks=tuple(blocks))


# --- DOCX ---------------------------------------------------------------------------------------


def render_docx(pack: Pack) -> bytes:
    """The pack as a Word document."""
    from docx import Document
    from docx.enum.text import WD_BREAK
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn
    from docx.shared import Mm, Pt, RGBColor

    doc = Document()
    doc.core_properties.title = f"{pack.title}: {pack.subtitle}"
    doc.core_properties.subject = pack.subtitle
    doc.core_properties.language = "en-GB"
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Mm(18))
    normal = doc.styles["Normal"]
    normal.font.name = "Arial"
    normal.font.size = Pt(10)
    doc.styles["Footer"].font.size = Pt(8)
    footer = section.footer.paragraphs[0]
    footer.add_run(f"{pack.footer} · page ")
    _docx_page_field(footer.add_run(), OxmlElement, qn)
    width = Mm(174)
    first_page = True
    for block in pack.blocks:
        if isinstance(block, PageBreak):
            if not first_page:
                doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
            continue
        first_page = False
        if isinstance(block, Heading):
            doc.add_heading(block.text, level=block.level)
        elif isinstance(block, Paragraph):
            if block.style == "title":
                doc.add_heading(block.text, level=0)
                continue
            para = doc.add_paragraph()
            if block.label:
                para.add_run(block.label + " ").bold = True
            run = para.add_run(block.text)
            if block.style == "subtitle":
                run.font.size = Pt(14)
            elif block.style == "small":
                run.font.size = Pt(9)
            elif block.style == "warning":
                run.bold = True
                run.font.color.rgb = RGBColor.from_string("B34700")
        elif isinstance(block, Bullets):
            for item in block.items:
                doc.add_paragraph(item, style="List Bullet")
        elif isinstance(block, Table):
            _docx_table(doc, block, width, OxmlElement, qn, Pt, RGBColor)
        elif isinstance(block, Figure):
            para = doc.add_paragraph()
            para.paragraph_format.keep_with_next = True
            shape = para.add_run().add_picture(io.BytesIO(block.png), width=width)
            doc_pr = shape._inline.docPr
            doc_pr.set("descr", block.alt_text)
            doc_pr.set("title", block.caption)
            caption = doc.add_paragraph(block.caption, style="Caption")
            caption.paragraph_format.keep_with_next = True
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def _docx_page_field(run: Any, oxml: Any, qn: Any) -> None:
    """A PAGE field (the page number) in a run."""
    begin, code, end = oxml("w:fldChar"), oxml("w:instrText"), oxml("w:fldChar")
    begin.set(qn("w:fldCharType"), "begin")
    code.set(qn("xml:space"), "preserve")
    code.text = "PAGE"
    end.set(qn("w:fldCharType"), "end")
    for element in (begin, code, end):
        run._r.append(element)


def _docx_table(doc: Any, block: Table, width: Any, oxml: Any, qn: Any, pt: Any, rgb: Any) -> None:
    if block.caption:
        caption = doc.add_paragraph(block.caption, style="Caption")
        caption.paragraph_format.keep_with_next = True
    table = doc.add_table(rows=1, cols=len(block.columns))
    table.style = "Table Grid"
    size = pt(8) if block.small else pt(9)
    header = table.rows[0]
    flag = oxml("w:tblHeader")
    flag.set(qn("w:val"), "true")
    header._tr.get_or_add_trPr().append(flag)
    for cell, text in zip(header.cells, block.columns, strict=True):
        cell.text = ""
        run = cell.paragraphs[0].add_run(text)
        run.bold = True
        run.font.size = size
    for index, values in enumerate(block.rows):
        cells = table.add_row().cells
        colours = block.colours[index] if index < len(block.colours) else ()
        for position, (cell, text) in enumerate(zip(cells, values, strict=True)):
            run = cell.paragraphs[0].add_run(text)
            run.font.size = size
            colour = colours[position] if position < len(colours) else None
            if colour:
                run.font.color.rgb = rgb.from_string(colour.lstrip("#").upper())
    if block.widths:
        table.autofit = False
        total = sum(block.widths)
        for column, share in zip(table.columns, block.widths, strict=True):
            column.width = int(width * share / total)
            for cell in column.cells:
                cell.width = int(width * share / total)
    doc.add_paragraph()


# --- PDF ----------------------------------------------------------------------------------------


def unicode_font() -> tuple[Path, Path, Path] | None:
    """DejaVu Sans (regular, bold, oblique) when the system has it."""
    files = (
        DEJAVU / "DejaVuSans.ttf",
        DEJAVU / "DejaVuSans-Bold.ttf",
        DEJAVU / "DejaVuSans-Oblique.ttf",
    )
    return files if all(f.is_file() for f in files) else None


def latin1(text: str) -> str:
    """Text the PDF core fonts can draw: symbols and dashes replaced, the rest latin-1."""
    for char, plain in LATIN1_SAFE.items():
        text = text.replace(char, plain)
    return text.encode("latin-1", "replace").decode("latin-1")


def render_pdf(pack: Pack, *, unicode: bool = True) -> bytes:
    """The pack as PDF: DejaVu Sans when the system has it (and ``unicode``), else the core
    Helvetica font with the text made latin-1 safe (symbols and dashes replaced)."""
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    fonts = unicode_font() if unicode else None
    clean = (lambda s: s) if fonts else latin1

    class PackPDF(FPDF):
        def footer(self) -> None:
            self.set_y(-12)
            self.set_font(family, "", 7.5)
            self.set_text_color(89, 89, 89)
            self.cell(0, 5, clean(f"{pack.footer} · page {self.page_no()}"), align="C")
            self.set_text_color(0, 0, 0)

    pdf = PackPDF(format="A4")
    if fonts:
        family = "DejaVu"
        pdf.add_font(family, "", str(fonts[0]))
        pdf.add_font(family, "B", str(fonts[1]))
        pdf.add_font(family, "I", str(fonts[2]))
    else:
        family = "helvetica"
    pdf.set_title(clean(f"{pack.title}: {pack.subtitle}"))
    pdf.set_lang("en-GB")
    pdf.set_margins(18, 16, 18)
    pdf.set_auto_page_break(True, 16)
    pdf.add_page()
    epw = pdf.epw
    first_page = True
    blocks = list(pack.blocks)
    for index, block in enumerate(blocks):
        if isinstance(block, PageBreak):
            if not first_page:
                pdf.add_page()
            continue
        first_page = False
        if isinstance(block, Heading):
            size = {0: 20, 1: 15, 2: 12, 3: 10.5}.get(block.level, 10.5)
            room = 70 if block.level == 3 else 45  # keep a heading with what follows it
            if pdf.get_y() > pdf.h - room:
                pdf.add_page()
            pdf.ln(2 if block.level > 1 else 0)
            pdf.set_font(family, "B", size)
            pdf.multi_cell(
                epw, size * 0.5, clean(block.text), align="L", new_x="LMARGIN", new_y="NEXT"
            )
            pdf.ln(1.5)
        elif isinstance(block, Paragraph):
            _pdf_paragraph(pdf, block, family, clean)
        elif isinstance(block, Bullets):
            pdf.set_font(family, "", 9.5)
            for item in block.items:
                pdf.set_x(pdf.l_margin)
                pdf.cell(5, 5, clean("•"))
                pdf.multi_cell(epw - 5, 5, clean(item), align="L", new_x="LMARGIN", new_y="NEXT")
                pdf.ln(0.8)
            pdf.ln(1.5)
        elif isinstance(block, Table):
            _pdf_table(pdf, block, family, clean, FontFace)
        elif isinstance(block, Figure):
            height = epw * block.aspect + 12
            following = blocks[index + 1] if index + 1 < len(blocks) else None
            if isinstance(following, Table):  # keep a chart with its table of values
                height += table_height(following)
            if pdf.get_y() + height > pdf.h - pdf.b_margin:
                pdf.add_page()
            pdf.image(io.BytesIO(block.png), x=pdf.l_margin, w=epw, alt_text=clean(block.alt_text))
            pdf.set_font(family, "I", 8.5)
            pdf.multi_cell(
                epw, 4.2, clean(block.caption), align="L", new_x="LMARGIN", new_y="NEXT"
            )
            pdf.ln(1.5)
    return bytes(pdf.output())


def table_height(table: Table) -> float:
    """A rough height (mm) of a table drawn by :func:`_pdf_table` (single-line rows)."""
    size = 7.5 if table.small else 8.5
    return (len(table.rows) + 1) * (size * 0.48 + 1.8) + (6 if table.caption else 0) + 3


def _pdf_paragraph(pdf: Any, block: Paragraph, family: str, clean: Any) -> None:
    sizes = {"title": 20, "subtitle": 13, "small": 8.5, "warning": 11}
    size = sizes.get(block.style, 9.5)
    height = size * 0.5
    if block.style == "title":
        pdf.ln(30)
    if block.style == "warning":
        pdf.set_text_color(0xB3, 0x47, 0x00)
    pdf.set_x(pdf.l_margin)
    if block.label:
        pdf.set_font(family, "B", size)
        pdf.write(height, clean(block.label + " "))
        pdf.set_font(family, "", size)
        pdf.write(height, clean(block.text))
        pdf.ln(height)
    else:
        style = "B" if block.style in ("title", "warning") else ""
        pdf.set_font(family, style, size)
        pdf.multi_cell(
            pdf.epw, height, clean(block.text), align="L", new_x="LMARGIN", new_y="NEXT"
        )
    pdf.set_text_color(0, 0, 0)
    pdf.ln(2.5 if block.style != "title" else 4)


def _pdf_table(pdf: Any, block: Table, family: str, clean: Any, face: Any) -> None:
    size = 7.5 if block.small else 8.5
    if block.caption:
        if pdf.get_y() > pdf.h - 40:
            pdf.add_page()
        pdf.set_font(family, "I", 8.5)
        pdf.multi_cell(
            pdf.epw, 4.2, clean(block.caption), align="L", new_x="LMARGIN", new_y="NEXT"
        )
        pdf.ln(0.5)
    pdf.set_font(family, "", size)
    widths = block.widths or tuple(1.0 for _ in block.columns)
    heading = face(emphasis="BOLD", fill_color=(235, 235, 235))
    with pdf.table(
        col_widths=widths,
        width=pdf.epw,
        text_align="LEFT",
        line_height=size * 0.48,
        headings_style=heading,
        padding=0.8,
    ) as table:
        header = table.row()
        for name in block.columns:
            header.cell(clean(name))
        for index, values in enumerate(block.rows):
            row = table.row()
            colours = block.colours[index] if index < len(block.colours) else ()
            for position, text in enumerate(values):
                colour = colours[position] if position < len(colours) else None
                style = face(color=colour) if colour else None
                row.cell(clean(text), style=style)
    pdf.ln(3)


# --- building and the command line --------------------------------------------------------------


def state_inputs(
    state: Path | None, today: date
) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """(decisions, actions) from the app-state store when it exists (never creates it)."""
    if state is None or not Path(state).exists():
        return None, None
    from oversight import governance

    store = governance.StateStore(Path(state))
    return store.decisions(), store.actions(today=today)


def build_pack(
    con: duckdb.DuckDBPyConnection,
    plan_id: str,
    as_at: date | None,
    *,
    today: date,
    state: Path | None = None,
    snapshot_id: str | None = None,
    root: Path | None = None,
) -> Pack:
    """Read, compose: the blocks both renderers draw."""
    data = read_pack_data(con, plan_id, as_at, today)
    decisions, actions = state_inputs(state, today)
    return compose(data, decisions=decisions, actions=actions, snapshot_id=snapshot_id, root=root)


def render(pack: Pack, fmt: str) -> bytes:
    if fmt == "docx":
        return render_docx(pack)
    if fmt == "pdf":
        return render_pdf(pack)
    raise ValueError(f"format must be docx or pdf, got {fmt!r}")


def add_arguments(parser: Any) -> None:
    """The ``briefing`` subcommand's options."""
    parser.add_argument(
        "--as-at", dest="as_at", required=True, metavar="YYYY-MM",
        help="cut every window at this month (on the data as now published)",
    )  # fmt: skip
    parser.add_argument("--format", choices=("docx", "pdf"), required=True)
    parser.add_argument("--out", required=True, metavar="FILE", help="where to write the pack")
    parser.add_argument("--plan", default=None, help="plan id (default: the newest plan)")
    parser.add_argument("--snapshot", default=None, help="snapshot id to name on the cover")


def run_cli(args: Any, settings: Settings) -> str:
    """``python -m oversight briefing``: write the pack; returns a line saying where."""
    from oversight.warehouse import connect

    plans = plan_mod.list_plans(settings.root)
    plan_id = args.plan or plans[-1]
    plan_mod.load_plan(plan_id, settings.root)
    as_at = scorecard.parse_month(args.as_at)
    if not settings.warehouse.exists():
        raise ValueError(
            f"No warehouse at {settings.warehouse}: load files with `python -m pipelines load`."
        )
    with connect(settings.warehouse) as con:
        pack = build_pack(
            con, plan_id, as_at, today=settings.today, state=settings.state,
            snapshot_id=args.snapshot, root=settings.root,
        )  # fmt: skip
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(render(pack, args.format))
    return f"Wrote {out} ({args.format.upper()}, {out.stat().st_size:,} bytes)."


def pack_bytes(data: PackData, decisions: Any, actions: Any, snapshot_id: str | None) -> dict:
    """Both formats from one composition (for the page)."""
    pack = compose(data, decisions=decisions, actions=actions, snapshot_id=snapshot_id)
    return {"docx": render_docx(pack), "pdf": render_pdf(pack)}
