"""How far a target has got: one report judged against its target, and the city figure.

Figures are year-to-date: a department reports where it stands now (累计完成 for counts, the current
level for rates and averages), so its latest non-superseded value is its figure. The city figure
rolls the departments' figures up by the target's rule (sum, average, min, all_covered); a rate or
an average reported as its parts (numerator and denominator) rolls up as sum(numerator) /
sum(denominator) (x100 for a %), so a large county weighs as much as it counts; a monthly target's
city figure is that month's reports only (the latest month reported, unless a month is named).
When the target's owner has filed the year-end check (target_final) for the whole city, that
figure wins, a monthly target's too (except for a month named: that month's own standing).

Each target is judged by its own deadline (the one verdict function, shared by the board, the
report page, the Excel ledger and the digests):
- met: the value reaches the target (for a range: at least its low end);
- before a year-end / within-year / through-year deadline (the plan's end) a figure below it is
  progress: on_track when the progress made since the baseline (0 at the plan year's start unless
  the target configures one) is at least `slow_ratio` of the time-proportional expectation
  (baseline + (target - baseline) x elapsed share of the days from the baseline to the deadline),
  else behind;
- not_met at the deadline (the plan's end has passed, a done report, the year-end check), and for
  a monthly target's month (each month is its own deadline).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.ledger.models import Action, Department, Duty, Occurrence, Plan, Report, Target

VERDICT_ZH = {"met": "已达标", "not_met": "未达标", "behind": "进度滞后", "on_track": "进度正常"}
OP_WORDS = {"at_least": "不少于", "more_than": "超过", "exactly": "", "range": ""}
VALUE_KINDS = ("done", "progress")


@dataclass(frozen=True)
class Goal:
    """The parts of a target a verdict needs (a Target row or a plan spec both fit)."""

    op: str
    low: float
    high: float | None
    unit: str
    rollup: str
    cumulative: bool = False
    parts: bool = False  # reported as numerator and denominator
    base: float = 0.0  # where progress is expected from (the baseline's figure)

    @classmethod
    def of(cls, target: Target) -> Goal:
        return cls(target.op, target.value_low, target.value_high, target.unit, target.rollup,
                   target.cumulative, target.numerator_label is not None,
                   target.baseline_value or 0.0)

    @property
    def scale(self) -> float:
        """numerator / denominator x scale is the figure: 100 for a rate (%), 1 for an average."""
        return 100.0 if self.unit == "%" else 1.0

    @property
    def is_count(self) -> bool:
        """Counts add up over the year (户, 张, 场 ...); levels do not (%, averages, minima)."""
        return self.cumulative or (self.rollup == "sum" and self.unit != "%")

    def text(self) -> str:
        """The target in words as the document writes them after the measure's name (a rate or
        a share 达到80%, a count 不少于2200户, a range 10—15个, 达到100%（全覆盖）)."""
        if self.op == "full_coverage":
            return "达到100%（全覆盖）"
        if self.op == "at_least" and self.unit == "%":
            return f"达到{num(self.low)}%"
        if self.op == "range":
            return f"{num(self.low)}—{num(self.high or self.low)}{self.unit}"
        return f"{OP_WORDS.get(self.op, '')}{num(self.low)}{self.unit}"


def num(value: float) -> str:
    """2200.0 -> '2200', 12.5 -> '12.5'."""
    return str(int(value)) if float(value).is_integer() else f"{value:.6g}"


@dataclass(frozen=True)
class Verdict:
    code: str  # met | not_met | behind | on_track
    text: str  # Chinese, says the figure, the target and (for progress) the expectation
    expected: float | None = None  # the time-proportional expectation, when one applies


def reaches(goal: Goal, value: float) -> bool:
    """Whether `value` meets the target; above a range's high end still counts as reached."""
    if goal.op == "more_than":
        return value > goal.low
    return value >= goal.low


def elapsed_share(starts: date, ends: date, through: date) -> float:
    """The share of the plan's days elapsed by `through` (0..1)."""
    total = (ends - starts).days + 1
    done = (min(through, ends) - starts).days + 1
    return max(0.0, min(1.0, done / total)) if total > 0 else 1.0


