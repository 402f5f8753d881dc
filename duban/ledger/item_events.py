"""Item events: every state change of an item, for Prefect's event feed and automations.

The core writes one `item_event` row in the same transaction as the change (a transactional
outbox); the Prefect side (tasks/events.py) emits the rows not yet emitted and then marks them.
A crash between the two emits a row again, under the same event id, which Prefect's server stores
once: delivery is at-least-once, storage effectively once.

Kinds (Prefect event name duban.item.<kind>):
  due           到期      the first due-day reminder of an occurrence and deadline
  overdue       逾期      the first urging (the ladder's `urge` level)
  escalated     督办升级   the first escalation to the office and the supervisors
  acknowledged  签收
  reported      报送      a done (办结) or progress (进展) report
  corrected     更正      a report superseding an earlier one
  extended      延期      an approved extension: the deadline moved
  returned      退回      the office returned a report: the item is open again, due anew
  closed        销号      the office accepted a report: the item is closed
One event per occurrence, kind and deadline, whatever the number of recipients; an approved
extension restarts the ladder, so the new deadline gets its own due / overdue / escalated.

Each event's resource is the occurrence (duban.occurrence.<id>); its related resources are the
owing department (role department), its county or the city (role county) and the action (role
action), so the feed shows a department's or a county's timeline and automations can match on
them. Payloads carry names, dates, figures and verdicts; never tokens, links or free text.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from duban.calendar.clock import local_day
from duban.calendar.workdays import WorkCalendar
from duban.ledger.batching import chunked
from duban.ledger.database import BulkWriter, copy_ignoring_duplicates
from duban.ledger.models import (
    Action,
    Department,
    Duty,
    ItemEvent,
    Jurisdiction,
    Occurrence,
)

EVENT_PREFIX = "duban.item."
KIND_ZH = {
    "due": "到期",
    "overdue": "逾期",
    "escalated": "督办升级",
    "acknowledged": "签收",
    "reported": "报送",
    "corrected": "更正",
    "extended": "延期",
    "returned": "退回",
    "closed": "销号",
}
REPORT_KIND_ZH = {"done": "办结", "progress": "进展", "ack": "签收"}
# An event is stamped with when the ledger recorded the change, unless that is older than this
# (a backfill, a run with a past --as-of): Prefect's feed and triggers work in real time and its
# retention trims old events, so those are stamped with the emission time instead.
OCCURRED_WINDOW = timedelta(hours=24)
EVENT_COLUMNS = ("uid", "dedup_key", "kind", "occurrence_id", "department_code", "county_code",
                 "action_no", "payload")


@dataclass(frozen=True)
class Change:
    """One state change to record; `dedup_key` makes recording it twice harmless."""

    dedup_key: str
    occurrence_id: int
    kind: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Facts:
    period: str
    due_on: date
    duty: str
    action_no: int
    action_title: str
    department: str
    department_name: str
    county: str
    county_name: str


def _facts(session: Session, occurrence_ids: Iterable[int],
           span: tuple[int, int] | None = None) -> dict[int, _Facts]:
    query = (
        select(Occurrence.id, Occurrence.period, Occurrence.due_on, Duty.title, Action.no,
               Action.title, Department.code, Department.name, Jurisdiction.code,
               Jurisdiction.name)
        .join(Duty, Occurrence.duty_id == Duty.id)
        .join(Action, Duty.action_id == Action.id)
        .join(Department, Occurrence.department_id == Department.id)
        .join(Jurisdiction, Department.jurisdiction_id == Jurisdiction.id)
    )
    out: dict[int, _Facts] = {}
    if span is not None:  # one range scan instead of lists of ids
        wanted = set(occurrence_ids)
        for occ_id, *rest in session.connection().execute(
                query.where(Occurrence.id.between(*span))).tuples():
            if occ_id in wanted:
                out[occ_id] = _Facts(*rest)
        return out
    for chunk in chunked(sorted(set(occurrence_ids)), 1000):
        for occ_id, *rest in session.execute(query.where(Occurrence.id.in_(chunk))).tuples():
            out[occ_id] = _Facts(*rest)
    return out


def record_changes(
    session: Session,
    changes: Iterable[Change],
    now: datetime,
    calendar: WorkCalendar | None = None,
    span: tuple[int, int] | None = None,
) -> int:
    """Write the outbox rows of `changes` in the caller's transaction, ignoring dedup keys already
    written. With a calendar, payloads say how many working days late the item is; `span`:
    every change's occurrence id lies in [first, last] (the chase's batches: looked up by range).
    Returns how many rows are new."""
    unique: dict[str, Change] = {}
    for change in changes:
        unique.setdefault(change.dedup_key, change)
    if not unique:
        return 0
    known: set[str] = set()
    if span is not None:
        known.update(session.connection().execute(select(ItemEvent.dedup_key).where(
            ItemEvent.occurrence_id.between(*span))).scalars())
    else:
        for chunk in chunked(list(unique), 1000):
            known.update(session.scalars(select(ItemEvent.dedup_key)
                                         .where(ItemEvent.dedup_key.in_(chunk))))
    fresh = [c for key, c in unique.items() if key not in known]
    facts = _facts(session, (c.occurrence_id for c in fresh), span)
    today = local_day(now)
    rows = []
    for change in fresh:
        fact = facts.get(change.occurrence_id)
        if fact is None:
            continue
        late = None
        if calendar is not None:
            late = calendar.workdays_between(fact.due_on, today) if today > fact.due_on else 0
        rows.append((str(uuid.uuid4()), change.dedup_key, change.kind, change.occurrence_id,
                     fact.department, fact.county, fact.action_no,
                     event_payload(change.kind, fact, today, now, late, change.detail)))
    copy_ignoring_duplicates(session, ItemEvent, EVENT_COLUMNS, rows,
                             {"at": now, "emitted_at": None})
    return len(rows)


def event_payload(kind: str, fact: _Facts, today: date, now: datetime,
                  overdue_days: int | None, detail: dict[str, Any]) -> dict[str, Any]:
    """An outbox row's payload (`overdue_days` when the writer counted working days)."""
    payload: dict[str, Any] = {
        "kind": kind, "kind_zh": KIND_ZH[kind],
        "action": fact.action_no, "action_title": fact.action_title, "duty": fact.duty,
        "period": fact.period, "due_on": fact.due_on.isoformat(),
        "department": fact.department, "department_name": fact.department_name,
        "county": fact.county, "county_name": fact.county_name,
        "day": today.isoformat(), "at": now.isoformat(),
    }
    if overdue_days is not None:
        payload["overdue_days"] = overdue_days
    payload.update(detail)
    return payload


