"""Item events in Prefect's event feed: written by the core, emitted by one task per flow run,
read back through POST /api/events/filter with their department and county."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import pytest
from prefect.events.filters import (
    EventIDFilter,
    EventNameFilter,
    EventRelatedFilter,
)
from sqlalchemy import func, select

from duban.calendar.clock import at_local
from duban.ledger.models import ItemEvent, Occurrence, Reminder
from duban.reports.extensions import request_extension
from flows import dispatch_flow, extension_flow
from flows.actions import action_flow
from tests.support.ledger import PLAN, target_occurrence
from tests.support.prefect_runs import read_events, run, run_id, task_run_count

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("harness")]

DAY = "2023-10-09"



def ledger_events(ctx, **where) -> list[ItemEvent]:
    with ctx.db.session() as s:
        query = select(ItemEvent).order_by(ItemEvent.id)
        for name, value in where.items():
            query = query.where(getattr(ItemEvent, name) == value)
        return list(s.scalars(query))


def test_escalations_are_events_once_per_item_with_department_and_county(ledger) -> None:
    state = run(action_flow, plan=PLAN, action=2, as_of=DAY)
    assert state.name == "有逾期"
    rows = ledger_events(ledger, action_no=2)
    with ledger.db.session() as s:
        escalated = s.scalar(select(func.count(func.distinct(Reminder.occurrence_id)))
                             .where(Reminder.level == "escalate"))
        recipients = s.scalar(select(func.count()).select_from(Reminder)
                              .where(Reminder.level == "escalate"))
    assert len(rows) == escalated > 100 and recipients == 2 * escalated  # office + supervisor
    assert {r.kind for r in rows} == {"escalated"}
    assert all(r.emitted_at is not None for r in rows)  # emitted in this run, and marked

    events = read_events(len(rows), id=EventIDFilter(id=[UUID(r.uid) for r in rows]))
    assert len(events) == len(rows)
    assert {e.event for e in events} == {"duban.item.escalated"}
    row = next(r for r in rows if r.department_code == "taishan-mzj")
    event = next(e for e in events if e.id == UUID(row.uid))
    assert event.resource.id == f"duban.occurrence.{row.occurrence_id}"
    assert event.resource.name.startswith("泰山区民政局：")
    related = {r.role: r for r in event.related}
    assert related["department"].id == "duban.department.taishan-mzj"
    assert related["department"].name == "泰山区民政局"
    assert related["county"].id == "duban.county.taishan" and related["county"].name == "泰山区"
    assert related["action"].id == "duban.action.2"
    assert related["flow-run"].id == f"prefect.flow-run.{run_id(state)}"  # linked to the run
    assert event.payload["overdue_days"] >= 3 and event.payload["due_on"] < DAY
    assert event.payload["duty"] and event.payload["period"]
    text = str(event.payload).lower()
    assert "http" not in text and "token" not in text

    # A department's timeline, as the feed filters it: its events and no one else's.
    mine = read_events(1, event=EventNameFilter(prefix=["duban.item."]),
                       related=EventRelatedFilter(id=["duban.department.taishan-mzj"]),
                       id=EventIDFilter(id=[UUID(r.uid) for r in rows]))
    assert {e.id for e in mine} == {UUID(r.uid) for r in rows
                                    if r.department_code == "taishan-mzj"}

    again = run(action_flow, plan=PLAN, action=2, as_of=DAY)  # nothing new is escalated twice
    assert [r.uid for r in ledger_events(ledger, action_no=2)] == [r.uid for r in rows]
    assert task_run_count(run_id(again), 2) == 2


def test_the_ladder_days_give_due_and_overdue_events(ledger) -> None:
    for day in ("2023-07-07", "2023-07-10", "2023-07-12"):  # due, urged, escalated
        assert run(action_flow, plan=PLAN, action=2, as_of=day).name in ("正常", "有逾期")
    kinds = {}
    for row in ledger_events(ledger, action_no=2):
        kinds.setdefault(row.occurrence_id, []).append((row.kind, row.payload["day"]))
    june = [k for k in kinds.values() if ("due", "2023-07-07") in k]
    assert june and all(k == [("due", "2023-07-07"), ("overdue", "2023-07-10"),
                              ("escalated", "2023-07-12")] for k in june)
    assert all(r.emitted_at is not None for r in ledger_events(ledger))


def test_an_approved_extension_is_an_event_and_the_run_says_so(ledger) -> None:
    assert run(action_flow, plan=PLAN, action=2, as_of=DAY).name == "有逾期"
    with ledger.db.session() as s:
        occs = s.scalars(select(Occurrence).where(Occurrence.status == "open",
                                                  Occurrence.due_on > date(2023, 10, 9))
                         .order_by(Occurrence.id).limit(2)).all()
        asks = [request_extension(s, o.id, o.department_id,
                                  ledger.calendar.add_workdays(o.due_on, 5), "数据核实中",
                                  at_local(date(2023, 10, 9)), ledger.calendar, "department")
                for o in occs]
        occ, ids = occs[0], [a.id for a in asks]
        due, until = occ.due_on.isoformat(), asks[0].requested_due_on.isoformat()
    approved = run(extension_flow, 申请编号=ids[0], 审批结果="批准", 审批意见="同意")
    assert approved.is_completed() and approved.name == "已批准"
    assert until in approved.message and due in approved.message
    rejected = run(extension_flow, 申请编号=ids[1], 审批结果="驳回", 审批意见="请按期完成")
    assert rejected.name == "已驳回" and "仍为" in rejected.message
    again = run(extension_flow, 申请编号=ids[0], 审批结果="驳回")
    assert again.is_failed() and again.name == "未审批" and again.message.startswith("未审批：")
    missing = run(extension_flow, 申请编号=987654, 审批结果="批准")
    assert missing.is_failed() and "987654" in missing.message
    assert [task_run_count(run_id(s)) for s in (approved, rejected)] == [1, 1]

    (row,) = ledger_events(ledger, kind="extended")
    assert row.occurrence_id == occ.id and row.emitted_at is not None
    assert row.payload["due_on"] == until and row.payload["previous_due_on"] == due
    (event,) = read_events(1, id=EventIDFilter(id=[UUID(row.uid)]))
    assert event.event == "duban.item.extended"
    assert {r.role for r in event.related} >= {"department", "county", "action"}


def test_the_digest_run_emits_what_is_left(ledger) -> None:
    """Rows written outside a flow (a report page, the CLI) go out with the next digest run."""
    from duban.service import chase

    chase(ledger, at_local(date(2023, 10, 9)), [4])  # the core alone: rows, nothing emitted
    rows = ledger_events(ledger)
    assert rows and all(r.emitted_at is None for r in rows)
    state = run(dispatch_flow, as_of=DAY)
    assert state.is_completed()
    assert all(r.emitted_at is not None for r in ledger_events(ledger))
    events = read_events(len(rows), id=EventIDFilter(id=[UUID(r.uid) for r in rows]))
    assert len(events) == len(rows)
    assert all(any(r.role == "flow-run" and r.id.endswith(str(run_id(state)))
                   for r in e.related) for e in events)


def test_a_report_entered_by_the_office_is_in_the_feed_at_once(ledger) -> None:
    from duban.service import materialise_all
    from flows import office_entry

    materialise_all(ledger, at_local(date(2023, 10, 9)))
    occ = target_occurrence(ledger, "taishan-mzj", "elderly-home-adaptation", "2023-09")
    state = run(office_entry, 单位代码="taishan-mzj", 事项编号=occ, 报送类型="报送进展",
                数值="260", 计量单位="户", 情况说明="9月累计改造", 收到日期=DAY)
    assert state.name == "已登记" and state.result()["events"]["emitted"] == 1
    (row,) = ledger_events(ledger, occurrence_id=occ)
    assert row.kind == "reported" and row.emitted_at is not None
    (event,) = read_events(1, id=EventIDFilter(id=[UUID(row.uid)]))
    assert event.event == "duban.item.reported"
    assert event.payload["value"] == 260 and event.payload["report_kind_zh"] == "进展"
    assert event.payload["closed"] is True and "9月累计改造" not in str(event.payload)
    related = {r.role: r.id for r in event.related}
    assert related["department"] == "duban.department.taishan-mzj"
    assert related["county"] == "duban.county.taishan"
    assert related["flow-run"] == f"prefect.flow-run.{run_id(state)}"
