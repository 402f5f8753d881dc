"""`duban db upgrade`, `duban backup`, `duban restore`: the ledger's schema and its safety."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from cli.main import app, db_app
from cli.output import fail
from duban.calendar.clock import utcnow
from duban.ledger.backup import (
    BackupError,
    backup,
    inspect_ledger,
    is_postgres,
    live_summary,
    restore,
)
from duban.ledger.backup_postgres import backup_postgres, inspect_dump, restore_postgres
from duban.service import Context


@db_app.command("upgrade")
def upgrade() -> None:
    """升级台账数据库结构 / run the Alembic migrations up to the newest revision.

    Example: DUBAN_DATABASE_URL=postgresql://127.0.0.1/test duban db upgrade
    """
    ctx = Context.from_env()
    ctx.db.create_schema()
    typer.echo("数据库已升级到最新版本 / schema is up to date")


@app.command("backup")
def backup_command(
    file: Annotated[Path, typer.Argument(
        help="备份文件（不得已存在） / the backup file to write (must not exist)")],
) -> None:
    """备份台账 / Back up the ledger while it runs (SQLite online backup, or pg_dump).

    Example: duban backup .duban/backup-2023-10-16.db
    """
    ctx = Context.from_env()
    url = ctx.settings.database_url
    try:
        path = (backup_postgres(url, ctx.db.engine, file) if is_postgres(url)
                else backup(url, file))
    except BackupError as exc:
        fail(str(exc))
    typer.echo(f"已备份到 {path}")


@app.command("restore")
def restore_command(
    file: Annotated[Path, typer.Argument(
        help="duban backup 写出的文件 / a file written by `duban backup`")],
    yes: Annotated[bool, typer.Option(
        "--yes", help="不再询问 / do not ask for confirmation")] = False,
) -> None:
    """从备份恢复台账 / Restore the ledger from a backup.

    Only a duban ledger of a known revision is accepted; what it holds is shown first, and the
    live ledger is copied to DUBAN_HOME/backups before it is replaced (so a restore can be
    undone with that copy). Writers wait, then see the restored data.

    Example: duban restore .duban/backup-2023-10-16.db
    """
    ctx = Context.from_env()
    url = ctx.settings.database_url
    postgres = is_postgres(url)
    try:
        incoming = inspect_dump(file) if postgres else inspect_ledger(file)
        current = None if postgres else live_summary(url)
    except BackupError as exc:
        fail(str(exc))
    typer.echo("备份内容 / the backup holds:")
    typer.echo("\n".join(incoming.lines()))
    if current is not None:
        typer.echo("将被替换的当前台账 / the live ledger to be replaced:")
        typer.echo("\n".join(current.lines()))
    if not yes:
        if not sys.stdin.isatty():
            fail("恢复会替换当前台账：请加 --yes 确认 / restore replaces the live ledger: "
                 "confirm with --yes")
        typer.confirm("确认用该备份替换当前台账？/ Replace the live ledger?", abort=True)
    try:
        restore_ledger = restore_postgres if postgres else restore
        args = (url, ctx.db.engine) if postgres else (url,)
        result = restore_ledger(*args, file, ctx.settings.home / "backups", utcnow(),
                                ctx.db.create_schema)
    except BackupError as exc:
        fail(str(exc))
    typer.echo(f"已从 {file} 恢复到 {result.target}")
    if result.safety_copy:
        typer.echo(f"恢复前的台账已另存为 {result.safety_copy}"
                   f"（撤销：duban restore {result.safety_copy} --yes）")
