"""Dispatch: turn pending reminders into one digest per recipient per day, then deliver each
digest to each of its recipient's channels as its own message (duban.chase.messages).

1. carry over: reminders whose digest of an earlier day never reached a person join today's;
2. assemble: in one write transaction, group every pending reminder by recipient into a new
   digest row and attach the reminders to it;
3. plan: one message row per digest x channel its tag reaches (none person-facing: 未送达);
4. rounds of claim (at most the sender's concurrency, atomically, with a lease) -> compose what
   is still owed at send time (one department link, stored redacted) -> send -> record each
   message in its own transaction. Transient failures wait for a later dispatch (backoff, cap);
   permanent ones and the cap tell the office once per channel;
5. the result: every digest this run touched, in flight elsewhere, or waiting for a retry.
"""

from __future__ import annotations

import os
import socket
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import groupby

from sqlalchemy import exists, func, insert, or_, select, update
from sqlalchemy.orm import Session

from duban.calendar.clock import SHANGHAI, local_day
from duban.calendar.workdays import WorkCalendar
from duban.chase import messages
from duban.chase.delivery import OutgoingMessage, Sender, TargetResult
from duban.chase.digest import (
    OFFICE_NAMES,
    DepartmentLink,
    DigestItem,
    compose,
    plan_heading,
    redact_links,
    signature,
)
from duban.chase.faults import checkpoint
from duban.chase.messages import (
    LEASE,
    Claimed,
    RetryPolicy,
    fast_update,
    lease,
    lock_digests,
    take_turn,
)
from duban.ledger.batching import chunked
from duban.ledger.database import Database, DriverDates, driver_rows
from duban.ledger.models import (
    Action,
    DeliveryMessage,
    Department,
    Digest,
    Duty,
    Occurrence,
    OutboxMessage,
    Plan,
    Reminder,
)
from duban.reports.tokens import LINK_DAYS, issue_for

__all__ = ["LEASE", "DispatchResult", "Undelivered", "assemble", "dispatch", "lease",
           "portal_link_maker", "undelivered"]

MAX_ITEMS = 10  # named in a digest, most urgent first; the department link lists every one
LINK_MARGIN_DAYS = 14  # a department link outlives its latest listed deadline by this much
OWED = ("open", "returned")  # occurrence states still owed at send time
EARLIER_MESSAGE = ("sent", "unknown", "unroutable")  # an earlier digest went out (or is on record)
CARRIED = ("pending", "sending", "retrying", "failed")  # an earlier day's digest nobody got
NO_CHANNEL = "没有配置面向人员的送达渠道（发件箱只是记录）"
URGENCY = ("failed", "unknown", "retrying", "in_flight", "sending", "pending", "unroutable")
STATE_ZH = {"sent": "已送达", "failed": "未送达", "unknown": "结果未知", "unroutable": "无送达渠道",
            "retrying": "待重试", "in_flight": "发送中", "pending": "待发送", "void": "已无待办"}


