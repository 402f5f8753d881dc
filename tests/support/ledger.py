"""Ledger facts shared by tests: when the shipped plan is loaded, and how to find an item."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from duban.ledger.models import Department, Duty, Occurrence, Target
from duban.service import Context

PLAN = "taimin-2023-12"  # the shipped plan's key: tests may name it, code may not
LOADED_AT = datetime(2023, 6, 5, 1, 0, tzinfo=UTC)  # the plan's issue date, 09:00 in Shanghai


def target_occurrence(ctx: Context, department: str, target: str, period: str) -> int | None:
    """The id of a department's progress item for a target and period."""
    with ctx.db.session() as s:
        return s.scalar(
            select(Occurrence.id).join(Duty, Occurrence.duty_id == Duty.id)
            .join(Target, Duty.target_id == Target.id)
            .join(Department, Occurrence.department_id == Department.id)
            .where(Target.key == target, Duty.kind == "target_progress",
                   Department.code == department, Occurrence.period == period))
