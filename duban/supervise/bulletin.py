"""督办通报: a numbered issue (第N期) for a period, as a Word document the office can circulate.

Contents, as the ledger stood at the end of the period (duban.reports.history):
一、总体情况: items by state, the on-time rate, reports and reviews in the period;
二、红黄事项: departments with overdue (红) or due-soon / returned (黄) items, the longest first;
三、退回事项: reports the office returned (退回) in the period, with the reason;
四、考评排名: the per-department score (duban.supervise.score);
五、按期完成单位: departments whose every item due so far was reported on time.
Numbering persists in the ledger (`bulletin`): a period already issued keeps its number, a new
period takes the next one, per plan. The .docx is written with python-docx; body text in 仿宋,
headings in 黑体 and the title in 宋体, set as East Asian fonts (w:eastAsia) so Word and WPS
show them on any machine that has them (and fall back to their CJK default otherwise).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from duban.calendar.clock import at_local, local_day
from duban.calendar.workdays import WorkCalendar
from duban.chase.occurrences import STATE_ZH, STATES, plan_matches
from duban.ledger.models import Bulletin, Department, Duty, Occurrence, Plan, Report, Review
from duban.reports.history import end_of
from duban.supervise.board import Board, ItemRow, build_board
from duban.supervise.score import (
    SCORE_HEADERS,
    Scores,
    ScoringSpec,
    formula_text,
    score_departments,
    score_rows,
)

PERIOD_DAYS = 7
WORST_SHOWN = 3
RED_YELLOW = {"overdue": "红", "due_soon": "黄", "returned": "黄"}


class BulletinError(ValueError):
    """No plan to report on, or a plan name that matches none."""


@dataclass(frozen=True)
class DepartmentFlags:
    name: str
    county: str
    red: int
    yellow: int
    worst: list[str]  # the longest-overdue items, in words


@dataclass(frozen=True)
class ReturnedLine:
    department: str
    duty: str
    period: str
    on: date
    reason: str
    due_on: date
    state: str


@dataclass
class BulletinIssue:
    plan_key: str
    plan_title: str
    doc_no: str
    issuer: str
    no: int
    start: date
    end: date
    states: Counter[str]
    on_time_rate: float | None
    reports: int
    accepted: int
    returned_count: int
    flags: list[DepartmentFlags]
    returned: list[ReturnedLine]
    scores: Scores
    on_time_units: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        return f"督办通报（第{self.no}期）"

    def overall_text(self) -> str:
        total = sum(self.states.values())
        counts = "，".join(f"{STATE_ZH[s]}{self.states[s]}项" for s in STATES if self.states[s])
        rate = "—" if self.on_time_rate is None else f"{self.on_time_rate * 100:.1f}%"
        return (f"截至{self.end.isoformat()}，《{self.plan_title}》（{self.doc_no}）共有督办事项"
                f"{total}项：{counts or '暂无'}。应报事项按期报送率{rate}。本期"
                f"（{self.start.isoformat()}至{self.end.isoformat()}）收到报送{self.reports}份，"
                f"审核销号{self.accepted}项，退回{self.returned_count}项。")


def period_of(as_of: date) -> tuple[date, date]:
    """The week ending on `as_of` (seven days, inclusive)."""
    return as_of - timedelta(days=PERIOD_DAYS - 1), as_of


def choose_plan(session: Session, plan_key: str | None) -> Plan:
    query = select(Plan).where(Plan.active.is_(True)).order_by(Plan.year.desc(), Plan.id.desc())
    if plan_key:
        query = query.where(plan_matches(plan_key))
    plan = session.scalars(query).first()
    if plan is None:
        raise BulletinError(f"没有名为“{plan_key}”的现行方案 / no active plan {plan_key!r}"
                            if plan_key else "台账中没有现行方案 / no active plan is loaded")
    return plan


def number_issue(session: Session, plan_key: str, start: date, end: date, now: datetime) -> int:
    """第N期: the number already given to this period, or the next one for the plan."""
    existing = session.scalar(select(Bulletin.no).where(Bulletin.plan_key == plan_key,
                                                        Bulletin.period_end == end))
    if existing is not None:
        return existing
    latest = session.scalar(select(func.max(Bulletin.no)).where(Bulletin.plan_key == plan_key))
    row = Bulletin(plan_key=plan_key, no=(latest or 0) + 1, period_start=start, period_end=end,
                   path="", created_at=now)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:  # a concurrent run numbered it first
        return session.scalar(select(Bulletin.no).where(Bulletin.plan_key == plan_key,
                                                        Bulletin.period_end == end))
    return row.no


def compose(
    session: Session, as_of: date, calendar: WorkCalendar, slow_ratio: float,
    spec: ScoringSpec, now: datetime, plan_key: str | None = None,
) -> BulletinIssue:
    """The issue for the week ending `as_of`, numbered (the number is recorded)."""
    plan = choose_plan(session, plan_key)
    start, end = period_of(as_of)
    board = build_board(session, end, calendar, slow_ratio, plan.key)
    scores = score_departments(session, end, calendar, spec, plan.key)
    due = sum(d.due for d in scores.lines)
    reviews = _reviews(session, start, end, plan.key)
    return BulletinIssue(
        plan_key=plan.key, plan_title=plan.title, doc_no=plan.doc_no,
        issuer=f"{plan.issuer}督办办公室", no=number_issue(session, plan.key, start, end, now),
        start=start, end=end, states=board.states(),
        on_time_rate=(sum(d.on_time for d in scores.lines) / due) if due else None,
        reports=_reports(session, start, end, plan.key),
        accepted=sum(1 for r in reviews if r[0].verdict == "accepted"),
        returned_count=sum(1 for r in reviews if r[0].verdict == "returned"),
        flags=_flags(board), returned=_returned(board, reviews), scores=scores,
        on_time_units=[d.name for d in scores.lines if d.due and d.on_time == d.due],
    )


def _flags(board: Board) -> list[DepartmentFlags]:
    by_dept: dict[str, list[ItemRow]] = {}
    for item in board.items:
        if item.state in RED_YELLOW:
            by_dept.setdefault(item.department, []).append(item)
    flags = []
    for items in by_dept.values():
        late = sorted((i for i in items if i.state == "overdue"), key=lambda i: -i.overdue_days)
        worst = [f"{i.duty}（{i.period}）逾期{i.overdue_days}个工作日" for i in late[:WORST_SHOWN]]
        red = sum(1 for i in items if RED_YELLOW[i.state] == "红")
        flags.append(DepartmentFlags(items[0].department_name, items[0].county, red,
                                     len(items) - red, worst))
    return sorted(flags, key=lambda f: (-f.red, -f.yellow, f.name))


def _window(start: date, end: date) -> tuple[datetime, datetime]:
    return at_local(start, 0), end_of(end)


def _reports(session: Session, start: date, end: date, plan_key: str) -> int:
    low, high = _window(start, end)
    plan_occurrences = _plan_occurrences(plan_key)
    return session.scalar(select(func.count()).select_from(Report).where(
        Report.kind != "ack", Report.created_at >= low, Report.created_at < high,
        Report.occurrence_id.in_(plan_occurrences))) or 0


def _plan_occurrences(plan_key: str) -> Any:
    return (select(Occurrence.id).join(Duty, Occurrence.duty_id == Duty.id)
            .join(Plan, Duty.plan_id == Plan.id).where(Plan.key == plan_key).scalar_subquery())


def _reviews(session: Session, start: date, end: date, plan_key: str) -> list[tuple[Review, str]]:
    low, high = _window(start, end)
    return list(session.execute(
        select(Review, Department.name).join(Occurrence, Review.occurrence_id == Occurrence.id)
        .join(Department, Occurrence.department_id == Department.id)
        .where(Review.at >= low, Review.at < high,
               Review.occurrence_id.in_(_plan_occurrences(plan_key)))
        .order_by(Review.at, Review.id)).tuples())


def _returned(board: Board, reviews: list[tuple[Review, str]]) -> list[ReturnedLine]:
    items = {i.occurrence_id: i for i in board.items}
    lines = []
    for review, name in reviews:
        if review.verdict != "returned" or review.occurrence_id not in items:
            continue
        item = items[review.occurrence_id]
        lines.append(ReturnedLine(name, item.duty, item.period, local_day(review.at),
                                  review.reason, review.due_after, STATE_ZH[item.state]))
    return lines


# -- the Word document ------------------------------------------------------------------------

BODY_FONT, HEADING_FONT, TITLE_FONT = "仿宋", "黑体", "宋体"
FLAG_HEADERS = ["序号", "单位", "区县", "红（逾期）", "黄（临期/退回）", "逾期最久的事项"]
RETURN_HEADERS = ["单位", "事项", "周期", "退回日期", "退回原因", "重报截止", "现状"]


def write_docx(issue: BulletinIssue, path: Path) -> Path:
    """The issue as a .docx (python-docx), Chinese fonts set for East Asian text."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Pt

    doc = Document()
    normal = doc.styles["Normal"]
    _east_asian(normal, BODY_FONT, Pt(14))
    for level, size in ((1, 16), (2, 15)):
        _east_asian(doc.styles[f"Heading {level}"], HEADING_FONT, Pt(size), bold=False)
    title = doc.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run(title, "督办通报", TITLE_FONT, Pt(26), bold=True)
    number = doc.add_paragraph()
    number.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run(number, f"第{issue.no}期", BODY_FONT, Pt(16))
    issued = doc.add_paragraph()
    issued.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _run(issued, f"{issue.issuer}　　{_cn_date(issue.end)}", BODY_FONT, Pt(14))
    _sections(doc, issue)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.save(str(path))
    return path


