"""Department reports: the one core service behind the report page, the CLI and office entry.

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
import math
import os
import re
import unicodedata
import uuid
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from duban.calendar.clock import local_day, shanghai
from duban.calendar.workdays import WorkCalendar
from duban.ledger.database import record_audit
from duban.ledger.item_events import REPORT_KIND_ZH, Change, record_changes
from duban.ledger.models import AuditEntry, Department, Occurrence, Report
from duban.plan.allocations import current_shares
from duban.plan.config import LadderSpec
from duban.plan.progress import Goal, Verdict, elapsed_share, judge, num, target_progress
from duban.reports.tokens import Grant, spend

KINDS = ("done", "progress", "ack")
KIND_ZH = {"done": "办结", "progress": "进展", "ack": "签收"}
TEXT_LIMIT = 2000  # characters, for the note, problems, support needed and a correction reason
URL_LIMIT = 1000
KEY_LIMIT = 128
EVIDENCE_LIMIT = 10 * 1024 * 1024
EVIDENCE_TYPES = (".pdf", ".jpg", ".jpeg", ".png", ".docx", ".xlsx", ".doc", ".xls", ".zip",
                  ".txt")
_MAGIC = {
    ".pdf": (b"%PDF-",),
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".docx": (b"PK\x03\x04",),
    ".xlsx": (b"PK\x03\x04",),
    ".zip": (b"PK\x03\x04", b"PK\x05\x06"),
    ".doc": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",),
    ".xls": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",),
}
ALLOWED_TEXT = "pdf, jpg, png, docx, xlsx, doc, xls, zip, txt"
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_KEY = re.compile(r"[\x21-\x7e]{1,128}")


class ReportError(Exception):
    """A submission that cannot be recorded; `field` names what to fix, the message says why
    in Chinese and English."""

    def __init__(self, field: str, zh: str, en: str) -> None:
        self.field, self.zh, self.en = field, zh, en
        super().__init__(f"{field}: {zh} / {en}")

    @property
    def message(self) -> str:
        return f"{self.zh} / {self.en}"


class ReportInputError(ReportError):
    """What was entered is wrong (a value, a unit, a file): fix it and send again."""


class ReportRefused(ReportError):
    """Not allowed at all: another department's item, a closed or superseded one, a used link."""


@dataclass(frozen=True)
class EvidenceFile:
    """An uploaded file, kept under evidence/ named by its SHA-256."""

    filename: str
    content: bytes
    size: int | None = None  # the declared size, when only the first bytes were read


Evidence = str | EvidenceFile | None


@dataclass(frozen=True)
class ReportOutcome:
    """The answer to a submission; a replay of the same submission gets an equal one."""

    report_id: int
    occurrence_id: int
    department: str
    kind: str
    value: float | None
    unit: str | None
    verdict: str | None
    verdict_text: str
    closed: bool  # the department's part is done (closed, or reported awaiting review)
    closed_on: date | None
    acknowledged_until: date | None
    supersedes_id: int | None
    message: str
    replayed: bool = field(default=False, compare=False)
    awaiting_review: bool = False  # 已报送·待审核: the office has yet to accept or return it

    def as_dict(self) -> dict[str, Any]:
        return {
            "report_id": self.report_id, "occurrence_id": self.occurrence_id,
            "department": self.department, "kind": self.kind, "value": self.value,
            "unit": self.unit, "verdict": self.verdict, "verdict_text": self.verdict_text,
            "closed": self.closed, "closed_on": _iso(self.closed_on),
            "acknowledged_until": _iso(self.acknowledged_until),
            "supersedes_id": self.supersedes_id, "message": self.message,
            "awaiting_review": self.awaiting_review,
        }


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


# -- checking what was entered (pure) -------------------------------------------------------


def check_kind(kind: str) -> str:
    if kind not in KINDS:
        raise ReportInputError("kind", f"报送类型“{kind}”无效，应为办结、进展或签收",
                               f"kind {kind!r} is not one of done, progress, ack")
    return kind


def check_text(name: str, text: str | None, label: str) -> str:
    """Free text: at most TEXT_LIMIT characters, no control characters (PostgreSQL refuses NUL)."""
    text = (text or "").strip()
    if len(text) > TEXT_LIMIT:
        raise ReportInputError(name, f"{label}过长（{len(text)}字），最多{TEXT_LIMIT}字",
                               f"{name} is {len(text)} characters long; the limit is {TEXT_LIMIT}")
    if _CONTROL.search(text):
        raise ReportInputError(name, f"{label}包含不可见的控制字符",
                               f"{name} contains control characters")
    return text


