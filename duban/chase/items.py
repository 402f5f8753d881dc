"""What a department sees about its items: one item's facts (the report page's header) and the
list of its open items (the department page, manual urging). Both the page and the service use
these, so "open", "overdue" and "逾期 N 个工作日" mean the same everywhere."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from duban.calendar.workdays import WorkCalendar
from duban.chase.digest import plan_heading
from duban.chase.occurrences import STATE_ZH, classify, review_mark
from duban.ledger.models import Action, Duty, ExtensionRequest, Occurrence, Plan
from duban.plan.progress import Goal
from duban.reports.queries import ReportView, list_reports
from duban.reports.review import latest_return


@dataclass(frozen=True)
class ItemFacts:
    """One occurrence as its department reads it."""

    occurrence_id: int
    action: str
    duty: str
    duty_kind: str
    deliverable: str
    department: str
    period: str
    due: str
    state: str
    state_zh: str
    overdue_days: int
    closed: bool
    active: bool  # still in the current plan
    acknowledged_until: str  # while the pause lasts, else ""
    goal: str = ""
    unit: str = ""
    measure: str = ""
    is_count: bool = False
    numerator_label: str = ""  # a rate or an average is reported as these two parts
    denominator_label: str = ""
    extension: str = ""  # a pending extension request, in words
    reports: list[ReportView] = field(default_factory=list)
    awaiting_review: bool = False  # 已报送·待审核: a new report still supersedes it
    returned: str = ""  # the office's return (退回) in words: when, why, the new deadline
    plan: str = ""  # the plan it belongs to (plan_label): with two active plans it matters


@dataclass(frozen=True)
class OpenItem:
    """One line of a department's open items."""

    occurrence_id: int
    action: str
    duty: str
    period: str
    due: str
    state: str
    state_zh: str
    overdue_days: int
    acknowledged_until: str
    plan: str = ""  # plan_label


def open_items_query(department_id: int, today: date, with_reported: bool = False) -> Select:
    """A department's open items whose period has started, in active duties of active plans,
    by deadline (select Occurrence, Duty, Action; narrow it further with .where); with_reported
    adds the items awaiting the office's review (the department may still correct them)."""
    statuses = ("open", "reported") if with_reported else ("open",)
    return (
        select(Occurrence, Duty, Action)
        .join(Duty, Occurrence.duty_id == Duty.id)
        .join(Action, Duty.action_id == Action.id)
        .join(Plan, Duty.plan_id == Plan.id)
        .where(Occurrence.department_id == department_id, Occurrence.status.in_(statuses),
               Occurrence.period_start <= today, Duty.active.is_(True), Plan.active.is_(True))
        .order_by(Occurrence.due_on, Action.no, Duty.key)
    )


def open_items(
    session: Session, department_id: int, today: date, calendar: WorkCalendar
) -> list[OpenItem]:
    """The department's open items, most pressing deadline first."""
    lines = []
    query = open_items_query(department_id, today, with_reported=True)
    for occ, duty, action in session.execute(query):
        state = classify(occ.due_on, occ.closed_on, today, duty.warn_days, calendar,
                         review_mark(occ.status, occ.returned_on))
        late = calendar.workdays_late(occ.due_on, today) if state == "overdue" else 0
        lines.append(OpenItem(
            occ.id, action_label(action), duty.title, occ.period, occ.due_on.isoformat(), state,
            STATE_ZH.get(state, state), late, _pause(occ, today), plan_label(action.plan),
        ))
    return lines


def item_facts(
    session: Session, occurrence_id: int, today: date, calendar: WorkCalendar
) -> ItemFacts:
    """The facts of one occurrence, its pending extension request and every report on it."""
    occ = session.get(Occurrence, occurrence_id)
    duty = occ.duty
    state = classify(occ.due_on, occ.closed_on, today, duty.warn_days, calendar,
                     review_mark(occ.status, occ.returned_on))
    late = calendar.workdays_late(occ.due_on, today) if state == "overdue" else 0
    back = latest_return(session, occ.id) if occ.status == "open" else None
    target = duty.target
    goal = Goal.of(target) if target is not None else None
    return ItemFacts(
        occurrence_id=occ.id, action=action_label(duty.action), duty=duty.title,
        duty_kind=duty.kind, deliverable=duty.deliverable, department=occ.department.name,
        period=occ.period, due=occ.due_on.isoformat(), state=state,
        state_zh=STATE_ZH.get(state, state), overdue_days=late, closed=occ.status == "closed",
        active=bool(duty.active and duty.action.plan.active),
        acknowledged_until=_pause(occ, today),
        goal=goal.text() if goal else "", unit=target.unit if target else "",
        measure=target.measure if target else "", is_count=bool(goal and goal.is_count),
        numerator_label=(target.numerator_label or "") if target else "",
        denominator_label=(target.denominator_label or "") if target else "",
        extension=pending_extension(session, occ.id), reports=list_reports(session, occ.id),
        awaiting_review=occ.status == "reported",
        returned=(f"{back.on.isoformat()}退回，原因：{back.reason}；请于{back.due_on.isoformat()}前"
                  "重新报送" if back else ""),
        plan=plan_label(duty.action.plan),
    )


def plan_label(plan: Plan) -> str:
    """《title》（doc no）: how a department page names the plan an item belongs to (the same
    words as the digest's plan heading)."""
    return plan_heading(plan.title, plan.doc_no)


def action_label(action: Action) -> str:
    return f"行动{action.no}：{action.title}"


def pending_extension(session: Session, occurrence_id: int) -> str:
    """A pending extension request in words, or ""."""
    pending = session.scalar(select(ExtensionRequest).where(
        ExtensionRequest.occurrence_id == occurrence_id, ExtensionRequest.state == "pending"))
    if pending is None:
        return ""
    return f"已申请延至{pending.requested_due_on.isoformat()}，待督办办公室审批"


def _pause(occ: Occurrence, today: date) -> str:
    ack = occ.acknowledged_until
    return ack.isoformat() if ack and ack >= today else ""
