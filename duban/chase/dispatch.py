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
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import groupby

from sqlalchemy import func, or_, select, text, update
from sqlalchemy.orm import Session

from duban.calendar.workdays import WorkCalendar
from duban.chase.delivery import OutgoingMessage, Sender
from duban.chase.digest import OFFICE_NAMES, DigestItem, compose
from duban.ledger.batching import chunked
from duban.ledger.database import Database
from duban.ledger.models import (
    Action,
    Delivery,
    Department,
    Digest,
    Duty,
    Occurrence,
    OutboxMessage,
    Reminder,
)
from duban.reports.tokens import LINK_DAYS, issue_for
from duban.settings import Settings

LEASE = timedelta(seconds=Settings.model_fields["dispatch_lease_seconds"].default)  # default
MAX_ITEMS = 30  # per digest; the rest behind the department link, most urgent listed first


@dataclass
class DispatchResult:
    day: str
    digests: int = 0
    status: Counter[str] = field(default_factory=Counter)  # per digest
    reminders: Counter[str] = field(default_factory=Counter)  # per reminder, by final state
    by_action: dict[int, Counter[str]] = field(default_factory=dict)
    dry_run: bool = False
    undelivered: list[dict[str, str]] = field(default_factory=list)  # recipient, name, state

    def as_dict(self) -> dict:
        return {
            "day": self.day, "digests": self.digests, "status": dict(self.status),
            "reminders": dict(self.reminders),
            "by_action": {str(k): dict(v) for k, v in sorted(self.by_action.items())},
            "dry_run": self.dry_run, "undelivered": list(self.undelivered),
        }


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _recipient_names(session: Session) -> dict[str, str]:
    names = dict(session.execute(select(Department.code, Department.name)).tuples().all())
    return {**names, **OFFICE_NAMES}


class Links:
    """Report links written into digests: a single-use link per listed item sent to the owing
    department, and a department link (its list of open duties) for what did not fit."""

    def __init__(self, portal_url: str, now: datetime) -> None:
        self.portal_url, self.now = portal_url, now

    def item(self, session: Session, occurrence_id: int, department_id: int) -> str:
        token = issue_for(session, department_id, self.now, "link", occurrence_id)
        return f"{self.portal_url}/r/{token}"

    def department(self, session: Session, department_id: int) -> str:
        token = issue_for(session, department_id, self.now, "department", days=LINK_DAYS)
        return f"{self.portal_url}/d/{token}"


def portal_link_maker(portal_url: str, now: datetime) -> Links:
    return Links(portal_url, now)


_PENDING_COLUMNS = (
    Reminder.id, Reminder.recipient, Reminder.level, Reminder.note, Reminder.occurrence_id,
    Occurrence.due_on, Occurrence.period, Occurrence.provisional, Duty.title, Duty.deliverable,
    Department.id, Department.code, Department.name, Action.no, Action.title,
)


