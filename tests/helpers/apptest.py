"""The app run in Streamlit's AppTest with the settings a test chooses.

``tests/conftest.py``'s autouse ``navigation_only`` fixture makes AppTest behave as a server
does once app.py has called ``st.navigation``; the first request to a fresh server is tested
against a real one in tests/test_browser.py.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def open_app(
    monkeypatch: pytest.MonkeyPatch,
    warehouse: Path,
    mode: str = "public",
    *,
    dev: bool | None = None,
    state: Path | None = None,
    today: date | str | None = None,
    timeout: float = 90,
    **params: str,
) -> AppTest:
    """The app on ``warehouse`` in ``mode``, not yet run, with ``params`` in the URL.

    ``dev`` (default: on in internal mode) sets the local development login; ``state`` and
    ``today`` set the app-state store and the date the app takes as today.
    """
    monkeypatch.setenv("OVERSIGHT_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("OVERSIGHT_MODE", mode)
    if dev if dev is not None else mode == "internal":
        monkeypatch.setenv("OVERSIGHT_DEV_LOGIN", "1")
    else:
        monkeypatch.delenv("OVERSIGHT_DEV_LOGIN", raising=False)
    if state is not None:
        monkeypatch.setenv("OVERSIGHT_STATE", str(state))
    if today is not None:
        monkeypatch.setenv("OVERSIGHT_TODAY", str(today))
    at = AppTest.from_file(APP, default_timeout=timeout)
    for key, value in params.items():
        at.query_params[key] = value
    return at


def open_page(
    monkeypatch: pytest.MonkeyPatch,
    warehouse: Path,
    page: str,
    mode: str = "public",
    **options: object,
) -> AppTest:
    """The app run once, then switched to ``page`` and run; it must raise nothing.

    ``options`` are :func:`open_app`'s (``dev``, ``state``, ``today``, ``timeout``) and the URL
    parameters.
    """
    at = open_app(monkeypatch, warehouse, mode, **options)  # type: ignore[arg-type]
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at