@dataclass
class DispatchResult:
    day: str
    digests: int = 0  # touched by this run, in flight elsewhere, or waiting for a retry
    status: Counter[str] = field(default_factory=Counter)  # per digest
    reminders: Counter[str] = field(default_factory=Counter)  # per reminder, by final state
    by_action: dict[int, Counter[str]] = field(default_factory=dict)
    dry_run: bool = False
    # recipient, name, state, reason, retry_at (local time, "" when no retry is planned)
    undelivered: list[dict[str, str]] = field(default_factory=list)
    messages: Counter[str] = field(default_factory=Counter)  # per channel message this run
    office_notices: int = 0  # broken channels the office was told about in this run
    void: int = 0  # digests with nothing owed any more at send time

    @property
    def summary(self) -> str:
        """One Chinese line: what reached people, what did not and when it is tried again."""
        if not self.digests:
            return "无待发"
        parts = [f"{STATE_ZH.get(k, k)} {n}" for k, n in sorted(self.status.items()) if n]
        text = f"汇总 {self.digests} 份：" + "，".join(parts)
        missed = [f"{u['name']}（{STATE_ZH.get(u['state'], u['state'])}"
                  + (f"，{u['retry_at']} 后重试" if u.get("retry_at") else "") + "）"
                  for u in self.undelivered[:5]]
        if missed:
            more = f"等 {len(self.undelivered)} 个" if len(self.undelivered) > 5 else ""
            text += "；未送达：" + "、".join(missed) + more
        if self.office_notices:
            text += f"；已通知督办办公室 {self.office_notices} 个故障渠道"
        return text

    def as_dict(self) -> dict:
        return {
            "day": self.day, "digests": self.digests, "status": dict(self.status),
            "reminders": dict(self.reminders),
            "by_action": {str(k): dict(v) for k, v in sorted(self.by_action.items())},
            "dry_run": self.dry_run, "undelivered": list(self.undelivered),
            "messages": dict(self.messages), "office_notices": self.office_notices,
            "void": self.void, "summary": self.summary,
        }


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _recipient_names(session: Session) -> dict[str, str]:
    names = dict(session.execute(select(Department.code, Department.name)).tuples().all())
    return {**names, **OFFICE_NAMES}


class Links:
    """The one link a department's digest carries: its department page (every open item); and
    the line it is signed with (the coordinating office's name, config/office.yaml)."""

    def __init__(self, portal_url: str, now: datetime, office_name: str = "") -> None:
        self.portal_url, self.now = portal_url, now
        self.signature = signature(office_name)

    def department(self, session: Session, department_id: int, until: date) -> DepartmentLink:
        days = max(LINK_DAYS, (until - local_day(self.now)).days + LINK_MARGIN_DAYS)
        token = issue_for(session, department_id, self.now, "department", days=days)
        expires = local_day(self.now + timedelta(days=days))
        return DepartmentLink(f"{self.portal_url}/d/{token}", expires)


def portal_link_maker(portal_url: str, now: datetime, office_name: str = "") -> Links:
    return Links(portal_url, now, office_name)


_COLUMNS = (
    Reminder.id, Reminder.recipient, Reminder.level, Reminder.note, Reminder.occurrence_id,
    Occurrence.due_on, Occurrence.period, Occurrence.provisional, Duty.title, Duty.deliverable,
    Department.id, Department.code, Department.name, Action.no, Action.title, Occurrence.status,
    Plan.title, Plan.doc_no,
)


def _rows(where) -> select:
    return (
        select(*_COLUMNS)
        .outerjoin(Occurrence, Reminder.occurrence_id == Occurrence.id)
        .outerjoin(Duty, Occurrence.duty_id == Duty.id)
        .outerjoin(Department, Occurrence.department_id == Department.id)
        .outerjoin(Action, Duty.action_id == Action.id)
        .outerjoin(Plan, Duty.plan_id == Plan.id)
        .where(*where)
    )


def carry_over(session: Session, today: date, now: datetime) -> int:
    """Reminders of an earlier day's digest that reached nobody are owed again today: they join
    today's digest (not a second message of the day); that digest is closed as carried."""
    take_turn(session)
    old = select(Digest.id).where(Digest.day < today, Digest.state.in_(CARRIED))
    old_ids = list(session.scalars(old))
    if not old_ids:
        return 0
    lock_digests(session, old_ids)
    moved = 0
    for batch in chunked(old_ids, 1000):
        moved += fast_update(session,
            update(Reminder).where(Reminder.digest_id.in_(batch), Reminder.state != "void")
            .values(state="pending", digest_id=None, send_on=today)
        ).rowcount
        fast_update(session,update(DeliveryMessage).where(
            DeliveryMessage.digest_id.in_(batch),
            DeliveryMessage.state.in_(("pending", "sending"))).values(
            state="failed", error="当日未送达，转入次日汇总", finished_at=now))
        fast_update(session,update(Digest).where(Digest.id.in_(batch))
                        .values(state="carried", finished_at=now))
    return moved


