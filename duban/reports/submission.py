"""Recording a department's report: the one core service behind the report page, the CLI and
office entry.

A report is done (办结), progress (进展) or an acknowledgement (签收). Everything happens in the
caller's transaction: the occurrence is locked (FOR UPDATE on PostgreSQL; SQLite transactions are
BEGIN IMMEDIATE already), the submission is checked, recorded, its effect applied and audited, and a
single-use link spent, all or nothing. Reports are append-only: a correction is a new report that
supersedes an earlier one, and both stay.

Idempotency: each submission carries a key (the page's form nonce, a digest of the CLI token and
payload, an office entry's payload); the same key again returns the first answer (replayed from
its audit entry) and records nothing; the same key with different content is refused.

When a report closes its occurrence (closed_on = the Shanghai date; status closed, or reported =
已报送·待审核 when the plan requires the office's review, see duban.reports.review):
- done always closes;
- progress on a monthly/quarterly target report (target_progress) closes: that figure IS the
  period's report;
- progress on a milestone's quarterly report (milestone_progress) closes, unless the department
  explicitly keeps it open (keep_open);
- progress on a milestone itself or a year-end check (target_final) never closes: an interim
  figure is not the deliverable.
An acknowledgement pauses urging until add_workdays(today, ladder.ack_pause); the deadline stays.
Until the office reviews, a new report on a reported item supersedes the standing one (a
correction, no reason needed); once signed off (销号) a reviewed item takes no more reports.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from duban.calendar.clock import local_day
from duban.calendar.workdays import WorkCalendar
from duban.ledger.database import record_audit
from duban.ledger.item_events import REPORT_KIND_ZH, Change, record_changes
from duban.ledger.models import AuditEntry, Department, Occurrence, Report
from duban.plan.config import LadderSpec
from duban.plan.progress import Goal
from duban.reports.errors import ReportInputError, ReportRefused
from duban.reports.evidence import Evidence, EvidenceFile, check_file, store_evidence
from duban.reports.inputs import (
    CONTROL,
    VALUE_CEILING,
    check_key,
    check_kind,
    check_link,
    check_text,
    check_unit,
    clean_text,
    parse_parts,
    parse_value,
)
from duban.reports.queries import standing_report_id
from duban.reports.tokens import LIMITS, Grant, spend, use
from duban.reports.verdicts import ReportOutcome, outcome_of, verdict_for


@dataclass(frozen=True)
class Submission:
    """What is reported: one item, the kind of report and what it says."""

    occurrence_id: int
    kind: str
    idempotency_key: str
    value: float | int | str | None = None
    unit: str | None = None
    note: str = ""
    # a rate or an average is reported as its two parts; the value is computed from them
    numerator: float | int | str | None = None
    denominator: float | int | str | None = None
    evidence: Evidence = None
    problems: str = ""
    support: str = ""
    keep_open: bool = False
    correction_of: int | None = None
    reason: str = ""


@dataclass(frozen=True)
class Submitter:
    """Who reports: a department (from its token), or the office for it (entered_by
    "office:NAME", department_id None); `link` is a single-use link grant that a done or
    progress report spends; `via` says through which door (web, cli, office, api)."""

    department_id: int | None
    entered_by: str | None = None
    link: Grant | None = None
    via: str = "api"


@dataclass(frozen=True)
class ReportRules:
    """What the installation decides: its calendar, ladder, evidence folder and how slow
    progress may be before it is called slow."""

    calendar: WorkCalendar
    ladder: LadderSpec
    evidence_dir: Path | None = None
    slow_ratio: float = 0.7
    value_ceiling: float = VALUE_CEILING  # times the target, above which a figure is refused


@dataclass(frozen=True)
class _Entry:
    """A submission after the checks that need no database."""

    kind: str
    note: str
    problems: str
    support: str
    reason: str
    evidence: str  # the URL, or file:<sha256><ext>|<original name>
    evidence_sha256: str | None
    upload: EvidenceFile | None
    ext: str = ""
    resubmitted: bool = False  # a new report on an item awaiting review: no reason needed


def _entry(sub: Submission) -> _Entry:
    check_kind(sub.kind)
    texts = (check_text("note", sub.note, "说明"),
             check_text("problems", sub.problems, "存在问题"),
             check_text("support", sub.support, "需要支持"),
             check_text("reason", sub.reason, "更正原因"))
    evidence = sub.evidence
    if isinstance(evidence, EvidenceFile):
        ext, sha, name = check_file(evidence)
        return _Entry(sub.kind, *texts, f"file:{sha}{ext}|{name}", sha, evidence, ext)
    link = check_link(evidence) if evidence and evidence.strip() else ""
    if link and sub.kind == "ack":
        raise ReportInputError("evidence", "签收不附佐证材料",
                               "an acknowledgement carries no evidence")
    return _Entry(sub.kind, *texts, link, None, None)


def derive_key(prefix: str, *parts: object) -> str:
    """A stable idempotency key from what identifies a submission."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).hexdigest()
    return f"{prefix}:{digest[:64]}"


