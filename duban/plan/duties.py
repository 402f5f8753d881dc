"""From plan to duties: who owes what, how often, and when each period's report is due.

Pure functions over the validated config and the working-day calendar; no database here.
- a progress report per quantified target per period (monthly), owed in each county and zone by
  the body answering there for the target's owner (its own body, the body covering its work, or
  the jurisdiction's fallback) when the work is done locally (counties only, no functional zone,
  when the document says 县（市、区）: scope counties; the owner too for a 各级 target:
  city_reports), else by the owner itself;
- a year-end final check per target, owed by the owner (the city figure);
- quarterly progress per milestone, and the milestone itself at year-end, owed by its owner.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from duban.calendar.workdays import WorkCalendar
from duban.plan.config import (
    ActionSpec,
    MilestoneSpec,
    PlanConfig,
    PlanFile,
    TargetSpec,
)
from duban.plan.progress import Goal


@dataclass(frozen=True)
class DutySpec:
    key: str
    kind: str  # target_progress | target_final | milestone_progress | milestone
    action_no: int
    target_key: str | None
    title: str
    deliverable: str
    frequency: str  # monthly | quarterly | once
    due_rule: dict[str, Any]
    warn_days: int
    owner_codes: tuple[str, ...]


@dataclass(frozen=True)
class Period:
    key: str
    start: date
    end: date


def target_goal(target: TargetSpec) -> str:
    """The target in words, e.g. 不少于2200户 / 10—15个 / 达到100%（全覆盖）."""
    return Goal(target.op, target.low, target.high, target.unit, target.rollup,
                target.cumulative).text()


def derive_duties(config: PlanConfig, plan: PlanFile) -> list[DutySpec]:
    duties: list[DutySpec] = []
    for action in plan.actions:
        lead = config.registry.resolve(action.departments[0])
        assert lead is not None, "validated by load_config"
        for target in action.targets:
            duties.extend(_target_duties(config, action, target, lead))
        for milestone in action.milestones:
            duties.extend(_milestone_duties(config, action, milestone, lead))
    return duties


def _owner(config: PlanConfig, written: str | None, lead: str) -> str:
    return (config.registry.resolve(written) if written else None) or lead


def _target_duties(
    config: PlanConfig, action: ActionSpec, target: TargetSpec, lead: str
) -> list[DutySpec]:
    owner = _owner(config, target.owner, lead)
    counties = [code for j, code in config.registry.counterparts(owner)
                if target.scope == "all" or j.kind == "county"] if target.local else []
    if counties and target.city_reports:  # 各级: the city level's own contribution is reported
        counties = [*counties, owner]
    warn = config.ladder.warning_days
    rule = config.deadlines["monthly_report" if target.period == "monthly" else "quarterly_report"]
    every = "每月" if target.period == "monthly" else "每季度"
    goal = target_goal(target)
    return [
        DutySpec(
            key=f"{target.key}/progress",
            kind="target_progress",
            action_no=action.no,
            target_key=target.key,
            title=f"{target.title}进展（{every}报送，目标{goal}）",
            deliverable=(f"{target.parts.numerator}、{target.parts.denominator}"
                         f"（{target.measure}，{target.unit}）及佐证材料" if target.parts else
                         f"{target.measure}（{target.unit}）及佐证材料"),
            frequency=target.period,
            due_rule=rule.model_dump(),
            warn_days=warn,
            owner_codes=tuple(counties or [owner]),
        ),
        DutySpec(
            key=f"{target.key}/final",
            kind="target_final",
            action_no=action.no,
            target_key=target.key,
            title=f"{target.title}年终核查（目标{goal}）",
            deliverable=f"全市{target.measure}年终数据（{target.unit}）及佐证材料",
            frequency="once",
            due_rule=config.deadlines["final_check"].model_dump(),
            warn_days=warn,
            owner_codes=(owner,),
        ),
    ]


def _milestone_duties(
    config: PlanConfig, action: ActionSpec, milestone: MilestoneSpec, lead: str
) -> list[DutySpec]:
    owner = _owner(config, milestone.owner, lead)
    warn = config.ladder.warning_days
    final_rule: dict[str, Any] = config.deadlines["milestone"].model_dump()
    if isinstance(milestone.due, date):
        final_rule = {"rule": "fixed", "date": milestone.due.isoformat()}
    return [
        DutySpec(
            key=f"{milestone.key}/progress",
            kind="milestone_progress",
            action_no=action.no,
            target_key=None,
            title=f"{milestone.title}（季度进展）",
            deliverable=f"季度工作进展：{milestone.deliverable}",
            frequency="quarterly",
            due_rule=config.deadlines["quarterly_report"].model_dump(),
            warn_days=warn,
            owner_codes=(owner,),
        ),
        DutySpec(
            key=milestone.key,
            kind="milestone",
            action_no=action.no,
            target_key=None,
            title=milestone.title,
            deliverable=milestone.deliverable,
            frequency="once",
            due_rule=final_rule,
            warn_days=warn,
            owner_codes=(owner,),
        ),
    ]


def periods(frequency: str, starts: date, ends: date) -> list[Period]:
    """The reporting periods of a plan year; partial first and last periods are kept whole."""
    if frequency == "once":
        return [Period(str(ends.year), starts, ends)]
    step = 1 if frequency == "monthly" else 3
    first_month = starts.month if step == 1 else 3 * ((starts.month - 1) // 3) + 1
    out: list[Period] = []
    year, month = starts.year, first_month
    while date(year, month, 1) <= ends:
        start = date(year, month, 1)
        end = _month_end(year, month + step - 1)
        key = f"{year}-{month:02d}" if step == 1 else f"{year}-Q{(month - 1) // 3 + 1}"
        out.append(Period(key, start, end))
        month += step
        if month > 12:
            year, month = year + 1, month - 12
    return out


def _month_end(year: int, month: int) -> date:
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return nxt - timedelta(days=1)


def due_date(rule: dict[str, Any], period: Period, calendar: WorkCalendar) -> date:
    """Apply a deadline rule to a period; every result is a working day."""
    kind = rule["rule"]
    if kind == "nth_workday_of_next_month":
        nxt = period.end + timedelta(days=1)
        return calendar.nth_workday_of_month(nxt.year, nxt.month, int(rule.get("n", 1)))
    if kind == "last_workday_of_period":
        return calendar.previous_workday(period.end, include_self=True)
    if kind == "nth_workday_after":
        return calendar.add_workdays(period.end, int(rule.get("n", 1)))
    if kind == "fixed":
        return calendar.next_workday(date.fromisoformat(rule["date"]), include_self=True)
    raise ValueError(f"unknown deadline rule {kind!r}")


def duty_periods(duty_kind: str, frequency: str, starts: date, ends: date) -> list[Period]:
    """Milestone progress is reported for the quarters before the milestone's own year-end check."""
    found = periods(frequency, starts, ends)
    if duty_kind == "milestone_progress":
        return [p for p in found if p.end < ends]
    return found
