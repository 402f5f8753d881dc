"""审核销号: the office reviews what a department reported, then closes (销号) or returns (退回) it.

When the plan requires review (`plan.review_required`, on by default), a closing report leaves
the occurrence `reported` (已报送·待审核) instead of closed; the department may still correct it
(a new report supersedes the standing one). The office then either
- accepts it: the occurrence is closed (已销号); its timeliness stays judged on the day the
  department reported (`closed_on`), not the day of the sign-off; or
- returns it with a reason: the occurrence is open again (已退回, `returned_on`), due
  `rework_days` working days after the return (config/ladder.yaml `review.rework_days`), so the
  reminder ladder restarts on that deadline (its dedup keys carry the deadline).
Each verdict is a `review` row, an audit entry (with who, and the Prefect flow run when made
from the UI) and an item event (duban.item.closed / duban.item.returned), in one transaction.
Verdicts are idempotent: the same verdict on the same report again changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from duban.calendar.clock import local_day, shanghai
from duban.calendar.workdays import WorkCalendar
from duban.ledger.database import record_audit
from duban.ledger.item_events import Change, record_changes
from duban.ledger.models import Department, Occurrence, Report, Review
from duban.reports.errors import ReportError
from duban.reports.inputs import check_text
from duban.reports.queries import standing_report_id

ACCEPTED, RETURNED = "accepted", "returned"
VERDICT_ZH = {ACCEPTED: "销号", RETURNED: "退回"}


class ReviewError(ReportError):
    """A verdict refused; the one bilingual error of the report core (str: "中文 / English")."""

    def __init__(self, zh: str, en: str) -> None:
        super().__init__("review", zh, en)


@dataclass(frozen=True)
class ReviewOutcome:
    occurrence_id: int
    department: str
    department_name: str
    verdict: str
    report_id: int
    due_on: date
    closed_on: date | None
    reason: str
    replayed: bool = False

    @property
    def message(self) -> str:
        if self.verdict == ACCEPTED:
            done = f"（报送于 {self.closed_on.isoformat()}）" if self.closed_on else ""
            return f"事项 {self.occurrence_id}（{self.department_name}）已审核销号{done}"
        return (f"事项 {self.occurrence_id}（{self.department_name}）已退回：{self.reason}；"
                f"请于 {self.due_on.isoformat()} 前重新报送")

    def as_dict(self) -> dict:
        return {"occurrence_id": self.occurrence_id, "department": self.department,
                "department_name": self.department_name, "verdict": self.verdict,
                "verdict_zh": VERDICT_ZH[self.verdict], "report_id": self.report_id,
                "due_on": self.due_on.isoformat(),
                "closed_on": self.closed_on.isoformat() if self.closed_on else None,
                "reason": self.reason, "replayed": self.replayed, "message": self.message}


def _locked(session: Session, occurrence_id: int) -> Occurrence:
    occ = session.scalar(select(Occurrence).where(Occurrence.id == occurrence_id)
                         .with_for_update().execution_options(populate_existing=True))
    if occ is None:
        raise ReviewError(f"没有编号为 {occurrence_id} 的事项", f"no occurrence {occurrence_id}")
    return occ


def _latest(session: Session, occurrence_id: int) -> Review | None:
    return session.scalar(select(Review).where(Review.occurrence_id == occurrence_id)
                          .order_by(Review.at.desc(), Review.id.desc()).limit(1))


def _outcome(occ: Occurrence, review: Review, replayed: bool = False) -> ReviewOutcome:
    return ReviewOutcome(occ.id, occ.department.code, occ.department.name, review.verdict,
                         review.report_id, occ.due_on, occ.closed_on, review.reason, replayed)


def _awaiting(session: Session, occ: Occurrence) -> int:
    """The report under review; refuse an occurrence that is not awaiting review."""
    if occ.status == "reported":
        report_id = standing_report_id(session, occ.id)
        if report_id is not None:
            return report_id
    if occ.status == "closed":
        raise ReviewError(f"事项 {occ.id} 已销号，无需审核",
                          f"occurrence {occ.id} is already closed")
    raise ReviewError(f"事项 {occ.id} 尚未报送（或已退回待重报），没有待审核的报告",
                      f"occurrence {occ.id} has no report awaiting review")


def accept(
    session: Session, occurrence_id: int, reviewer: str, now: datetime, via: str = "cli",
) -> ReviewOutcome:
    """销号: close an item whose closing report awaits review."""
    occ = _locked(session, occurrence_id)
    last = _latest(session, occ.id)
    if occ.status == "closed" and last is not None and last.verdict == ACCEPTED:
        return _outcome(occ, last, replayed=True)
    report_id = _awaiting(session, occ)
    occ.status = "closed"
    review = _record(session, occ, report_id, ACCEPTED, "", reviewer, via, occ.due_on, now)
    return _outcome(occ, review)


def return_item(
    session: Session, occurrence_id: int, reason: str, reviewer: str, now: datetime,
    calendar: WorkCalendar, rework_days: int, via: str = "cli",
) -> ReviewOutcome:
    """退回: reopen an item with a reason; it is due again `rework_days` working days later."""
    try:
        reason = check_text("reason", reason, "退回原因")
    except ReportError as exc:
        raise ReviewError(exc.zh, exc.en) from None
    if not reason:
        raise ReviewError("退回须说明原因", "a return needs a reason")
    occ = _locked(session, occurrence_id)
    last = _latest(session, occ.id)
    if (occ.status == "open" and last is not None and last.verdict == RETURNED
            and last.reason == reason):
        return _outcome(occ, last, replayed=True)  # the same return again (a retry)
    report_id = _awaiting(session, occ)
    today = local_day(now)
    before, after = occ.due_on, calendar.add_workdays(today, rework_days)
    occ.status, occ.closed_on, occ.closed_at = "open", None, None
    occ.returned_on, occ.due_on, occ.acknowledged_until = today, after, None
    review = _record(session, occ, report_id, RETURNED, reason, reviewer, via, before, now)
    return _outcome(occ, review)


def _record(
    session: Session, occ: Occurrence, report_id: int, verdict: str, reason: str,
    reviewer: str, via: str, due_before: date, now: datetime,
) -> Review:
    reviewer = (reviewer or "office").strip()[:100] or "office"
    review = Review(occurrence_id=occ.id, report_id=report_id, verdict=verdict, reason=reason,
                    reviewer=reviewer, via=via[:100], due_before=due_before,
                    due_after=occ.due_on, at=now)
    session.add(review)
    session.flush()
    record_audit(session, reviewer, f"review_{verdict}", "occurrence", str(occ.id), now,
                 via=via, review=review.id, report=report_id, reason=reason,
                 due_before=due_before.isoformat(), due=occ.due_on.isoformat())
    kind = "closed" if verdict == ACCEPTED else "returned"
    detail = {"review_id": review.id, "report_id": report_id, "reviewer": reviewer,
              "due_on": occ.due_on.isoformat(), "previous_due_on": due_before.isoformat()}
    record_changes(session, [Change(f"review:{review.id}", occ.id, kind, detail)], now)
    return review


# -- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReturnNote:
    """What a department is told about a return: when, why, and the new deadline."""

    on: date
    reason: str
    due_on: date
    reviewer: str


def latest_return(session: Session, occurrence_id: int) -> ReturnNote | None:
    """The office's latest return of an item, if its latest verdict is a return."""
    last = _latest(session, occurrence_id)
    if last is None or last.verdict != RETURNED:
        return None
    return ReturnNote(local_day(last.at), last.reason, last.due_after, last.reviewer)