def submit(
    session: Session, sub: Submission, by: Submitter, rules: ReportRules, now: datetime
) -> ReportOutcome:
    """Record one report (done / progress / ack) in the caller's transaction.

    Raises ReportInputError or ReportRefused; on either, the caller's transaction must roll back
    (nothing half-recorded).
    """
    entry = _entry(sub)
    key = check_key(sub.idempotency_key)
    occ = _lock(session, sub.occurrence_id)
    actor = _authorise(session, occ, by)
    target = occ.duty.target
    goal = Goal.of(target) if target is not None else None
    labels = (target.numerator_label, target.denominator_label) if (
        target is not None and target.numerator_label and target.denominator_label) else None
    parts = parse_parts(sub.numerator, sub.denominator, sub.value, goal, sub.kind, labels,
                        required=occ.duty.kind == "target_progress")
    figure = parse_value(parts[2] if parts else sub.value, goal, sub.kind, rules.value_ceiling)
    top, bottom = (parts[0], parts[1]) if parts else (None, None)
    unit = check_unit(sub.unit, goal) if figure is not None or sub.unit else None
    existing = session.scalar(select(Report).where(Report.idempotency_key == key))
    if existing is not None:
        return _replay(session, existing, occ, entry, (figure, top, bottom), unit,
                       sub.correction_of)
    today = local_day(now)
    correction_of = sub.correction_of
    if occ.status == "reported" and correction_of is None and sub.kind != "ack":
        correction_of = standing_report_id(session, occ.id)  # a new report supersedes
        entry = replace(entry, resubmitted=True)
    old = _check_state(session, occ, entry, correction_of)
    if by.link is not None and sub.kind == "ack" and not use(session, by.link, "acks"):
        limit = LIMITS["acks"]
        raise ReportRefused("limit", f"此链接已签收{limit}次，达到上限；请直接报送进展或办结",
                            f"this link has acknowledged {limit} times already")
    if by.link is not None and sub.kind != "ack" and not spend(session, by.link, now):
        raise ReportRefused("token", "此报送链接已被使用", "this link has already been used")
    if entry.upload is not None:
        if rules.evidence_dir is None:
            raise ReportInputError("evidence", "系统未配置佐证材料目录",
                                   "no evidence directory is configured")
        store_evidence(entry.upload, rules.evidence_dir, entry.evidence_sha256 or "", entry.ext)
    report = Report(
        occurrence_id=occ.id, department_id=occ.department_id, kind=sub.kind, value=figure,
        unit=unit, numerator=top, denominator=bottom, note=entry.note, evidence=entry.evidence,
        evidence_sha256=entry.evidence_sha256, problems=entry.problems,
        support_needed=entry.support, entered_by=actor,
        supersedes_id=old.id if old else None, correction_reason=entry.reason,
        idempotency_key=key, created_at=now,
    )
    session.add(report)
    try:
        session.flush()
    except IntegrityError:
        raise ReportRefused("idempotency_key", "该提交编号已被使用",
                            "this idempotency key is already used") from None
    _apply(session, occ, report, old, sub.keep_open, today, now, rules)
    verdict = verdict_for(session, occ, figure, sub.kind, today, rules.slow_ratio) if goal \
        else None
    outcome = outcome_of(occ, report, verdict)
    _audit(session, actor, report, outcome, by.via, sub.keep_open, now)
    record_report_event(session, outcome, now, rules.calendar)  # 签收/报送/更正 for the feed
    return outcome


