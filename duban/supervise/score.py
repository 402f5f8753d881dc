"""考评: a per-department score for the plan year, with the formula's weights in
config/scoring.yaml (see that file for the formula).

Figures, as the ledger stood at the end of the day scored (duban.reports.history):
- on-time rate: of the department's items due by then, the share reported by their deadline
  (the report's day counts, not the office's sign-off; an extension's or a return's deadline
  is the deadline);
- working days late: summed over items reported late and items still overdue;
- returns: how many times the office returned the department's reports (退回);
- unacknowledged digests: digests sent to the department after which it neither acknowledged
  (签收) nor reported anything within `ack_within` working days.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.calendar.clock import local_day
from duban.calendar.workdays import WorkCalendar
from duban.chase.occurrences import plan_matches
from duban.ledger.models import (
    Action,
    Department,
    Digest,
    Duty,
    Jurisdiction,
    Occurrence,
    Plan,
    Report,
)
from duban.plan.config import ConfigError, Problem, _Strict, _validate, read_yaml
from duban.reports.history import end_of, owed_on, standings_on
from duban.reports.review import returns_by_department
from duban.supervise.markdown import wrap

SCORING_FILE = "scoring.yaml"


class Weights(_Strict):
    on_time: float = Field(default=40, ge=0, le=1000)
    late_workday: float = Field(default=0.5, ge=0, le=100)
    late_cap: float = Field(default=30, ge=0, le=1000)
    returned: float = Field(default=2, ge=0, le=100)
    unacknowledged: float = Field(default=1, ge=0, le=100)


class ScoringSpec(_Strict):
    base: float = Field(default=100, gt=0, le=1000)
    weights: Weights = Weights()
    ack_within: int = Field(default=2, ge=0, le=30)


def load_scoring(config_dir: Path) -> ScoringSpec:
    """config/scoring.yaml, or the defaults when there is none; ConfigError naming the field."""
    path = Path(config_dir) / SCORING_FILE
    if not path.exists():
        return ScoringSpec()
    problems: list[Problem] = []
    spec = _validate(ScoringSpec, read_yaml(path, problems), str(path), problems)
    if problems or spec is None:
        raise ConfigError(problems)
    return spec


@dataclass
class DepartmentScore:
    code: str
    name: str
    county: str
    due: int = 0
    on_time: int = 0
    late_days: int = 0
    returned: int = 0
    digests: int = 0
    unacknowledged: int = 0
    score: float = 0.0
    rank: int = 0

    @property
    def on_time_rate(self) -> float | None:
        return self.on_time / self.due if self.due else None

    def rate_text(self) -> str:
        rate = self.on_time_rate
        return "—" if rate is None else f"{rate * 100:.0f}%"

    def as_dict(self) -> dict:
        return {"rank": self.rank, "code": self.code, "name": self.name, "county": self.county,
                "score": self.score, "due": self.due, "on_time": self.on_time,
                "on_time_rate": self.on_time_rate, "late_days": self.late_days,
                "returned": self.returned, "digests": self.digests,
                "unacknowledged": self.unacknowledged}


@dataclass
class Scores:
    as_of: date
    spec: ScoringSpec
    lines: list[DepartmentScore] = field(default_factory=list)  # ranked, best first


def score_departments(
    session: Session, today: date, calendar: WorkCalendar, spec: ScoringSpec,
    plan_key: str | None = None,
) -> Scores:
    """Every department owing items in the active plan(s), scored and ranked (best first)."""
    lines = _timeliness(session, today, calendar, plan_key)
    for code, count in returns_by_department(session, end_of(today)).items():
        if code in lines:
            lines[code].returned = count
    _digests(session, today, calendar, spec.ack_within, lines)
    for line in lines.values():
        line.score = _score(line, spec)
    ranked = sorted(lines.values(), key=lambda d: (-d.score, -d.due, d.code))
    for rank, line in enumerate(ranked, 1):
        line.rank = rank
    return Scores(today, spec, ranked)


def _score(line: DepartmentScore, spec: ScoringSpec) -> float:
    w = spec.weights
    rate = line.on_time_rate if line.on_time_rate is not None else 1.0
    lost = (w.on_time * (1 - rate) + min(w.late_cap, w.late_workday * line.late_days)
            + w.returned * line.returned + w.unacknowledged * line.unacknowledged)
    return round(max(0.0, spec.base - lost), 1)


def _timeliness(
    session: Session, today: date, calendar: WorkCalendar, plan_key: str | None
) -> dict[str, DepartmentScore]:
    query = (
        select(Occurrence.id, Occurrence.due_on, Occurrence.closed_on, Department.code,
               Department.name, Jurisdiction.name)
        .join(Duty, Occurrence.duty_id == Duty.id).join(Action, Duty.action_id == Action.id)
        .join(Plan, Duty.plan_id == Plan.id)
        .join(Department, Occurrence.department_id == Department.id)
        .join(Jurisdiction, Department.jurisdiction_id == Jurisdiction.id)
        .where(Duty.active.is_(True), Plan.active.is_(True), owed_on(session, today),
               Occurrence.period_start <= today)
    )
    if plan_key:
        query = query.where(plan_matches(plan_key))
    past = standings_on(session, today)
    lines: dict[str, DepartmentScore] = {}
    for occ_id, due, closed, code, name, county in session.execute(query).tuples():
        line = lines.setdefault(code, DepartmentScore(code, name, county))
        if occ_id in past:
            due, closed = past[occ_id].due_on, past[occ_id].closed_on
        if due >= today and closed is None:
            continue  # not due yet (on its due day it may still be reported on time)
        line.due += 1
        if closed is not None and closed <= due:
            line.on_time += 1
        else:
            line.late_days += calendar.workdays_between(due, closed or today)
    return lines


def _digests(
    session: Session, today: date, calendar: WorkCalendar, within: int,
    lines: dict[str, DepartmentScore],
) -> None:
    """Digests sent to each department up to `today`, and those it left unanswered."""
    sent: dict[str, list[date]] = defaultdict(list)
    for recipient, day in session.execute(
            select(Digest.recipient, Digest.day).where(Digest.state == "sent",
                                                       Digest.day <= today)).tuples():
        if recipient in lines:
            sent[recipient].append(day)
    answered: dict[str, list[date]] = defaultdict(list)
    for code, at in session.execute(
            select(Department.code, Report.created_at)
            .join(Department, Report.department_id == Department.id)
            .where(Report.created_at < end_of(today))).tuples():
        answered[code].append(local_day(at))
    for code, days in sent.items():
        replies = sorted(answered.get(code, []))
        lines[code].digests = len(days)
        for day in days:
            limit = calendar.add_workdays(day, within)
            if limit > today:
                continue  # still within its window
            if not any(day <= r <= limit for r in replies):
                lines[code].unacknowledged += 1


# -- presentation (the board, the bulletin and the Excel use these) ----------------------------

SCORE_HEADERS = ["排名", "单位", "得分", "按期率", "应报事项", "逾期工作日", "被退回", "未签收汇总"]


def score_rows(scores: Scores, limit: int | None = None) -> list[list[object]]:
    return [[d.rank, d.name, f"{d.score:g}", d.rate_text(), d.due, d.late_days, d.returned,
             d.unacknowledged] for d in scores.lines[:limit]]


def formula_text(spec: ScoringSpec) -> str:
    w = spec.weights
    return (f"满分{spec.base:g}分；按期率每差1%扣{w.on_time / 100:g}分；每逾期1个工作日扣"
            f"{w.late_workday:g}分（最多扣{w.late_cap:g}分）；每被退回1次扣{w.returned:g}分；"
            f"每份汇总{spec.ack_within}个工作日内未签收未报送扣{w.unacknowledged:g}分")


def score_markdown(scores: Scores, limit: int = 30) -> str:
    """考评 as a markdown section for the 督办总览 board."""
    lines = ["## 考评得分（本年度）", "", formula_text(scores.spec) + "。", ""]
    if not scores.lines:
        return "\n".join([*lines, "暂无应报事项。", ""])
    # Six narrow columns with names wrapped, so the table fits the board at 1366 px; the full
    # eight columns are in the bulletin and the Excel.
    headers = ["排名", "单位", "得分", "按期率", "逾期<br>工作日", "被退回"]
    lines += ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += [f"| {d.rank} | {wrap(d.name, 16)} | {d.score:g} | {d.rate_text()} | "
              f"{d.late_days} | {d.returned} |" for d in scores.lines[:limit]]
    rest = len(scores.lines) - min(limit, len(scores.lines))
    if rest > 0:
        lines += ["", f"另有 {rest} 个单位未列出（完整考评见 Excel 台账）。"]
    return "\n".join(lines) + "\n"