def judge(goal: Goal, value: float, final: bool, share: float, slow_ratio: float) -> Verdict:
    """A verdict for one figure; `final` at the figure's deadline (a done report, a year-end
    figure, a month of a monthly target); `share` of the time from the baseline to the deadline
    elapsed (1 once the deadline has passed)."""
    shown = f"{num(value)}{goal.unit}，目标{goal.text()}"
    if reaches(goal, value):
        extra = "（高于目标区间上限）" if goal.op == "range" and value > (goal.high or 0) else ""
        return Verdict("met", f"已达标：{shown}{extra}")
    if final or share >= 1:
        return Verdict("not_met", f"未达标：{shown}")
    expected = goal.base + (goal.low - goal.base) * share
    when = f"按时序进度应完成约{num(round(expected, 1))}{goal.unit}"
    if value - goal.base >= slow_ratio * (expected - goal.base):
        return Verdict("on_track", f"进度正常：{shown}，{when}", expected)
    return Verdict("behind", f"进度滞后：{shown}，{when}", expected)


def plan_start(year: int) -> date:
    """The plan year's first day: an annual target is expected to progress from it."""
    return date(year, 1, 1)


def deadline_share(target: Target, today: date) -> float:
    """The share of the target's time elapsed by `today`: from its baseline (default the plan
    year's start, not the day the plan was issued) to its deadline, the plan's end."""
    plan = target.action.plan
    starts = target.baseline_on or plan_start(plan.year)
    return elapsed_share(starts, plan.ends, today)


def judge_target(target: Target, value: float, final: bool, today: date,
                 slow_ratio: float) -> Verdict:
    """`judge` by the target's own deadline: a monthly target's month is final; any other is
    progress until the plan's end."""
    monthly = target.deadline == "monthly"
    return judge(Goal.of(target), value, final or monthly, deadline_share(target, today),
                 slow_ratio)


def rollup(rule: str, values: Iterable[float]) -> float | None:
    """The city figure from department figures (None when nobody has reported)."""
    figures = list(values)
    if not figures:
        return None
    if rule == "sum":
        return float(sum(figures))
    if rule == "average":
        return sum(figures) / len(figures)
    return float(min(figures))  # min and all_covered: the weakest department decides


def rollup_parts(goal: Goal, figures: Iterable[Figure]) -> float | None:
    """The city figure of a target reported in parts: sum(numerator) / sum(denominator) x scale.
    A figure reported as one value (before parts were asked for) cannot be weighted: then the
    target's own rule over the values, as before."""
    found = list(figures)
    if not found:
        return None
    if all(f.numerator is not None and f.denominator for f in found):
        top = sum(f.numerator or 0.0 for f in found)
        bottom = sum(f.denominator or 0.0 for f in found)
        return top / bottom * goal.scale
    return rollup(goal.rollup, (f.value for f in found))


@dataclass(frozen=True)
class Figure:
    department: str
    value: float
    report_id: int
    numerator: float | None = None
    denominator: float | None = None
    period: str = ""


@dataclass
class TargetProgress:
    """One target's standing for the supervisors' board."""

    target_id: int
    key: str
    title: str
    goal: str
    unit: str
    rollup: str
    expected_departments: list[str]
    figures: dict[str, Figure] = field(default_factory=dict)
    city_value: float | None = None
    source: str = "none"  # final (the owner's year-end figure) | rollup | none
    verdict: Verdict | None = None
    period: str | None = None  # a monthly target: the month judged (2023-07)
    parts: bool = False  # rolled up as sum(numerator) / sum(denominator)

    @property
    def reported(self) -> int:
        return len([d for d in self.expected_departments if d in self.figures])

    def as_dict(self) -> dict:
        return {
            "target": self.key, "title": self.title, "goal": self.goal, "unit": self.unit,
            "rollup": self.rollup, "city_value": self.city_value, "source": self.source,
            "reported": self.reported, "expected": len(self.expected_departments),
            "verdict": self.verdict.code if self.verdict else None,
            "verdict_text": self.verdict.text if self.verdict else "",
            "figures": {k: v.value for k, v in sorted(self.figures.items())},
            "period": self.period, "parts": self.parts,
        }


def latest_figures(
    session: Session, target_id: int, duty_kind: str, period: str | None = None
) -> dict[str, Figure]:
    """Latest non-superseded value per department on the target's duties of `duty_kind` (of one
    reporting period when `period` is given).

    One indexed query for the target's reports (a correction is on the same occurrence as the
    report it supersedes, so both are in it); superseded ones are dropped here, in Python."""
    query = (
        select(Report.id, Report.supersedes_id, Report.kind, Report.value, Report.numerator,
               Report.denominator, Department.code, Occurrence.period)
        .join(Occurrence, Report.occurrence_id == Occurrence.id)
        .join(Duty, Occurrence.duty_id == Duty.id)
        .join(Department, Report.department_id == Department.id)
        .where(Duty.target_id == target_id, Duty.kind == duty_kind)
        .order_by(Report.created_at, Report.id)
    )
    if period is not None:
        query = query.where(Occurrence.period == period)
    rows = session.execute(query).all()
    superseded = {row.supersedes_id for row in rows if row.supersedes_id is not None}
    return {
        row.code: Figure(row.code, row.value, row.id, row.numerator, row.denominator, row.period)
        for row in rows
        if row.kind in VALUE_KINDS and row.value is not None and row.id not in superseded
    }


