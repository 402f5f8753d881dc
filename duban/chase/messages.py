"""Per-message delivery state: one row per digest x channel, claimed, recorded and retried alone.

Why per message: a crash or a database outage then repeats at most the messages on the wire at
that moment (the claim takes no more than the sender's concurrency), never a day's batch; and a
digest is judged by its person-facing channels only (the built-in outbox is a record).

States of a message: pending (never tried, or a retry due at `next_at`) -> sending (claimed, with
a lease) -> sent | failed (permanent, or the attempt cap reached) | unknown (the request left but
no answer came: never re-sent blindly) | void (nothing was owed any more at send time).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from duban.chase.delivery import Route, TargetResult
from duban.chase.faults import checkpoint
from duban.chase.ladder import OFFICE, Owed, record_owed
from duban.ledger.batching import chunked
from duban.ledger.database import Database, insert_ignoring_duplicates
from duban.ledger.models import Delivery, DeliveryMessage, Digest, Reminder
from duban.settings import Settings

LEASE = timedelta(seconds=Settings.model_fields["dispatch_lease_seconds"].default)  # default
MAX_ATTEMPTS = Settings.model_fields["delivery_max_attempts"].default
RETRY_AFTER = timedelta(seconds=Settings.model_fields["delivery_retry_seconds"].default)
MAX_RETRY_AFTER = timedelta(hours=2)
OPEN_DIGEST_STATES = ("pending", "sending", "retrying")


def fast_update(session: Session, statement):
    """An UPDATE that skips the ORM's in-session synchronisation (nothing here is loaded)."""
    return session.execute(statement.execution_options(synchronize_session=False))


#: PostgreSQL advisory lock key: carry-over, assembly, planning and claims of concurrent
#: dispatches take turns (short transactions), so their many-row writes never interleave.
DISPATCH_LOCK = 7262001


