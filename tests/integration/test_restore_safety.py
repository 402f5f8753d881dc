"""A restore that cannot destroy (issue 14.1): only a duban ledger of a known revision is
accepted, Prefect's database is refused by content, the live ledger is copied first, nothing
happens without confirmation, and ids handed out after a backup are never handed out again."""

from __future__ import annotations

import sqlite3
import stat
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select, text
from typer.testing import CliRunner

from cli import app
from duban.ledger.backup import backup
from duban.ledger.models import AuditEntry, Occurrence, Report

NOW = datetime(2023, 10, 16, 1, 0, tzinfo=UTC)


def _env(monkeypatch, ctx) -> None:
    monkeypatch.setenv("DUBAN_DATABASE_URL", ctx.settings.database_url)
    monkeypatch.setenv("DUBAN_HOME", str(ctx.settings.home))


def _counts(ctx) -> tuple[int, int]:
    with ctx.db.session() as s:
        return (s.scalar(select(func.count()).select_from(Occurrence)),
                s.scalar(select(func.count()).select_from(AuditEntry)))


def _foreign_file(path: Path, tables: list[str]) -> Path:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32))")
    conn.execute("INSERT INTO alembic_version VALUES ('9f1e2d3c4b5a')")
    for table in tables:
        conn.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY)")
    conn.commit()
    conn.close()
    return path


def test_a_foreign_sqlite_file_with_alembic_version_is_refused(loaded_sqlite, tmp_path,
                                                               monkeypatch) -> None:
    _env(monkeypatch, loaded_sqlite)
    before = _counts(loaded_sqlite)
    other = _foreign_file(tmp_path / "f.db", ["things"])
    result = CliRunner().invoke(app, ["restore", str(other), "--yes"])
    assert result.exit_code == 1
    assert "not a duban ledger backup" in result.output and "Traceback" not in result.output
    assert _counts(loaded_sqlite) == before  # nothing was touched


def test_prefects_own_database_is_refused_by_content(loaded_sqlite, tmp_path,
                                                     monkeypatch) -> None:
    _env(monkeypatch, loaded_sqlite)
    before = _counts(loaded_sqlite)
    prefect_db = _foreign_file(tmp_path / "prefect.db",
                               ["flow_run", "task_run", "deployment", "plan", "report"])
    result = CliRunner().invoke(app, ["restore", str(prefect_db), "--yes"])
    assert result.exit_code == 1 and "Prefect's database" in result.output
    assert _counts(loaded_sqlite) == before


def test_restore_shows_the_file_asks_and_keeps_a_safety_copy(loaded_sqlite, tmp_path,
                                                             monkeypatch) -> None:
    _env(monkeypatch, loaded_sqlite)
    snapshot = backup(loaded_sqlite.settings.database_url, tmp_path / "b.db")
    assert stat.S_IMODE(snapshot.stat().st_mode) == 0o600
    with loaded_sqlite.db.session() as s:  # a change made after the backup
        s.execute(text("UPDATE occurrence SET status='closed' WHERE id=1"))
    unconfirmed = CliRunner().invoke(app, ["restore", str(snapshot)])  # no tty, no --yes
    assert unconfirmed.exit_code == 1 and "--yes" in unconfirmed.output
    assert "事项" in unconfirmed.output  # what the file holds was shown first
    with loaded_sqlite.db.session() as s:
        assert s.scalar(select(Occurrence.status).where(Occurrence.id == 1)) == "closed"

    done = CliRunner().invoke(app, ["restore", str(snapshot), "--yes"])
    assert done.exit_code == 0, done.output
    with loaded_sqlite.db.session() as s:
        assert s.scalar(select(Occurrence.status).where(Occurrence.id == 1)) == "open"
    safety = sorted((loaded_sqlite.settings.home / "backups").glob("restore-safety-*.db"))
    assert len(safety) == 1 and str(safety[0]) in done.output

    undo = CliRunner().invoke(app, ["restore", str(safety[0]), "--yes"])  # the undo path
    assert undo.exit_code == 0, undo.output
    with loaded_sqlite.db.session() as s:
        assert s.scalar(select(Occurrence.status).where(Occurrence.id == 1)) == "closed"


def _add_report(ctx, key: str) -> int:
    with ctx.db.session() as s:
        occ = s.get(Occurrence, 1)
        report = Report(occurrence_id=occ.id, department_id=occ.department_id, kind="progress",
                        entered_by="test", idempotency_key=key, created_at=NOW)
        s.add(report)
        s.flush()
        return report.id


def test_ids_handed_out_after_a_backup_are_never_reused(loaded_sqlite, tmp_path,
                                                        monkeypatch) -> None:
    _env(monkeypatch, loaded_sqlite)
    first = _add_report(loaded_sqlite, "a")
    snapshot = backup(loaded_sqlite.settings.database_url, tmp_path / "b.db")
    lost = _add_report(loaded_sqlite, "b")  # handed out, then lost by the restore
    assert lost > first
    result = CliRunner().invoke(app, ["restore", str(snapshot), "--yes"])
    assert result.exit_code == 0, result.output
    with loaded_sqlite.db.session() as s:
        assert s.get(Report, lost) is None
    assert _add_report(loaded_sqlite, "c") > lost
