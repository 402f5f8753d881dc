"""Backups of the embedded SQLite ledger, and a restore that cannot destroy.

SQLite's online backup API copies a consistent snapshot page by page (never copy the file while
it is written). A restore only accepts a duban ledger of a known schema revision (Prefect's own
database, which also has an `alembic_version` table, is refused by its content), says what the
file holds, and first takes a safety copy of the live ledger so that the restore can be undone.
Id sequences are carried over (SQLite AUTOINCREMENT): an id handed out after the backup is never
handed out again after restoring it. PostgreSQL has its own tools: `pg_dump` / `pg_restore`
(README, "Backups").
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from duban.ledger.database import private_dir
from duban.ledger.migrate import known_revisions

#: Tables every duban ledger has had since its first revision.
REQUIRED_TABLES = frozenset({
    "plan", "department", "action", "duty", "occurrence", "report", "reminder", "digest",
    "delivery", "audit", "access_token",
})
#: Tables that only Prefect's database has: a file holding them is never a duban ledger.
PREFECT_TABLES = frozenset({"flow_run", "task_run", "deployment", "work_pool"})


class BackupError(RuntimeError):
    """A backup or restore that cannot be done, with the reason."""


@dataclass(frozen=True)
class LedgerSummary:
    """What a ledger file holds, shown before anything is replaced."""

    path: Path
    revision: str
    plans: list[str]
    occurrences: int
    reports: int
    newest_audit: str  # "2023-10-16 01:00:00 office plan_load", or "" when empty

    def lines(self) -> list[str]:
        return [
            f"文件 {self.path}（数据库版本 {self.revision}）",
            f"  方案：{'、'.join(self.plans) or '无'}",
            f"  事项 {self.occurrences} 个，报送 {self.reports} 条",
            f"  最近一条审计记录：{self.newest_audit or '无'}",
        ]


@dataclass(frozen=True)
class RestoreResult:
    target: Path
    safety_copy: Path | None
    restored: LedgerSummary


def is_postgres(database_url: str) -> bool:
    return make_url(database_url).get_backend_name() == "postgresql"


def sqlite_path(database_url: str) -> Path:
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        raise BackupError(f"not a SQLite ledger: {url.render_as_string(hide_password=True)}")
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory database cannot be backed up")
    return Path(url.database)


def backup(database_url: str, target: Path) -> Path:
    """Write a consistent snapshot of the live ledger to `target` (a new SQLite file, 0600)."""
    source_path = sqlite_path(database_url)
    if not source_path.exists():
        raise BackupError(f"{source_path}: no ledger database to back up")
    if target.exists():
        raise BackupError(f"{target} exists: choose a new file name")
    _copy(source_path, target)
    inspect_ledger(target)
    return target


def _copy(source_path: Path, target: Path) -> None:
    private_dir(target.parent)
    target.touch(mode=0o600)
    os.chmod(target, 0o600)  # a backup holds the ledger: owner only, whatever the umask
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True, timeout=30)
    dest = sqlite3.connect(target)
    try:
        source.backup(dest, pages=256)
    finally:
        dest.close()
        source.close()


def inspect_ledger(path: Path) -> LedgerSummary:
    """Check that `path` is an intact duban ledger of a known revision and say what it holds."""
    if not path.is_file():
        raise BackupError(f"{path}: no such backup file")
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return _summary(path, conn)
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path}: not a duban ledger backup ({exc})") from None


def _summary(path: Path, conn: sqlite3.Connection) -> LedgerSummary:
    if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
        raise BackupError(f"{path}: integrity check failed")
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    row = conn.execute("SELECT version_num FROM alembic_version").fetchone() \
        if "alembic_version" in tables else None
    revision = row[0] if row else ""
    check_ledger_content(path, tables, revision)
    plans = [f"{doc_no} {title}" for doc_no, title in conn.execute(
        "SELECT doc_no, title FROM plan ORDER BY year, id")]
    newest = conn.execute(
        "SELECT at, actor, verb FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    return LedgerSummary(
        path=path, revision=revision, plans=plans,
        occurrences=conn.execute("SELECT count(*) FROM occurrence").fetchone()[0],
        reports=conn.execute("SELECT count(*) FROM report").fetchone()[0],
        newest_audit=" ".join(str(v)[:19] for v in newest) if newest else "",
    )


def check_ledger_content(path: Path, tables: set[str], revision: str) -> None:
    """By content, whatever the file's name: Prefect's database is refused, a duban ledger has
    its required tables and a schema revision this version knows."""
    if tables & PREFECT_TABLES:
        raise BackupError(f"{path}: this is Prefect's database, not a duban ledger")
    missing = REQUIRED_TABLES - tables
    if "alembic_version" not in tables or missing:
        what = ", ".join(sorted(missing)) or "alembic_version"
        raise BackupError(f"{path}: not a duban ledger backup (missing tables: {what})")
    if revision not in known_revisions():
        raise BackupError(f"{path}: unknown ledger schema revision {revision!r} "
                          "(written by another program or a newer duban)")


def live_summary(database_url: str) -> LedgerSummary | None:
    """The live ledger's summary, or None when there is none yet (nothing to lose)."""
    path = sqlite_path(database_url)
    if not path.exists() or path.stat().st_size == 0:
        return None
    try:
        return inspect_ledger(path)
    except BackupError:
        return None


