"""Streamlit helpers shared by the pages: first run, the synthetic label, cached reads.

The only core module that imports streamlit. The app never imports ``pipelines``: when no
warehouse exists it runs ``python -m pipelines sample`` as a subprocess, so Great Expectations
and the loaders stay off the page path.
"""

from __future__ import annotations

import functools
import importlib
import logging
import subprocess
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import duckdb
import pandas as pd
import streamlit as st

from oversight import exports, queries
from oversight.charts import NEUTRAL
from oversight.settings import Settings
from oversight.warehouse import (
    REBUILD_ADVICE,
    WarehouseBusy,
    WarehouseCorrupt,
    WarehouseMissing,
    WarehouseOutdated,
    check_schema,
    connect,
    version_key,
)

FIRST_RUN_TIMEOUT_S = 600
logger = logging.getLogger(__name__)
# What a public page says when the warehouse cannot be read: no paths, commands or DuckDB words
# (those go to the server's log; internal mode shows more).
PUBLIC_UNREADABLE = {
    "outdated": "The data cannot be shown just now: the warehouse was built by an older version "
    "of the dashboard and is waiting to be rebuilt. Please try again later.",
    "busy": "The data cannot be shown just now: the warehouse is being updated. Please try "
    "again in a few minutes.",
    "error": "The data cannot be shown just now because the warehouse could not be read. "
    "Please try again later.",
}


# Streamlit draws captions at 60% opacity, which can fall below WCAG 2.2 AA's 4.5:1 for text
# of that size; captions here are solid #55575f (7.0:1 on white).
HOUSE_STYLE = """<style>
[data-testid="stCaptionContainer"] { opacity: 1 !important; color: #55575f !important; }
[data-testid="stCaptionContainer"] p { color: #55575f !important; }
</style>"""


def apply_house_style() -> None:
    """Page-wide CSS the accessibility checks need (text contrast)."""
    st.html(HOUSE_STYLE)


