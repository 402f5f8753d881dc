"""The `duban` console script: each module registers its commands on the shared Typer app."""

import duban.cli.chase_cmd  # noqa: F401  (registration; Prefect is imported lazily)
from duban.cli import calendar_cmd, db_cmd, plan_cmd, status_cmd  # noqa: F401  (registration)
from duban.cli.main import app

__all__ = ["app"]
