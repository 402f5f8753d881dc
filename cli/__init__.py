"""The `duban` console script: each module registers its commands on the shared Typer app."""

import cli.chase_cmd  # noqa: F401  (registration; Prefect is imported lazily)
import cli.report_cmd  # noqa: F401  (registration: token, confirm, reports)
import cli.up_cmd  # noqa: F401  (registration; Prefect is imported lazily)
from cli import (  # noqa: F401  (registration)
    bulletin_cmd,
    calendar_cmd,
    db_cmd,
    deploy_cmd,
    extension_cmd,
    outbox_cmd,
    plan_book_cmd,
    plan_cmd,
    report_export_cmd,
    review_cmd,
    status_cmd,
)
from cli.errors import run_cli
from cli.main import app

__all__ = ["app", "main"]


def main() -> None:
    """The `duban` console script: the Typer app, with one-line errors instead of tracebacks."""
    run_cli(app)