def assemble(
    session: Session, today: date, now: datetime, calendar: WorkCalendar,
    links: Links | None = None, only: frozenset[str] | None = None,
) -> list[int]:
    """Group pending reminders by recipient into new digests. Returns the new digest ids.

    Streams plain rows ordered by recipient and occurrence, so memory holds one recipient's
    most urgent items and counts, never its rows; one UPDATE per batch of digests then attaches
    every pending reminder to its recipient's new digest. The stored body is a preview without
    links; the sent text is composed at send time. `only`: just these recipients (manual urging
    sends its department's digest, nobody else's)."""
    take_turn(session)  # one assembler at a time
    names = _recipient_names(session)
    seqs = dict(session.execute(
        select(Digest.recipient, func.max(Digest.seq) + 1).where(Digest.day == today)
        .group_by(Digest.recipient)).tuples().all())
    # in no digest yet: a planned digest's reminders are 'pending' too, and must stay in it
    where = [Reminder.state == "pending", Reminder.digest_id.is_(None), Reminder.send_on <= today]
    if only is not None:
        where.append(Reminder.recipient.in_(sorted(only)))
    # only what ranking needs, in plain driver tuples laid out as _COLUMNS (the rest None);
    # the few rows a digest lists are read whole afterwards
    query = (select(Reminder.id, Reminder.recipient, Reminder.level, Reminder.note,
                    Reminder.occurrence_id, Occurrence.due_on, Occurrence.duty_id)
             .outerjoin(Occurrence, Reminder.occurrence_id == Occurrence.id).where(*where)
             .order_by(Reminder.recipient, Reminder.occurrence_id, Reminder.id))
    action_of = dict(session.execute(select(Duty.id, Action.no).join(
        Action, Duty.action_id == Action.id)).tuples().all())
    sign = links.signature if links is not None else signature("")
    days = _Lateness(today, calendar)
    dates = DriverDates()
    picks: list[tuple[str, _Picked]] = []
    rows = (row for batch in driver_rows(session, query, 5000, "duban_assemble") for row in batch)
    for recipient, group in groupby(rows, key=lambda r: r[1]):
        picked = _Picked(days)
        for rid, _, level, note, occurrence, due, duty in group:
            picked.add((rid, recipient, level, note, occurrence,
                        None if due is None else dates[due], *_GAP, action_of.get(duty), *_TAIL))
        picked._trim()
        picks.append((recipient, picked))
    if not picks:
        return []
    whole = _whole_rows(session, [r[0] for _, p in picks for _, r, _ in p.items])
    digests = []
    for recipient, picked in picks:
        picked.items = [(rank, whole[row[0]], late) for rank, row, late in picked.items]
        title, body = picked.compose(recipient, names, today, set(), None, sign)
        digests.append({"recipient": recipient, "day": today, "seq": seqs.get(recipient, 0),
                        "title": title, "body": body, "state": "pending", "created_at": now})
        checkpoint("assemble.digest")
    made = session.execute(insert(Digest).returning(Digest.id, Digest.recipient), digests)
    order = {row["recipient"]: n for n, row in enumerate(digests)}
    ids = [i for i, _ in sorted(made.tuples(), key=lambda r: order[r[1]])]
    # every pending reminder joins its recipient's new digest: one pass over them per statement
    for batch in chunked(ids, 10_000):
        fast_update(session, update(Reminder).where(
            Reminder.recipient == Digest.recipient, Digest.id.in_(batch),
            Reminder.state == "pending", Reminder.digest_id.is_(None), Reminder.send_on <= today,
        ).values(digest_id=Digest.id, state="queued"))
    return ids


_GAP = (None,) * 7  # _COLUMNS between the deadline and the action's number
_TAIL = (None,) * 4  # and after it


def _whole_rows(session: Session, reminder_ids: list[int]) -> dict[int, tuple]:
    out: dict[int, tuple] = {}
    for batch in chunked(sorted(reminder_ids), 1000):
        out.update((row[0], tuple(row)) for row in session.connection().execute(
            _rows([Reminder.id.in_(batch)])))
    return out


