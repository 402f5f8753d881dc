"""Report tests' shared facts and helpers: the clock, the duties used, finding an item, filing a
report as its department, and everything a refused submission must leave untouched."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select

from duban.chase.occurrences import status_rows
from duban.ledger.models import (
    AccessToken,
    AuditEntry,
    Department,
    Duty,
    Occurrence,
    Reminder,
    Report,
)
from duban.reports.review import accept
from duban.reports.submission import Submission, Submitter, submit
from duban.reports.verdicts import ReportOutcome
from duban.service import Context

NOW = datetime(2023, 7, 5, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
HOMES = "elderly-home-adaptation/progress"  # 户, sum over the nine county bureaux
VISITS = "elderly-visit-rate/progress"  # %, monthly, reported as numerator and denominator
VISITS_FINAL = "elderly-visit-rate/final"  # %, the city's year-end figure, owed by mzj: one value
SAMPLE = ("mzj", "taishan-mzj", "wjw", "dongping-gaj", "dongping-mzj")


def occ_id(ctx: Context, duty_key: str, department: str, period: str | None = None) -> int:
    with ctx.db.session() as s:
        query = (select(Occurrence.id).join(Duty, Occurrence.duty_id == Duty.id)
                 .join(Department, Occurrence.department_id == Department.id)
                 .where(Duty.key == duty_key, Department.code == department)
                 .order_by(Occurrence.period))
        if period:
            query = query.where(Occurrence.period == period)
        found = s.scalars(query).first()
    assert found is not None, (duty_key, department, period)
    return found


def any_occ_of(ctx: Context, department: str) -> int | None:
    with ctx.db.session() as s:
        return s.scalars(select(Occurrence.id).join(Department).where(
            Department.code == department).order_by(Occurrence.id)).first()


def dept_id(ctx: Context, code: str) -> int:
    with ctx.db.session() as s:
        return s.scalar(select(Department.id).where(Department.code == code))


def owner_of(ctx: Context, occurrence_id: int) -> int:
    with ctx.db.session() as s:
        return s.get(Occurrence, occurrence_id).department_id


def file_report(
    ctx: Context, occurrence_id: int, kind: str = "done", *, department: str | None = None,
    key: str | None = None, now: datetime = NOW, **fields: Any,
) -> ReportOutcome:
    """Submit as the owning department (or `department`) in a transaction of its own."""
    submitter = dept_id(ctx, department) if department else owner_of(ctx, occurrence_id)
    submission = Submission(occurrence_id, kind, key or uuid.uuid4().hex, **fields)
    with ctx.db.session() as s:
        return submit(s, submission, Submitter(submitter), ctx.report_rules, now)


def counts(ctx: Context) -> dict[str, Any]:
    """Everything a refused submission must leave untouched."""
    with ctx.db.session() as s:
        return {
            "reports": s.scalar(select(func.count()).select_from(Report)),
            "audit": s.scalar(select(func.count()).select_from(AuditEntry)),
            "used_tokens": s.scalar(select(func.count()).select_from(AccessToken)
                                    .where(AccessToken.used_at.is_not(None))),
            "tokens": s.scalar(select(func.count()).select_from(AccessToken)),
            "occurrences": sorted(s.execute(select(
                Occurrence.id, Occurrence.status, Occurrence.closed_on,
                Occurrence.acknowledged_until)).all()),
        }


def occurrence(ctx: Context, occurrence_id: int) -> Occurrence:
    with ctx.db.session() as s:
        return s.get(Occurrence, occurrence_id)


def state_of(ctx: Context, occurrence_id: int, day: date) -> str:
    with ctx.db.session() as s:
        rows = status_rows(s, day, ctx.calendar)
    return next(r.state for r in rows if r.id == occurrence_id)


def sign_off(ctx: Context, occurrence_id: int, now: datetime = NOW) -> None:
    """The office accepts the item's standing report (销号)."""
    with ctx.db.session() as s:
        accept(s, occurrence_id, "office:test", now)


def reminders_for(ctx: Context, occurrence_id: int, day: date) -> list[tuple[str, str]]:
    """(level, recipient) of the reminders recorded for an item on a day."""
    with ctx.db.session() as s:
        return sorted(s.execute(select(Reminder.level, Reminder.recipient).where(
            Reminder.occurrence_id == occurrence_id, Reminder.send_on == day)).all())


PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"