def uuid4_strings(count: int) -> list[str]:
    """`count` random (version 4) UUIDs as text, as str(uuid.uuid4()) gives them, from one
    read of the OS's random source (uuid.uuid4 costs ~8 us apiece: seconds per million)."""
    raw = bytearray(os.urandom(16 * count))
    raw[6::16] = bytes(b & 0x0F | 0x40 for b in raw[6::16])  # version 4
    raw[8::16] = bytes(b & 0x3F | 0x80 for b in raw[8::16])  # the RFC 4122 variant
    h = raw.hex()
    return [f"{h[i:i + 8]}-{h[i + 8:i + 12]}-{h[i + 12:i + 16]}-{h[i + 16:i + 20]}-"
            f"{h[i + 20:i + 32]}" for i in range(0, 32 * count, 32)]


#: A ladder change for ChaseEvents: (dedup key, occurrence id, kind, detail level, duty id,
#: department id, period, deadline)
LadderChange = tuple[str, int, str, str, int, int, str, date]


class ChaseEvents:
    """The outbox rows of one action's ladder changes (到期 / 逾期 / 督办升级) for the chase's
    batches, written through one BulkWriter. The action, its duties and the departments are
    read once (record_changes queries the facts per batch); each payload is put together from
    JSON pieces remembered per duty and kind, period and deadline, department, and deadline and
    level: the same text as json.dumps of `event_payload` with working days counted, which is
    what record_changes stores. The caller has dropped changes already recorded."""

    def __init__(self, session: Session, plan_id: int, action_no: int, now: datetime,
                 calendar: WorkCalendar) -> None:
        self.now, self.today, self.calendar = now, local_day(now), calendar
        self.action_no, self.action_title = session.execute(
            select(Action.no, Action.title).where(Action.plan_id == plan_id,
                                                  Action.no == action_no)).one()
        self.duties = dict(session.execute(
            select(Duty.id, Duty.title).join(Action, Duty.action_id == Action.id)
            .where(Action.plan_id == plan_id, Action.no == action_no)).tuples().all())
        self.departments = {row[0]: row[1:] for row in session.execute(
            select(Department.id, Department.code, Department.name, Jurisdiction.code,
                   Jurisdiction.name)
            .join(Jurisdiction, Department.jurisdiction_id == Jurisdiction.id)).tuples()}
        self._heads: dict[tuple[str, int], str] = {}
        self._dates: dict[tuple[str, date], str] = {}
        self._places: dict[int, str] = {}
        self._tails: dict[tuple[date, str], str] = {}
        self.writer = BulkWriter(session, ItemEvent, EVENT_COLUMNS,
                                 {"at": now, "emitted_at": None}, serialized=("payload",))

    def add(self, changes: Sequence[LadderChange]) -> None:
        uids = uuid4_strings(len(changes))
        rows = []
        for uid, (key, occurrence_id, kind, level, duty_id, dept_id, period, due_on) in zip(
                uids, changes, strict=True):
            code, _name, county, _county_name = self.departments[dept_id]
            rows.append((uid, key, kind, occurrence_id, code, county, self.action_no,
                         self._payload(kind, level, duty_id, dept_id, period, due_on)))
        self.writer.add(rows)

    def close(self) -> int:
        return self.writer.close()

    def _payload(self, kind: str, level: str, duty_id: int, dept_id: int, period: str,
                 due_on: date) -> str:
        head = self._heads.get((kind, duty_id))
        if head is None:
            head = self._heads[(kind, duty_id)] = "{" + _members(
                kind=kind, kind_zh=KIND_ZH[kind], action=self.action_no,
                action_title=self.action_title, duty=self.duties[duty_id])
        dates = self._dates.get((period, due_on))
        if dates is None:
            dates = self._dates[(period, due_on)] = ", " + _members(
                period=period, due_on=due_on.isoformat())
        place = self._places.get(dept_id)
        if place is None:
            code, name, county, county_name = self.departments[dept_id]
            place = self._places[dept_id] = ", " + _members(
                department=code, department_name=name, county=county, county_name=county_name)
        tail = self._tails.get((due_on, level))
        if tail is None:
            late = (self.calendar.workdays_between(due_on, self.today)
                    if self.today > due_on else 0)
            tail = self._tails[(due_on, level)] = ", " + _members(
                day=self.today.isoformat(), at=self.now.isoformat(), overdue_days=late,
                level=level) + "}"
        return head + dates + place + tail


