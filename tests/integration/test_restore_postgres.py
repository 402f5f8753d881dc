"""The PostgreSQL path of backup/restore (issue 14.1): pg_dump / pg_restore under the same rules
as SQLite — a duban ledger of a known revision only, Prefect's database refused by content,
a safety dump first, sequences never going back."""

from __future__ import annotations

import subprocess

import pytest
from sqlalchemy import create_engine, select, text
from typer.testing import CliRunner

from cli import app
from duban.ledger.backup_postgres import libpq_uri
from duban.ledger.models import Occurrence, Report
from duban.service import setup
from tests.support.ledger import LOADED_AT

pytestmark = pytest.mark.postgres


def _invoke(*args: str):
    return CliRunner().invoke(app, list(args))


def _add_report(ctx, key: str) -> int:
    with ctx.db.session() as s:
        occ = s.get(Occurrence, 1)
        report = Report(occurrence_id=occ.id, department_id=occ.department_id, kind="progress",
                        entered_by="test", idempotency_key=key, created_at=LOADED_AT)
        s.add(report)
        s.flush()
        return report.id


def test_backup_restore_round_trip_with_safety_dump(make_context, pg_url, tmp_path,
                                                    monkeypatch) -> None:
    ctx = make_context(pg_url)
    setup(ctx, LOADED_AT)
    monkeypatch.setenv("DUBAN_DATABASE_URL", pg_url)
    monkeypatch.setenv("DUBAN_HOME", str(tmp_path))
    first = _add_report(ctx, "a")
    dump = tmp_path / "ledger.dump"
    made = _invoke("backup", str(dump))
    assert made.exit_code == 0, made.output
    assert oct(dump.stat().st_mode & 0o777) == "0o600"
    lost = _add_report(ctx, "b")
    with ctx.db.session() as s:
        s.execute(text("UPDATE occurrence SET status='closed' WHERE id=1"))

    refused = _invoke("restore", str(dump))  # not a terminal and no --yes: nothing happens
    assert refused.exit_code == 1 and "--yes" in refused.output
    done = _invoke("restore", str(dump), "--yes")
    assert done.exit_code == 0, done.output
    assert list((tmp_path / "backups").glob("restore-safety-*.dump"))
    with ctx.db.session() as s:
        assert s.scalar(select(Occurrence.status).where(Occurrence.id == 1)) == "open"
        assert s.get(Report, first) is not None and s.get(Report, lost) is None
    assert _add_report(ctx, "c") > lost  # the id handed out after the backup is not reused


def test_a_dump_of_something_else_is_refused(pg_url, postgres_admin_url, tmp_path,
                                             monkeypatch) -> None:
    schema = pg_url.rsplit("%3D", 1)[1]
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE TABLE {schema}.flow_run (id int)"))
        conn.execute(text(f"CREATE TABLE {schema}.alembic_version (version_num text)"))
    engine.dispose()
    dump = tmp_path / "prefect.dump"
    subprocess.run(["pg_dump", "--format=custom", f"--schema={schema}", f"--file={dump}",
                    f"--dbname={libpq_uri(pg_url)}"], check=True)
    monkeypatch.setenv("DUBAN_DATABASE_URL", pg_url)
    monkeypatch.setenv("DUBAN_HOME", str(tmp_path))
    result = _invoke("restore", str(dump), "--yes")
    assert result.exit_code == 1 and "Prefect's database" in result.output
