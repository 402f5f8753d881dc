"""The ledger as it stood on a past day: later reports, reviews and extensions do not count.

An occurrence row holds its present state only. For a day D, every occurrence changed after D
(a report, an office review, an extension decided later) is replayed from its plan deadline
through the changes recorded up to the end of D (Asia/Shanghai): reports set what their audit
entry says they left (closed, awaiting review, reopened, acknowledged until), approved
extensions move the deadline, reviews close or return. Untouched occurrences need no replay.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.calendar.clock import at_local, local_day
from duban.ledger.batching import chunked
from duban.ledger.models import AuditEntry, ExtensionRequest, Occurrence, Report, Review


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