def _members(**values: Any) -> str:
    """JSON object members as json.dumps writes them inside an object."""
    return ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in values.items())


# -- emitting (the Prefect side calls these; nothing here imports Prefect) -------------------


@dataclass(frozen=True)
class PendingEvent:
    id: int
    uid: str
    kind: str
    occurrence_id: int
    department_code: str
    county_code: str
    action_no: int
    payload: dict[str, Any]
    at: datetime


def pending_events(
    session: Session, action_nos: Sequence[int] | None = None, limit: int = 2000
) -> list[PendingEvent]:
    """Rows not yet emitted, oldest first (only these actions', when given)."""
    query = (
        select(ItemEvent.id, ItemEvent.uid, ItemEvent.kind, ItemEvent.occurrence_id,
               ItemEvent.department_code, ItemEvent.county_code, ItemEvent.action_no,
               ItemEvent.payload, ItemEvent.at)
        .where(ItemEvent.emitted_at.is_(None)).order_by(ItemEvent.id).limit(limit)
    )
    if action_nos:
        query = query.where(ItemEvent.action_no.in_(list(action_nos)))
    return [PendingEvent(*row) for row in session.execute(query).tuples()]


def count_pending(session: Session, action_nos: Sequence[int] | None = None) -> int:
    query = select(func.count()).select_from(ItemEvent).where(ItemEvent.emitted_at.is_(None))
    if action_nos:
        query = query.where(ItemEvent.action_no.in_(list(action_nos)))
    return session.scalar(query) or 0


def mark_emitted(session: Session, ids: Sequence[int], at: datetime) -> int:
    """Mark rows emitted (only those still unmarked). Returns how many were marked here."""
    marked = 0
    for chunk in chunked(list(ids), 1000):
        result = session.execute(update(ItemEvent)
                                 .where(ItemEvent.id.in_(chunk), ItemEvent.emitted_at.is_(None))
                                 .values(emitted_at=at))
        marked += result.rowcount
    return marked


def occurred_at(recorded: datetime, emitting: datetime) -> datetime:
    """When the event happened as Prefect should see it (see OCCURRED_WINDOW)."""
    if recorded <= emitting and emitting - recorded <= OCCURRED_WINDOW:
        return recorded
    return emitting


def prefect_event(row: PendingEvent, emitting: datetime) -> dict[str, Any]:
    """The keyword arguments of prefect.events.emit_event for one row (plain data)."""
    p = row.payload
    name = f"{p.get('department_name', row.department_code)}：{p.get('duty', '')}"
    if p.get("period"):
        name += f"（{p['period']}）"
    return {
        "id": uuid.UUID(row.uid),
        "event": EVENT_PREFIX + row.kind,
        "occurred": occurred_at(row.at, emitting),
        "resource": {
            "prefect.resource.id": f"duban.occurrence.{row.occurrence_id}",
            "prefect.resource.name": name,
            "duban.action": str(row.action_no),
            "duban.kind": KIND_ZH.get(row.kind, row.kind),
        },
        "related": [
            {"prefect.resource.id": f"duban.department.{row.department_code}",
             "prefect.resource.role": "department",
             "prefect.resource.name": str(p.get("department_name", row.department_code))},
            {"prefect.resource.id": f"duban.county.{row.county_code}",
             "prefect.resource.role": "county",
             "prefect.resource.name": str(p.get("county_name", row.county_code))},
            {"prefect.resource.id": f"duban.action.{row.action_no}",
             "prefect.resource.role": "action",
             "prefect.resource.name": f"行动{row.action_no} {p.get('action_title', '')}".strip()},
        ],
        "payload": {**p, "occurrence_id": row.occurrence_id},
    }