class _Lateness:
    """Working days late on `today`, per deadline (remembered: many items share one)."""

    def __init__(self, today: date, calendar: WorkCalendar) -> None:
        self.today, self.calendar = today, calendar
        self._late: dict[date, int] = {}

    def __call__(self, due: date) -> int:
        late = self._late.get(due)
        if late is None:
            late = self._late[due] = _late(due, self.today, self.calendar)
        return late


class _Picked:
    """What one recipient's digest text needs, fed its rows one at a time in occurrence order
    (then reminder id): the system notices, the MAX_ITEMS most urgent items (one per
    occurrence: its first reminder), and how many items there are and how many are late."""

    def __init__(self, lateness: _Lateness) -> None:
        self.lateness = lateness
        self.notices: dict[str, None] = {}
        self.items: list[tuple[tuple, tuple, int]] = []  # (urgency, row, late), kept short
        self.total = self.late = 0
        self._last: int | None = None

    def add(self, row: tuple) -> None:
        occurrence = row[4]
        if occurrence is None:  # no occurrence: a system notice
            self.notices.setdefault(row[3])
            return
        if occurrence == self._last:  # two ladder levels for one item: the first one counts
            return
        self._last = occurrence
        late = self.lateness(row[5])
        self.total += 1
        self.late += late > 0
        # the longest overdue first, then the nearest deadline
        self.items.append(((-late, row[5], row[13], occurrence), row, late))
        if len(self.items) >= 50 * MAX_ITEMS:
            self._trim()

    def _trim(self) -> None:
        self.items.sort(key=lambda item: item[0])
        del self.items[MAX_ITEMS:]

    def compose(self, recipient: str, names: dict[str, str], today: date, seen: set[int],
                link: DepartmentLink | None, sign: str) -> tuple[str, str]:
        self._trim()
        listed = self.items
        digest_items = [_item(row, late, row[4] not in seen) for _, row, late in listed]
        hidden = self.total - len(listed)
        hidden_late = self.late - sum(1 for _, _, late in listed if late > 0)
        more = (hidden, hidden_late) if hidden else None
        return compose(names.get(recipient, recipient), today, digest_items,
                       recipient in OFFICE_NAMES, list(self.notices), more, link, sign)


def _compose(
    recipient: str, rows: list[tuple], names: dict[str, str], today: date,
    calendar: WorkCalendar, seen: set[int], link: DepartmentLink | None, sign: str,
) -> tuple[str, str]:
    picked = _Picked(_Lateness(today, calendar))
    for row in sorted(rows, key=lambda r: (r[4] is not None, r[4] or 0, r[0])):
        picked.add(row)
    return picked.compose(recipient, names, today, seen, link, sign)


def _late(due: date, today: date, calendar: WorkCalendar) -> int:
    return max(calendar.workdays_between(due, today), 0) if today > due else 0


def _item(row: tuple, late: int, first: bool) -> DigestItem:
    (_, recipient, level, note, occ_id, due, period, provisional, duty_title, deliverable,
     _dept_id, dept_code, dept_name, action_no, action_title, _status, plan_title,
     plan_doc_no) = row
    how = "" if recipient == dept_code else f"请督促{dept_name}办理（待办编号 {occ_id}）"
    return DigestItem(
        action_no=action_no, action_title=action_title, duty_title=duty_title,
        deliverable=deliverable, department_name=dept_name, period=period, due_on=due,
        overdue_days=late, level=level, how_to_report=how, provisional=provisional, note=note,
        first=first, plan=plan_heading(plan_title, plan_doc_no) if plan_title else "",
    )


@dataclass(frozen=True)
class Composed:
    title: str
    body: str  # as sent: with the live department link


