"""Paths, mode and environment: the one place that reads the environment.

Every other module asks :func:`get_settings` rather than hardcoding a path or reading
``os.environ`` itself, so tests and the CLIs can point the whole project elsewhere.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
MODES = ("public", "internal")


class SettingsError(ValueError):
    """An environment variable holds a value the project cannot use."""


@dataclass(frozen=True)
class Settings:
    """Where things live and how the app runs."""

    root: Path
    warehouse: Path
    state: Path
    mode: str
    dev_login: bool
    today: dt.date
    fetch_base: str | None = None

    @property
    def config_dir(self) -> Path:
        return self.root / "config"

    @property
    def reference_dir(self) -> Path:
        return self.root / "data" / "reference"

    @property
    def sample_dir(self) -> Path:
        return self.root / "data" / "sample"

    @property
    def raw_dir(self) -> Path:
        return self.root / "data" / "raw"

    @property
    def expectations_dir(self) -> Path:
        return self.root / "expectations"

    @property
    def quarantine_dir(self) -> Path:
        return self.warehouse.parent / "quarantine"

    def with_warehouse(self, path: str | os.PathLike[str] | None) -> Settings:
        """Return a copy pointing at another warehouse file (the CLIs' ``--warehouse``)."""
        if path is None:
            return self
        return replace(self, warehouse=Path(path).expanduser().resolve())

    def with_today(self, today: dt.date | None) -> Settings:
        """Return a copy with another "today" (for month-range checks)."""
        return self if today is None else replace(self, today=today)


def parse_date(text: str, name: str) -> dt.date:
    """Parse an ISO date, naming the setting in the error."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise SettingsError(f"{name} must be a date as YYYY-MM-DD, got {text!r}") from exc


def get_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read the settings from the environment (``OVERSIGHT_*`` variables)."""
    env = os.environ if env is None else env
    root = Path(env.get("OVERSIGHT_ROOT", PROJECT_ROOT)).resolve()
    mode = env.get("OVERSIGHT_MODE", "public").strip().lower()
    if mode not in MODES:
        raise SettingsError(f"OVERSIGHT_MODE must be one of {', '.join(MODES)}, got {mode!r}")
    warehouse = Path(
        env.get("OVERSIGHT_WAREHOUSE", root / "data" / "warehouse" / "oversight.duckdb")
    )
    state = Path(env.get("OVERSIGHT_STATE", root / "data" / "state" / "oversight_state.sqlite"))
    today_text = env.get("OVERSIGHT_TODAY", "")
    today = parse_date(today_text, "OVERSIGHT_TODAY") if today_text else dt.date.today()
    return Settings(
        root=root,
        warehouse=warehouse.expanduser().resolve(),
        state=state.expanduser().resolve(),
        mode=mode,
        dev_login=env.get("OVERSIGHT_DEV_LOGIN", "") == "1",
        today=today,
        fetch_base=env.get("OVERSIGHT_FETCH_BASE") or None,
    )