def _lock(session: Session, occurrence_id: int) -> Occurrence:
    """The occurrence, locked until commit: reports on one item are decided one at a time."""
    occ = session.scalar(
        select(Occurrence).where(Occurrence.id == occurrence_id).with_for_update()
        .execution_options(populate_existing=True)
    )
    if occ is None:
        raise ReportRefused("occurrence_id", f"没有编号为 {occurrence_id} 的事项",
                            f"no occurrence {occurrence_id}")
    return occ


def _authorise(session: Session, occ: Occurrence, by: Submitter) -> str:
    """Who is recorded as entering the report; refuse anyone reporting for another department."""
    department_id, link = by.department_id, by.link
    entered_by = CONTROL.sub("", clean_text(by.entered_by)) if by.entered_by else None
    if department_id is None:
        if not entered_by or not entered_by.startswith("office") or len(entered_by) > 100:
            raise ReportRefused("department", "未指明报送单位；代为登记须注明登记人（office:姓名）",
                                "no department: office entries need entered_by='office:NAME'")
        return entered_by
    if department_id != occ.department_id or (
        link is not None and (link.occurrence_id != occ.id or link.department_id != department_id)
    ):
        raise ReportRefused("department", "不能报送其他单位的事项",
                            "a department cannot report on another department's item")
    if entered_by:
        return entered_by[:100]
    return f"department:{session.get(Department, department_id).code}"


def _check_state(
    session: Session, occ: Occurrence, entry: _Entry, correction_of: int | None
) -> Report | None:
    """Refuse reports on closed or superseded items (corrections excepted); the corrected
    report, when this is a correction."""
    if correction_of is not None:
        return _corrected(session, occ, entry, correction_of)
    if occ.status == "reported" and entry.kind == "ack":
        raise ReportRefused("occurrence_id", "该事项已报送，正在等待督办办公室审核，无需签收",
                            f"occurrence {occ.id} is reported and awaits review")
    if occ.status == "closed":
        day = occ.closed_on.isoformat() if occ.closed_on else ""
        if entry.kind == "ack":
            raise ReportRefused("occurrence_id", f"该事项已于{day}办结，无需签收",
                                f"occurrence {occ.id} was closed on {day}: nothing to acknowledge")
        raise ReportRefused("occurrence_id",
                            f"该事项已于{day}办结，不能重复报送；如需修改请提交更正",
                            f"occurrence {occ.id} was closed on {day}; send a correction instead")
    if not (occ.duty.active and occ.duty.action.plan.active):
        raise ReportRefused("occurrence_id", "该事项已不在现行方案中（方案已调整），无需报送",
                            f"occurrence {occ.id} belongs to a duty the plan no longer has")
    return None


def _corrected(session: Session, occ: Occurrence, entry: _Entry, report_id: int) -> Report:
    if entry.kind == "ack":
        raise ReportInputError("kind", "签收不能作为更正",
                               "an acknowledgement cannot be a correction")
    if occ.status == "closed" and occ.duty.action.plan.review_required:
        raise ReportRefused("correction_of",
                            "该事项已审核销号，不能再更正；如有问题请联系督办办公室",
                            f"occurrence {occ.id} was reviewed and closed: no more corrections")
    if not entry.reason and not entry.resubmitted:
        raise ReportInputError("reason", "更正须说明原因", "a correction needs a reason")
    old = session.get(Report, report_id)
    if old is None or old.occurrence_id != occ.id or old.kind == "ack":
        raise ReportRefused("correction_of", f"事项 {occ.id} 没有可更正的报告 {report_id}",
                            f"occurrence {occ.id} has no report {report_id} to correct")
    newer = session.scalar(select(Report.id).where(Report.supersedes_id == old.id))
    if newer is not None:
        raise ReportRefused("correction_of",
                            f"报告 {report_id} 已被报告 {newer} 更正，请更正最新的一份",
                            f"report {report_id} was already corrected by report {newer}")
    return old


def closes(duty_kind: str, kind: str, keep_open: bool) -> bool:
    """Whether a report closes its occurrence (see the module docstring)."""
    if kind == "done":
        return True
    if kind != "progress":
        return False
    if duty_kind == "target_progress":
        return True
    return duty_kind == "milestone_progress" and not keep_open