def compose_for_send(
    session: Session, digest: Digest, today: date, calendar: WorkCalendar, links: Links,
) -> Composed | None:
    """What the digest says now: items closed since assembly are dropped (their reminders
    become void); None when nothing is owed any more. The stored copy is redacted."""
    rows = session.execute(_rows([Reminder.digest_id == digest.id, Reminder.state != "void"])
                           .order_by(Reminder.id)).tuples().all()
    closed = [r[0] for r in rows if r[4] is not None and r[15] not in OWED]
    if closed:
        fast_update(session,update(Reminder).where(Reminder.id.in_(closed)).values(state="void"))
    rows = [r for r in rows if r[0] not in set(closed)]
    if not rows:
        return None
    link = _department_link(session, digest.recipient, rows, links)
    checkpoint("compose.link_issued")
    title, body = _compose(digest.recipient, rows, _recipient_names(session), digest.day,
                           calendar, _already_reached(session, digest, rows), link,
                           links.signature)
    fast_update(session,update(Digest).where(Digest.id == digest.id)
                    .values(title=title, body=redact_links(body)))
    return Composed(title, body)


def _department_link(session: Session, recipient: str, rows: list[tuple],
                     links: Links) -> DepartmentLink | None:
    own = [r for r in rows if r[4] is not None and r[11] == recipient]
    if not own:
        return None
    return links.department(session, own[0][10], max(r[5] for r in own))


def _already_reached(session: Session, digest: Digest, rows: list[tuple]) -> set[int]:
    """Occurrences an earlier digest already brought to this recipient (so 再次 is true)."""
    occurrences = [r[4] for r in rows if r[4] is not None]
    seen: set[int] = set()
    for batch in chunked(occurrences, 1000):
        seen.update(session.scalars(select(Reminder.occurrence_id).where(
            Reminder.recipient == digest.recipient, Reminder.state.in_(EARLIER_MESSAGE),
            Reminder.digest_id != digest.id, Reminder.occurrence_id.in_(batch))))
    return seen


