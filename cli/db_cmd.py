"""`duban db upgrade`, `duban backup`, `duban restore`: the ledger's schema and its safety."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.main import app, db_app
from cli.output import fail
from duban.ledger.backup import BackupError, backup, restore
from duban.service import Context


@db_app.command("upgrade")
def upgrade() -> None:
    """Run the Alembic migrations up to the newest revision.

    Example: DUBAN_DATABASE_URL=postgresql://127.0.0.1/test duban db upgrade
    """
    ctx = Context.from_env()
    ctx.db.create_schema()
    typer.echo("数据库已升级到最新版本 / schema is up to date")


@app.command("backup")
def backup_command(
    file: Annotated[Path, typer.Argument(help="The backup file to write (must not exist).")],
) -> None:
    """Back up the ledger while it runs (SQLite online backup; for PostgreSQL use pg_dump).

    Example: duban backup .duban/backup-2023-10-16.db
    """
    ctx = Context.from_env()
    try:
        path = backup(ctx.settings.database_url, file)
    except BackupError as exc:
        fail(str(exc))
    typer.echo(f"已备份到 {path}")


@app.command("restore")
def restore_command(
    file: Annotated[Path, typer.Argument(help="A file written by `duban backup`.")],
) -> None:
    """Restore the ledger from a backup (writers wait, then see the restored data).

    Example: duban restore .duban/backup-2023-10-16.db
    """
    ctx = Context.from_env()
    try:
        path = restore(ctx.settings.database_url, file)
    except BackupError as exc:
        fail(str(exc))
    ctx.db.create_schema()  # a backup from an older version is brought up to date
    typer.echo(f"已从 {file} 恢复到 {path}")
