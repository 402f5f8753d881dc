"""Dispatch: turn pending reminders into one digest per recipient per day, claim, send, record.

1. assemble: in one write transaction, group every pending reminder by recipient into a new
   digest row (composed text included) and attach the reminders to it;
2. claim: take digests atomically before sending (compare-and-set on SQLite,
   SELECT ... FOR UPDATE SKIP LOCKED on PostgreSQL); a digest claimed by a process that died
   is taken again after its lease expires, under the same digest id: never lost, at most one
   duplicate;
3. send through the notifier (outside any transaction) and record one delivery row per target.
"""

from __future__ import annotations

import os
import socket
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Protocol

from sqlalchemy import func, or_, select, text, update
from sqlalchemy.orm import Session

from duban.db import Database
from duban.digest import OFFICE_NAMES, DigestItem, compose
from duban.models import (
    Action,
    Delivery,
    Department,
    Digest,
    Duty,
    Occurrence,
    OutboxMessage,
    Reminder,
)
from duban.tokens import issue
from duban.workdays import WorkCalendar

LEASE = timedelta(minutes=10)
FINAL_STATES = ("sent", "failed", "unknown", "unroutable")


class Sender(Protocol):
    """The notifier port (notifications.Notifier implements it)."""

    def send_many(self, messages: Sequence) -> list: ...


@dataclass
class DispatchResult:
    day: str
    digests: int = 0
    status: Counter[str] = field(default_factory=Counter)  # per digest
    reminders: Counter[str] = field(default_factory=Counter)  # per reminder, by final state
    by_action: dict[int, Counter[str]] = field(default_factory=dict)
    dry_run: bool = False

    def as_dict(self) -> dict:
        return {
            "day": self.day, "digests": self.digests, "status": dict(self.status),
            "reminders": dict(self.reminders),
            "by_action": {str(k): dict(v) for k, v in sorted(self.by_action.items())},
            "dry_run": self.dry_run,
        }


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _recipient_names(session: Session) -> dict[str, str]:
    names = dict(session.execute(select(Department.code, Department.name)).tuples().all())
    return {**names, **OFFICE_NAMES}


LinkMaker = Callable[[Session, Occurrence, Department], str]


def portal_link_maker(portal_url: str, now: datetime) -> LinkMaker:
    """Each item sent to the owing department carries a fresh single-use report link."""

    def make(session: Session, occurrence: Occurrence, department: Department) -> str:
        token = issue(session, department, now, "link", occurrence.id)
        return f"{portal_url}/r/{token}"

    return make


