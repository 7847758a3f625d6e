"""Shared fixtures for the test suite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# The Great Expectations suite tests' shared fixtures (live_template, live).
pytest_plugins = ["tests.helpers.gx"]

DEFAULT_REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"


@pytest.fixture(scope="session")
def realdata() -> Path:
    """Folder of real published files (``OVERSIGHT_REALDATA``); skip if absent, fail on CI."""
    folder = Path(os.environ.get("OVERSIGHT_REALDATA") or DEFAULT_REALDATA)
    if not folder.is_dir():
        message = (
            f"real published data folder not found at {folder}; "
            "set OVERSIGHT_REALDATA to check the reference transcriptions against it"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return folder


TODAY = __import__("datetime").date(2026, 11, 23)


@pytest.fixture
def settings(tmp_path: Path):
    """Settings pointing at a fresh warehouse in a temporary folder, with a fixed "today"."""
    from oversight.settings import get_settings

    return get_settings().with_warehouse(tmp_path / "wh" / "oversight.duckdb").with_today(TODAY)


def sha256_of(path: Path) -> str:
    """The sha256 of a file's bytes."""
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def sample_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse built exactly as the app's first run builds it."""
    from oversight import ui
    from oversight.settings import get_settings

    folder = tmp_path_factory.mktemp("sample")
    settings = get_settings().with_warehouse(folder / "oversight.duckdb").with_today(TODAY)
    result = ui.build_sample_warehouse(settings)
    assert result.returncode == 0, result.stderr[-3000:]
    return settings.warehouse


@pytest.fixture(scope="session")
def real_load(realdata: Path, tmp_path_factory: pytest.TempPathFactory):
    """Every real published file (except map geometry) loaded in one command, as the README says.

    Returns the finished process and the warehouse path; shared by every test that reads real
    figures through the marts, the measures or the pages.
    """
    warehouse = tmp_path_factory.mktemp("real") / "oversight.duckdb"
    folders = sorted(p for p in realdata.iterdir() if p.is_dir() and p.name != "boundaries")
    run = subprocess.run(
        [sys.executable, "-m", "pipelines", "--warehouse", str(warehouse), "load",
         "--today", TODAY.isoformat(), *map(str, folders)],
        cwd=ROOT, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    return run, warehouse


@pytest.fixture(scope="session")
def real_warehouse(real_load) -> Path:
    """The warehouse with every real file loaded (fails if the load did not succeed)."""
    run, warehouse = real_load
    assert run.returncode == 0, run.stderr[-3000:]
    return warehouse


@pytest.fixture(autouse=True)
def navigation_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run AppTest as a server runs once app.py's st.navigation has been called.

    AppTest resets Streamlit's pages-folder flag before every run, so without this every run
    would go through ``ui.ensure_navigation``'s one-off hand-over rerun, which swallows button
    clicks. The hand-over itself is tested against a real server in tests/test_browser.py.
    """
    from streamlit.runtime.pages_manager import PagesManager

    original = PagesManager.__init__

    def init(self, *args, **kwargs) -> None:
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


@pytest.fixture
def local_server():
    """Pretend the server is bound to 127.0.0.1 (as `streamlit run --server.address` sets)."""
    from streamlit import config as st_config

    before = st_config.get_option("server.address")
    st_config.set_option("server.address", "127.0.0.1")
    yield
    st_config.set_option("server.address", before)