@dataclass(frozen=True)
class PendingReview:
    occurrence_id: int
    department: str
    department_name: str
    report_id: int
    reported_at: str  # Shanghai wall time
    value: float | None
    unit: str | None
    note: str
    evidence: str


def pending_reviews(
    session: Session, department_ids: list[int] | None = None
) -> list[PendingReview]:
    """Items awaiting review, oldest report first, with the report under review."""
    query = (select(Occurrence.id, Department.code, Department.name)
             .join(Department, Occurrence.department_id == Department.id)
             .where(Occurrence.status == "reported").order_by(Occurrence.closed_at, Occurrence.id))
    if department_ids:
        query = query.where(Occurrence.department_id.in_(department_ids))
    out = []
    for occ_id, code, name in session.execute(query).tuples():
        report = session.get(Report, standing_report_id(session, occ_id) or 0)
        if report is None:
            continue
        out.append(PendingReview(occ_id, code, name, report.id, shanghai(report.created_at),
                                 report.value, report.unit, report.note, report.evidence))
    return out


def returns_by_department(session: Session, until: datetime | None = None) -> dict[str, int]:
    """How many times the office returned each department's reports (before `until`)."""
    query = (select(Department.code, func.count()).select_from(Review)
             .join(Occurrence, Review.occurrence_id == Occurrence.id)
             .join(Department, Occurrence.department_id == Department.id)
             .where(Review.verdict == RETURNED).group_by(Department.code))
    if until is not None:
        query = query.where(Review.at < until)
    return dict(session.execute(query).tuples().all())