def restore(
    database_url: str, source: Path, safety_dir: Path, now: datetime,
    upgrade: Callable[[], None],
) -> RestoreResult:
    """Replace the live ledger's content with the backup's, in one step under SQLite's lock:
    concurrent writers wait (busy timeout) and then see the restored data.

    A safety copy of the live ledger is written to `safety_dir` first; `upgrade` brings an older
    backup's schema up to date; id sequences never go back (ids handed out after the backup was
    taken stay unused)."""
    summary = inspect_ledger(source)
    target_path = sqlite_path(database_url)
    safety = None
    if live_summary(database_url) is not None:
        safety = _new_file(safety_dir, f"restore-safety-{now:%Y%m%d-%H%M%S}")
        _copy(target_path, safety)
    high_water = _sequences(target_path)
    target_path.parent.mkdir(parents=True, exist_ok=True)
    backup_conn = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    live = sqlite3.connect(target_path, timeout=30)
    try:
        backup_conn.backup(live)
    finally:
        live.close()
        backup_conn.close()
    upgrade()
    live = sqlite3.connect(target_path, timeout=30)
    try:
        _raise_sequences(live, high_water)
    finally:
        live.close()
    return RestoreResult(target_path, safety, summary)


def _new_file(folder: Path, stem: str) -> Path:
    """A file name in `folder` that is not taken (a safety copy never overwrites another)."""
    candidate, n = folder / f"{stem}.db", 1
    while candidate.exists():
        n += 1
        candidate = folder / f"{stem}-{n}.db"
    return candidate


def _sequences(path: Path) -> dict[str, int]:
    """The highest id handed out per table (AUTOINCREMENT's record, else max(id))."""
    if not path.exists():
        return {}
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        marks: dict[str, int] = {}
        if "sqlite_sequence" in tables:
            marks.update(conn.execute("SELECT name, seq FROM sqlite_sequence").fetchall())
        for table in (REQUIRED_TABLES | {"extension_request"}) & tables:
            top = conn.execute(f'SELECT max(id) FROM "{table}"').fetchone()[0] or 0
            marks[table] = max(marks.get(table, 0), top)
        return marks
    finally:
        conn.close()


def _raise_sequences(conn: sqlite3.Connection, marks: dict[str, int]) -> None:
    """Never hand out an id again: lift each AUTOINCREMENT counter to the old high-water mark."""
    has_sequence = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE name='sqlite_sequence'").fetchone()
    if not has_sequence or not marks:
        return
    autoincrement = {r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type='table' AND sql LIKE '%AUTOINCREMENT%'")}
    marks = {t: seq for t, seq in marks.items() if t in autoincrement}
    with conn:
        for table, seq in marks.items():
            conn.execute("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?",
                         (seq, table))
            conn.execute("INSERT INTO sqlite_sequence (name, seq) SELECT ?, ? WHERE NOT EXISTS "
                         "(SELECT 1 FROM sqlite_sequence WHERE name = ?)", (table, seq, table))
