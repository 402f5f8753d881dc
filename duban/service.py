"""Wiring: one place that builds the real pieces (settings, database, config, calendar).

Use cases elsewhere take these as arguments; the CLI, the Prefect tasks and the report page all
start from `Context.from_env()` (or a Context built by a test) and pass IDs and URLs, not sessions.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property

from sqlalchemy import select

from duban.calendar.clock import local_day
from duban.calendar.workdays import WorkCalendar
from duban.chase.delivery import Sender
from duban.chase.dispatch import DispatchResult, portal_link_maker
from duban.chase.dispatch import dispatch as send_digests
from duban.chase.holiday_notice import note_missing_data, recompute_provisional
from duban.chase.items import open_items_query
from duban.chase.ladder import ChaseResult, Owed, chase_action, record_owed, start_notices
from duban.chase.occurrences import materialise
from duban.ledger.database import Database, database_for, record_audit
from duban.ledger.models import Action, Department, Occurrence
from duban.plan.config import PlanConfig, load_config
from duban.plan.lifecycle import active_plans
from duban.plan.loading import LoadResult, load_all
from duban.reports.submission import ReportRules
from duban.settings import Settings
from duban.supervise.board import build_board
from duban.supervise.weekly_brief import note_weekly_brief


@dataclass
class Context:
    settings: Settings
    calendar: WorkCalendar = field(default_factory=WorkCalendar)

    @classmethod
    def from_env(cls) -> Context:
        return cls(Settings.from_env())

    @cached_property
    def db(self) -> Database:
        return database_for(self.settings.database_url, self.settings.portal_threads)

    @cached_property
    def config(self) -> PlanConfig:
        return load_config(self.settings.config_dir)

    @property
    def report_rules(self) -> ReportRules:
        """What reports are checked and judged against in this installation."""
        ladder = self.config.ladder
        return ReportRules(self.calendar, ladder.ladder, self.settings.home / "evidence",
                           ladder.slow_progress_ratio, ladder.value_ceiling)


@dataclass
class SetupResult:
    loads: dict[str, LoadResult]
    new_occurrences: int


def setup(ctx: Context, now: datetime, actor: str = "office") -> SetupResult:
    """Create or upgrade the schema, load the config, and materialise every started period."""
    ctx.db.create_schema()
    with ctx.db.session() as session:
        loads = load_all(session, ctx.config, now, actor)
    return SetupResult(loads, materialise_all(ctx, now))


def materialise_all(ctx: Context, now: datetime, action_nos: list[int] | None = None) -> int:
    today = local_day(now)
    created = 0
    with ctx.db.session() as session:
        for plan in active_plans(session):
            created += materialise(session, plan, today, ctx.calendar, now, action_nos)
        recompute_provisional(session, ctx.calendar, now)
    return created


def chase(
    ctx: Context, now: datetime, action_nos: list[int] | None = None, dry_run: bool = False,
    plan_key: str | None = None,
) -> list[ChaseResult]:
    """Materialise and chase the given actions (all by default) of every active plan, or of the
    active plan `plan_key` only (an action number means something only within its plan)."""
    if not dry_run:
        materialise_all(ctx, now, action_nos)
    today = local_day(now)
    results = []
    with ctx.db.session() as session:
        for plan in active_plans(session):
            if plan_key is not None and plan.key != plan_key:
                continue
            if not dry_run:
                start_notices(session, plan, today, now, ctx.calendar)
            numbers = action_nos or [a.no for a in plan.actions]
            for no in numbers:
                results.append(chase_action(
                    session, plan, no, today, now, ctx.config.ladder.ladder, ctx.calendar, dry_run
                ))
    return results


def dispatch(
    ctx: Context, now: datetime, sender: Sender, force: bool = False,
    only: frozenset[str] | None = None,
) -> DispatchResult:
    """Send today's digests through `sender` (notifications.notifier_for builds the real one);
    on a non-working day nothing goes out unless forced (manual urging). `only`: just these
    recipients' digests (manual urging: the urged department's, nobody else's, and none of the
    day's chores); everyone else's wait for the day's dispatch."""
    today = local_day(now)
    if not force and not ctx.calendar.is_workday(today):
        return DispatchResult(day=today.isoformat())
    if only is None:
        with ctx.db.session() as session:
            note_missing_data(session, ctx.calendar, today, now)
            note_weekly_brief(session, today, now, lambda: build_board(
                session, today, ctx.calendar, ctx.config.ladder.slow_progress_ratio))
    links = portal_link_maker(ctx.settings.portal_url, now, ctx.config.office.name)
    return send_digests(ctx.db, sender, now, today, ctx.calendar, links, only=only)


def remind(
    ctx: Context,
    department_code: str,
    now: datetime,
    action_no: int | None = None,
    occurrence_id: int | None = None,
    note: str = "",
    actor: str = "office",
) -> int:
    """Record manual urging (人工催办) of a department's open items, outside the ladder.

    Returns how many reminders were recorded; the next dispatch sends them as one digest.
    Raises LookupError naming the department, action or occurrence that does not match.
    """
    today = local_day(now)
    batch = uuid.uuid4().hex[:12]
    with ctx.db.session() as session:
        department = session.scalar(select(Department).where(Department.code == department_code))
        if department is None:
            raise LookupError(f"unknown department code {department_code!r}")
        query = open_items_query(department.id, today)
        if action_no is not None:
            query = query.where(Action.no == action_no)
        if occurrence_id is not None:
            query = query.where(Occurrence.id == occurrence_id)
        ids = [occ.id for occ in session.scalars(query)]
        if not ids:
            raise LookupError(_nothing_to_urge(department_code, action_no, occurrence_id))
        owed = [Owed(f"manual:{batch}:{occ}", occ, department_code, "manual", note)
                for occ in ids]
        recorded = record_owed(session, owed, today, now)
        record_audit(session, actor, "manual_reminder", "department", department_code, now,
                     occurrences=len(ids), action=action_no, occurrence=occurrence_id)
    return recorded


def _nothing_to_urge(code: str, action_no: int | None, occurrence_id: int | None) -> str:
    scope = f" in action {action_no}" if action_no is not None else ""
    scope += f" with occurrence id {occurrence_id}" if occurrence_id is not None else ""
    return f"department {code!r} has no open item{scope}"
