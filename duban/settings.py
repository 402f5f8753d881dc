"""Settings read from the environment through small strict helpers; nothing read at import time."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_DIR = PROJECT_ROOT / "config"
TIMEZONE = "Asia/Shanghai"


class SettingsError(ValueError):
    """An environment variable has a value duban cannot use."""


def env_bool(name: str, default: bool) -> bool:
    """A boolean must be spelled true/false (or 1/0); anything else is an error, not a guess."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes"):
        return True
    if value in ("0", "false", "no"):
        return False
    raise SettingsError(f"{name}={raw!r}: expected true or false")


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    config_dir: Path
    notify_config: Path
    portal_url: str

    @classmethod
    def from_env(cls) -> Settings:
        home = Path(os.environ.get("DUBAN_HOME") or ".duban").resolve()
        config_dir = Path(os.environ.get("DUBAN_CONFIG_DIR") or DEFAULT_CONFIG_DIR)
        url = os.environ.get("DUBAN_DATABASE_URL") or f"sqlite:///{home / 'duban.db'}"
        notify = Path(os.environ.get("DUBAN_NOTIFY_CONFIG") or config_dir / "notify.yaml")
        portal = os.environ.get("DUBAN_PORTAL_URL") or "http://127.0.0.1:8000"
        return cls(home, url, config_dir, notify, portal.rstrip("/"))
