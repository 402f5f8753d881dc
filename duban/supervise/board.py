"""The supervisors' view, computed from the ledger alone (no Prefect): what is late, who owes it,
how far each target is. Prefect artifacts, the Excel ledger and the weekly digest all render this.

Colours count items only (duban.chase.occurrences.COLOUR): 红 overdue, 黄 due within the warning
window, 绿 on time. A target's standing is said in its own words (已达标, 进度正常, 进度滞后,
未达标, 尚无报送数据), never as a colour, so the two are never added up.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from duban.calendar.workdays import WorkCalendar
from duban.chase.dispatch import Undelivered, undelivered
from duban.chase.occurrences import (
    COLOUR,
    COLOUR_MEANING,
    STATES,
    classify,
    plan_matches,
    review_mark,
)
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
from duban.plan.progress import VERDICT_ZH, TargetProgress, action_progress
from duban.reports.extensions import extensions_by_department
from duban.reports.history import owed_on, standings_on

COLOUR_OF_STATE = {"overdue": "红", "due_soon": "黄"}  # the colours that call for action
AT_RISK = ("behind", "not_met")
NO_DATA = "尚无报送数据"
STANDINGS = ("met", "on_track", "behind", "not_met", "none")


def office_item_url(base: str, occurrence_id: int) -> str:
    """The office's page of one item on the portal: its reports and evidence (office credential);
    the address carries no secret, so the board and the Excel may show it."""
    return f"{base.rstrip('/')}/office/items/{occurrence_id}"


def colour_text(colours: Counter[str], bold: bool = False) -> str:
    """Item counts by colour, each with its meaning: '红 逾期 3 · 黄 临期 1 · 绿 按期 2'."""
    mark = "**" if bold else ""
    return " · ".join(f"{c} {COLOUR_MEANING[c]} {mark}{colours[c]}{mark}" for c in COLOUR_MEANING)


def standing_text(targets: list[TargetProgress]) -> str:
    """Targets by verdict, in words: '指标 5 项：已达标 1，进度滞后 2，尚无报送数据 2'."""
    counts = Counter(t.verdict.code if t.verdict else "none" for t in targets)
    words = {**VERDICT_ZH, "none": NO_DATA}
    parts = "，".join(f"{words[s]} {counts[s]}" for s in STANDINGS if counts[s])
    return f"指标 {len(targets)} 项" + (f"：{parts}" if parts else "")


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
        """红 / 黄 / 绿, or '' for an item done late (duban.chase.occurrences.COLOUR)."""
        return COLOUR[self.state]

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
        .where(Duty.active.is_(True), owed_on(session, today), Occurrence.period_start <= today)
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


@dataclass(frozen=True)
class PlanRef:
    """A plan as supervisors name it: its key (artifact keys) and its document number and title."""

    key: str
    doc_no: str
    title: str

    @property
    def name(self) -> str:
        return f"{self.doc_no}《{self.title}》" if self.doc_no else self.title


def active_plans(session: Session) -> list[PlanRef]:
    """The plans being chased, oldest first: each gets its own part of the board."""
    rows = session.execute(select(Plan.key, Plan.doc_no, Plan.title)
                           .where(Plan.active.is_(True)).order_by(Plan.starts, Plan.key))
    return [PlanRef(*row) for row in rows.tuples()]


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
    plan: PlanRef | None = None  # the plan this board is scoped to (None: every active plan)
    undelivered: list[Undelivered] = field(default_factory=list)  # 未送达 (every plan's)

    def states(self, action: int | None = None) -> Counter[str]:
        return Counter(i.state for i in self.items if action is None or i.action == action)

    def colours(self, action: int | None = None) -> Counter[str]:
        """Items by colour (items only: a target's standing is never a colour)."""
        return Counter(i.colour for i in self.items if action is None or i.action == action)

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
    return target.verdict.text if target.verdict else NO_DATA


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
                 extensions_by_department(session), shares, lows, _plan_ref(session, plan_key),
                 undelivered(session, today))


def _plan_ref(session: Session, plan_key: str | None) -> PlanRef | None:
    if not plan_key:
        return None
    row = session.execute(select(Plan.key, Plan.doc_no, Plan.title)
                          .where(plan_matches(plan_key))).first()
    return PlanRef(*row) if row else None


def plan_boards(
    session: Session,
    today: date,
    calendar: WorkCalendar,
    slow_ratio: float = 0.7,
    action_nos: list[int] | None = None,
) -> list[Board]:
    """One board per active plan, so no figure or action number of one plan mixes with
    another's (action 2 of two plans are two different actions)."""
    return [build_board(session, today, calendar, slow_ratio, plan.key, action_nos)
            for plan in active_plans(session)]
