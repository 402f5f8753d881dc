"""`duban backup` / `duban restore` on SQLite while writers are active."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from duban.ledger.backup import BackupError, backup, restore
from duban.ledger.database import Database, record_audit
from duban.ledger.models import AuditEntry


class Writers:
    """Threads writing audit rows until stopped; any error is kept for the test to assert."""

    def __init__(self, db: Database, count: int = 3) -> None:
        self.db, self.errors, self.stop = db, [], threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(n,)) for n in range(count)]

    def _run(self, n: int) -> None:
        i = 0
        while not self.stop.is_set():
            try:
                with self.db.session() as s:
                    record_audit(s, f"writer{n}", "tick", "clock", str(i), datetime.now(UTC))
            except Exception as exc:  # asserted by the test
                self.errors.append(exc)
            i += 1

    def __enter__(self) -> Writers:
        for t in self.threads:
            t.start()
        time.sleep(0.3)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join()


def _rows(db: Database) -> int:
    with db.session() as s:
        return s.scalar(select(func.count()).select_from(AuditEntry))


def test_backup_and_restore_while_writing(sqlite_url, tmp_path) -> None:
    db = Database(sqlite_url)
    db.create_schema()
    snapshot = tmp_path / "backup.db"
    with Writers(db) as writers:
        backup(sqlite_url, snapshot)
        time.sleep(0.3)
    assert writers.errors == []
    saved = _rows(Database(f"sqlite:///{snapshot}"))
    assert 0 < saved < _rows(db)  # a consistent snapshot taken mid-stream
    with Writers(db) as writers:
        restore(sqlite_url, snapshot, tmp_path / "safety", datetime.now(UTC), db.create_schema)
        time.sleep(0.2)
    assert writers.errors == []
    with db.session() as s:
        ids = set(s.scalars(select(AuditEntry.id).where(AuditEntry.id <= saved)))
    assert len(ids) == saved  # everything in the backup is back


def test_bad_backups_are_refused(sqlite_url, tmp_path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(BackupError, match="junk.db: not a duban ledger backup"):
        restore(sqlite_url, junk, tmp_path, datetime.now(UTC), lambda: None)