def ensure_navigation() -> None:
    """Make sure app.py's navigation, not Streamlit's pages/ folder discovery, serves the page.

    Streamlit 1.67 treats a ``pages/`` folder beside the main script as a version-1 multipage
    app until the first ``st.navigation`` call in the process; so the very first request after a
    server starts could run a page script directly, bypassing app.py's mode and login gate.
    Every page and app.py call this first: in that state it switches discovery off and reruns,
    so app.py decides what is served.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


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


@functools.lru_cache(maxsize=4)
def expected_schema(dictionary_path: str) -> dict[str, list[str]]:
    """Every mart and its columns as config/dictionary.yaml describes them."""
    from oversight.dictionary import load_dictionary

    dictionary = load_dictionary(Path(dictionary_path))
    return {m.name: [c.name for c in m.columns] for m in dictionary.marts}


@st.cache_data(show_spinner=False)
def data_status(warehouse: str, key: object, dictionary_path: str) -> dict[str, object]:
    """Whether the data shown is synthetic, and its span; cached per published version.

    First checks the warehouse has every mart and column of the data dictionary
    (:class:`WarehouseOutdated` if not), so an older build is named, not met as a query error.
    """
    with connect(Path(warehouse)) as con:
        check_schema(con, Path(warehouse), expected_schema(dictionary_path))
        return queries.data_status(con)


def current_status(settings: Settings) -> dict[str, object] | None:
    """The data status of the warehouse as published now, or None if there is none."""
    try:
        key = version_key(settings.warehouse)
    except WarehouseMissing:
        return None
    dictionary_path = str(settings.config_dir / "dictionary.yaml")
    try:
        return data_status(str(settings.warehouse), key, dictionary_path)
    except (WarehouseCorrupt, WarehouseBusy, WarehouseOutdated, duckdb.Error) as exc:
        stop_unreadable(exc, settings)


def stop_unreadable(exc: BaseException, settings: Settings) -> NoReturn:
    """Stop the page with one plain sentence when the warehouse cannot be opened or read.

    The details (paths, the lock holder, DuckDB's message) go to the server's log; internal
    mode also shows the cause and what to run, a public page never does.
    """
    if isinstance(exc, WarehouseCorrupt):
        logger.error("warehouse damaged: %s", exc)
        stop_corrupt(exc, settings)
    if isinstance(exc, WarehouseBusy):
        logger.warning("warehouse busy: %s", exc)
        kind, detail = "busy", "Another process holds its write lock (see the server log)."
    elif isinstance(exc, WarehouseOutdated):
        logger.error("warehouse outdated: %s", exc)
        kind = "outdated"
        detail = (
            "This warehouse was built by an older version; run `python -m pipelines rebuild`. "
            f"Missing: {', '.join(exc.gaps[:10])}."
        )
    else:
        logger.error("warehouse read failed", exc_info=exc)
        kind, detail = "error", f"DuckDB said: {str(exc).strip().splitlines()[0]}"
        if isinstance(exc, duckdb.BinderException | duckdb.CatalogException):
            detail += " If the warehouse is older than this code, run "
            detail += "`python -m pipelines rebuild`."
    shown = PUBLIC_UNREADABLE[kind]
    if settings.mode == "internal":
        shown = f"{shown} {detail}"
    st.error(f"**The data cannot be shown.** {shown}", icon=":material/error:")
    st.stop()


def stop_corrupt(exc: WarehouseCorrupt, settings: Settings) -> NoReturn:
    """Stop the page with advice when the warehouse file cannot be read.

    Internal mode shows the file and DuckDB's words; a public page does not show server paths.
    """
    detail = (
        str(exc)
        if settings.mode == "internal"
        else f"The warehouse file is damaged and cannot be read. {REBUILD_ADVICE}"
    )
    st.error(f"**The data cannot be shown.** {detail}", icon=":material/error:")
    st.stop()


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


# --- who is looking ------------------------------------------------------------------------------

LOCAL_ADDRESSES = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True)
class Viewer:
    """Who the page is shown to: the public, a signed-in user or the local developer."""

    name: str
    email: str
    role: str  # public | reader | editor

    @property
    def can_edit(self) -> bool:
        return self.role == "editor"


PUBLIC_VIEWER = Viewer("public", "", "public")


def server_is_local() -> bool:
    """True only when the server is bound explicitly to a loopback address."""
    address = st.get_option("server.address")
    return bool(address) and str(address) in LOCAL_ADDRESSES


def login_configured() -> bool:
    """True when an ``[auth]`` section exists, so ``st.login`` can work."""
    try:
        st.user.is_logged_in  # noqa: B018 - raises when [auth] is absent
    except (AttributeError, KeyError, FileNotFoundError):
        return False
    return True


def viewer_from_user(user: Any) -> Viewer:
    """Map the login's claims to a viewer; editors carry 'editor' in a roles/groups claim."""
    claims = user.to_dict() if hasattr(user, "to_dict") else dict(user)
    roles = claims.get("roles") or claims.get("groups") or []
    if isinstance(roles, str):
        roles = [roles]
    role = "editor" if "editor" in {str(r).lower() for r in roles} else "reader"
    email = str(claims.get("email") or "")
    return Viewer(str(claims.get("name") or email or "signed-in user"), email, role)


def access_refusal(settings: Settings) -> str | None:
    """Why internal pages may not be shown to this session, or None when they may."""
    if settings.mode != "internal":
        return None
    if settings.dev_login:
        if server_is_local():
            return None
        return (
            "OVERSIGHT_DEV_LOGIN=1 is for local development only, and this server is not bound "
            "to localhost. Start it with `--server.address 127.0.0.1`, or configure login "
            "(`[auth]` in .streamlit/secrets.toml, see README)."
        )
    if not login_configured():
        return (
            "Internal mode needs login: add an `[auth]` section to .streamlit/secrets.toml "
            "(see README, Internal mode and login). For local development only, set "
            "OVERSIGHT_DEV_LOGIN=1 and bind the server to 127.0.0.1."
        )
    if not st.user.is_logged_in:
        return "login"
    return None


def current_viewer(settings: Settings) -> Viewer:
    """The viewer of an authorised session (call after :func:`access_refusal` returned None)."""
    if settings.mode != "internal":
        return PUBLIC_VIEWER
    if settings.dev_login:
        return Viewer("local developer", "", "editor")
    return viewer_from_user(st.user)


def gate_page(reason: str) -> Callable[[], None]:
    """A page that explains why nothing internal is shown, with a login button if that helps."""

    def render() -> None:
        st.title("London policing oversight (internal)")
        if reason == "login":
            st.write("The internal oversight pages need you to sign in.")
            st.button("Sign in", on_click=st.login, type="primary")
        else:
            st.error(reason)

    return render


# --- filters in the URL --------------------------------------------------------------------------


def param_select(
    label: str,
    options: Sequence[Any],
    key: str,
    *,
    default: Any = None,
    format_func: Callable[[Any], str] = str,
    container: Any = None,
    help: str | None = None,
) -> Any:
    """A selectbox whose choice lives in the URL (``?key=value``), so every view is a link."""
    options = list(options)
    if not options:
        raise ValueError(f"no options for {label!r}")
    by_text = {str(o): o for o in options}
    wanted = st.query_params.get(key)
    if wanted in by_text:
        initial = by_text[wanted]
    else:
        initial = default if default in options else options[0]
    widget_key = f"param_{key}"
    synced_key = f"param_synced_{key}"
    if widget_key in st.session_state and st.session_state[widget_key] not in options:
        del st.session_state[widget_key]
    # The URL wins only when it changed from outside (a link followed, an address edited);
    # when it still holds what this widget last wrote, the widget's own new choice stands.
    if wanted in by_text and wanted != st.session_state.get(synced_key):
        st.session_state[widget_key] = initial
    target = container if container is not None else st.sidebar
    chosen = target.selectbox(
        label,
        options,
        index=options.index(initial),
        format_func=format_func,
        key=widget_key,
        help=help,
    )
    if st.query_params.get(key) != str(chosen):
        st.query_params[key] = str(chosen)
    st.session_state[synced_key] = str(chosen)
    return chosen


# --- cached reads --------------------------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=512)
def _cached_read(warehouse: str, key: object, module: str, name: str, args: tuple) -> Any:
    fn = getattr(importlib.import_module(module), name)
    with connect(Path(warehouse)) as con:
        return fn(con, *args)


def read(settings: Settings, fn: Callable[..., Any], *args: Any) -> Any:
    """Call a named read function ``fn(con, *args)``, cached per published warehouse version.

    The cache key includes the file's identity, so a newly published warehouse is read
    without a restart. ``args`` must be hashable values (str, int, date, tuples).
    """
    key = version_key(settings.warehouse)
    try:
        return _cached_read(str(settings.warehouse), key, fn.__module__, fn.__name__, tuple(args))
    except (WarehouseCorrupt, WarehouseBusy, duckdb.Error) as exc:
        stop_unreadable(exc, settings)


def require_warehouse(settings: Settings) -> None:
    """Stop the page with advice when there is no warehouse to read."""
    if not settings.warehouse.exists():
        st.info(
            f"No warehouse yet at `{settings.warehouse}`. Load published files with "
            "`python -m pipelines load PATH...` (see README)."
        )
        st.stop()


# --- editing the app-state store ---------------------------------------------------------------


def show_flash(key: str) -> None:
    """The note a saved edit left for the rerun after it (shown once)."""
    if flash := st.session_state.pop(key, None):
        st.success(flash)


def flash_and_rerun(key: str, message: str) -> NoReturn:
    """Leave a note for the next run and rerun the page (so it shows what was saved)."""
    st.session_state[key] = message
    st.rerun()


def attempt(change: Callable[[], Any], flash_key: str, message: Callable[[Any], str]) -> None:
    """Make a change to the app-state store: show its refusal, or rerun with a note."""
    from oversight.governance import StateError

    try:
        done = change()
    except StateError as exc:
        st.error(str(exc))
    else:
        flash_and_rerun(flash_key, message(done))


def save_form(
    save: Callable[[dict[str, Any], str | None], str],
    record: dict[str, Any],
    who: str | None,
    target: str,
    id_key: str,
    noun: str,
    flash_key: str,
) -> None:
    """Save a form's record, new or (``target`` not "new") edited, with the note "Saved X id"."""
    if target != "new":
        record = {**record, id_key: target}
    attempt(lambda: save(record, who), flash_key, lambda saved: f"Saved {noun} {saved}.")


# --- charts with their table ---------------------------------------------------------------------


def synthetic_suffix(status: dict[str, object] | None) -> str:
    """Appended to chart titles while the synthetic sample is shown."""
    return " — synthetic sample" if status and status.get("synthetic") else ""


def download_buttons(table: pd.DataFrame, filename: str, key: str) -> None:
    """CSV and Excel downloads of a table (the data behind a chart or view).

    Both go through oversight.exports, which neutralises cells a spreadsheet would run as
    formulas; the workbook is built only when its button is pressed.
    """
    st.download_button(
        "Download CSV",
        exports.frame_bytes(table, "csv"),
        file_name=f"{filename}.csv",
        mime=exports.MIME_TYPES["csv"],
        key=f"dl_{key}",
    )
    st.download_button(
        "Download Excel",
        functools.partial(exports.frame_bytes, table, "xlsx"),
        file_name=f"{filename}.xlsx",
        mime=exports.MIME_TYPES["xlsx"],
        key=f"dl_{key}_xlsx",
        on_click="ignore",
    )


def show_chart(
    fig: Any,
    table: pd.DataFrame,
    *,
    key: str,
    source: str,
    filename: str | None = None,
    notes: Iterable[str] = (),
) -> None:
    """A chart, its source line, a "show as table" alternative and a download."""
    st.plotly_chart(fig, width="stretch", key=f"chart_{key}", config={"displaylogo": False})
    lines = [f"Source: {source}", *notes]
    st.caption(" ".join(lines))
    with st.expander("Show as table"):
        st.dataframe(table, hide_index=True, width="stretch")
        download_buttons(table, filename or key, key)


# --- plan filters --------------------------------------------------------------------------------


def plan_filters(settings: Settings, *, geography: bool = True, boroughs_only: bool = False):
    """Plan, geography and as-at selectors (in the URL); returns (plan_id, geo, as_at)."""
    from oversight import scorecard

    plans = scorecard.plan_ids()
    plan_id = param_select(
        "Police and Crime Plan",
        plans,
        "plan",
        default=plans[-1],
        format_func=scorecard.plan_title,
    )
    geo = None
    if geography:
        names = scorecard.geography_names()
        options = [c for c in names if not (boroughs_only and c == "MPS")]
        geo = param_select("Area", options, "area", format_func=names.__getitem__)
    latest = read(settings, scorecard.latest_month)
    as_at = None
    if latest is not None:
        months = pd.period_range(end=pd.Timestamp(latest), periods=60, freq="M")[::-1]
        choices = ["latest", *(m.strftime("%Y-%m") for m in months)]
        chosen = param_select(
            "Figures as at",
            choices,
            "as_at",
            format_func=lambda c: "Latest data" if c == "latest" else c,
            help="Cuts every window at this month, on the data as now published.",
        )
        if chosen != "latest":
            as_at = pd.Timestamp(chosen + "-01").date()
    return plan_id, geo, as_at


# --- scorecard tables ----------------------------------------------------------------------------


@st.cache_data(show_spinner=False)
def read_config_statistics():
    """config/statistics.yaml (cached: it is read on every page that shows a CI)."""
    from oversight import measures

    return measures.load_statistics()


def scorecard_table(group: pd.DataFrame) -> pd.DataFrame:
    """The scorecard rows as a display table: status word with symbol, value, change, trend."""
    from oversight import scorecard
    from oversight.charts import STATUS_SYMBOLS

    return pd.DataFrame(
        {
            "Status": [
                STATUS_SYMBOLS[scorecard.shown_status(s, v)]
                for s, v in zip(group["status"], group["value"], strict=True)
            ],
            "Measure": [
                f"{label} (proxy)" if proxy else label
                for label, proxy in zip(group["measure_label"], group["proxy"], strict=True)
            ],
            "Latest": [
                scorecard.fmt_value(v, u)
                for v, u in zip(group["value"], group["unit"], strict=True)
            ],
            "Period": [scorecard.period_text(r) for _, r in group.iterrows()],
            "Change (95% CI)": [scorecard.fmt_change(r) for _, r in group.iterrows()],
            "Trend": list(group["trend"]) if "trend" in group else [[]] * len(group),
        }
    )


def scorecard_column_config() -> dict[str, Any]:
    return {
        "Status": st.column_config.TextColumn("Status"),
        "Measure": st.column_config.TextColumn("Measure"),
        # Neutral grey: a trend line says nothing good or bad (Streamlit draws it in the theme's
        # accent colour otherwise).
        "Trend": st.column_config.LineChartColumn(
            "Trend (up to 36 periods)", width="medium", color=NEUTRAL
        ),
    }
