"""The chase: for one day, classify an action's occurrences and record the reminders owed.

Deciding is separate from sending: this module only writes `reminder` rows, each under a dedup
key, so deciding twice (a rerun, two processes) records nothing new.
`duban.chase.dispatch` sends them.

The ladder, counted in working days (config/ladder.yaml):
  advance  N days before the deadline          -> the owing department
  due      on the due day                      -> the owing department
  urge     K1 days overdue                     -> the owing department, copying its lead
  escalate K2 days overdue                     -> the coordinating office and the supervisors
  repeat   every R days after escalation (cap) -> the owing department, copying its lead
Nothing is decided on a non-working day; an acknowledgement (签收) pauses urging, not the deadline.
The first reminder of level due / urge / escalate for an occurrence and deadline is also an item
state change (到期 / 逾期 / 督办升级): it is written to the event outbox
(duban.ledger.item_events) in the
same transaction, once, whatever the number of recipients.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.calendar.workdays import WorkCalendar
from duban.chase.occurrences import classify, review_mark
from duban.ledger.batching import chunked
from duban.ledger.database import (
    BulkWriter,
    DriverDates,
    copy_ignoring_duplicates,
    driver_rows,
)
from duban.ledger.item_events import Change, ChaseEvents
from duban.ledger.models import (
    WITHDRAWN,
    Action,
    Department,
    Duty,
    ItemEvent,
    Occurrence,
    Plan,
    Reminder,
    Target,
)
from duban.plan.config import LadderSpec

OFFICE = "office"
SUPERVISOR = "supervisor"
EVENT_OF_LEVEL = {"due": "due", "urge": "overdue", "escalate": "escalated"}
CHASE_BATCH = 5000  # occurrences decided and recorded per round
CHASE_CACHE_MB = 64  # SQLite's page cache while the chase writes
REMINDER_COLUMNS = ("dedup_key", "occurrence_id", "recipient", "level", "note")


@dataclass(frozen=True)
class OpenItem:
    """What the ladder needs to know about one open occurrence."""

    occurrence_id: int
    owner: str  # department code
    lead: str | None  # copied on urging: the action's lead, or the city department a body serves
    due_on: date
    acknowledged_until: date | None = None


@dataclass(frozen=True)
class Owed:
    dedup_key: str
    occurrence_id: int | None  # None for a system notice (e.g. missing holiday data)
    recipient: str
    level: str
    note: str = ""


def ladder_steps(
    item: OpenItem, today: date, ladder: LadderSpec, calendar: WorkCalendar,
    counts_from: date | None = None,
) -> Iterator[Owed]:
    """The reminders owed for one open occurrence on one working day (pure).

    `counts_from` (a plan's ladder_from): an item due before it is not urged or escalated before
    it, and its working days late count from it, so a plan started late does not escalate at once.
    """
    occ = item.occurrence_id
    ladder_key = f"{occ}@{item.due_on.isoformat()}"  # an extension restarts the ladder
    if today < item.due_on:
        if ladder.advance_notice and calendar.workdays_between(today, item.due_on) <= (
            ladder.advance_notice
        ):
            yield Owed(f"{ladder_key}:advance", occ, item.owner, "advance")
        return
    if today == item.due_on:
        if ladder.due_day:
            yield Owed(f"{ladder_key}:due", occ, item.owner, "due")
        return
    start = max(item.due_on, counts_from) if counts_from else item.due_on
    if today <= start:
        return
    late = calendar.workdays_between(start, today)
    paused = item.acknowledged_until is not None and today <= item.acknowledged_until
    if late >= ladder.escalate_after:
        yield Owed(f"{ladder_key}:escalate:{OFFICE}", occ, OFFICE, "escalate")
        yield Owed(f"{ladder_key}:escalate:{SUPERVISOR}", occ, SUPERVISOR, "escalate")
    if paused:
        return
    repeat = 0
    if late >= ladder.escalate_after:
        repeat = min((late - ladder.escalate_after) // ladder.repeat_every, ladder.max_repeats)
    if repeat:
        yield from _to_owner_and_lead(item, f"{ladder_key}:repeat{repeat}", "repeat")
    elif late >= ladder.urge_after:
        yield from _to_owner_and_lead(item, f"{ladder_key}:urge", "urge")


def _to_owner_and_lead(item: OpenItem, key: str, level: str) -> Iterator[Owed]:
    yield Owed(f"{key}:{item.owner}", item.occurrence_id, item.owner, level)
    if item.lead and item.lead != item.owner:
        yield Owed(f"{key}:{item.lead}", item.occurrence_id, item.lead, level)


@dataclass
class ChaseResult:
    """One action's chase on one day; what `duban chase` prints and the flow returns."""

    action: int
    title: str
    day: str
    workday: bool
    states: Counter[str] = field(default_factory=Counter)
    owed: int = 0
    recorded: int = 0
    skipped: int = 0
    by_level: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict:
        return {
            "action": self.action, "title": self.title, "day": self.day, "workday": self.workday,
            "states": dict(self.states), "owed": self.owed, "recorded": self.recorded,
            "skipped": self.skipped, "by_level": dict(self.by_level),
        }


def occurrence_batches(session: Session, plan_id: int, action_no: int,
                       size: int = CHASE_BATCH) -> Iterator[list[tuple]]:
    """The action's occurrences (withdrawn ones left out) in id order, `size` at a time, as the
    driver's own tuples: the chase walks up to a million of them, so no ORM objects and no
    SQLAlchemy result processing (on PostgreSQL a server-side cursor; SQLite hands dates back
    as ISO text, which the chase parses once per distinct date). Columns: id, status, due_on,
    closed_on, acknowledged_until, warn_days, department code, its city counterpart's id,
    returned_on, the target's owner, duty id, department id, period."""
    query = (
        select(
            Occurrence.id, Occurrence.status, Occurrence.due_on, Occurrence.closed_on,
            Occurrence.acknowledged_until, Duty.warn_days, Department.code,
            Department.city_counterpart_id, Occurrence.returned_on, Target.owner_code,
            Occurrence.duty_id, Occurrence.department_id, Occurrence.period,
        )
        .join(Duty, Occurrence.duty_id == Duty.id)
        .join(Department, Occurrence.department_id == Department.id)
        .join(Action, Duty.action_id == Action.id)
        .outerjoin(Target, Duty.target_id == Target.id)
        .where(Duty.plan_id == plan_id, Action.no == action_no, Duty.active.is_(True),
               Occurrence.status != WITHDRAWN)
        .order_by(Occurrence.id)
    )
    yield from driver_rows(session, query, size, f"duban_chase_{plan_id}_{action_no}")


def chase_action(
    session: Session,
    plan: Plan,
    action_no: int,
    today: date,
    now: datetime,
    ladder: LadderSpec,
    calendar: WorkCalendar,
    dry_run: bool = False,
) -> ChaseResult:
    """Classify the action's occurrences and record what the ladder owes today."""
    action = session.scalar(select(Action).where(Action.plan_id == plan.id, Action.no == action_no))
    if action is None:
        raise LookupError(f"plan {plan.key} has no action {action_no}")
    result = ChaseResult(action_no, action.title, today.isoformat(), calendar.is_workday(today))
    parents = dict(session.execute(select(Department.id, Department.code)).tuples().all())
    action_lead = action.department_codes[0]
    days = _DayCounts(calendar)
    with _larger_page_cache(session):
        _chase_rows(session, plan, action_no, today, now, ladder, dry_run, result, parents,
                    action_lead, days)
    if not dry_run:
        result.skipped = result.owed - result.recorded
    return result


@contextmanager
def _larger_page_cache(session: Session) -> Iterator[None]:
    """SQLite's page cache at CHASE_CACHE_MB while the chase writes (its default 2 MB makes
    every insert into the reminder indexes a read from the OS); the default again after."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        yield
        return
    before = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    connection.exec_driver_sql(f"PRAGMA cache_size=-{CHASE_CACHE_MB * 1024}")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size={int(before)}")


def _chase_rows(session: Session, plan: Plan, action_no: int, today: date, now: datetime,
                ladder: LadderSpec, dry_run: bool, result: ChaseResult, parents: dict[int, str],
                action_lead: str, days: _DayCounts) -> None:
    """One batch of occurrences at a time: classified, decided, recorded, forgotten (constant
    memory). What ladder_steps owes each open item, and the item state changes among the new
    reminders (ladder_changes), written in bulk: the steps are worked out once per deadline
    and pause (_Steps), so an item costs a few string joins."""
    steps = _Steps(today, ladder, days, plan.ladder_from)
    dates = DriverDates()
    state_of: dict[tuple, str] = {}
    reminders = events = None
    if not dry_run:
        reminders = BulkWriter(session, Reminder, REMINDER_COLUMNS, {
            "send_on": today, "state": "pending", "created_at": now, "digest_id": None})
        events = ChaseEvents(session, plan.id, action_no, now, days)
    workday, states, owner, lead_role = result.workday, result.states, _Steps.OWNER, _Steps.LEAD
    for batch in occurrence_batches(session, plan.id, action_no):
        owed: list[tuple] = []  # REMINDER_COLUMNS
        changes: list[tuple] = []  # (reminder key, *LadderChange)
        for (occ_id, status, due, closed, ack_until, warn_days, code, parent_id, returned,
             target_owner, duty_id, dept_id, period) in batch:
            due_on = dates[due]
            key = (due_on, closed, warn_days, status, returned is not None)
            state = state_of.get(key)
            if state is None:
                state = state_of[key] = classify(
                    due_on, None if closed is None else dates[closed], today, warn_days, days,
                    review_mark(status, returned))
            states[state] += 1
            if status != "open" or not workday:
                continue
            # a county's or zone's item copies the city department it reports for: the target's
            # owner (its body may stand in for it), else the body's city counterpart
            lead = (target_owner or parents[parent_id]) if parent_id else action_lead
            paused = ack_until is not None and today <= dates[ack_until]
            ladder_key = f"{occ_id}@{due_on.isoformat()}"
            for tail, who, append, level, kind in steps.of(due_on, paused):
                if who == owner:
                    who = code
                elif who == lead_role:
                    if not lead or lead == code:
                        continue
                    who = lead
                reminder_key = ladder_key + tail + who if append else ladder_key + tail
                owed.append((reminder_key, occ_id, who, level, ""))
                if kind is not None:
                    changes.append((reminder_key, f"{ladder_key}:{kind}", occ_id, kind, level,
                                    duty_id, dept_id, period, due_on))
        result.owed += len(owed)
        result.by_level.update(o[3] for o in owed)
        if reminders is None or events is None or not owed:
            continue
        span = (batch[0][0], batch[-1][0])  # the batch's occurrence ids, in order
        known = set(session.connection().execute(select(Reminder.dedup_key).where(
            Reminder.occurrence_id.between(*span))).scalars())
        reminders.add(o for o in owed if o[0] not in known)
        fresh: dict[str, tuple] = {}  # one event per item, kind and deadline: the first level
        for change in changes:
            if change[0] not in known:
                fresh.setdefault(change[1], change[1:])
        if fresh:
            known = set(session.connection().execute(select(ItemEvent.dedup_key).where(
                ItemEvent.occurrence_id.between(*span))).scalars())
            events.add([c for key, c in fresh.items() if key not in known])
    if reminders is not None and events is not None:
        result.recorded = reminders.close()
        events.close()


class _Steps:
    """ladder_steps for every item of one day, worked out once per deadline and pause: what
    it yields for a stand-in item, with the owner and the lead as placeholders. Each step is
    (key tail, recipient or placeholder, whether the recipient ends the key, level, the item
    state change it records or None)."""

    OWNER, LEAD = "\x00owner", "\x00lead"

    def __init__(self, today: date, ladder: LadderSpec, calendar: _DayCounts,
                 counts_from: date | None) -> None:
        self.today, self.ladder, self.calendar, self.counts_from = (
            today, ladder, calendar, counts_from)
        self._steps: dict[tuple[date, bool], tuple[tuple[str, str, bool, str, str | None],
                                                   ...]] = {}

    def of(self, due_on: date, paused: bool) -> tuple[tuple[str, str, bool, str, str | None],
                                                      ...]:
        found = self._steps.get((due_on, paused))
        if found is None:
            found = self._steps[(due_on, paused)] = tuple(self._work_out(due_on, paused))
        return found

    def _work_out(self, due_on: date, paused: bool) -> Iterator[tuple[str, str, bool, str,
                                                                     str | None]]:
        item = OpenItem(0, self.OWNER, self.LEAD, due_on, self.today if paused else None)
        head = f"0@{due_on.isoformat()}"
        for owed in ladder_steps(item, self.today, self.ladder, self.calendar,
                                 self.counts_from):
            tail = owed.dedup_key.removeprefix(head)
            append = owed.recipient in (self.OWNER, self.LEAD) and tail.endswith(owed.recipient)
            if append:
                tail = tail.removesuffix(owed.recipient)
            if self.OWNER in tail or self.LEAD in tail or not owed.dedup_key.startswith(head):
                raise ValueError(f"unexpected ladder key {owed.dedup_key!r}")
            yield tail, owed.recipient, append, owed.level, EVENT_OF_LEVEL.get(owed.level)


class _DayCounts:
    """The calendar, with `workdays_between` remembered: a chase asks it about the same few
    hundred deadlines for every one of up to a million occurrences."""

    def __init__(self, calendar: WorkCalendar) -> None:
        self._calendar = calendar
        self._between: dict[tuple[date, date], int] = {}

    def workdays_between(self, start: date, end: date) -> int:
        key = (start, end)
        found = self._between.get(key)
        if found is None:
            found = self._between[key] = self._calendar.workdays_between(start, end)
        return found

    def __getattr__(self, name: str):
        return getattr(self._calendar, name)


def start_notices(
    session: Session, plan: Plan, today: date, now: datetime, calendar: WorkCalendar
) -> int:
    """On a plan's first chased working day: if it starts late (a ladder_from is set and items
    are already past their deadline), each owing department gets one notice of what it owes
    instead of an escalation per old item. Returns how many notices were recorded (dedup'd)."""
    if plan.started_on is not None or not calendar.is_workday(today):
        return 0
    plan.started_on = today
    if plan.ladder_from is None:
        return 0
    owing = _owing(session, plan.id, today)
    if not any(late for _, late, _ in owing.values()):
        return 0
    owed = [Owed(f"start:{plan.key}:{code}", None, code, "start",
                 _start_text(plan, total, late, first))
            for code, (total, late, first) in sorted(owing.items())]
    return record_owed(session, owed, today, now)


def _owing(session: Session, plan_id: int, today: date) -> dict[str, tuple[int, int, date]]:
    """Per department: open items, how many are past their deadline, the earliest deadline."""
    rows = session.execute(
        select(Department.code, Occurrence.due_on)
        .join(Duty, Occurrence.duty_id == Duty.id)
        .join(Department, Occurrence.department_id == Department.id)
        .where(Duty.plan_id == plan_id, Duty.active.is_(True), Occurrence.status == "open")
    ).tuples()
    out: dict[str, tuple[int, int, date]] = {}
    for code, due in rows:
        total, late, first = out.get(code, (0, 0, due))
        out[code] = (total + 1, late + (due < today), min(first, due))
    return out


def _start_text(plan: Plan, total: int, late: int, first: date) -> str:
    assert plan.ladder_from is not None
    return (f"《{plan.title}》（{plan.doc_no}）已启动督办：您单位共有{total}项待办，其中{late}项"
            f"截止日期已过（最早{first.isoformat()}）。已过期事项自{plan.ladder_from.isoformat()}"
            f"起按督办规则催办，请尽快通过报送链接填报。")


def ladder_changes(fresh: Iterable[Owed]) -> list[Change]:
    """The item state changes among newly recorded reminders: a level due / urge / escalate
    reminder means 到期 / 逾期 / 督办升级, once per occurrence, level and deadline."""
    changes = []
    for owed in fresh:
        kind = EVENT_OF_LEVEL.get(owed.level)
        if kind is None or owed.occurrence_id is None:
            continue
        ladder_key = owed.dedup_key.split(":", 1)[0]  # "{occurrence}@{deadline}"
        changes.append(Change(f"{ladder_key}:{kind}", owed.occurrence_id, kind,
                              {"level": owed.level}))
    return changes


def record_owed(session: Session, owed: Iterable[Owed], today: date, now: datetime) -> int:
    """Insert reminders, ignoring dedup keys already recorded. Returns how many are new."""
    return len(_record_fresh(session, owed, today, now))


def _record_fresh(session: Session, owed: Iterable[Owed], today: date, now: datetime,
                  span: tuple[int, int] | None = None) -> list[Owed]:
    """Insert reminders, ignoring dedup keys already recorded. Returns the new ones. `span`:
    every owed item's occurrence id lies in [first, last] (the chase's batches), so the keys
    already recorded are looked up by that range instead of key by key."""
    recorded: list[Owed] = []
    known: set[str] = set()
    if span is not None:
        known.update(session.connection().execute(select(Reminder.dedup_key).where(
            Reminder.occurrence_id.between(*span))).scalars())
    for chunk in chunked(owed, 5000):
        if span is None:
            known = set(session.scalars(select(Reminder.dedup_key).where(
                Reminder.dedup_key.in_([o.dedup_key for o in chunk]))))
        fresh = [o for o in chunk if o.dedup_key not in known]
        copy_ignoring_duplicates(
            session, Reminder, REMINDER_COLUMNS,
            [(o.dedup_key, o.occurrence_id, o.recipient, o.level, o.note) for o in fresh],
            {"send_on": today, "state": "pending", "created_at": now, "digest_id": None})
        recorded.extend(fresh)  # exact unless a concurrent chase raced us to some key
    return recorded