class _Run:
    """One dispatch: plans, claims, sends and records; remembers what it touched."""

    def __init__(self, db: Database, sender: Sender, now: datetime, today: date,
                 calendar: WorkCalendar, links: Links, worker: str, policy: RetryPolicy,
                 only: frozenset[str] | None = None) -> None:
        self.db, self.sender, self.now, self.today = db, sender, now, today
        self.calendar, self.links, self.worker, self.policy = calendar, links, worker, policy
        self.only = only
        self.touched: set[int] = set()
        self.messages: Counter[str] = Counter()
        self.told = 0

    def plan_all(self) -> None:
        """Message rows for today's digests that have none yet (one transaction)."""
        no_messages = ~exists().where(DeliveryMessage.digest_id == Digest.id)
        with self.db.session() as session:
            take_turn(session)  # two dispatches never plan the same digest at once
            mine = [Digest.recipient.in_(sorted(self.only))] if self.only is not None else []
            digests = session.scalars(select(Digest).where(
                Digest.day == self.today, Digest.state == "pending", no_messages, *mine)
                .order_by(Digest.id)).all()
            for digest in digests:
                routes = self.sender.routes_for(digest.recipient)
                if messages.plan(session, digest, routes, self.now) == "unroutable":
                    self.touched.add(digest.id)
            checkpoint("plan.routes")
        checkpoint("plan.committed")

    def send_all(self) -> int:
        """Claim-compose-send-record rounds until nothing is claimable. Returns notices told."""
        told = 0
        limit = max(1, int(getattr(self.sender, "concurrency", 32)))
        while True:
            checkpoint("claim.before")
            claimed = messages.claim(self.db, self.worker, self.now, self.today, limit,
                                     self.only)
            if not claimed:
                return told
            checkpoint("claim.committed")
            told += self._round(claimed)
            checkpoint("round.done")

    def _round(self, claimed: list[Claimed]) -> int:
        texts = self._compose([c.digest_id for c in claimed])
        outgoing = [OutgoingMessage(key=f"message:{c.id}", tag=c.recipient,
                                    title=texts[c.digest_id].title,
                                    body=texts[c.digest_id].body, route=c.route)
                    for c in claimed if texts.get(c.digest_id)]
        checkpoint("send.before")
        results = self.sender.send_many(outgoing) if outgoing else []
        checkpoint("send.returned")
        by_key: dict[str, list[TargetResult]] = {}
        for r in results:
            by_key.setdefault(r.key, []).append(r)
        told = 0
        for c in claimed:
            told += self._record(c, texts.get(c.digest_id), by_key.get(f"message:{c.id}", []))
        return told

    def _compose(self, digest_ids: list[int]) -> dict[int, Composed | None]:
        texts: dict[int, Composed | None] = {}
        with self.db.session() as session:
            lock_digests(session, digest_ids)  # another worker may send its other channel
            for digest in session.scalars(select(Digest).where(Digest.id.in_(set(digest_ids)))
                                          .order_by(Digest.id)):
                texts[digest.id] = compose_for_send(session, digest, self.today, self.calendar,
                                                    self.links)
        checkpoint("compose.committed")
        return texts

    def _record(self, c: Claimed, text: Composed | None, results: list[TargetResult]) -> int:
        self.touched.add(c.digest_id)
        checkpoint("record.message")
        with self.db.session() as session:
            if text is None:
                lock_digests(session, [c.digest_id])
                fast_update(session,update(DeliveryMessage).where(DeliveryMessage.id == c.id)
                                .values(state="void", finished_at=self.now))
                messages.refresh_digest(session, c.digest_id, self.now)
                self.messages["void"] += 1
                return 0
            done = messages.record(session, c, results, self.now, self.policy)
            self.messages[done.state] += 1
            told = 0
            if done.broken:
                name = _recipient_names(session).get(c.recipient, c.recipient)
                told = messages.tell_office(session, c.id, name, self.today, self.now)
        checkpoint("record.message_committed")
        self.told += told
        return told

    def result(self) -> DispatchResult:
        checkpoint("result.before")
        result = DispatchResult(day=self.today.isoformat(), messages=self.messages,
                                office_notices=self.told)
        with self.db.session() as session:
            retry_at = _retry_times(session, self.today, self.now)
            ids = self.touched | set(retry_at)
            names = _recipient_names(session)
            rows = session.execute(select(Digest.id, Digest.recipient, Digest.state)
                                   .where(Digest.id.in_(ids)).order_by(Digest.id)).tuples().all()
            reasons = _reasons(session, [r[0] for r in rows])
        for digest_id, recipient, state in rows:
            if self.only is not None and recipient not in self.only:
                continue  # manual urging reports its own recipients' digests only
            if state == "void":
                result.void += 1
                continue
            state = "in_flight" if state == "sending" else state
            result.digests += 1
            result.status[state] += 1
            if state != "sent":
                when = retry_at.get(digest_id)
                result.undelivered.append({
                    "recipient": recipient, "name": names.get(recipient, recipient),
                    "state": state, "reason": reasons.get(digest_id, NO_CHANNEL),
                    "retry_at": when.astimezone(SHANGHAI).strftime("%H:%M") if when else "",
                })
        result.undelivered.sort(key=lambda u: URGENCY.index(u["state"])
                                if u["state"] in URGENCY else len(URGENCY))
        _count_reminders(self.db, self.today, result)
        return result


def _retry_times(session: Session, today: date, now: datetime) -> dict[int, datetime]:
    """Today's digests with a message waiting: in flight elsewhere (lease end) or a retry."""
    held = lease()
    todays = select(Digest.id).where(Digest.day == today)
    rows = session.execute(
        select(DeliveryMessage.digest_id, DeliveryMessage.state, DeliveryMessage.claimed_at,
               DeliveryMessage.next_at)
        .where(DeliveryMessage.digest_id.in_(todays), or_(
            DeliveryMessage.state == "sending",
            (DeliveryMessage.state == "pending") & (DeliveryMessage.next_at > now)))
    ).tuples()
    out: dict[int, datetime] = {}
    for digest_id, state, claimed_at, next_at in rows:
        when = claimed_at + held if state == "sending" else next_at
        if when is not None and (digest_id not in out or when < out[digest_id]):
            out[digest_id] = when
    return out


