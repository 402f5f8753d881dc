"""Synthetic ledgers for benchmarks: N open occurrences over many departments and duties.

1,000 departments (one per 1,000 occurrences up to that), duties of action 1 of a plan
`bench-2023`, one occurrence per duty x department, deadlines spread so that on the benchmark day
(2023-10-16) a third is overdue, a third due soon or due today and a third upcoming.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import insert, select

from duban.calendar.clock import TIMEZONE
from duban.ledger.database import Database, insert_ignoring_duplicates
from duban.ledger.models import Action, Department, Duty, Jurisdiction, Occurrence, Plan

DAY = date(2023, 10, 16)
NOW = datetime(2023, 10, 16, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
DUE_OFFSETS = [-30, -10, -4, -2, -1, 0, 1, 2, 3, 10, 20, 40]
PLAN_KEY = "bench-2023"


def populate(url: str, occurrences: int, departments: int = 1000) -> Database:
    """A fresh schema holding `occurrences` open occurrences; returns the database."""
    db = Database(url)
    db.create_schema_fast()
    departments = min(departments, occurrences)
    duties = max(1, occurrences // departments)
    with db.session() as s:
        city = Jurisdiction(code="city", name="基准市", kind="city")
        s.add(city)
        s.flush()
        s.execute(insert(Department), [
            {"code": f"d{n:04d}", "name": f"基准单位{n:04d}", "short": f"单位{n:04d}",
             "aliases": [], "jurisdiction_id": city.id, "city_counterpart_id": None}
            for n in range(departments)
        ])
        plan = Plan(key=PLAN_KEY, title="基准方案", doc_no="基〔2023〕1号", issuer="基准局",
                    issued=date(2023, 1, 1), year=2023, timezone=TIMEZONE,
                    starts=date(2023, 1, 1), ends=date(2023, 12, 31), state="active")
        s.add(plan)
        s.flush()
        action = Action(plan_id=plan.id, no=1, title="基准行动", clause="基准。",
                        department_codes=["d0000"])
        s.add(action)
        s.flush()
        s.execute(insert(Duty), [
            {"plan_id": plan.id, "action_id": action.id, "target_id": None, "key": f"duty-{k}",
             "kind": "milestone", "title": f"基准职责{k}", "deliverable": "材料",
             "frequency": "once", "due_rule": {"rule": "last_workday_of_period"}, "warn_days": 3,
             "owner_codes": [], "active": True}
            for k in range(duties)
        ])
        duty_ids = list(s.scalars(select(Duty.id).order_by(Duty.id)))
        dept_ids = list(s.scalars(select(Department.id).order_by(Department.id)))
    _occurrences(db, duty_ids, dept_ids, occurrences)
    return db


def _occurrences(db: Database, duty_ids: list[int], dept_ids: list[int], total: int) -> None:
    batch: list[dict] = []
    made = 0
    for duty_id in duty_ids:
        for dept_id in dept_ids:
            if made == total:
                break
            due = DAY + timedelta(days=DUE_OFFSETS[made % len(DUE_OFFSETS)])
            batch.append({
                "duty_id": duty_id, "department_id": dept_id, "period": "2023",
                "period_start": date(2023, 1, 1), "period_end": date(2023, 12, 31),
                "due_on": due, "original_due_on": due, "provisional": False, "status": "open",
                "created_at": NOW,
            })
            made += 1
            if len(batch) == 20_000:
                _flush(db, batch)
    _flush(db, batch)


def _flush(db: Database, batch: list[dict]) -> None:
    """Written as a plan load writes its occurrences (duban.chase.occurrences.materialise)."""
    if batch:
        with db.session() as s:
            insert_ignoring_duplicates(s, Occurrence, batch)
        batch.clear()
