"""`duban db upgrade`: bring the ledger's schema to the newest migration."""

from __future__ import annotations

import typer

from duban.cli.main import db_app
from duban.service import Context


@db_app.command("upgrade")
def upgrade() -> None:
    """Run the Alembic migrations up to the newest revision.

    Example: DUBAN_DATABASE_URL=postgresql://127.0.0.1/test duban db upgrade
    """
    ctx = Context.from_env()
    ctx.db.create_schema()
    typer.echo("数据库已升级到最新版本 / schema is up to date")