def assemble(
    session: Session, today: date, now: datetime, calendar: WorkCalendar, links: Links
) -> list[int]:
    """Group pending reminders by recipient into new digests. Returns the new digest ids.

    Streams plain rows ordered by recipient, so memory holds one recipient's items at a time."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(7262001)"))  # one assembler at a time
    query = (
        select(*_PENDING_COLUMNS)
        .outerjoin(Occurrence, Reminder.occurrence_id == Occurrence.id)
        .outerjoin(Duty, Occurrence.duty_id == Duty.id)
        .outerjoin(Department, Occurrence.department_id == Department.id)
        .outerjoin(Action, Duty.action_id == Action.id)
        .where(Reminder.state == "pending", Reminder.send_on <= today)
        .order_by(Reminder.recipient, Reminder.id)
    )
    names = _recipient_names(session)
    rows = session.execute(query.execution_options(yield_per=5000)).tuples().all()
    ids = []
    for recipient, group in groupby(rows, key=lambda r: r[1]):
        ids.append(_digest_for(session, recipient, list(group), names, today, now, calendar,
                               links))
    return ids


def _digest_for(
    session: Session, recipient: str, rows: list[tuple], names: dict[str, str], today: date,
    now: datetime, calendar: WorkCalendar, links: Links,
) -> int:
    notices = [r[3] for r in rows if r[4] is None]  # system notices carry no occurrence
    items = _unique_items([r for r in rows if r[4] is not None], today, calendar)
    listed, hidden = items[:MAX_ITEMS], items[MAX_ITEMS:]
    digest_items = [_item(session, r, late, links) for r, late in listed]
    more = None
    if hidden:
        owner_ids = {r[10] for r, _ in hidden if r[11] == recipient}
        link = links.department(session, owner_ids.pop()) if owner_ids else None
        more = (len(hidden), sum(1 for _, late in hidden if late > 0), link)
    title, body = compose(names.get(recipient, recipient), today, digest_items,
                          recipient in OFFICE_NAMES, notices, more)
    seq = session.scalar(select(func.coalesce(func.max(Digest.seq) + 1, 0))
                         .where(Digest.recipient == recipient, Digest.day == today))
    digest = Digest(recipient=recipient, day=today, seq=seq, title=title, body=body,
                    state="pending", created_at=now)
    session.add(digest)
    session.flush()
    for batch in chunked([r[0] for r in rows], 1000):
        session.execute(update(Reminder).where(Reminder.id.in_(batch))
                        .values(digest_id=digest.id, state="queued"))
    return digest.id


def _unique_items(rows: list[tuple], today: date, calendar: WorkCalendar) -> list[tuple]:
    """One item per occurrence (two ladder levels may fall on one day), most urgent first:
    the longest overdue, then the nearest deadline."""
    seen: dict[int, tuple] = {}
    for row in rows:
        seen.setdefault(row[4], row)
    ranked = [(row, _late(row[5], today, calendar)) for row in seen.values()]
    return sorted(ranked, key=lambda pair: (-pair[1], pair[0][5], pair[0][13], pair[0][4]))


def _late(due: date, today: date, calendar: WorkCalendar) -> int:
    return max(calendar.workdays_between(due, today), 0) if today > due else 0


def _item(session: Session, row: tuple, late: int, links: Links) -> DigestItem:
    (_, recipient, level, note, occ_id, due, period, provisional, duty_title, deliverable,
     dept_id, dept_code, dept_name, action_no, action_title) = row
    if recipient == dept_code:
        how = links.item(session, occ_id, dept_id)
    else:
        how = f"请督促{dept_name}办理（待办编号 {occ_id}）"
    return DigestItem(
        action_no=action_no, action_title=action_title, duty_title=duty_title,
        deliverable=deliverable, department_name=dept_name, period=period, due_on=due,
        overdue_days=late, level=level, how_to_report=how, provisional=provisional, note=note,
    )


def lease() -> timedelta:
    """How long a claimed digest stays its claimer's (Settings.dispatch_lease_seconds). Read at
    each claim, never at import; a bad value is a SettingsError naming the variable."""
    return timedelta(seconds=Settings.from_env().dispatch_lease_seconds)


def claim(db: Database, worker: str, now: datetime, limit: int = 500) -> list[Digest]:
    """Take up to `limit` sendable digests for this worker, atomically."""
    stale = now - lease()
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
    links: Links,
    worker: str | None = None,
    message_factory: Callable[[Digest], object] | None = None,
) -> DispatchResult:
    """Assemble today's digests, then claim and send until nothing is claimable."""
    result = DispatchResult(day=today.isoformat())
    with db.session() as session:
        assemble(session, today, now, calendar, links)
    worker = worker or worker_name()
    make_message = message_factory or _outgoing
    while batch := claim(db, worker, now):
        outcomes = sender.send_many([make_message(d) for d in batch])
        by_key: dict[str, list] = {}
        for outcome in outcomes:
            by_key.setdefault(outcome.key, []).append(outcome)
        with db.session() as session:
            names = _recipient_names(session)
            for digest in batch:
                state = record(session, digest, by_key.get(_key(digest), []), now)
                result.status[state] += 1
                result.digests += 1
                if state != "sent":
                    result.undelivered.append({"recipient": digest.recipient, "state": state,
                                               "name": names.get(digest.recipient,
                                                                 digest.recipient)})
    _count_reminders(db, today, result)
    return result


def _key(digest: Digest) -> str:
    return f"digest:{digest.id}"


def _outgoing(digest: Digest) -> OutgoingMessage:
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
    from duban.ledger.database import database_for

    def store(tag: str, title: str, body: str) -> None:
        with database_for(database_url).session() as session:
            session.add(OutboxMessage(recipient=tag, title=title, body=body, at=now_fn()))

    return store
