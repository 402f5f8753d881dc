"""The item-event outbox (duban.ledger.item_events): written by the core with each change, once
per item,
kind and deadline, on SQLite and PostgreSQL; and the documents handed to Prefect."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from uuid import UUID

from sqlalchemy import func, select

from duban.calendar.clock import at_local
from duban.ledger.item_events import (
    count_pending,
    mark_emitted,
    occurred_at,
    pending_events,
    prefect_event,
)
from duban.ledger.models import Department, Duty, ItemEvent, Occurrence, Reminder, Target
from duban.office_entry import enter_on_behalf
from duban.reports.extensions import decide, request_extension
from duban.service import chase


def events(ctx, **where) -> list[ItemEvent]:
    with ctx.db.session() as s:
        query = select(ItemEvent).order_by(ItemEvent.id)
        for name, value in where.items():
            query = query.where(getattr(ItemEvent, name) == value)
        return list(s.scalars(query))


def test_an_escalation_is_one_event_per_item_not_per_recipient(loaded) -> None:
    chase(loaded, at_local(date(2023, 10, 9)))
    rows = events(loaded)
    with loaded.db.session() as s:
        escalated = set(s.scalars(select(Reminder.occurrence_id)
                                  .where(Reminder.level == "escalate")))
    assert Counter(r.kind for r in rows) == {"escalated": len(escalated)}
    assert {r.occurrence_id for r in rows} == escalated
    assert len({r.uid for r in rows}) == len(rows) and all(r.emitted_at is None for r in rows)
    row = next(r for r in rows if r.department_code == "taishan-mzj")
    assert row.county_code == "taishan" and row.payload["county_name"] == "泰山区"
    assert row.payload["department_name"] == "泰山区民政局"
    assert row.payload["kind_zh"] == "督办升级" and row.payload["level"] == "escalate"
    assert row.payload["overdue_days"] >= 3 and row.payload["day"] == "2023-10-09"

    chase(loaded, at_local(date(2023, 10, 9), 15))  # the same day again: nothing new
    assert [r.uid for r in events(loaded)] == [r.uid for r in rows]
    chase(loaded, at_local(date(2023, 10, 11)))  # repeats are not state changes; new arrivals are
    later = events(loaded)
    assert [r.uid for r in later[:len(rows)]] == [r.uid for r in rows]
    assert len({(r.occurrence_id, r.kind, r.payload["due_on"]) for r in later}) == len(later)
    assert {r.payload["day"] for r in later[len(rows):]} <= {"2023-10-11"}


def test_the_ladder_gives_due_then_overdue_then_escalated(loaded) -> None:
    for day in (date(2023, 7, 7), date(2023, 7, 10), date(2023, 7, 12)):
        chase(loaded, at_local(day), [2])
    kinds = defaultdict(list)
    for row in events(loaded):
        kinds[row.occurrence_id].append((row.kind, row.payload["day"]))
    june = [k for k in kinds.values() if k[0] == ("due", "2023-07-07")]
    assert len(june) > 10
    assert all(k == [("due", "2023-07-07"), ("overdue", "2023-07-10"),
                     ("escalated", "2023-07-12")] for k in june)


def test_an_approved_extension_is_an_event_and_restarts_the_ladder(loaded) -> None:
    chase(loaded, at_local(date(2023, 7, 12)), [2])
    occ_id = next(r.occurrence_id for r in events(loaded, kind="escalated"))
    now = at_local(date(2023, 7, 12), 10)
    with loaded.db.session() as s:
        occ = s.get(Occurrence, occ_id)
        asked = request_extension(s, occ_id, occ.department_id, date(2023, 7, 20), "数据核实中",
                                  now, loaded.calendar, "department")
        decide(s, asked.id, True, "office", now, "同意")
    (extended,) = events(loaded, kind="extended")
    assert extended.occurrence_id == occ_id and extended.payload["due_on"] == "2023-07-20"
    assert extended.payload["previous_due_on"] == "2023-07-07"
    chase(loaded, at_local(date(2023, 7, 20)), [2])  # the new deadline: due again
    mine = [(r.kind, r.payload["due_on"]) for r in events(loaded, occurrence_id=occ_id)]
    # first seen 3 working days late: escalated and urged (overdue) at once
    assert set(mine[:2]) == {("escalated", "2023-07-07"), ("overdue", "2023-07-07")}
    assert mine[2:] == [("extended", "2023-07-20"), ("due", "2023-07-20")]


def test_reports_acknowledgements_and_corrections_are_events(loaded) -> None:
    chase(loaded, at_local(date(2023, 10, 9)), [2])
    with loaded.db.session() as s:
        occ = s.scalar(
            select(Occurrence).join(Duty, Occurrence.duty_id == Duty.id)
            .join(Target, Duty.target_id == Target.id)
            .join(Department, Occurrence.department_id == Department.id)
            .where(Target.key == "elderly-home-adaptation", Duty.kind == "target_progress",
                   Department.code == "taishan-mzj", Occurrence.period == "2023-09"))
    now = at_local(date(2023, 10, 10), 10)
    ack = enter_on_behalf(loaded, "taishan-mzj", occ.id, "ack", None, "", None, "张三", now)
    done = enter_on_behalf(loaded, "taishan-mzj", occ.id, "progress", 260, "", None, "张三", now,
                           unit="户")
    enter_on_behalf(loaded, "taishan-mzj", occ.id, "progress", 260, "", None, "张三", now,
                    unit="户")  # a replay: nothing new
    enter_on_behalf(loaded, "taishan-mzj", occ.id, "progress", 280, "", None, "张三", now,
                    unit="户", correction_of=done.report_id, reason="少统计一个社区")
    mine = events(loaded, occurrence_id=occ.id)
    assert [r.kind for r in mine] == ["acknowledged", "reported", "corrected"]
    assert mine[0].payload["report_id"] == ack.report_id
    assert mine[0].payload["acknowledged_until"]
    assert mine[1].payload["value"] == 260 and mine[1].payload["closed"] is True
    assert mine[1].payload["report_kind_zh"] == "进展" and mine[1].payload["unit"] == "户"
    assert mine[2].payload["supersedes"] == done.report_id and mine[2].payload["value"] == 280
    assert all("张三" not in str(r.payload) for r in mine)  # who typed it in stays in the audit


def test_pending_rows_are_emitted_once_marked(loaded) -> None:
    chase(loaded, at_local(date(2023, 10, 9)), [2, 4])
    written = len(events(loaded))
    with loaded.db.session() as s:
        two = pending_events(s, [2])
        assert two and {r.action_no for r in two} == {2}
        assert count_pending(s) == written > len(two)
        assert len(pending_events(s, None, limit=5)) == 5
    later = datetime.now(UTC)
    with loaded.db.session() as s:
        assert mark_emitted(s, [r.id for r in two], later) == len(two)
        assert mark_emitted(s, [r.id for r in two], later) == 0  # marked already
        assert count_pending(s, [2]) == 0 and count_pending(s, [4]) > 0


def test_prefect_documents_name_the_item_department_and_county(loaded) -> None:
    chase(loaded, at_local(date(2023, 10, 9)), [2])
    with loaded.db.session() as s:
        row = next(r for r in pending_events(s, [2]) if r.department_code == "taishan-mzj")
        total = s.scalar(select(func.count()).select_from(ItemEvent))
    emitting = row.at + timedelta(minutes=5)
    doc = prefect_event(row, emitting)
    assert doc["id"] == UUID(row.uid) and doc["event"] == "duban.item.escalated"
    assert doc["occurred"] == row.at  # recorded five minutes ago: stamped when it happened
    assert doc["resource"]["prefect.resource.id"] == f"duban.occurrence.{row.occurrence_id}"
    assert doc["resource"]["prefect.resource.name"].startswith("泰山区民政局：")
    roles = {r["prefect.resource.role"]: r for r in doc["related"]}
    assert roles["department"]["prefect.resource.id"] == "duban.department.taishan-mzj"
    assert roles["county"]["prefect.resource.id"] == "duban.county.taishan"
    assert roles["county"]["prefect.resource.name"] == "泰山区"
    assert roles["action"]["prefect.resource.id"] == "duban.action.2"
    assert all(isinstance(v, str) for r in doc["related"] for v in r.values())
    assert doc["payload"]["occurrence_id"] == row.occurrence_id and total > 0
    text = str(doc).lower()
    assert "http" not in text and "token" not in text


def test_old_changes_are_stamped_with_the_emission_time() -> None:
    now = datetime(2026, 11, 29, 1, tzinfo=UTC)
    assert occurred_at(now - timedelta(hours=2), now) == now - timedelta(hours=2)
    assert occurred_at(now - timedelta(days=3), now) == now  # a backfill or a past --as-of
    assert occurred_at(now + timedelta(days=1), now) == now  # a future --as-of
