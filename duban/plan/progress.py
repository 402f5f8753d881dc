"""How far a target has got: one report judged against its target, and the city figure.

Figures are year-to-date: a department reports where it stands now (累计完成 for counts, the current
level for rates and averages), so its latest non-superseded value is its figure. The city figure
rolls the departments' figures up by the target's rule (sum, average, min, all_covered); when the
target's owner has filed the year-end check (target_final) for the whole city, that figure wins.

Verdicts (pure, no database):
- met: the value reaches the target (for a range: at least its low end);
- not_met: a final figure (a done report, or the year-end check) that does not;
- behind: a progress figure on a count or cumulative target below `slow_ratio` of the
  time-proportional expectation (target x elapsed share of the plan year, by period end);
- on_track: a progress figure on such a target that is at least that;
- not_met also for a progress figure on a level target (a rate, an average, a ratio) below
  the target: a level has no time-proportional expectation.
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

    @classmethod
    def of(cls, target: Target) -> Goal:
        return cls(target.op, target.value_low, target.value_high, target.unit, target.rollup,
                   target.cumulative)

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
    """A verdict for one figure; `final` for a done report or a year-end figure."""
    shown = f"{num(value)}{goal.unit}，目标{goal.text()}"
    if reaches(goal, value):
        extra = "（高于目标区间上限）" if goal.op == "range" and value > (goal.high or 0) else ""
        return Verdict("met", f"已达标：{shown}{extra}")
    if final or share >= 1 or not goal.is_count:
        return Verdict("not_met", f"未达标：{shown}")
    expected = goal.low * share
    when = f"按时序进度应完成约{num(round(expected, 1))}{goal.unit}"
    if value >= slow_ratio * expected:
        return Verdict("on_track", f"进度正常：{shown}，{when}", expected)
    return Verdict("behind", f"进度滞后：{shown}，{when}", expected)


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


@dataclass(frozen=True)
class Figure:
    department: str
    value: float
    report_id: int


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
        }


def latest_figures(session: Session, target_id: int, duty_kind: str) -> dict[str, Figure]:
    """Latest non-superseded value per department on the target's duties of `duty_kind`.

    One indexed query for the target's reports (a correction is on the same occurrence as the
    report it supersedes, so both are in it); superseded ones are dropped here, in Python."""
    rows = session.execute(
        select(Report.id, Report.supersedes_id, Report.kind, Report.value, Department.code)
        .join(Occurrence, Report.occurrence_id == Occurrence.id)
        .join(Duty, Occurrence.duty_id == Duty.id)
        .join(Department, Report.department_id == Department.id)
        .where(Duty.target_id == target_id, Duty.kind == duty_kind)
        .order_by(Report.created_at, Report.id)
    ).all()
    superseded = {row.supersedes_id for row in rows if row.supersedes_id is not None}
    return {
        row.code: Figure(row.code, row.value, row.id) for row in rows
        if row.kind in VALUE_KINDS and row.value is not None and row.id not in superseded
    }


def city_figure(
    target: Target, progress: Mapping[str, Figure], final: Mapping[str, Figure]
) -> tuple[float | None, str]:
    """The owner's year-end figure if filed, else the roll-up of the departments' figures."""
    if target.owner_code in final:
        return final[target.owner_code].value, "final"
    value = rollup(target.rollup, (f.value for f in progress.values()))
    return value, "rollup" if value is not None else "none"


def target_progress(
    session: Session, target: Target, today: date, slow_ratio: float
) -> TargetProgress:
    """One target's city figure and verdict as of `today` (reports flushed in this session
    count, so a report being submitted is judged together with everyone else's)."""
    duty = session.scalar(select(Duty).where(Duty.target_id == target.id,
                                             Duty.kind == "target_progress"))
    expected = list(duty.owner_codes) if duty else [target.owner_code]
    progress = latest_figures(session, target.id, "target_progress")
    final = latest_figures(session, target.id, "target_final")
    result = TargetProgress(target.id, target.key, target.title, Goal.of(target).text(),
                            target.unit, target.rollup, expected, dict(progress))
    result.city_value, result.source = city_figure(target, progress, final)
    if result.city_value is not None:
        plan = target.action.plan
        share = elapsed_share(plan.starts, plan.ends, today)
        complete = result.source == "final" or result.reported == len(expected)
        verdict = judge(Goal.of(target), result.city_value, result.source == "final", share,
                        slow_ratio)
        if verdict.code == "met" and target.rollup in ("min", "all_covered") and not complete:
            verdict = Verdict("not_met", f"尚未全部报送（{result.reported}/{len(expected)}）："
                              + verdict.text.removeprefix("已达标："))
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