def take_turn(session: Session) -> None:
    """Wait for this transaction's turn among dispatches (PostgreSQL; a SQLite writer already
    holds the database's one write lock from BEGIN IMMEDIATE)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(DISPATCH_LOCK)))


def lock_digests(session: Session, digest_ids) -> None:
    """Lock these digest rows, in id order, before touching them, their messages or their
    reminders. Every dispatch transaction that writes a digest's rows starts here, so two
    dispatches meet on the digest row in one order and wait instead of deadlocking."""
    ids = sorted(set(digest_ids))
    if not ids or session.get_bind().dialect.name != "postgresql":
        return
    for batch in chunked(ids, 1000):
        session.execute(select(Digest.id).where(Digest.id.in_(batch)).order_by(Digest.id)
                        .with_for_update())


def lease() -> timedelta:
    """How long a claimed message stays its claimer's (Settings.dispatch_lease_seconds). Read
    at each claim, never at import; a bad value is a SettingsError naming the variable."""
    return timedelta(seconds=Settings.from_env().dispatch_lease_seconds)


@dataclass(frozen=True)
class RetryPolicy:
    """How often a message may be tried, and how long to wait before the next dispatch tries."""

    max_attempts: int = MAX_ATTEMPTS
    first_wait: timedelta = RETRY_AFTER

    @classmethod
    def from_env(cls) -> RetryPolicy:
        settings = Settings.from_env()  # a bad value is a SettingsError naming the variable
        return cls(settings.delivery_max_attempts,
                   timedelta(seconds=settings.delivery_retry_seconds))

    def wait(self, attempts: int) -> timedelta:
        return min(self.first_wait * 2 ** max(attempts - 1, 0), MAX_RETRY_AFTER)


def plan(session: Session, digest: Digest, routes: list[Route], now: datetime) -> str:
    """Create the digest's message rows (one per channel its tag reaches); its first state.
    Two dispatches planning the same digest at once create each row once (ON CONFLICT)."""
    insert_ignoring_duplicates(session, DeliveryMessage, [dict(
        digest_id=digest.id, recipient=digest.recipient, route=route.id, target=route.target,
        channel=route.channel, person_facing=route.person_facing, state="pending",
        attempts=0, permanent=False, created_at=now,
    ) for route in sorted(routes, key=lambda r: r.id)])
    state = "pending" if any(r.person_facing for r in routes) else "unroutable"
    if not routes:
        session.add(Delivery(digest_id=digest.id, recipient=digest.recipient, target="",
                             channel="", status="unroutable", permanent=True, attempts=0,
                             error=f"no channel is configured for {digest.recipient!r}",
                             elapsed=0.0, at=now))
    set_digest_state(session, digest.id, state, now if state == "unroutable" else None)
    return state


@dataclass(frozen=True)
class Claimed:
    id: int
    digest_id: int
    recipient: str
    route: str
    attempts: int


def claim(db: Database, worker: str, now: datetime, today: date, limit: int,
          only: frozenset[str] | None = None) -> list[Claimed]:
    """Take up to `limit` sendable messages of today's digests (of the recipients `only`, when
    given), atomically."""
    stale = now - lease()
    claimable = or_(
        and_(DeliveryMessage.state == "pending",
             or_(DeliveryMessage.next_at.is_(None), DeliveryMessage.next_at <= now)),
        and_(DeliveryMessage.state == "sending", DeliveryMessage.claimed_at < stale),
    )
    mine = [Digest.recipient.in_(sorted(only))] if only is not None else []
    todays = DeliveryMessage.digest_id.in_(select(Digest.id).where(Digest.day == today, *mine))
    with db.session() as session:
        take_turn(session)  # one claimer at a time; the rest of the dispatch runs in parallel
        candidates = session.execute(
            select(DeliveryMessage.id, DeliveryMessage.digest_id).where(claimable, todays)
            .order_by(DeliveryMessage.id).limit(limit)).tuples().all()
        # Digest rows first (the order every dispatch transaction follows), then the messages:
        # a worker still recording a stale claim holds its digest, so we wait for it here.
        lock_digests(session, [d for _, d in candidates])
        ids = [i for i, _ in candidates]
        if db.dialect == "postgresql":
            won = list(session.scalars(
                select(DeliveryMessage.id).where(DeliveryMessage.id.in_(ids), claimable)
                .order_by(DeliveryMessage.id).with_for_update(skip_locked=True)).all())
            _take(session, won, worker, now)
        else:
            won = [i for i in ids if _take(session, [i], worker, now, claimable) == 1]
        rows = session.execute(
            select(DeliveryMessage.id, DeliveryMessage.digest_id, DeliveryMessage.recipient,
                   DeliveryMessage.route, DeliveryMessage.attempts)
            .where(DeliveryMessage.id.in_(won)).order_by(DeliveryMessage.id)
        ).tuples().all()
        digest_ids = {r[1] for r in rows}
        if digest_ids:
            fast_update(session, update(Digest).where(Digest.id.in_(digest_ids))
                        .values(state="sending", claimed_by=worker, claimed_at=now,
                                attempts=Digest.attempts + 1))
            fast_update(session, update(Reminder).where(Reminder.digest_id.in_(digest_ids),
                                                        Reminder.state != "void")
                        .values(state="sending"))
    return [Claimed(*r) for r in rows]


def _take(session: Session, ids: list[int], worker: str, now: datetime, claimable=None) -> int:
    if not ids:
        return 0
    where = [DeliveryMessage.id.in_(ids)] + ([claimable] if claimable is not None else [])
    result = fast_update(session,
        update(DeliveryMessage).where(*where)
        .values(state="sending", claimed_by=worker, claimed_at=now,
                attempts=DeliveryMessage.attempts + 1)
    )
    return result.rowcount


@dataclass(frozen=True)
class Recorded:
    state: str  # the message's new state
    digest_state: str
    broken: bool  # the channel is broken (permanent failure or the cap): tell the office


def record(
    session: Session, message: Claimed, results: list[TargetResult], now: datetime,
    policy: RetryPolicy,
) -> Recorded:
    """One message's outcome, its attempt row(s), and the digest's new state: one transaction."""
    lock_digests(session, [message.digest_id])
    for r in results:
        session.add(Delivery(
            digest_id=message.digest_id, message_id=message.id, recipient=message.recipient,
            target=r.target, channel=r.channel, status=r.status, error=r.error,
            permanent=r.permanent, attempts=r.attempts, elapsed=r.elapsed, at=now,
        ))
    state, next_at, error, permanent = _judge(results, message.attempts, now, policy)
    fast_update(session,update(DeliveryMessage).where(DeliveryMessage.id == message.id).values(
        state=state, next_at=next_at, error=error, permanent=permanent,
        finished_at=None if state == "pending" else now,
    ))
    digest_state = refresh_digest(session, message.digest_id, now)
    return Recorded(state, digest_state, state == "failed")


def _judge(results: list[TargetResult], attempts: int, now: datetime, policy: RetryPolicy):
    """(state, next_at, error, permanent) of a message from its target results."""
    if not results:
        return "unknown", None, "the sender returned no result", False
    statuses = {r.status for r in results}
    error = next((r.error for r in results if r.error), None)
    if "sent" in statuses:
        return "sent", None, None, False
    if "unknown" in statuses:
        return "unknown", None, error, False
    permanent = any(r.permanent for r in results)
    if permanent or attempts >= policy.max_attempts:
        why = error if permanent else f"{error}（已尝试{attempts}次）"
        return "failed", None, why, permanent
    return "pending", now + policy.wait(attempts), error, False


def digest_state_of(rows: list[tuple[bool, str, int]]) -> str:
    """A digest from its messages (person_facing, state, attempts): delivered as soon as one
    person-facing channel took it; the outbox alone is never a delivery."""
    facing = [(s, a) for p, s, a in rows if p]
    if not facing:
        return "void" if rows and all(s == "void" for _, s, _ in rows) else "unroutable"
    states = {s for s, _ in facing}
    if "sent" in states:
        return "sent"
    if states == {"void"}:
        return "void"
    if "sending" in states:
        return "sending"
    if "pending" in states:
        return "retrying" if any(a > 0 for s, a in facing if s == "pending") else "pending"
    return "unknown" if "unknown" in states else "failed"


def refresh_digest(session: Session, digest_id: int, now: datetime) -> str:
    rows = session.execute(
        select(DeliveryMessage.person_facing, DeliveryMessage.state, DeliveryMessage.attempts)
        .where(DeliveryMessage.digest_id == digest_id)
    ).tuples().all()
    state = digest_state_of(list(rows))
    final = state not in OPEN_DIGEST_STATES
    checkpoint("record.digest_state")
    set_digest_state(session, digest_id, state, now if final else None)
    return state


def set_digest_state(session: Session, digest_id: int, state: str, finished: datetime | None):
    fast_update(session,update(Digest).where(Digest.id == digest_id)
                    .values(state=state, finished_at=finished))
    fast_update(session,update(Reminder).where(Reminder.digest_id == digest_id,
                                           Reminder.state != "void").values(state=state))


def tell_office(session: Session, message_id: int, recipient_name: str, today: date,
                now: datetime) -> int:
    """Record one office notice per broken channel (again only after it worked in between)."""
    row = session.execute(
        select(DeliveryMessage.route, DeliveryMessage.target, DeliveryMessage.channel,
               DeliveryMessage.error).where(DeliveryMessage.id == message_id)
    ).one()
    route, target, channel, error = row
    last_ok = session.scalar(select(func.coalesce(func.max(DeliveryMessage.id), 0)).where(
        DeliveryMessage.route == route, DeliveryMessage.state == "sent"))
    text = (f"{recipient_name}的送达渠道 {target}（{channel}）无法送达：{error}。"
            "请核对该渠道（config/notify.yaml）；修复前该单位的督办消息记为未送达。")
    recorded = record_owed(session, [Owed(f"channel-broken:{route}:{last_ok}", None, OFFICE,
                                          "notice", text)], today, now)
    checkpoint("notice.recorded")
    return recorded
