"""The supervisors' view, computed from the ledger alone (no Prefect): what is late, who owes it,
how far each target is. Prefect artifacts, the Excel ledger and the weekly digest all render this.

Colours: 红 overdue; 黄 due soon, or a target behind its time-proportional expectation; 绿 the rest.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from duban.calendar.workdays import WorkCalendar
from duban.chase.occurrences import STATES, classify, plan_matches, review_mark
from duban.ledger.models import (
    Action,
    Department,
    Duty,
    Jurisdiction,
    Occurrence,
    Plan,
    Reminder,
    Target,
)
from duban.plan.allocations import ShareLine, share_lines
from duban.plan.progress import TargetProgress, action_progress
from duban.reports.extensions import extensions_by_department
from duban.reports.history import standings_on

COLOUR_OF_STATE = {"overdue": "红", "due_soon": "黄"}
AT_RISK = ("behind", "not_met")


@dataclass(frozen=True)
class ItemRow:
    """One occurrence as a supervisor sees it."""

    occurrence_id: int
    plan: str
    action: int
    action_title: str
    duty: str
    department: str
    department_name: str
    county: str
    period: str
    due: date
    state: str
    overdue_days: int
    chased: int
    last_delivery: str
    provisional: bool

    @property
    def colour(self) -> str:
        return COLOUR_OF_STATE.get(self.state, "绿")

    def as_dict(self) -> dict:
        return {**asdict(self), "due": self.due.isoformat(), "colour": self.colour}


def item_rows(
    session: Session,
    today: date,
    calendar: WorkCalendar,
    plan_key: str | None = None,
    action_nos: list[int] | None = None,
) -> list[ItemRow]:
    query = (
        select(Occurrence.id, Plan.key, Action.no, Action.title, Duty.title, Department.code,
               Department.name, Jurisdiction.name, Occurrence.period, Occurrence.due_on,
               Occurrence.closed_on, Duty.warn_days, Occurrence.provisional, Occurrence.status,
               Occurrence.returned_on)
        .join(Duty, Occurrence.duty_id == Duty.id)
        .join(Action, Duty.action_id == Action.id)
        .join(Plan, Duty.plan_id == Plan.id)
        .join(Department, Occurrence.department_id == Department.id)
        .join(Jurisdiction, Department.jurisdiction_id == Jurisdiction.id)
        .where(Duty.active.is_(True), Occurrence.period_start <= today)
        .order_by(Action.no, Occurrence.due_on, Department.code, Occurrence.id)
    )
    # a plan named explicitly is shown whatever its state (a closed plan stays reportable)
    query = query.where(plan_matches(plan_key) if plan_key else Plan.active.is_(True))
    if action_nos:
        query = query.where(Action.no.in_(action_nos))
    chased, last = _chase_history(session)
    past = standings_on(session, today)  # the ledger as it stood then: later changes excluded
    rows = []
    for (occ_id, plan, no, title, duty, code, name, county, period, due, closed, warn,
         provisional, status, returned) in session.execute(query).tuples():
        if occ_id in past:
            status, due, closed, returned = (past[occ_id].status, past[occ_id].due_on,
                                             past[occ_id].closed_on, past[occ_id].returned_on)
        state = classify(due, closed, today, warn, calendar, review_mark(status, returned))
        late = calendar.workdays_between(due, today) if state == "overdue" else 0
        rows.append(ItemRow(occ_id, plan, no, title, duty, code, name, county, period, due, state,
                            late, chased.get((occ_id, code), 0), last.get((occ_id, code), ""),
                            provisional))
    return rows


def _chase_history(session: Session) -> tuple[dict, dict]:
    """Per (occurrence, recipient): how many reminders reached it, and the newest one's state."""
    chased: dict[tuple[int, str], int] = {}
    last: dict[tuple[int, str], str] = {}
    rows = session.execute(
        select(Reminder.occurrence_id, Reminder.recipient, Reminder.state)
        .where(Reminder.occurrence_id.is_not(None))
        .order_by(Reminder.id)
    ).tuples()
    for occ_id, recipient, state in rows:
        key = (occ_id, recipient)
        chased[key] = chased.get(key, 0) + (state == "sent")
        last[key] = state
    return chased, last