def latest_period(session: Session, target_id: int, today: date) -> str | None:
    """The latest reporting period begun by `today` that has a report on the target's progress
    duty: the month a monthly target's city figure is for."""
    return session.scalar(
        select(Occurrence.period)
        .join(Report, Report.occurrence_id == Occurrence.id)
        .join(Duty, Occurrence.duty_id == Duty.id)
        .where(Duty.target_id == target_id, Duty.kind == "target_progress",
               Report.value.is_not(None), Occurrence.period_start <= today)
        .order_by(Occurrence.period_start.desc()).limit(1)
    )


def city_figure(
    target: Target, progress: Mapping[str, Figure], final: Mapping[str, Figure]
) -> tuple[float | None, str]:
    """The owner's year-end figure if filed, else the roll-up of the departments' figures (in
    parts when the target is reported in parts)."""
    if target.owner_code in final:
        return final[target.owner_code].value, "final"
    goal = Goal.of(target)
    if goal.parts:
        value = rollup_parts(goal, progress.values())
    else:
        value = rollup(target.rollup, (f.value for f in progress.values()))
    return value, "rollup" if value is not None else "none"


def period_text(period: str | None) -> str:
    """'2023-07' -> '2023年7月'; a quarter '2023-Q3' -> '2023年第3季度'."""
    if not period or "-" not in period:
        return period or ""
    year, part = period.split("-", 1)
    if part.startswith("Q"):
        return f"{year}年第{part[1:]}季度"
    return f"{year}年{int(part)}月"


def target_progress(
    session: Session, target: Target, today: date, slow_ratio: float,
    period: str | None = None,
) -> TargetProgress:
    """One target's city figure and verdict as of `today` (reports flushed in this session
    count, so a report being submitted is judged together with everyone else's). A monthly
    target is judged on one month: `period`, else the year-end check once filed, else the
    latest month reported."""
    duty = session.scalar(select(Duty).where(Duty.target_id == target.id,
                                             Duty.kind == "target_progress"))
    expected = list(duty.owner_codes) if duty else [target.owner_code]
    monthly = target.deadline == "monthly"
    # the owner's year-end check decides, a monthly target's too; a month named is that month
    final = {} if monthly and period else latest_figures(session, target.id, "target_final")
    if monthly and period is None:
        period = latest_period(session, target.id, today)
    progress = latest_figures(session, target.id, "target_progress",
                              period if monthly else None)
    # only the departments that owe it count (a zone's report on a county-only target does not)
    progress = {code: f for code, f in progress.items() if code in expected}
    result = TargetProgress(target.id, target.key, target.title, Goal.of(target).text(),
                            target.unit, target.rollup, expected, dict(progress))
    result.parts = Goal.of(target).parts
    result.city_value, result.source = city_figure(target, progress, final)
    result.period = period if monthly and result.source != "final" else None
    if result.city_value is not None:
        complete = result.source == "final" or result.reported == len(expected)
        verdict = judge_target(target, result.city_value, result.source == "final", today,
                               slow_ratio)
        whole = target.rollup in ("min", "all_covered") or Goal.of(target).parts
        if verdict.code == "met" and whole and not complete:  # part of the city is not the city
            at_deadline = (result.source == "final" or target.deadline == "monthly"
                           or deadline_share(target, today) >= 1)
            code = "not_met" if at_deadline else "on_track"
            verdict = Verdict(code, f"{VERDICT_ZH[code]}：尚未全部报送（{result.reported}/"
                              f"{len(expected)}）：" + verdict.text.removeprefix("已达标："))
        if result.period:
            verdict = Verdict(verdict.code, f"{period_text(result.period)}{verdict.text}",
                              verdict.expected)
        result.verdict = verdict
    return result


def action_progress(
    session: Session, plan_key: str, action_no: int, today: date, slow_ratio: float = 0.7
) -> list[TargetProgress]:
    """Every target of one action, for the supervisors' board."""
    targets = session.scalars(
        select(Target).join(Action, Target.action_id == Action.id)
        .join(Plan, Action.plan_id == Plan.id)
        .where(Plan.key == plan_key, Action.no == action_no).order_by(Target.id)
    ).all()
    return [target_progress(session, t, today, slow_ratio) for t in targets]
