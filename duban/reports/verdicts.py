"""What a report is worth: its figure judged against the target, and the answer the department
reads (ReportOutcome)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from duban.ledger.models import Occurrence, Report
from duban.plan.allocations import share_lines
from duban.plan.progress import Verdict, judge_target, num, target_progress
from duban.reports.inputs import KIND_ZH


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
    numerator: float | None = None  # a rate's or an average's parts, when reported so
    denominator: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "report_id": self.report_id, "occurrence_id": self.occurrence_id,
            "department": self.department, "kind": self.kind, "value": self.value,
            "unit": self.unit, "verdict": self.verdict, "verdict_text": self.verdict_text,
            "closed": self.closed, "closed_on": _iso(self.closed_on),
            "acknowledged_until": _iso(self.acknowledged_until),
            "supersedes_id": self.supersedes_id, "message": self.message,
            "awaiting_review": self.awaiting_review, "numerator": self.numerator,
            "denominator": self.denominator,
        }


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def verdict_for(
    session: Session, occ: Occurrence, value: float | None, kind: str, today: date,
    slow_ratio: float,
) -> Verdict | None:
    """The verdict the board shows for the same target on the same day, so the report page and
    the board never disagree: a county's part of a city-wide sum against its allocated share
    (任务分解, as the board's share lines judge it), else the city figure after this report from
    target_progress, the one verdict function; a department's own level (a rate, an average) is
    judged by the same rule on the same day. `kind` does not change it: the board judges the
    latest figure whether reported as done or progress."""
    del kind  # kept in the signature for callers; see above
    if value is None:
        return None
    duty, target = occ.duty, occ.duty.target
    if duty.kind == "target_final":  # the owner's year-end figure: the city's, as on the board
        return target_progress(session, target, today, slow_ratio).verdict
    shared = duty.kind == "target_progress" and len(duty.owner_codes) > 1
    if shared and target.rollup == "sum":
        county = occ.department.jurisdiction.name
        line = next((s for s in share_lines(session, target, today, slow_ratio)
                     if s.county == county and s.value is not None), None)
        if line is not None:  # 任务分解: this county's share is its own target
            return Verdict(line.verdict, f"对照本地分解任务，{line.text}")
    city = target_progress(session, target, today, slow_ratio, occ.period)  # a month: its own
    if not shared or city.verdict is None:
        return city.verdict
    count = f"（{city.reported}/{len(city.expected_departments)}个单位已报送）"
    whole = f"全市{city.verdict.text}{count}"
    if target.rollup == "sum":  # a part of a sum says nothing alone: the city's verdict
        return Verdict(city.verdict.code, f"本单位{num(value)}{target.unit}。{whole}",
                       city.verdict.expected)
    own = judge_target(target, value, False, today, slow_ratio)  # a level: its own figure
    return Verdict(own.code, f"本单位{own.text}。{whole}", own.expected)


def outcome_of(occ: Occurrence, report: Report, verdict: Verdict | None) -> ReportOutcome:
    return ReportOutcome(
        report_id=report.id, occurrence_id=occ.id, department=occ.department.code,
        kind=report.kind, value=report.value, unit=report.unit,
        verdict=verdict.code if verdict else None, verdict_text=verdict.text if verdict else "",
        closed=occ.status in ("closed", "reported"), closed_on=occ.closed_on,
        acknowledged_until=occ.acknowledged_until, supersedes_id=report.supersedes_id,
        message=_message(occ, report, verdict), awaiting_review=occ.status == "reported",
        numerator=report.numerator, denominator=report.denominator,
    )


def _message(occ: Occurrence, report: Report, verdict: Verdict | None) -> str:
    if report.kind == "ack":
        until = occ.acknowledged_until.isoformat() if occ.acknowledged_until else ""
        return (f"已签收。{until}前暂停催办；截止日期{occ.due_on.isoformat()}不变，"
                "办结后请及时报送。")
    what = "更正" if report.supersedes_id else KIND_ZH[report.kind]
    parts = [f"已记录{what}报送（报告编号 {report.id}）。"]
    target = occ.duty.target
    if target is not None and report.numerator is not None and report.denominator is not None:
        parts.append(f"{target.numerator_label}{num(report.numerator)}，{target.denominator_label}"
                     f"{num(report.denominator)}，计{num(round(report.value or 0, 2))}"
                     f"{report.unit or ''}。")
    if verdict:
        parts.append(verdict.text + "。")
    if occ.status == "reported":
        parts.append("已报送，等待督办办公室审核销号；审核期间暂停提醒，如被退回将恢复提醒；"
                     "审核前如需修改，可重新报送。")
    elif occ.status == "closed":
        day = occ.closed_on.isoformat() if occ.closed_on else ""
        parts.append(f"该事项已办结（{day}），不再提醒。")
    else:
        parts.append("该事项仍为待办，将继续跟踪。")
    return "".join(parts)
