"""Occurrences: materialise them (idempotently) and say where each one stands on a given day."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import Session

from duban.calendar.workdays import WorkCalendar
from duban.ledger.database import insert_ignoring_duplicates
from duban.ledger.models import (
    WITHDRAWN,
    Action,
    Department,
    Duty,
    Jurisdiction,
    Occurrence,
    Plan,
)
from duban.plan.duties import due_date, duty_periods
from duban.reports.history import Standing, owed_on, standings_on

STATES = ("upcoming", "due_soon", "overdue", "returned", "reported", "done", "done_late")
STATE_ZH = {
    "upcoming": "未到期",
    "due_soon": "临期",
    "overdue": "逾期",
    "returned": "已退回",
    "reported": "已报送·待审核",
    "done": "按期完成",
    "done_late": "逾期完成",
}
# One meaning per colour wherever supervisors look (board, Excel, weekly brief): 红 open and
# past its deadline, 黄 open and due within the warning window (or returned by the office for a
# new report before its deadline), 绿 on time (not yet due, reported, or done by the deadline).
# Done late has no colour: it is neither late now nor on time.
COLOUR = {"upcoming": "绿", "due_soon": "黄", "overdue": "红", "returned": "黄",
          "reported": "绿", "done": "绿", "done_late": ""}
COLOUR_MEANING = {"红": "逾期", "黄": "临期", "绿": "按期"}
# Review marks (审核): an item awaiting the office's review, or one it returned (still open).
PENDING_REVIEW, RETURNED = "pending", "returned"


def review_mark(status: str, returned_on: date | None) -> str | None:
    """What `classify` needs to know about the office's review of an occurrence."""
    if status == "reported":
        return PENDING_REVIEW
    if status == "open" and returned_on is not None:
        return RETURNED
    return None


def classify(
    due_on: date, closed_on: date | None, today: date, warn_days: int, calendar: WorkCalendar,
    review: str | None = None,
) -> str:
    """upcoming -> due_soon (within warn_days working days) -> overdue; done / done_late once
    closed; reported while a closing report awaits review; returned while an item the office
    sent back is not yet overdue again (`review` from `review_mark`)."""
    if closed_on is not None:
        if review == PENDING_REVIEW:
            return "reported"
        return "done" if closed_on <= due_on else "done_late"
    if today > due_on:
        return "overdue"
    if review == RETURNED:
        return "returned"
    if calendar.workdays_between(today, due_on) <= warn_days:
        return "due_soon"
    return "upcoming"


def materialise(
    session: Session,
    plan: Plan,
    through: date,
    calendar: WorkCalendar,
    now: datetime,
    action_nos: Iterable[int] | None = None,
) -> int:
    """Create the occurrences of every period that has started by `through`. Safe to repeat and to
    run concurrently (insert ... on conflict do nothing). Returns how many rows were new."""
    query = select(Duty).where(Duty.plan_id == plan.id, Duty.active.is_(True))
    if action_nos is not None:
        query = query.join(Action).where(Action.no.in_(list(action_nos)))
    duties = session.scalars(query).all()
    dept_ids = dict(session.execute(select(Department.code, Department.id)).tuples().all())
    rows = []
    for duty in duties:
        for period in duty_periods(duty.kind, duty.frequency, plan.starts, plan.ends):
            if period.start > through:
                continue
            due = due_date(duty.due_rule, period, calendar)
            provisional = calendar.is_provisional(due) or calendar.is_provisional(period.end)
            for code in duty.owner_codes:
                rows.append({
                    "duty_id": duty.id, "department_id": dept_ids[code], "period": period.key,
                    "period_start": period.start, "period_end": period.end, "due_on": due,
                    "original_due_on": due, "provisional": provisional, "status": "open",
                    "created_at": now,
                })
    return _insert_missing(session, rows)


def _insert_missing(session: Session, rows: list[dict]) -> int:
    if not rows:
        return 0
    existing = set(
        session.execute(
            select(Occurrence.duty_id, Occurrence.department_id, Occurrence.period).where(
                Occurrence.duty_id.in_({r["duty_id"] for r in rows})
            )
        ).tuples()
    )
    fresh = [r for r in rows if (r["duty_id"], r["department_id"], r["period"]) not in existing]
    insert_ignoring_duplicates(session, Occurrence, fresh)
    return len(fresh)