def _sections(doc: Any, issue: BulletinIssue) -> None:
    doc.add_heading("一、总体情况", level=1)
    doc.add_paragraph(issue.overall_text())
    doc.add_heading("二、红黄事项（按单位）", level=1)
    if issue.flags:
        _table(doc, FLAG_HEADERS, [[n, f.name, f.county, f.red, f.yellow, "；".join(f.worst)]
                                   for n, f in enumerate(issue.flags, 1)])
    else:
        doc.add_paragraph("本期各单位均无逾期、临期事项。")
    doc.add_heading("三、退回事项", level=1)
    if issue.returned:
        _table(doc, RETURN_HEADERS, [[r.department, r.duty, r.period, r.on.isoformat(), r.reason,
                                      r.due_on.isoformat(), r.state] for r in issue.returned])
    else:
        doc.add_paragraph("本期无退回事项。")
    doc.add_heading("四、考评排名", level=1)
    doc.add_paragraph(formula_text(issue.scores.spec) + "。")
    _table(doc, SCORE_HEADERS, score_rows(issue.scores))
    doc.add_heading("五、按期完成单位", level=1)
    doc.add_paragraph("、".join(issue.on_time_units) + "。" if issue.on_time_units
                      else "本期暂无全部事项按期完成的单位。")


def _table(doc: Any, headers: list[str], rows: list[list[Any]]) -> None:
    table = doc.add_table(rows=1, cols=len(headers))
    table.style = "Table Grid"
    for cell, header in zip(table.rows[0].cells, headers, strict=True):
        cell.text = ""
        _run(cell.paragraphs[0], header, HEADING_FONT, None, bold=True)
    for values in rows:
        cells = table.add_row().cells
        for cell, value in zip(cells, values, strict=True):
            cell.text = str(value)


def _east_asian(style: Any, name: str, size: Any, bold: bool | None = None) -> None:
    style.font.name = name
    style.font.size = size
    if bold is not None:
        style.font.bold = bold
    _set_east_asian(style.element.get_or_add_rPr(), name)


def _run(paragraph: Any, text: str, font: str, size: Any, bold: bool = False) -> None:
    run = paragraph.add_run(text)
    run.font.name = font
    if size is not None:
        run.font.size = size
    run.font.bold = bold
    _set_east_asian(run._element.get_or_add_rPr(), font)


def _set_east_asian(rpr: Any, name: str) -> None:
    from docx.oxml.ns import qn

    fonts = rpr.get_or_add_rFonts()
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia"):
        fonts.set(qn(attr), name)


def _cn_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def record_path(session: Session, plan_key: str, no: int, path: Path) -> None:
    """Remember where an issue was stored (the office page serves it from there)."""
    row = session.scalar(select(Bulletin).where(Bulletin.plan_key == plan_key, Bulletin.no == no))
    if row is not None:
        row.path = str(path)
