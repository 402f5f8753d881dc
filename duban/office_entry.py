"""Office entry (代为登记): a report received on paper or by phone, recorded by the office.

The report is the department's (it counts, closes and is judged like any other) but is marked as
entered by the office (entered_by="office:NAME"). The department code must match the
occurrence's department, so a slip of the pen cannot file one department's answer for another.
Retrying the same entry (a Prefect retry, a double click) records it once: the idempotency key is
derived from what was entered unless one is given.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from duban.ledger.models import Department
from duban.reports.errors import ReportRefused
from duban.reports.evidence import Evidence, evidence_fingerprint
from duban.reports.submission import Submission, Submitter, derive_key, submit
from duban.reports.verdicts import ReportOutcome
from duban.service import Context


def office_actor(entered_by: str) -> str:
    """'张三' -> 'office:张三'; an already prefixed name is kept."""
    name = (entered_by or "").strip() or "office"
    return name if name == "office" or name.startswith("office:") else f"office:{name}"


def enter_on_behalf(
    ctx: Context,
    department_code: str,
    occurrence_id: int,
    kind: str,
    value: float | str | None,
    note: str,
    evidence: Evidence,
    entered_by: str,
    now: datetime,
    *,
    unit: str | None = None,
    problems: str = "",
    support: str = "",
    keep_open: bool = False,
    correction_of: int | None = None,
    reason: str = "",
    idempotency_key: str | None = None,
    numerator: float | str | None = None,
    denominator: float | str | None = None,
) -> ReportOutcome:
    """Record a report for `department_code` as entered by the office; ReportError if refused."""
    actor = office_actor(entered_by)
    key = idempotency_key or derive_key(
        "office", department_code, occurrence_id, kind, value, unit, note,
        evidence_fingerprint(evidence), problems, support, keep_open, correction_of, reason, actor,
        *((numerator, denominator) if numerator is not None or denominator is not None else ()),
    )
    with ctx.db.session() as session:
        department = session.scalar(select(Department).where(Department.code == department_code))
        if department is None:
            raise ReportRefused("department", f"没有代码为“{department_code}”的单位",
                                f"unknown department code {department_code!r}")
        submission = Submission(
            occurrence_id, kind, key, value=value, unit=unit, note=note, evidence=evidence,
            numerator=numerator, denominator=denominator, problems=problems, support=support,
            keep_open=keep_open, correction_of=correction_of,
            reason=reason)
        # the department's own check applies: its code must own the occurrence
        by = Submitter(department.id, entered_by=actor, via="office")
        return submit(session, submission, by, ctx.report_rules, now)