@dataclass(frozen=True)
class StatusRow:
    id: int
    plan: str
    action: int
    action_title: str
    duty: str
    duty_kind: str
    department: str
    department_name: str
    period: str
    due: str
    state: str
    provisional: bool
    county: str = ""
    acknowledged: bool = False  # 签收: urging paused on that day
    returned: bool = False  # 已退回 by the office at least once, not closed again yet

    def as_dict(self) -> dict:
        return asdict(self)


def status_query(
    plan_key: str | None = None,
    department_ids: Sequence[int] | None = None,
    action_nos: Sequence[int] | None = None,
    county_id: int | None = None,
    today: date | None = None,
    owed: ColumnElement[bool] | None = None,
) -> Select:
    """The occurrences to show; `owed` (duban.reports.history.owed_on) keeps those not withdrawn
    on `today` (default: those not withdrawn now)."""
    query = (
        select(Occurrence, Duty, Department, Action, Plan, Jurisdiction.name)
        .join(Duty, Occurrence.duty_id == Duty.id)
        .join(Department, Occurrence.department_id == Department.id)
        .join(Jurisdiction, Department.jurisdiction_id == Jurisdiction.id)
        .join(Action, Duty.action_id == Action.id)
        .join(Plan, Duty.plan_id == Plan.id)
        .where(Duty.active.is_(True), Occurrence.status != WITHDRAWN if owed is None else owed)
        .order_by(Plan.year, Plan.key, Action.no, Occurrence.due_on, Duty.key, Department.code)
    )
    # a plan named explicitly is shown whatever its state (a closed plan stays reportable)
    query = query.where(plan_matches(plan_key) if plan_key else Plan.active.is_(True))
    if department_ids:
        query = query.where(Occurrence.department_id.in_(list(department_ids)))
    if county_id is not None:
        query = query.where(Department.jurisdiction_id == county_id)
    if action_nos:
        query = query.where(Action.no.in_(list(action_nos)))
    if today is not None:  # periods that had started by then
        query = query.where(Occurrence.period_start <= today)
    return query


def plan_matches(plan_key: str) -> ColumnElement[bool]:
    """A plan named by its key (taimin-2023-12) or its year (2023)."""
    year = int(plan_key) if plan_key.isdigit() else None
    return (Plan.key == plan_key) | (Plan.year == year)


def status_rows(
    session: Session,
    today: date,
    calendar: WorkCalendar,
    plan_key: str | None = None,
    department_ids: Sequence[int] | None = None,
    action_nos: Sequence[int] | None = None,
    county_id: int | None = None,
) -> list[StatusRow]:
    """Every started occurrence as it stood at the end of `today`: reports, reviews and
    extensions recorded later do not count (duban.reports.history)."""
    rows = []
    query = status_query(plan_key, department_ids, action_nos, county_id, today,
                         owed_on(session, today))
    past = standings_on(session, today)
    for occ, duty, dept, action, plan, county in session.execute(query).tuples():
        status = "open" if occ.status == WITHDRAWN else occ.status  # withdrawn later: open then
        now = past.get(occ.id) or Standing(status, occ.due_on, occ.closed_on,
                                           occ.returned_on, occ.acknowledged_until)
        mark = review_mark(now.status, now.returned_on)
        state = classify(now.due_on, now.closed_on, today, duty.warn_days, calendar, mark)
        rows.append(StatusRow(
            id=occ.id, plan=plan.key, action=action.no, action_title=action.title,
            duty=duty.title, duty_kind=duty.kind, department=dept.code,
            department_name=dept.name, period=occ.period, due=now.due_on.isoformat(),
            state=state, provisional=occ.provisional, county=county,
            acknowledged=bool(now.status == "open" and now.acknowledged_until
                              and now.acknowledged_until >= today),
            returned=mark == RETURNED,
        ))
    return rows
