"""延期申请 (extension requests): a department asks, the office decides.

An approved extension moves the occurrence's deadline (`due_on`) and so its whole reminder
ladder (the ladder's dedup keys carry the deadline); `original_due_on` keeps the plan's date,
and every request and decision is in the audit trail and counted per department.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from duban.calendar.workdays import WorkCalendar
from duban.ledger.database import record_audit
from duban.ledger.item_events import Change, record_changes
from duban.ledger.models import Department, ExtensionRequest, Occurrence
from duban.reports.errors import ExtensionError
from duban.reports.inputs import check_text
from duban.reports.tokens import LIMITS, Grant, use

MAX_REASON = 500


@dataclass(frozen=True)
class ExtensionView:
    id: int
    occurrence_id: int
    department: str
    current_due: str
    requested_due: str
    reason: str
    state: str
    decided_by: str | None
    decision_note: str

    @classmethod
    def of(cls, request: ExtensionRequest) -> ExtensionView:
        return cls(request.id, request.occurrence_id, request.department.code,
                   request.current_due_on.isoformat(), request.requested_due_on.isoformat(),
                   request.reason, request.state, request.decided_by, request.decision_note)


def request_extension(
    session: Session,
    occurrence_id: int,
    department_id: int,
    until: date,
    reason: str,
    now: datetime,
    calendar: WorkCalendar,
    requested_by: str,
) -> ExtensionRequest:
    """Record a request; the new deadline must be a later working day and a reason is given."""
    occ = session.get(Occurrence, occurrence_id)
    if occ is None or occ.department_id != department_id:
        raise ExtensionError(f"待办 {occurrence_id} 不属于本单位",
                             f"occurrence {occurrence_id} is not this department's")
    if occ.status != "open":
        raise ExtensionError("该事项已办结，无需延期", "the item is already closed")
    reason = (reason or "").strip()
    if not reason or len(reason) > MAX_REASON:
        raise ExtensionError(f"请填写延期理由（不超过{MAX_REASON}字）",
                             f"a reason of 1-{MAX_REASON} characters is required")
    if until <= occ.due_on:
        raise ExtensionError(f"新截止日期须晚于当前截止日期 {occ.due_on}",
                             f"the new deadline must be after {occ.due_on}", "until")
    if not calendar.is_workday(until):
        raise ExtensionError(f"{until} 不是工作日，请选择工作日", f"{until} is not a working day",
                             "until")
    pending = session.scalar(select(ExtensionRequest).where(
        ExtensionRequest.occurrence_id == occurrence_id, ExtensionRequest.state == "pending"))
    if pending is not None:
        raise ExtensionError(f"已有待审批的延期申请（编号 {pending.id}）",
                             f"request {pending.id} is already pending")
    request = ExtensionRequest(
        occurrence_id=occurrence_id, department_id=department_id, current_due_on=occ.due_on,
        requested_due_on=until, reason=reason, requested_by=requested_by, state="pending",
        decision_note="", created_at=now,
    )
    session.add(request)
    session.flush()
    record_audit(session, requested_by, "extension_requested", "occurrence", str(occurrence_id),
                 now, request=request.id, until=until.isoformat(), reason=reason)
    return request


def ask(
    session: Session, link: Grant, until_text: str, reason: str, now: datetime,
    calendar: WorkCalendar,
) -> ExtensionRequest:
    """A request as typed on the report page through a link: the date as text; the same pending
    request again (a double click) is the one already recorded; a link makes at most
    LIMITS["extension_requests"] requests."""
    occurrence_id, department_id = link.occurrence_id, link.department_id
    requested_by = f"department:{link.department_code}"
    try:
        until = date.fromisoformat(unicodedata.normalize("NFKC", until_text).strip())
    except ValueError:
        raise ExtensionError("日期格式应为 YYYY-MM-DD，例如 2023-07-14",
                             "the date must be written YYYY-MM-DD", "until") from None
    reason = check_text("extension", reason, "延期理由")
    pending = session.scalar(select(ExtensionRequest).where(
        ExtensionRequest.occurrence_id == occurrence_id, ExtensionRequest.state == "pending"))
    if (pending is not None and pending.requested_by == requested_by
            and pending.requested_due_on == until and pending.reason == reason):
        return pending
    if not use(session, link, "extension_requests"):
        limit = LIMITS["extension_requests"]
        raise ExtensionError(f"此链接已提交{limit}次延期申请，达到上限；如需再次申请，请联系"
                             "督办办公室",
                             f"this link has made {limit} extension requests already", "limit")
    return request_extension(session, occurrence_id, department_id, until, reason, now,
                             calendar, requested_by)


def decide(
    session: Session, request_id: int, approve: bool, decided_by: str, now: datetime,
    note: str = "",
) -> ExtensionRequest:
    """Approve (the deadline moves) or reject (it stays) a pending request."""
    request = session.get(ExtensionRequest, request_id, with_for_update=True)
    if request is None:
        raise ExtensionError(f"没有编号为 {request_id} 的延期申请", f"no request {request_id}")
    if request.state != "pending":
        raise ExtensionError(f"申请 {request_id} 已{_STATE_ZH[request.state]}",
                             f"request {request_id} is already {request.state}")
    occ = request.occurrence
    if approve and occ.status != "open":
        raise ExtensionError("该事项已办结", "the item is already closed")
    request.state = "approved" if approve else "rejected"
    request.decided_by, request.decided_at, request.decision_note = decided_by, now, note
    if approve:
        occ.due_on = request.requested_due_on
    record_audit(session, decided_by, f"extension_{request.state}", "occurrence", str(occ.id),
                 now, request=request.id, due=occ.due_on.isoformat(),
                 original=occ.original_due_on.isoformat(), note=note)
    record_extension_event(session, request, now)  # 延期, for the event feed (approved only)
    return request


_STATE_ZH = {"approved": "批准", "rejected": "驳回", "pending": "待审批"}


def extensions_by_department(session: Session) -> dict[str, dict[str, int]]:
    """Per department code: requested / approved / rejected / pending counts."""
    rows = session.execute(
        select(Department.code, ExtensionRequest.state, func.count())
        .join(Department, ExtensionRequest.department_id == Department.id)
        .group_by(Department.code, ExtensionRequest.state)
    ).tuples()
    out: dict[str, dict[str, int]] = {}
    for code, state, count in rows:
        counts = out.setdefault(code, {"requested": 0, "approved": 0, "rejected": 0,
                                       "pending": 0})
        counts[state] += count
        counts["requested"] += count
    return out


def list_requests(session: Session, state: str | None = None) -> list[ExtensionView]:
    query = select(ExtensionRequest).order_by(ExtensionRequest.id)
    if state:
        query = query.where(ExtensionRequest.state == state)
    return [ExtensionView.of(r) for r in session.scalars(query)]


def record_extension_event(session: Session, request: ExtensionRequest, now: datetime) -> int:
    """延期: an approved extension request (the occurrence's deadline has moved)."""
    if request.state != "approved":
        return 0
    detail = {
        "request_id": request.id, "previous_due_on": request.current_due_on.isoformat(),
        "original_due_on": request.occurrence.original_due_on.isoformat(),
        "decided_by": request.decided_by,
    }
    change = Change(f"extension:{request.id}", request.occurrence_id, "extended", detail)
    return record_changes(session, [change], now)
