"""The ledger on real SQLite and PostgreSQL: idempotent loads, materialisation, time, audit."""

from __future__ import annotations

import shutil
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from duban.calendar.clock import shanghai
from duban.ledger.database import Database, database_for, forget_database, record_audit
from duban.ledger.models import AuditEntry, Department, Duty, Occurrence, Plan, Target
from duban.service import materialise_all, setup
from tests.support.ledger import LOADED_AT
from tests.support.paths import REPO


def _counts(ctx) -> dict[str, int]:
    with ctx.db.session() as s:
        return {
            model.__tablename__: s.scalar(select(func.count()).select_from(model))
            for model in (Plan, Department, Target, Duty, Occurrence, AuditEntry)
        }


def test_load_twice_changes_nothing(loaded) -> None:
    before = _counts(loaded)
    # city departments + the bodies config lists: 20 in each of 6 counties, 1 in each of 3 zones
    assert before["department"] == 22 + 20 * 6 + 1 * 3
    assert before["occurrence"] > 300  # the periods started by 2023-06-05
    result = setup(loaded, LOADED_AT + timedelta(hours=1))
    assert not any(r.changed for r in result.loads.values())
    assert result.new_occurrences == 0
    assert _counts(loaded) == before


def test_changed_plan_updates_in_place_with_audit(make_context, db_url, tmp_path: Path) -> None:
    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config)
    ctx = make_context(db_url, config_dir=config)
    setup(ctx, LOADED_AT)
    before = _counts(ctx)
    plan_file = config / "plans" / "2023.yaml"
    original = plan_file.read_text(encoding="utf-8")
    assert "value: 2200" in original
    plan_file.write_text(original.replace("value: 2200", "value: 2300", 1), encoding="utf-8")
    result = setup(make_context(db_url, config_dir=config), LOADED_AT + timedelta(days=1))
    plan_result = result.loads["taimin-2023-12"]
    assert plan_result.created == 0 and plan_result.updated >= 1
    after = _counts(ctx)
    assert {k: after[k] for k in ("target", "duty", "occurrence")} == {
        k: before[k] for k in ("target", "duty", "occurrence")
    }
    with ctx.db.session() as s:
        target = s.scalar(select(Target).where(Target.key == "elderly-home-adaptation"))
        assert target is not None and target.value_low == 2300
        entry = s.scalar(
            select(AuditEntry).where(
                AuditEntry.verb == "updated", AuditEntry.entity_key.like("%elderly-home-adaptation")
            )
        )
        assert entry is not None and entry.detail["changes"]["value_low"] == [2200, 2300]


def test_materialise_is_idempotent(loaded) -> None:
    later = datetime(2023, 12, 31, tzinfo=UTC)
    first = materialise_all(loaded, later)
    assert materialise_all(loaded, later) == 0
    assert first >= 0


def test_materialises_only_started_periods(make_context, sqlite_url) -> None:
    ctx = make_context(sqlite_url)
    setup(ctx, datetime(2023, 6, 10, tzinfo=UTC))
    with ctx.db.session() as s:
        periods = set(s.scalars(select(Occurrence.period)))
    assert "2023-06" in periods and "2023-07" not in periods


def test_instants_round_trip_in_utc(db_url) -> None:
    db = Database(db_url)
    db.create_schema()
    instant = datetime(2023, 10, 6, 17, 0, tzinfo=UTC)
    with db.session() as s:
        record_audit(s, "test", "tick", "clock", "k", instant)
    with db.session() as s:
        stored = s.scalar(select(AuditEntry.at))
    assert stored == instant and stored.tzinfo is not None
    assert shanghai(stored) == "2023-10-07 01:00"
    db.dispose()


def test_naive_instants_are_refused(sqlite_url) -> None:
    db = Database(sqlite_url)
    db.create_schema()
    with pytest.raises(Exception, match="naive datetime"), db.session() as s:
        record_audit(s, "test", "tick", "clock", "k", datetime(2023, 10, 6, 17, 0))


def test_audit_trail_is_append_only(loaded) -> None:
    for statement in ("UPDATE audit SET actor = 'someone'", "DELETE FROM audit"):
        with pytest.raises(Exception, match="append-only"), loaded.db.session() as s:
            s.execute(text(statement))
    with loaded.db.session() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry)) > 0


def test_concurrent_writers_on_sqlite_do_not_lock(sqlite_url) -> None:
    """Eight threads, each reading then writing in one transaction: the classic lock trap."""
    db = Database(sqlite_url)
    db.create_schema()
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(40):
                with db.session() as s:
                    count = s.scalar(select(func.count()).select_from(AuditEntry))
                    record_audit(s, f"w{n}", "tick", "clock", f"{n}-{i}", datetime.now(UTC),
                                 seen=count)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == 8 * 40
    db.dispose()


def test_readers_do_not_queue_behind_a_writer_on_sqlite(sqlite_url) -> None:
    """A page view (db.read) proceeds while a write transaction holds SQLite's write lock."""
    db = Database(sqlite_url)
    db.create_schema()
    holding, release = threading.Event(), threading.Event()

    def writer() -> None:
        with db.session() as s:
            record_audit(s, "writer", "tick", "clock", "k", datetime.now(UTC))
            s.flush()
            holding.set()
            release.wait(10)

    thread = threading.Thread(target=writer)
    thread.start()
    assert holding.wait(10)
    started = time.monotonic()
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == 0  # not yet committed
    assert time.monotonic() - started < 1.0
    release.set()
    thread.join()
    db.dispose()


def test_writers_of_one_sqlite_file_take_turns_on_one_lock(sqlite_url, tmp_path) -> None:
    """Every Database on the same SQLite file in a process shares one writers' lock (so a
    waiting writer wakes when the one before commits, not on SQLite's polling); a reader
    does not take it; database_for builds one without deadlocking; other files have theirs."""
    first, second = Database(sqlite_url), database_for(sqlite_url)
    other = Database(f"sqlite:///{tmp_path / 'other.db'}")
    memory = Database("sqlite://")
    try:
        first.create_schema()
        assert first._writers is not None and first._writers is second._writers
        assert other._writers is not None and other._writers is not first._writers
        assert memory._writers is None
        with first.session() as s:
            record_audit(s, "w", "tick", "clock", "k", datetime.now(UTC))
            with second.read() as r:  # a read beside the write: no lock taken
                assert r.scalar(select(func.count()).select_from(AuditEntry)) == 0
            assert first._writers._is_owned()
        assert not first._writers._is_owned()
    finally:
        for db in (first, other, memory):
            db.dispose()
        forget_database(sqlite_url)