@dataclass
class DepartmentLine:
    code: str
    name: str
    county: str
    states: Counter[str] = field(default_factory=Counter)

    @property
    def overdue(self) -> int:
        return self.states["overdue"]

    def as_dict(self) -> dict:
        return {"code": self.code, "name": self.name, "county": self.county,
                **{s: self.states[s] for s in STATES}}


@dataclass
class Board:
    as_of: date
    items: list[ItemRow]
    targets: dict[int, list[TargetProgress]]  # action no -> its targets
    titles: dict[int, str]
    goal_values: dict[int, float] = field(default_factory=dict)  # target id -> value (high end)
    extensions: dict[str, dict[str, int]] = field(default_factory=dict)  # department -> counts
    shares: dict[int, list[ShareLine]] = field(default_factory=dict)  # target id -> 任务分解
    goal_lows: dict[int, float] = field(default_factory=dict)  # target id -> the value to reach

    def states(self, action: int | None = None) -> Counter[str]:
        return Counter(i.state for i in self.items if action is None or i.action == action)

    def colours(self, action: int | None = None) -> Counter[str]:
        counts = Counter(i.colour for i in self.items if action is None or i.action == action)
        behind = sum(1 for t in self.targets_of(action) if _at_risk(t))
        return counts + Counter({"黄": behind}) if behind else counts

    def targets_of(self, action: int | None = None) -> list[TargetProgress]:
        if action is not None:
            return self.targets.get(action, [])
        return [t for no in sorted(self.targets) for t in self.targets[no]]

    def at_risk(self) -> list[tuple[int, TargetProgress]]:
        return [(no, t) for no in sorted(self.targets) for t in self.targets[no] if _at_risk(t)]

    def departments(self) -> list[DepartmentLine]:
        """Departments ranked by overdue items, then due-soon items."""
        lines: dict[str, DepartmentLine] = {}
        for item in self.items:
            line = lines.setdefault(item.department,
                                    DepartmentLine(item.department, item.department_name,
                                                   item.county))
            line.states[item.state] += 1
        return sorted(lines.values(),
                      key=lambda d: (-d.overdue, -d.states["due_soon"], d.code))

    def counties(self) -> list[tuple[str, Counter[str]]]:
        """Each jurisdiction's roll-up of its departments' items."""
        by_county: dict[str, Counter[str]] = defaultdict(Counter)
        for item in self.items:
            by_county[item.county][item.state] += 1
        return sorted(by_county.items(), key=lambda kv: (-kv[1]["overdue"], kv[0]))

    def overdue_or_at_risk(self, action: int) -> list[ItemRow]:
        return [i for i in self.items if i.action == action and i.state in COLOUR_OF_STATE]


def _at_risk(target: TargetProgress) -> bool:
    """Behind or not met; a target nobody has reported on is a risk too (no figure to trust)."""
    return target.verdict is None or target.verdict.code in AT_RISK


def risk_text(target: TargetProgress) -> str:
    return target.verdict.text if target.verdict else "尚无报送数据"


def build_board(
    session: Session,
    today: date,
    calendar: WorkCalendar,
    slow_ratio: float = 0.7,
    plan_key: str | None = None,
    action_nos: list[int] | None = None,
) -> Board:
    items = item_rows(session, today, calendar, plan_key, action_nos)
    titles = {i.action: i.action_title for i in items}
    plans = {i.plan for i in items}
    targets: dict[int, list[TargetProgress]] = {}
    for plan in sorted(plans):
        for no in sorted({i.action for i in items if i.plan == plan}):
            targets.setdefault(no, []).extend(action_progress(session, plan, no, today, slow_ratio))
    goals = select(Target.id, func.coalesce(Target.value_high, Target.value_low))
    shares = {t.target_id: lines for no in targets for t in targets[no]
              if (lines := share_lines(session, session.get(Target, t.target_id), today,
                                       slow_ratio))}
    lows = dict(session.execute(select(Target.id, Target.value_low)).tuples().all())
    return Board(today, items, targets, titles, dict(session.execute(goals).tuples().all()),
                 extensions_by_department(session), shares, lows)
