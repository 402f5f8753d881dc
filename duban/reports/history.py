"""The ledger as it stood on a past day: later reports, reviews and extensions do not count.

An occurrence row holds its present state only. For a day D, every occurrence changed after D
(a report, an office review, an extension decided later) is replayed from its plan deadline
through the changes recorded up to the end of D (Asia/Shanghai): reports set what their audit
entry says they left (closed, awaiting review, reopened, acknowledged until), approved
extensions move the deadline, reviews close or return. Untouched occurrences need no replay.
An item withdrawn (撤销) or reopened after D stands on D as it was before: `owed_on` reads the
instants of those changes from the audit duban.plan.loading writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from duban.calendar.clock import at_local, local_day
from duban.ledger.batching import chunked
from duban.ledger.models import (
    WITHDRAWN,
    AuditEntry,
    Department,
    Duty,
    ExtensionRequest,
    Occurrence,
    Plan,
    Report,
    Review,
)

# duban.plan.loading's audit of an owner change: entity "duty", key "plan/duty", detail.departments
OWNER_VERBS = ("withdrawn", "reopened")


@dataclass(frozen=True)
class Standing:
    """An occurrence's state at the end of a day."""

    status: str  # open | reported | closed
    due_on: date
    closed_on: date | None
    returned_on: date | None
    acknowledged_until: date | None


def end_of(day: date) -> datetime:
    """The first instant after `day` in Asia/Shanghai."""
    return at_local(day + timedelta(days=1), 0)


def changed_after(session: Session, instant: datetime) -> set[int]:
    """Occurrences with a report, a review or an extension decision at or after `instant`."""
    ids = set(session.scalars(select(Report.occurrence_id).where(Report.created_at >= instant)))
    ids |= set(session.scalars(select(Review.occurrence_id).where(Review.at >= instant)))
    ids |= set(session.scalars(select(ExtensionRequest.occurrence_id).where(
        ExtensionRequest.decided_at >= instant)))
    return ids


def standings_on(session: Session, day: date) -> dict[int, Standing]:
    """How each occurrence changed after `day` stood at its end (the others: as they are now)."""
    end = end_of(day)
    ids = changed_after(session, end)
    out: dict[int, Standing] = {}
    for chunk in chunked(sorted(ids), 500):
        out.update(_replay(session, chunk, end))
    return out


def owed_on(session: Session, day: date) -> ColumnElement[bool]:
    """A filter: the occurrence was not withdrawn at the end of `day`. An item withdrawn later
    shows on that day as it was; one reopened later stays hidden for a day it was withdrawn."""
    end = end_of(day)
    owner = (AuditEntry.entity == "duty", AuditEntry.verb.in_(OWNER_VERBS))
    later = session.execute(select(AuditEntry.entity_key, AuditEntry.detail)
                            .where(*owner, AuditEntry.at >= end)).tuples().all()
    pairs = {(key, code) for key, detail in later for code in (detail or {}).get("departments", [])}
    if not pairs:  # nothing changed since: withdrawn then is withdrawn now
        return Occurrence.status != WITHDRAWN
    withdrawn_then: dict[tuple[str, str], bool] = {}
    for key, detail, verb in session.execute(
            select(AuditEntry.entity_key, AuditEntry.detail, AuditEntry.verb)
            .where(*owner, AuditEntry.at < end).order_by(AuditEntry.at, AuditEntry.id)).tuples():
        for code in (detail or {}).get("departments", []):
            if (key, code) in pairs:
                withdrawn_then[(key, code)] = verb == "withdrawn"
    duty_keys = {key.split("/", 1)[1] for key, _ in pairs if "/" in key}
    rows = session.execute(
        select(Occurrence.id, Occurrence.status, Plan.key, Duty.key, Department.code)
        .join(Duty, Occurrence.duty_id == Duty.id).join(Plan, Duty.plan_id == Plan.id)
        .join(Department, Occurrence.department_id == Department.id)
        .where(Duty.key.in_(sorted(duty_keys)))).tuples()
    flipped = []  # occurrences whose withdrawal then differs from now
    for occ_id, status, plan, duty, code in rows:
        pair = (f"{plan}/{duty}", code)
        if pair in pairs and (status == WITHDRAWN) != withdrawn_then.get(pair, False):
            flipped.append(occ_id)
    return or_(and_(Occurrence.status != WITHDRAWN, Occurrence.id.not_in(flipped)),
               and_(Occurrence.status == WITHDRAWN, Occurrence.id.in_(flipped)))


def _replay(session: Session, ids: list[int], end: datetime) -> dict[int, Standing]:
    timeline: dict[int, list[tuple[datetime, int, str, object]]] = {i: [] for i in ids}
    reports = session.execute(select(Report.id, Report.occurrence_id, Report.created_at)
                              .where(Report.occurrence_id.in_(ids), Report.created_at < end)
                              ).tuples().all()
    details = _report_details(session, [r[0] for r in reports])
    for rid, occ_id, at in reports:
        timeline[occ_id].append((at, rid, "report", details.get(rid, {})))
    for req in session.scalars(select(ExtensionRequest).where(
            ExtensionRequest.occurrence_id.in_(ids), ExtensionRequest.state == "approved",
            ExtensionRequest.decided_at < end)):
        timeline[req.occurrence_id].append((req.decided_at, req.id, "extension", req))
    for review in session.scalars(select(Review).where(Review.occurrence_id.in_(ids),
                                                       Review.at < end)):
        timeline[review.occurrence_id].append((review.at, review.id, "review", review))
    originals = dict(session.execute(select(Occurrence.id, Occurrence.original_due_on)
                                     .where(Occurrence.id.in_(ids))).tuples().all())
    return {occ_id: _fold(originals[occ_id], sorted(events, key=lambda e: (e[0], e[2], e[1])))
            for occ_id, events in timeline.items() if occ_id in originals}


def _report_details(session: Session, report_ids: list[int]) -> dict[int, dict]:
    if not report_ids:
        return {}
    rows = session.execute(select(AuditEntry.entity_key, AuditEntry.detail).where(
        AuditEntry.entity == "report", AuditEntry.entity_key.in_([str(i) for i in report_ids]))
    ).tuples()
    return {int(key): detail or {} for key, detail in rows}


def _fold(original_due: date, events: list[tuple[datetime, int, str, object]]) -> Standing:
    status, due, closed, returned, ack = "open", original_due, None, None, None
    for at, _, kind, data in events:
        if kind == "report":
            detail = data if isinstance(data, dict) else {}
            if detail.get("kind") == "ack":
                ack = _day(detail.get("acknowledged_until")) or ack
            elif detail.get("closed"):
                status = "reported" if detail.get("awaiting_review") else "closed"
                closed = _day(detail.get("closed_on")) or closed or local_day(at)
            else:
                status, closed = "open", None
        elif kind == "extension":
            due = data.requested_due_on  # type: ignore[union-attr]
        elif kind == "review":
            if data.verdict == "accepted":  # type: ignore[union-attr]
                status = "closed"
            else:
                status, closed, ack = "open", None, None
                returned, due = local_day(at), data.due_after  # type: ignore[union-attr]
    return Standing(status, due, closed, returned, ack)


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None
