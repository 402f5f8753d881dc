"""任务分解 (allocations): a city-wide target split among the counties and functional zones.

A county's progress is then judged against its own share, and the board shows shares beside
results. For a summed target the shares must add up to the city target exactly; for a level
target (a rate, an average, a minimum) each share is that county's own level.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from duban.ledger.database import record_audit
from duban.ledger.models import Allocation, Department, Jurisdiction, Target
from duban.plan.progress import Goal, deadline_share, judge, latest_figures, num


def allocation_problem(
    target_value: float, rollup: str, unit: str, shares: Mapping[str, float],
    jurisdictions: Mapping[str, str],
) -> str | None:
    """What is wrong with `shares` (jurisdiction code -> value), or None when they are good.
    `jurisdictions` maps the codes of counties and zones to their names."""
    unknown = sorted(set(shares) - set(jurisdictions))
    if unknown:
        return f"unknown county or zone {', '.join(unknown)}; known: {', '.join(jurisdictions)}"
    negative = sorted(code for code, value in shares.items() if value < 0)
    if negative:
        return f"negative share for {', '.join(negative)}"
    if rollup != "sum":
        return None
    total = sum(shares.values())
    if abs(total - target_value) > 1e-9:
        difference = total - target_value
        sign = "more" if difference > 0 else "less"
        return (f"shares add up to {num(total)}{unit}, the city target is "
                f"{num(target_value)}{unit}: {num(abs(difference))}{unit} {sign} than the target "
                f"(合计{num(total)}，目标{num(target_value)}，相差{num(abs(difference))})")
    return None


def set_allocation(
    session: Session, target: Target, shares: Mapping[str, float], source: str, now: datetime,
    actor: str,
) -> None:
    """Replace the target's allocation (validated by the caller), with an audit entry."""
    ids = dict(session.execute(select(Jurisdiction.code, Jurisdiction.id)).tuples().all())
    before = current_shares(session, target.id)
    if before == dict(shares):
        return
    session.execute(delete(Allocation).where(Allocation.target_id == target.id))
    for code, value in shares.items():
        session.add(Allocation(target_id=target.id, jurisdiction_id=ids[code], value=float(value),
                               source=source))
    record_audit(session, actor, "allocation_set", "target", target.key, now,
                 before=before, after=dict(shares), source=source)


def current_shares(session: Session, target_id: int) -> dict[str, float]:
    rows = session.execute(
        select(Jurisdiction.code, Allocation.value)
        .join(Jurisdiction, Allocation.jurisdiction_id == Jurisdiction.id)
        .where(Allocation.target_id == target_id)
    ).tuples()
    return dict(rows.all())


def local_jurisdictions(session: Session) -> dict[str, str]:
    rows = session.execute(select(Jurisdiction.code, Jurisdiction.name)
                           .where(Jurisdiction.kind != "city").order_by(Jurisdiction.id))
    return dict(rows.tuples().all())


@dataclass(frozen=True)
class ShareLine:
    """One county's share of a target beside its own reported figure."""

    county: str
    share: float
    value: float | None
    verdict: str  # met | not_met | behind | on_track | none
    text: str


def share_lines(
    session: Session, target: Target, today: date, slow_ratio: float
) -> list[ShareLine]:
    """Each allocated county's figure judged against its own share (not the city target)."""
    shares = current_shares(session, target.id)
    if not shares:
        return []
    names = local_jurisdictions(session)
    figures = latest_figures(session, target.id, "target_progress")
    county_of = dict(session.execute(
        select(Department.code, Jurisdiction.code)
        .join(Jurisdiction, Department.jurisdiction_id == Jurisdiction.id)
    ).tuples().all())
    by_county: dict[str, float] = {}
    for code, figure in figures.items():
        county = county_of.get(code)
        if county in shares:
            by_county[county] = by_county.get(county, 0.0) + figure.value
    elapsed = deadline_share(target, today)  # a share is judged by its target's deadline
    monthly = target.deadline == "monthly"
    lines = []
    for code, share in shares.items():
        goal = Goal(target.op if target.op != "range" else "at_least", share, None, target.unit,
                    target.rollup, target.cumulative)
        value = by_county.get(code)
        if value is None:
            lines.append(ShareLine(names.get(code, code), share, None, "none", "尚无报送"))
            continue
        verdict = judge(goal, value, monthly, elapsed, slow_ratio)
        lines.append(ShareLine(names.get(code, code), share, value, verdict.code, verdict.text))
    return lines