def _apply(
    session: Session, occ: Occurrence, report: Report, old: Report | None, keep_open: bool,
    today: date, now: datetime, rules: ReportRules,
) -> None:
    if report.kind == "ack":
        until = rules.calendar.add_workdays(today, rules.ladder.ack_pause)
        occ.acknowledged_until = max(until, occ.acknowledged_until or until)
    elif closes(occ.duty.kind, report.kind, keep_open):
        if occ.status == "open":  # a correction keeps the original closing date
            review = occ.duty.action.plan.review_required
            occ.status = "reported" if review else "closed"
            occ.closed_on, occ.closed_at = today, now
    elif (old is not None and occ.status in ("closed", "reported")
          and not _other_done(session, occ, report)):
        occ.status, occ.closed_on, occ.closed_at = "open", None, None


def _other_done(session: Session, occ: Occurrence, report: Report) -> bool:
    """Whether another effective done report still closes the item after a correction."""
    superseded = set(session.scalars(select(Report.supersedes_id).where(
        Report.occurrence_id == occ.id, Report.supersedes_id.is_not(None))))
    done = session.scalars(select(Report.id).where(
        Report.occurrence_id == occ.id, Report.kind == "done", Report.id != report.id))
    return any(i not in superseded for i in done)


def _audit(
    session: Session, actor: str, report: Report, outcome: ReportOutcome, via: str,
    keep_open: bool, now: datetime,
) -> None:
    verb = ("acknowledged" if report.kind == "ack"
            else "report_corrected" if report.supersedes_id else "report_submitted")
    record_audit(
        session, actor, verb, "report", str(report.id), now, via=via, keep_open=keep_open,
        evidence=report.evidence, evidence_sha256=report.evidence_sha256,
        reason=report.correction_reason, **outcome.as_dict(),
    )


def _replay(
    session: Session, report: Report, occ: Occurrence, entry: _Entry,
    figures: tuple[float | None, float | None, float | None], unit: str | None,
    correction_of: int | None,
) -> ReportOutcome:
    """The first answer again, if this is the same submission; refuse a reused key."""
    same = (
        report.occurrence_id == occ.id and report.kind == entry.kind
        and (report.value, report.numerator, report.denominator) == figures
        and report.unit == unit and report.note == entry.note
        and report.evidence == entry.evidence and report.problems == entry.problems
        and report.support_needed == entry.support
        and (report.supersedes_id == correction_of or correction_of is None)
        and report.correction_reason == entry.reason
    )
    if not same:
        raise ReportRefused("idempotency_key", "该提交编号已用于内容不同的另一份报送",
                            "this idempotency key was already used for a different submission")
    detail = session.scalar(
        select(AuditEntry.detail).where(AuditEntry.entity == "report",
                                        AuditEntry.entity_key == str(report.id))
    ) or {}
    return ReportOutcome(
        report_id=report.id, occurrence_id=occ.id, department=occ.department.code,
        kind=report.kind, value=report.value, unit=report.unit, numerator=report.numerator,
        denominator=report.denominator, verdict=detail.get("verdict"),
        verdict_text=detail.get("verdict_text", ""), closed=detail.get("closed", False),
        closed_on=_day(detail.get("closed_on")),
        acknowledged_until=_day(detail.get("acknowledged_until")),
        supersedes_id=report.supersedes_id, message=detail.get("message", ""), replayed=True,
        awaiting_review=detail.get("awaiting_review", False),
    )


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def record_report_event(
    session: Session, outcome: ReportOutcome, now: datetime, calendar: WorkCalendar | None = None
) -> int:
    """签收 / 报送 / 更正 for a report just recorded (call it in the report's own transaction,
    after the report is flushed; a replayed submission records nothing new)."""
    if outcome.kind == "ack":
        kind = "acknowledged"
    elif outcome.supersedes_id:
        kind = "corrected"
    else:
        kind = "reported"
    detail = {
        "report_id": outcome.report_id, "report_kind": outcome.kind,
        "report_kind_zh": REPORT_KIND_ZH.get(outcome.kind, outcome.kind),
        "value": outcome.value, "unit": outcome.unit, "closed": outcome.closed,
        "closed_on": outcome.closed_on.isoformat() if outcome.closed_on else None,
        "acknowledged_until": (outcome.acknowledged_until.isoformat()
                               if outcome.acknowledged_until else None),
        "supersedes": outcome.supersedes_id, "verdict": outcome.verdict,
        "awaiting_review": outcome.awaiting_review,
        "verdict_text": outcome.verdict_text,
    }
    change = Change(f"report:{outcome.report_id}", outcome.occurrence_id, kind, detail)
    return record_changes(session, [change], now, calendar)