def _reasons(session: Session, digest_ids: list[int]) -> dict[int, str]:
    """The latest person-facing error of each digest (the vendor's reason, secret-free)."""
    out: dict[int, str] = {}
    for batch in chunked(digest_ids, 1000):
        for digest_id, error in session.execute(
            select(DeliveryMessage.digest_id, DeliveryMessage.error)
            .where(DeliveryMessage.digest_id.in_(batch), DeliveryMessage.person_facing.is_(True),
                   DeliveryMessage.error.is_not(None)).order_by(DeliveryMessage.id)
        ).tuples():
            out[digest_id] = error
    return out


def dispatch(
    db: Database,
    sender: Sender,
    now: datetime,
    today: date,
    calendar: WorkCalendar,
    links: Links,
    worker: str | None = None,
    policy: RetryPolicy | None = None,
    only: frozenset[str] | None = None,
) -> DispatchResult:
    """Carry over, assemble, plan, then claim and send until nothing is claimable; a second
    pass sends the office the notices about channels this run found broken.
    `only`: send just these recipients' digests (manual urging); the others wait for the day's
    dispatch."""
    checkpoint("dispatch.start")
    run = _Run(db, sender, now, today, calendar, links, worker or worker_name(),
               policy or RetryPolicy.from_env(), only)
    with db.session() as session:
        carry_over(session, today, now)
    checkpoint("carry_over.done")
    for _ in range(2):
        with db.session() as session:
            assemble(session, today, now, calendar, links, only)
        checkpoint("assemble.committed")
        run.plan_all()
        if not run.send_all():
            break
    result = run.result()
    checkpoint("dispatch.end")
    return result


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
    """The built-in channel's storage: its own session per call (it runs in notifier threads).
    It stores the text with its links redacted: a record, never a live credential."""
    from duban.ledger.database import database_for

    def store(tag: str, title: str, body: str) -> None:
        with database_for(database_url).session() as session:
            session.add(OutboxMessage(recipient=tag, title=title, body=redact_links(body),
                                      at=now_fn()))

    return store


@dataclass(frozen=True)
class Undelivered:
    """A recipient whose latest digest has not reached a person (for the board and status)."""

    recipient: str
    name: str
    day: date
    state: str  # failed | unknown | unroutable | retrying | sending
    reason: str

    @property
    def state_zh(self) -> str:
        return STATE_ZH.get("in_flight" if self.state == "sending" else self.state, self.state)

    def as_dict(self) -> dict:
        return {"recipient": self.recipient, "name": self.name, "day": self.day.isoformat(),
                "state": self.state, "state_zh": self.state_zh, "reason": self.reason}


UNDELIVERED_DAYS = 14  # how far back the board looks for a recipient's latest digest


def undelivered(session: Session, today: date) -> list[Undelivered]:
    """Recipients whose latest digest (of the last UNDELIVERED_DAYS days, up to `today`) did
    not reach any person-facing channel: failed, unknown, unroutable, waiting for a retry or
    in flight. A digest not tried yet (pending) or with nothing owed (void) is not listed; a
    carried one is judged by the digest it joined."""
    rows = session.execute(
        select(Digest.id, Digest.recipient, Digest.day, Digest.state)
        .where(Digest.day <= today, Digest.day > today - timedelta(days=UNDELIVERED_DAYS),
               Digest.state.not_in(("void", "carried", "pending")))
        .order_by(Digest.recipient, Digest.day, Digest.seq)).tuples().all()
    latest = {recipient: (digest_id, day, state) for digest_id, recipient, day, state in rows}
    missed = {r: v for r, v in latest.items() if v[2] != "sent"}
    reasons = _reasons(session, [v[0] for v in missed.values()])
    names = _recipient_names(session)
    out = [Undelivered(r, names.get(r, r), day, state, reasons.get(digest_id, NO_CHANNEL))
           for r, (digest_id, day, state) in missed.items()]
    return sorted(out, key=lambda u: (URGENCY.index(u.state) if u.state in URGENCY
                                      else len(URGENCY), u.recipient))
