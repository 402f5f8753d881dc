"""The chase's bulk writes (duban.ledger.database.BulkWriter): COPY on PostgreSQL, executemany
on SQLite; values stored as the ORM stores them, duplicates ignored and not counted."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select, text

from duban.ledger.database import BulkWriter, Database, copy_ignoring_duplicates
from duban.ledger.models import ItemEvent, Occurrence, Reminder

NOW = datetime(2023, 10, 16, 1, 0, tzinfo=UTC)
DAY = date(2023, 10, 16)
COLUMNS = ("dedup_key", "occurrence_id", "recipient", "level", "note")


@pytest.fixture
def db(db_url):
    """An empty ledger on the test database (SQLite and PostgreSQL), disposed afterwards."""
    database = Database(db_url)
    database.create_schema_fast()
    yield database
    database.dispose()


def test_rows_are_stored_as_the_orm_stores_them_and_duplicates_are_not_counted(db):
    with db.session() as s:
        fixed = {"send_on": DAY, "state": "pending", "created_at": NOW, "digest_id": None}
        first = [(f"k{n}", None, "office", "start", f"说明{n}") for n in range(3)]
        assert copy_ignoring_duplicates(s, Reminder, COLUMNS, first, fixed) == 3
        again = [*first, ("k3", None, "d01", "start", "")]
        assert copy_ignoring_duplicates(s, Reminder, COLUMNS, again, fixed) == 1
    with db.session() as s:
        rows = s.scalars(select(Reminder).order_by(Reminder.dedup_key)).all()
        assert [r.dedup_key for r in rows] == ["k0", "k1", "k2", "k3"]
        assert rows[1].note == "说明1" and rows[3].recipient == "d01"
        assert all(r.send_on == DAY and r.created_at == NOW and r.state == "pending"
                   and r.digest_id is None for r in rows)
        assert rows[0].created_at.tzinfo is not None


def test_json_payloads_round_trip(loaded):
    with loaded.db.session() as s:
        occ = s.scalar(select(Occurrence.id).order_by(Occurrence.id).limit(1))
        payload = {"kind_zh": "逾期", "overdue_days": 3, "nested": {"a": [1, "二"]}}
        columns = ("uid", "dedup_key", "kind", "occurrence_id", "department_code",
                   "county_code", "action_no", "payload")
        row = ("00000000-0000-4000-8000-000000000001", "bulk:test", "overdue", occ, "d", "c", 1,
               payload)
        fixed = {"at": NOW, "emitted_at": None}
        assert copy_ignoring_duplicates(s, ItemEvent, columns, [row], fixed) == 1
        assert copy_ignoring_duplicates(s, ItemEvent, columns, [row], fixed) == 0
    with loaded.db.session() as s:
        event = s.scalar(select(ItemEvent).where(ItemEvent.dedup_key == "bulk:test"))
        assert event.payload == payload and event.at == NOW and event.emitted_at is None


ODD = ["反斜杠\\n不是换行", "tab\there", "line\nbreak", "cr\rhere", "it's \"quoted\"", "\\N", ""]


def test_any_text_is_stored_as_written_and_constants_may_hold_quotes(db):
    """COPY's text format escapes (PostgreSQL) and SQLite's literal constants."""
    with db.session() as s:
        fixed = {"send_on": DAY, "state": "it's", "created_at": NOW, "digest_id": None}
        rows = [(f"odd{n}", None, "office", "notice", note) for n, note in enumerate(ODD)]
        assert copy_ignoring_duplicates(s, Reminder, COLUMNS, rows, fixed) == len(ODD)
    with db.session() as s:
        stored = s.scalars(select(Reminder).order_by(Reminder.id)).all()
    assert [r.note for r in stored] == ODD and {r.state for r in stored} == {"it's"}
    assert all(r.occurrence_id is None and r.created_at == NOW for r in stored)


def test_a_chunk_meeting_recorded_keys_keeps_the_chunks_before_it(db):
    """PostgreSQL COPYs each chunk under a savepoint: the chunk that meets a key already there
    is written again ignoring it, the chunks before it stay, the count is exact."""
    fixed = {"send_on": DAY, "state": "pending", "created_at": NOW, "digest_id": None}
    with db.session() as s:
        copy_ignoring_duplicates(s, Reminder, COLUMNS, [("k4", None, "office", "x", "old")],
                                 fixed)
    with db.session() as s:
        writer = BulkWriter(s, Reminder, COLUMNS, fixed, chunk=3)
        writer.add((f"k{n}", None, "office", "x", "new") for n in range(9))
        assert writer.close() == 8
        assert s.scalar(select(func.count()).select_from(Reminder)) == 9  # still usable
    with db.session() as s:
        notes = dict(s.execute(select(Reminder.dedup_key, Reminder.note)).tuples().all())
    assert notes == {f"k{n}": "old" if n == 4 else "new" for n in range(9)}


def test_serialized_json_is_stored_as_the_orm_stores_the_same_value(loaded):
    payload = {"kind_zh": "逾期", "text": "a\\b\t\"c\"\n", "n": 3, "x": None}
    columns = ("uid", "dedup_key", "kind", "occurrence_id", "department_code", "county_code",
               "action_no", "payload")
    fixed = {"at": NOW, "emitted_at": None}
    with loaded.db.session() as s:
        occ = s.scalar(select(Occurrence.id).order_by(Occurrence.id).limit(1))
        rows = [(str(uuid.uuid4()), "orm", "overdue", occ, "d", "c", 1, payload)]
        assert copy_ignoring_duplicates(s, ItemEvent, columns, rows, fixed) == 1
        rows = [(str(uuid.uuid4()), "text", "overdue", occ, "d", "c", 1, json.dumps(payload))]
        writer = BulkWriter(s, ItemEvent, columns, fixed, serialized=("payload",))
        writer.add(rows)
        assert writer.close() == 1
    cast = "payload::text" if loaded.db.dialect == "postgresql" else "payload"
    with loaded.db.session() as s:
        stored = dict(s.execute(text(f"SELECT dedup_key, {cast} FROM item_event")).tuples().all())
        events = {e.dedup_key: e.payload for e in s.scalars(select(ItemEvent))}
    assert stored["orm"] == stored["text"] == json.dumps(payload)
    assert events["orm"] == events["text"] == payload