def assemble(
    session: Session, today: date, now: datetime, calendar: WorkCalendar, link_maker: LinkMaker
) -> list[int]:
    """Group pending reminders by recipient into new digests. Returns the new digest ids."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(7262001)"))  # one assembler at a time
    pending = session.execute(
        select(Reminder, Occurrence, Duty, Department, Action)
        .outerjoin(Occurrence, Reminder.occurrence_id == Occurrence.id)
        .outerjoin(Duty, Occurrence.duty_id == Duty.id)
        .outerjoin(Department, Occurrence.department_id == Department.id)
        .outerjoin(Action, Duty.action_id == Action.id)
        .where(Reminder.state == "pending", Reminder.send_on <= today)
        .order_by(Reminder.recipient, Action.no, Occurrence.due_on, Reminder.id)
    ).tuples().all()
    names = _recipient_names(session)
    groups: dict[str, list[tuple]] = {}
    for row in pending:
        groups.setdefault(row[0].recipient, []).append(row)
    ids = []
    for recipient, rows in groups.items():
        notices = [r[0].note for r in rows if r[1] is None]  # system notices, no occurrence
        items = [_item(session, r, today, calendar, link_maker)
                 for r in _unique_items([r for r in rows if r[1] is not None])]
        for_office = recipient in OFFICE_NAMES
        title, body = compose(names.get(recipient, recipient), today, items, for_office, notices)
        seq = session.scalar(
            select(func.coalesce(func.max(Digest.seq) + 1, 0)).where(
                Digest.recipient == recipient, Digest.day == today
            )
        )
        digest = Digest(recipient=recipient, day=today, seq=seq, title=title, body=body,
                        state="pending", created_at=now)
        session.add(digest)
        session.flush()
        for reminder, *_ in rows:
            reminder.digest_id, reminder.state = digest.id, "queued"
        ids.append(digest.id)
    return ids


def _unique_items(rows: list[tuple]) -> list[tuple]:
    """One item per occurrence in a digest, even if two ladder levels fell on one day."""
    seen: dict[int, tuple] = {}
    for row in rows:
        seen.setdefault(row[1].id, row)
    return list(seen.values())


def _item(
    session: Session, row: tuple, today: date, calendar: WorkCalendar, link_maker: LinkMaker
) -> DigestItem:
    reminder, occ, duty, dept, action = row
    late = max(calendar.workdays_between(occ.due_on, today), 0) if today > occ.due_on else 0
    if reminder.recipient == dept.code:
        how = link_maker(session, occ, dept)
    else:
        how = f"请督促{dept.name}办理（待办编号 {occ.id}）"
    return DigestItem(
        action_no=action.no, action_title=action.title, duty_title=duty.title,
        deliverable=duty.deliverable, department_name=dept.name, period=occ.period,
        due_on=occ.due_on, overdue_days=late, level=reminder.level, how_to_report=how,
        provisional=occ.provisional, note=reminder.note,
    )


def claim(db: Database, worker: str, now: datetime, limit: int = 500) -> list[Digest]:
    """Take up to `limit` sendable digests for this worker, atomically."""
    stale = now - LEASE
    claimable = or_(
        Digest.state == "pending", (Digest.state == "sending") & (Digest.claimed_at < stale)
    )
    with db.session() as session:
        if db.dialect == "postgresql":
            ids = session.scalars(
                select(Digest.id).where(claimable).order_by(Digest.id).limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            won = list(ids)
        else:
            candidates = session.scalars(
                select(Digest.id).where(claimable).order_by(Digest.id).limit(limit)
            ).all()
            won = [i for i in candidates if _compare_and_set(session, i, claimable, worker, now)]
        if db.dialect == "postgresql" and won:
            session.execute(
                update(Digest).where(Digest.id.in_(won))
                .values(state="sending", claimed_by=worker, claimed_at=now,
                        attempts=Digest.attempts + 1)
            )
        return list(session.scalars(select(Digest).where(Digest.id.in_(won))).all())


def _compare_and_set(session: Session, digest_id: int, claimable, worker: str, now: datetime):
    result = session.execute(
        update(Digest).where(Digest.id == digest_id, claimable)
        .values(state="sending", claimed_by=worker, claimed_at=now, attempts=Digest.attempts + 1)
    )
    return result.rowcount == 1


def digest_state(statuses: list[str]) -> str:
    """A digest is sent when any target took it; unknown beats failed (it may have arrived)."""
    for state in ("sent", "unknown", "failed"):
        if state in statuses:
            return state
    return "unroutable"


def record(session: Session, digest: Digest, results: list, now: datetime) -> str:
    """One delivery row per target; the digest and its reminders take the combined state."""
    for r in results:
        session.add(Delivery(
            digest_id=digest.id, recipient=digest.recipient, target=r.target, channel=r.channel,
            status=r.status, error=r.error, permanent=r.permanent, attempts=r.attempts,
            elapsed=r.elapsed, at=now,
        ))
    state = digest_state([r.status for r in results])
    session.execute(
        update(Digest).where(Digest.id == digest.id)
        .values(state=state, finished_at=now)
    )
    session.execute(update(Reminder).where(Reminder.digest_id == digest.id).values(state=state))
    return state


def dispatch(
    db: Database,
    sender: Sender,
    now: datetime,
    today: date,
    calendar: WorkCalendar,
    link_maker: LinkMaker,
    worker: str | None = None,
    message_factory: Callable[[Digest], object] | None = None,
) -> DispatchResult:
    """Assemble today's digests, then claim and send until nothing is claimable."""
    result = DispatchResult(day=today.isoformat())
    with db.session() as session:
        assemble(session, today, now, calendar, link_maker)
    worker = worker or worker_name()
    make_message = message_factory or _outgoing
    while batch := claim(db, worker, now):
        outcomes = sender.send_many([make_message(d) for d in batch])
        by_key: dict[str, list] = {}
        for outcome in outcomes:
            by_key.setdefault(outcome.key, []).append(outcome)
        with db.session() as session:
            for digest in batch:
                state = record(session, digest, by_key.get(_key(digest), []), now)
                result.status[state] += 1
                result.digests += 1
    _count_reminders(db, today, result)
    return result


def _key(digest: Digest) -> str:
    return f"digest:{digest.id}"


def _outgoing(digest: Digest) -> object:
    from notifications import OutgoingMessage

    return OutgoingMessage(key=_key(digest), tag=digest.recipient, title=digest.title,
                           body=digest.body)


def _count_reminders(db: Database, today: date, result: DispatchResult) -> None:
    with db.session() as session:
        rows = session.execute(
            select(Action.no, Reminder.state, func.count())
            .join(Occurrence, Reminder.occurrence_id == Occurrence.id)
            .join(Duty, Occurrence.duty_id == Duty.id)
            .join(Action, Duty.action_id == Action.id)
            .join(Digest, Reminder.digest_id == Digest.id)
            .where(Digest.day == today)
            .group_by(Action.no, Reminder.state)
        ).tuples()
        for action_no, state, count in rows:
            result.by_action.setdefault(action_no, Counter())[state] += count
            result.reminders[state] += count


def outbox_sink(
    database_url: str, now_fn: Callable[[], datetime]
) -> Callable[[str, str, str], None]:
    """The built-in channel's storage: its own session per call (it runs in notifier threads)."""
    from duban.db import database_for

    def store(tag: str, title: str, body: str) -> None:
        with database_for(database_url).session() as session:
            session.add(OutboxMessage(recipient=tag, title=title, body=body, at=now_fn()))

    return store
