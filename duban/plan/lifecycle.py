"""A plan's lifecycle in the ledger: draft -> active -> closed.

Only active plans are chased, materialised and shown on the daily board; a closed plan keeps its
ledger (reports, reminders, audit) and stays reportable by name (`duban report --plan KEY`).
`active_plans` is the one query the chase, the board and the deployments read.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.calendar.workdays import WorkCalendar
from duban.ledger.database import record_audit
from duban.ledger.models import PLAN_STATES, Plan
from duban.plan.config import PlanConfig, PlanFile
from duban.plan.duties import derive_duties, due_date, duty_periods

STATE_ZH = {"draft": "草稿", "active": "执行中", "closed": "已结束"}
# state -> the states it may move to (a closed plan may be re-opened by activating it again)
MOVES = {"draft": ("active", "closed"), "active": ("closed",), "closed": ("active",)}


def active_plans(session: Session) -> list[Plan]:
    """The plans being chased, oldest year first."""
    return list(session.scalars(
        select(Plan).where(Plan.state == "active").order_by(Plan.year, Plan.key)))


def all_plans(session: Session) -> list[Plan]:
    return list(session.scalars(select(Plan).order_by(Plan.year, Plan.key)))


def find_plan(session: Session, name: str) -> Plan:
    """A plan by key, or by year when exactly one plan has it; LookupError names the choices."""
    plans = all_plans(session)
    found = [p for p in plans if p.key == name] or [p for p in plans if str(p.year) == name]
    if len(found) == 1:
        return found[0]
    known = "、".join(p.key for p in plans) or "无（请先 duban plan load）"
    if found:
        raise LookupError(f"{name!r} names {len(found)} plans; use the key: {known}")
    raise LookupError(f"no plan {name!r} in the ledger; known: {known}")


def move(session: Session, plan: Plan, state: str, now: datetime, actor: str = "office") -> bool:
    """Change the plan's state (audited). False when it already is in `state`."""
    if state not in PLAN_STATES:
        raise ValueError(f"unknown plan state {state!r}")
    if plan.state == state:
        return False
    if state not in MOVES[plan.state]:
        raise ValueError(f"plan {plan.key}: cannot go from {plan.state} to {state}")
    record_audit(session, actor, f"plan_{state}", "plan", plan.key, now,
                 changes={"state": [plan.state, state]})
    plan.state = state
    return True


@dataclass(frozen=True)
class LateStart:
    """What activating a plan on `today` would find already past its deadline."""

    today: date
    items: int  # occurrences (duty x department x period) that would exist
    overdue: int  # of which already past their deadline
    departments: int  # departments owing at least one overdue item

    def warning(self) -> str | None:
        if not self.overdue:
            return None
        return (f"若今天（{self.today.isoformat()}）启用，{self.items} 项待办中有 {self.overdue} 项"
                f"已逾期（涉及 {self.departments} 个单位）。默认自启用之日起对这些事项催办、升级，"
                f"首轮只向每个单位发一条启动通知；可在 plan 中填写 ladder_from（催办起算日期）另定"
                f"日期，或 duban plan activate --from-deadlines 按原截止日期立即逐项催办 / "
                f"{self.overdue} item(s) would start overdue; by default their urging counts from "
                f"the activation day")


def protect_late_start(session: Session, plan: Plan, late: LateStart, now: datetime,
                       actor: str = "office") -> bool:
    """Late-start protection, the default when a plan is activated with items already past their
    deadline and no ladder_from of its own: urging and escalation of those items count from the
    activation day (late.today), and the plan's first chased working day sends each owing
    department one start notice instead of an escalation per old item. Audited; a later reload
    of the plan file keeps it (a ladder_from written in the file wins). True when applied."""
    if not late.overdue or plan.ladder_from is not None or plan.state == "active":
        return False
    record_audit(session, actor, "late_start", "plan", plan.key, now,
                 changes={"ladder_from": [None, late.today.isoformat()]}, overdue=late.overdue)
    plan.ladder_from = late.today
    return True


def late_start(
    config: PlanConfig, plan_file: PlanFile, today: date, calendar: WorkCalendar
) -> LateStart:
    """Count, without the ledger, the items a plan would have on `today` and how many are late."""
    spec = plan_file.plan
    items, overdue = 0, 0
    late_owners: Counter[str] = Counter()
    for duty in derive_duties(config, plan_file):
        for period in duty_periods(duty.kind, duty.frequency, spec.starts, spec.ends):
            if period.start > today:
                continue
            late = due_date(duty.due_rule, period, calendar) < today
            items += len(duty.owner_codes)
            if late:
                overdue += len(duty.owner_codes)
                late_owners.update(duty.owner_codes)
    return LateStart(today, items, overdue, len(late_owners))
