"""The chase's bulk writes (duban.ledger.database.copy_ignoring_duplicates): COPY on PostgreSQL,
executemany on SQLite; values stored as the ORM stores them, duplicates ignored and not counted."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select

from duban.ledger.database import Database, copy_ignoring_duplicates
from duban.ledger.models import ItemEvent, Occurrence, Reminder

NOW = datetime(2023, 10, 16, 1, 0, tzinfo=UTC)
DAY = date(2023, 10, 16)


def test_rows_are_stored_as_the_orm_stores_them_and_duplicates_are_not_counted(db_url):
    db = Database(db_url)
    db.create_schema_fast()
    try:
        with db.session() as s:
            columns = ("dedup_key", "occurrence_id", "recipient", "level", "note")
            fixed = {"send_on": DAY, "state": "pending", "created_at": NOW, "digest_id": None}
            first = [(f"k{n}", None, "office", "start", f"说明{n}") for n in range(3)]
            assert copy_ignoring_duplicates(s, Reminder, columns, first, fixed) == 3
            again = [*first, ("k3", None, "d01", "start", "")]
            assert copy_ignoring_duplicates(s, Reminder, columns, again, fixed) == 1
        with db.session() as s:
            rows = s.scalars(select(Reminder).order_by(Reminder.dedup_key)).all()
            assert [r.dedup_key for r in rows] == ["k0", "k1", "k2", "k3"]
            assert rows[1].note == "说明1" and rows[3].recipient == "d01"
            assert all(r.send_on == DAY and r.created_at == NOW and r.state == "pending"
                       and r.digest_id is None for r in rows)
            assert rows[0].created_at.tzinfo is not None
    finally:
        db.dispose()


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
