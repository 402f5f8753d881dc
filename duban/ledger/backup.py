"""Backups of the embedded SQLite ledger, safe while writers are active.

SQLite's online backup API copies a consistent snapshot page by page (never copy the file while
it is written). PostgreSQL has its own tools: `pg_dump` / `pg_restore`.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url

from duban.ledger.database import private_dir, private_file


class BackupError(RuntimeError):
    """A backup or restore that cannot be done, with the reason."""


def sqlite_path(database_url: str) -> Path:
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        raise BackupError(
            "the ledger is on PostgreSQL: back it up with "
            "`pg_dump --format=custom --file=duban.dump DBNAME` and restore with "
            "`pg_restore --clean --dbname=DBNAME duban.dump`"
        )
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory database cannot be backed up")
    return Path(url.database)


def backup(database_url: str, target: Path) -> Path:
    """Write a consistent snapshot of the live ledger to `target` (a new SQLite file)."""
    source_path = sqlite_path(database_url)
    if not source_path.exists():
        raise BackupError(f"{source_path}: no ledger database to back up")
    if target.exists():
        raise BackupError(f"{target} exists: choose a new file name")
    private_dir(target.parent)
    private_file(target)  # a backup holds the whole ledger: 0600 from its first byte
    source = sqlite3.connect(source_path, timeout=30)
    dest = sqlite3.connect(target)
    try:
        source.backup(dest, pages=256)
    finally:
        dest.close()
        source.close()
    check_backup(target)
    return target


def check_backup(path: Path) -> None:
    """A backup must be an intact SQLite ledger with a schema version."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise BackupError(f"{path}: integrity check failed")
            conn.execute("SELECT version_num FROM alembic_version").fetchone()
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path}: not a duban ledger backup ({exc})") from None


def restore(database_url: str, source: Path) -> Path:
    """Replace the live ledger's content with the backup's, in one step under SQLite's lock:
    concurrent writers wait (busy timeout) and then see the restored data."""
    if not source.exists():
        raise BackupError(f"{source}: no such backup file")
    check_backup(source)
    target_path = sqlite_path(database_url)
    target_path.parent.mkdir(parents=True, exist_ok=True)
    backup_conn = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    live = sqlite3.connect(target_path, timeout=30)
    try:
        backup_conn.backup(live)
    finally:
        live.close()
        backup_conn.close()
    return target_path