def check_key(key: str) -> str:
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise ReportInputError("idempotency_key", "提交编号无效（1—128个可见ASCII字符）",
                               "idempotency key must be 1-128 printable ASCII characters")
    return key


def parse_value(raw: float | int | str | None, goal: Goal | None, kind: str) -> float | None:
    """The indicator value as a number, checked against what the target allows."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if goal is not None and kind != "ack":
            raise ReportInputError("value", f"请填写指标数值（单位：{goal.unit}）",
                                   f"value is required: this duty has a target in {goal.unit}")
        return None
    if kind == "ack":
        raise ReportInputError("value", "签收不填写数值", "an acknowledgement carries no value")
    if goal is None:
        raise ReportInputError("value", "此事项没有量化指标，请不要填写数值",
                               "this duty has no target: leave the value empty")
    value = _number(raw)
    if value < 0:
        raise ReportInputError("value", f"数值不能为负数（{num(value)}）",
                               f"value {num(value)} is negative")
    if goal.unit == "%" and value > 100:
        raise ReportInputError("value", f"百分比不能超过100（{num(value)}）",
                               f"value {num(value)} is a percentage above 100")
    if goal.is_count and not value.is_integer():
        raise ReportInputError("value", f"{goal.unit}数应为整数（{num(value)}）",
                               f"value {num(value)} must be a whole number of {goal.unit}")
    return value


def _number(raw: float | int | str) -> float:
    if isinstance(raw, bool):
        raw = str(raw)
    text = unicodedata.normalize("NFKC", str(raw)).strip().replace(",", "")
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        shown = str(raw)[:40]
        raise ReportInputError("value", f"“{shown}”不是数字", f"value {shown!r} is not a number")
    return value


def check_unit(raw: str | None, goal: Goal | None) -> str | None:
    """The target's unit; a unit given must be that one (full-width forms accepted)."""
    given = unicodedata.normalize("NFKC", raw or "").strip()
    if goal is None:
        if given:
            raise ReportInputError("unit", "此事项没有量化指标，请不要填写单位",
                                   "this duty has no target: leave the unit empty")
        return None
    if given and given != unicodedata.normalize("NFKC", goal.unit):
        raise ReportInputError("unit", f"单位“{given}”与指标单位“{goal.unit}”不符",
                               f"unit {given!r} does not match the target's unit {goal.unit!r}")
    return goal.unit


