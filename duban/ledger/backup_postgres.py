"""Backups of a PostgreSQL ledger with pg_dump / pg_restore, under the same rules as SQLite's:
only a duban ledger of a known revision is restored, Prefect's database is refused by content,
a safety dump of the live ledger is taken first, and sequences never go back.

The ledger's schema (its search_path, `public` by default) is dumped and restored as a whole,
in one transaction (`pg_restore --single-transaction`).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

from duban.ledger.backup import (
    BackupError,
    LedgerSummary,
    RestoreResult,
    check_ledger_content,
)
from duban.ledger.models import NEVER_REUSED_IDS

TIMEOUT_S = 600


def libpq_uri(database_url: str) -> str:
    """The URL as pg_dump/pg_restore take it (no SQLAlchemy driver name)."""
    url = make_url(database_url).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


def _run(args: list[str], what: str) -> str:
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT_S,
                              check=False)
    except FileNotFoundError:
        raise BackupError(f"{args[0]} is not installed (PostgreSQL client tools)") from None
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1][:300]
        raise BackupError(f"{what} failed: {reason}")
    return done.stdout


def _schema(engine: Engine) -> str:
    with engine.connect() as connection:
        return connection.execute(text("SELECT current_schema()")).scalar_one()


def backup_postgres(database_url: str, engine: Engine, target: Path) -> Path:
    """pg_dump of the ledger's schema to `target` (custom format, 0600)."""
    if target.exists():
        raise BackupError(f"{target} exists: choose a new file name")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.touch(mode=0o600)
    os.chmod(target, 0o600)
    _run(["pg_dump", "--format=custom", f"--schema={_schema(engine)}", f"--file={target}",
          f"--dbname={libpq_uri(database_url)}"], "pg_dump")
    inspect_dump(target)
    return target


def _copy_rows(dump: Path, table: str) -> list[str]:
    """The data rows of one table in a dump (pg_restore writes COPY ... FROM stdin blocks)."""
    out = _run(["pg_restore", "--data-only", f"--table={table}", "--file=-", str(dump)],
               f"reading {table} from {dump}")
    rows, inside = [], False
    for line in out.splitlines():
        if line.startswith("COPY "):
            inside = True
        elif inside and line == "\\.":
            inside = False
        elif inside:
            rows.append(line)
    return rows


def inspect_dump(path: Path) -> LedgerSummary:
    """Check that `path` is a pg_dump of a duban ledger of a known revision; say what it holds."""
    if not path.is_file():
        raise BackupError(f"{path}: no such backup file")
    listing = _run(["pg_restore", "--list", str(path)], f"{path}: not a pg_dump archive;")
    tables = set(re.findall(r"TABLE (?:DATA )?\S+ (\S+) ", listing))
    revision = next(iter(_copy_rows(path, "alembic_version")), "") \
        if "alembic_version" in tables else ""
    check_ledger_content(path, tables, revision)
    return LedgerSummary(path=path, revision=revision,
                         plans=[row.split("\t")[3] for row in _copy_rows(path, "plan")],
                         occurrences=len(_copy_rows(path, "occurrence")),
                         reports=len(_copy_rows(path, "report")), newest_audit="")


def _high_water(engine: Engine) -> dict[str, int]:
    marks = {}
    with engine.connect() as connection:
        for table in NEVER_REUSED_IDS:
            sequence = connection.execute(
                text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table}).scalar()
            if sequence:
                marks[sequence] = connection.execute(
                    text(f"SELECT last_value FROM {sequence}")).scalar_one()
    return marks


def restore_postgres(
    database_url: str, engine: Engine, source: Path, safety_dir: Path, now: datetime,
    upgrade: Callable[[], None],
) -> RestoreResult:
    """Replace the ledger's schema with the dump's, after a safety dump of the live one."""
    summary = inspect_dump(source)
    safety = safety_dir / f"restore-safety-{now:%Y%m%d-%H%M%S-%f}.dump"
    backup_postgres(database_url, engine, safety)
    marks = _high_water(engine)
    engine.dispose()  # no pooled connection holds a lock on what is about to be dropped
    _run(["pg_restore", "--clean", "--if-exists", "--single-transaction", "--no-owner",
          f"--dbname={libpq_uri(database_url)}", str(source)], "pg_restore")
    upgrade()
    with engine.begin() as connection:
        for sequence, value in marks.items():
            connection.execute(text("SELECT setval(:s, greatest(:v, (SELECT last_value FROM "
                                    f"{sequence})))"), {"s": sequence, "v": value})
    return RestoreResult(Path(make_url(database_url).database or ""), safety, summary)
