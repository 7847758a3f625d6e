"""Shared fixtures for the test suite."""

from __future__ import annotations

import os
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