def check_link(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if (len(url) > URL_LIMIT or parts.scheme not in ("http", "https") or not parts.netloc
            or any(c.isspace() for c in url) or _CONTROL.search(url)):
        raise ReportInputError("evidence", "佐证材料链接无效，应为 http:// 或 https:// 开头的网址",
                               "evidence link must be an http(s) URL of at most 1000 characters")
    return url


def check_file(upload: EvidenceFile) -> tuple[str, str, str]:
    """(extension, sha256, cleaned original name) of an acceptable upload."""
    name = _CONTROL.sub("", os.path.basename(upload.filename.replace("\\", "/")))[-100:]
    ext = os.path.splitext(name)[1].lower()
    size = max(upload.size or 0, len(upload.content))
    if ext not in EVIDENCE_TYPES:
        raise ReportInputError(
            "evidence", f"不支持的文件类型“{ext or name}”，允许：{ALLOWED_TEXT}",
            f"file type {ext or name!r} is not allowed (allowed: {ALLOWED_TEXT})")
    if size > EVIDENCE_LIMIT:
        raise ReportInputError("evidence", f"文件过大（{size / 1048576:.1f} MB），上限 10 MB",
                               f"file is {size / 1048576:.1f} MB; the limit is 10 MB")
    if size == 0 or not _content_matches(ext, upload.content):
        raise ReportInputError("evidence", f"文件内容与扩展名{ext}不符或文件已损坏",
                               f"file content is not a valid {ext} file")
    return ext, hashlib.sha256(upload.content).hexdigest(), name.replace("|", "_")


def _content_matches(ext: str, content: bytes) -> bool:
    if ext == ".txt":
        if b"\x00" in content:
            return False
        for encoding in ("utf-8", "gb18030"):
            try:
                content.decode(encoding)
                return True
            except UnicodeDecodeError:
                continue
        return False
    return content.startswith(_MAGIC[ext])


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


def _entry(kind: str, note: str, problems: str, support: str, reason: str,
           evidence: Evidence) -> _Entry:
    check_kind(kind)
    texts = (check_text("note", note, "说明"), check_text("problems", problems, "存在问题"),
             check_text("support", support, "需要支持"),
             check_text("reason", reason, "更正原因"))
    if isinstance(evidence, EvidenceFile):
        ext, sha, name = check_file(evidence)
        return _Entry(kind, *texts, f"file:{sha}{ext}|{name}", sha, evidence, ext)
    link = check_link(evidence) if evidence and evidence.strip() else ""
    if link and kind == "ack":
        raise ReportInputError("evidence", "签收不附佐证材料",
                               "an acknowledgement carries no evidence")
    return _Entry(kind, *texts, link, None, None)


def store_evidence(upload: EvidenceFile, evidence_dir: Path, sha: str, ext: str) -> Path:
    """Write the file once under its hash (atomic rename); an identical file is kept once."""
    evidence_dir.mkdir(parents=True, exist_ok=True)
    target = evidence_dir / f"{sha}{ext}"
    if not target.exists():
        partial = evidence_dir / f".{sha}.{uuid.uuid4().hex}.part"
        partial.write_bytes(upload.content)
        os.replace(partial, target)
    return target


def derive_key(prefix: str, *parts: object) -> str:
    """A stable idempotency key from what identifies a submission."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8")).hexdigest()
    return f"{prefix}:{digest[:64]}"


def evidence_fingerprint(evidence: Evidence) -> str:
    """What distinguishes one piece of evidence from another, for derived keys."""
    if isinstance(evidence, EvidenceFile):
        return "sha256:" + hashlib.sha256(evidence.content).hexdigest()
    return (evidence or "").strip()


# -- the service ------------------------------------------------------------------------------


def submit(
    session: Session,
    *,
    occurrence_id: int,
    department_id: int | None,
    kind: str,
    idempotency_key: str,
    now: datetime,
    calendar: WorkCalendar,
    ladder: LadderSpec,
    value: float | int | str | None = None,
    unit: str | None = None,
    note: str = "",
    evidence: Evidence = None,
    problems: str = "",
    support: str = "",
    keep_open: bool = False,
    correction_of: int | None = None,
    reason: str = "",
    entered_by: str | None = None,
    link: Grant | None = None,
    evidence_dir: Path | None = None,
    slow_ratio: float = 0.7,
    via: str = "api",
) -> ReportOutcome:
    """Record one report (done / progress / ack) in the caller's transaction.

    `department_id` is who submits (from their token); None with entered_by="office:NAME" for the
    office entering a report received on paper or by phone. `link` is a single-use link grant,
    spent by a done or progress report. Raises ReportInputError or ReportRefused; on either,
    the caller's transaction must roll back (nothing half-recorded).
    """
    entry = _entry(kind, note, problems, support, reason, evidence)
    key = check_key(idempotency_key)
    occ = _lock(session, occurrence_id)
    actor = _authorise(session, occ, department_id, entered_by, link)
    target = occ.duty.target
    goal = Goal.of(target) if target is not None else None
    figure = parse_value(value, goal, kind)
    unit = check_unit(unit, goal) if figure is not None or unit else None
    existing = session.scalar(select(Report).where(Report.idempotency_key == key))
    if existing is not None:
        return _replay(session, existing, occ, entry, figure, unit, correction_of)
    today = local_day(now)
    if occ.status == "reported" and correction_of is None and kind != "ack":
        correction_of = standing_report_id(session, occ.id)  # a new report supersedes
        entry = replace(entry, resubmitted=True)
    old = _check_state(session, occ, entry, correction_of)
    if link is not None and kind != "ack" and not spend(session, link, now):
        raise ReportRefused("token", "此报送链接已被使用", "this link has already been used")
    if entry.upload is not None:
        if evidence_dir is None:
            raise ReportInputError("evidence", "系统未配置佐证材料目录",
                                   "no evidence directory is configured")
        store_evidence(entry.upload, evidence_dir, entry.evidence_sha256 or "", entry.ext)
    report = Report(
        occurrence_id=occ.id, department_id=occ.department_id, kind=kind, value=figure,
        unit=unit, note=entry.note, evidence=entry.evidence,
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
    _apply(session, occ, report, old, keep_open, today, now, calendar, ladder)
    verdict = _verdict(session, occ, figure, kind, today, slow_ratio) if goal else None
    outcome = _outcome(occ, report, verdict)
    _audit(session, actor, occ, report, outcome, via, keep_open, now)
    record_report_event(session, outcome, now, calendar)  # 签收/报送/更正 for the event feed
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


def _authorise(
    session: Session, occ: Occurrence, department_id: int | None, entered_by: str | None,
    link: Grant | None,
) -> str:
    """Who is recorded as entering the report; refuse anyone reporting for another department."""
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
    today: date, now: datetime, calendar: WorkCalendar, ladder: LadderSpec,
) -> None:
    if report.kind == "ack":
        until = calendar.add_workdays(today, ladder.ack_pause)
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


def _verdict(
    session: Session, occ: Occurrence, value: float | None, kind: str, today: date,
    slow_ratio: float,
) -> Verdict | None:
    """Judge a value: a county's part of a city-wide sum against its allocated share (任务分解)
    if it has one, else as the city total after this report; any other figure on its own.
    Progress is expected in proportion to the plan's days elapsed by the period's end."""
    if value is None:
        return None
    duty, target = occ.duty, occ.duty.target
    plan = duty.action.plan
    final = kind == "done" or duty.kind == "target_final"
    share = 1.0 if duty.kind == "target_final" else elapsed_share(plan.starts, plan.ends,
                                                                  occ.period_end)
    goal = Goal.of(target)
    if duty.kind == "target_progress" and target.rollup == "sum" and len(duty.owner_codes) > 1:
        own_share = current_shares(session, target.id).get(occ.department.jurisdiction.code)
        if own_share is not None:  # 任务分解: this county's share is its own target
            mine = Goal("at_least" if goal.op == "range" else goal.op, own_share, None,
                        goal.unit, goal.rollup, goal.cumulative)
            verdict = judge(mine, value, final, share, slow_ratio)
            return Verdict(verdict.code, f"对照本地分解任务，{verdict.text}", verdict.expected)
        city = target_progress(session, target, today, slow_ratio)
        shared = judge(goal, city.city_value or 0.0, False, share, slow_ratio)
        count = f"（{city.reported}/{len(city.expected_departments)}个单位已报送）"
        return Verdict(shared.code, f"本单位{num(value)}{goal.unit}。全市{shared.text}{count}",
                       shared.expected)
    return judge(goal, value, final, share, slow_ratio)


def _outcome(occ: Occurrence, report: Report, verdict: Verdict | None) -> ReportOutcome:
    return ReportOutcome(
        report_id=report.id, occurrence_id=occ.id, department=occ.department.code,
        kind=report.kind, value=report.value, unit=report.unit,
        verdict=verdict.code if verdict else None, verdict_text=verdict.text if verdict else "",
        closed=occ.status in ("closed", "reported"), closed_on=occ.closed_on,
        acknowledged_until=occ.acknowledged_until, supersedes_id=report.supersedes_id,
        message=_message(occ, report, verdict), awaiting_review=occ.status == "reported",
    )


def _message(occ: Occurrence, report: Report, verdict: Verdict | None) -> str:
    if report.kind == "ack":
        until = occ.acknowledged_until.isoformat() if occ.acknowledged_until else ""
        return (f"已签收。{until}前暂停催办；截止日期{occ.due_on.isoformat()}不变，"
                "办结后请及时报送。")
    what = "更正" if report.supersedes_id else KIND_ZH[report.kind]
    parts = [f"已记录{what}报送（报告编号 {report.id}）。"]
    if verdict:
        parts.append(verdict.text + "。")
    if occ.status == "reported":
        parts.append("已报送，等待督办办公室审核销号；审核前如需修改，可重新报送。")
    elif occ.status == "closed":
        day = occ.closed_on.isoformat() if occ.closed_on else ""
        parts.append(f"该事项已完成报送（{day}），不再提醒。")
    else:
        parts.append("该事项仍为待办，将继续跟踪。")
    return "".join(parts)


def _audit(
    session: Session, actor: str, occ: Occurrence, report: Report, outcome: ReportOutcome,
    via: str, keep_open: bool, now: datetime,
) -> None:
    verb = ("acknowledged" if report.kind == "ack"
            else "report_corrected" if report.supersedes_id else "report_submitted")
    record_audit(
        session, actor, verb, "report", str(report.id), now, via=via, keep_open=keep_open,
        evidence=report.evidence, evidence_sha256=report.evidence_sha256,
        reason=report.correction_reason, **outcome.as_dict(),
    )


def _replay(
    session: Session, report: Report, occ: Occurrence, entry: _Entry, value: float | None,
    unit: str | None, correction_of: int | None,
) -> ReportOutcome:
    """The first answer again, if this is the same submission; refuse a reused key."""
    same = (
        report.occurrence_id == occ.id and report.kind == entry.kind and report.value == value
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
        kind=report.kind, value=report.value, unit=report.unit, verdict=detail.get("verdict"),
        verdict_text=detail.get("verdict_text", ""), closed=detail.get("closed", False),
        closed_on=_day(detail.get("closed_on")),
        acknowledged_until=_day(detail.get("acknowledged_until")),
        supersedes_id=report.supersedes_id, message=detail.get("message", ""), replayed=True,
        awaiting_review=detail.get("awaiting_review", False),
    )


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


# -- reading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportView:
    """One report as people read it, with whether a later correction superseded it."""

    id: int
    occurrence_id: int
    kind: str
    value: float | None
    unit: str | None
    note: str
    evidence: str
    problems: str
    support: str
    entered_by: str
    at: str  # Shanghai wall time
    supersedes_id: int | None
    superseded_by: int | None
    reason: str
    verdict_text: str

    @property
    def kind_zh(self) -> str:
        return ("更正" if self.supersedes_id else "") + KIND_ZH.get(self.kind, self.kind)

    @property
    def evidence_label(self) -> str:
        """A link as written; an upload as its original name and stored name."""
        if self.evidence.startswith("file:"):
            stored, _, name = self.evidence.removeprefix("file:").partition("|")
            return f"附件 {name}（{stored[:12]}…）"
        return self.evidence

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "occurrence_id": self.occurrence_id, "kind": self.kind,
            "value": self.value, "unit": self.unit, "note": self.note, "evidence": self.evidence,
            "problems": self.problems, "support": self.support, "entered_by": self.entered_by,
            "at": self.at, "supersedes": self.supersedes_id, "superseded_by": self.superseded_by,
            "reason": self.reason, "verdict_text": self.verdict_text,
        }


def list_reports(session: Session, occurrence_id: int) -> list[ReportView]:
    """Every report of an occurrence, oldest first, superseded ones included."""
    reports = session.scalars(select(Report).where(Report.occurrence_id == occurrence_id)
                              .order_by(Report.created_at, Report.id)).all()
    by_old = {r.supersedes_id: r.id for r in reports if r.supersedes_id}
    verdicts = dict(session.execute(
        select(AuditEntry.entity_key, AuditEntry.detail).where(
            AuditEntry.entity == "report", AuditEntry.entity_key.in_([str(r.id) for r in reports]))
    ).all()) if reports else {}
    return [
        ReportView(
            r.id, r.occurrence_id, r.kind, r.value, r.unit, r.note, r.evidence, r.problems,
            r.support_needed, r.entered_by, shanghai(r.created_at), r.supersedes_id,
            by_old.get(r.id), r.correction_reason,
            (verdicts.get(str(r.id)) or {}).get("verdict_text", ""),
        )
        for r in reports
    ]


def standing_report_id(session: Session, occurrence_id: int) -> int | None:
    """The newest report of an occurrence (done or progress) that no later one superseded: the
    one the office reviews."""
    reports = session.execute(
        select(Report.id, Report.supersedes_id).where(Report.occurrence_id == occurrence_id,
                                                      Report.kind != "ack")
        .order_by(Report.created_at.desc(), Report.id.desc())).tuples().all()
    superseded = {old for _, old in reports if old}
    return next((rid for rid, _ in reports if rid not in superseded), None)


def find_report(session: Session, idempotency_key: str) -> Report | None:
    return session.scalar(select(Report).where(Report.idempotency_key == idempotency_key))


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
