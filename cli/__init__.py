"""The `duban` console script: each module registers its commands on the shared Typer app."""

import sys

import cli.chase_cmd  # noqa: F401  (registration; Prefect is imported lazily)
import cli.report_cmd  # noqa: F401  (registration: token, confirm, reports)
import cli.up_cmd  # noqa: F401  (registration; Prefect is imported lazily)
from cli import (  # noqa: F401  (registration)
    calendar_cmd,
    db_cmd,
    extension_cmd,
    outbox_cmd,
    plan_cmd,
    report_export_cmd,
    status_cmd,
)
from cli.main import app
from duban.settings import SettingsError

__all__ = ["app", "main"]


def main() -> None:
    """The console script: a DUBAN_* variable duban cannot use is one clear message, exit 2."""
    try:
        app()
    except SettingsError as exc:
        sys.stderr.write(f"Error: {exc}\n")
        sys.exit(2)
