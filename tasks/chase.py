"""Thin Prefect tasks over `duban.service`: one task run per batch, never per duty or message.

Tasks take strings and numbers (an as-of ISO instant, action numbers, a department code) and build
their Context from the environment (`task_context()`, once per process) and open their own
sessions: Prefect hashes task inputs and may run tasks in other threads, so sessions and clients
never cross this boundary. Per-item results live in the ledger; a task returns
the batch's summary as plain dicts (`ChaseResult.as_dict()`, `DispatchResult.as_dict()`).
"""

from __future__ import annotations

import os
import threading
from datetime import date

from prefect import task
from prefect.cache_policies import NO_CACHE

from duban import service
from duban.calendar.clock import local_day, parse_as_of, utcnow
from duban.ledger.database import record_audit
from duban.service import Context
from duban.settings import Settings
from notifications import notifier_for

# (database URL, config dir, local day) already set up by this process. Served and deployed runs
# each get a fresh process, so this means "once per flow run" there; `duban chase` runs every
# action flow in one process and sets up once.
_READY: set[tuple[str, str, date]] = set()
_READY_LOCK = threading.Lock()

_CONTEXTS: dict[Settings, Context] = {}


def task_context() -> Context:
    """Context.from_env(), one per settings per process: the plan config (~0.1 s to load and
    check) and the calendar's caches are shared by the tasks of a process (`duban chase` runs
    dozens of task runs in one; a served run is its own process, so a config change applies from
    the next run on)."""
    settings = Settings.from_env()
    with _READY_LOCK:
        return _CONTEXTS.setdefault(settings, Context(settings))


PREPARED_ENV = "DUBAN_LEDGER_PREPARED"  # set by cli/connect.py when `duban up` runs


def ensure_ready(ctx: Context, as_of: str) -> None:
    """Create or upgrade the schema and load the plan (idempotent), at most once per day here.

    Skipped in a command run beside `duban up` (PREPARED_ENV): the service prepared the ledger at
    its start and its daily run does so every day; the chase itself still materialises the day's
    periods. That is most of what `duban remind` would otherwise spend."""
    if os.environ.get(PREPARED_ENV) == "1":
        return
    now = parse_as_of(as_of)
    key = (ctx.settings.database_url, str(ctx.settings.config_dir), local_day(now))
    with _READY_LOCK:
        if key in _READY:
            return
        service.setup(ctx, now)
        _READY.add(key)


def _chase_run_name() -> str:
    from prefect.runtime import task_run

    actions = task_run.parameters.get("actions")
    scope = "全部行动" if not actions else "行动 " + "、".join(str(n) for n in actions)
    return f"判定催办 {scope}"


@task(name="判定催办", task_run_name=_chase_run_name, cache_policy=NO_CACHE)
def chase_actions(
    as_of: str, actions: list[int] | None = None, dry_run: bool = False,
    plan: str | None = None,
) -> list[dict]:
    """Classify the actions' occurrences (of the plan `plan`, or of every active plan) and record
    the reminders owed at `as_of`.

    A dry run writes nothing (not even the plan load): it only needs the schema to exist.
    """
    ctx = task_context()
    if dry_run:
        ctx.db.create_schema()
    else:
        ensure_ready(ctx, as_of)
    results = service.chase(ctx, parse_as_of(as_of), actions, dry_run=dry_run, plan_key=plan)
    return [r.as_dict() for r in results]


def plan_actions(as_of: str, plan: str | None = None, actions: list[int] | None = None,
                 dry_run: bool = False) -> list[tuple[str, int, str]]:
    """(plan key, action number, title) of every action of the active plans, in plan then number
    order; narrowed to one plan and/or some numbers. Sets the ledger up first, except in a dry
    run (not a task: the daily flow's own bookkeeping, one short read)."""
    ctx = task_context()
    if dry_run:
        ctx.db.create_schema()
    else:
        ensure_ready(ctx, as_of)
    with ctx.db.read() as session:
        return [(p.key, a.no, a.title) for p in service.active_plans(session) for a in p.actions
                if (plan is None or p.key == plan) and (not actions or a.no in actions)]


@task(name="发送汇总", task_run_name="发送汇总", cache_policy=NO_CACHE)
def dispatch_digests(as_of: str, force: bool = False) -> dict:
    """Send today's digests (one per recipient); skipped on non-working days unless forced."""
    ctx = task_context()
    ensure_ready(ctx, as_of)
    now = parse_as_of(as_of)
    return service.dispatch(ctx, now, notifier_for(ctx, now), force=force).as_dict()


@task(name="人工催办", task_run_name="人工催办 {department}", cache_policy=NO_CACHE)
def remind_department(
    department: str,
    as_of: str,
    action: int | None = None,
    occurrence: int | None = None,
    note: str = "",
) -> dict:
    """Record manual urging for a department, then send its digest at once (dispatch with
    force, only to that department: other recipients' pending digests wait for the day's run).

    A department or occurrence that does not match is the caller's mistake, not a crash: it comes
    back as {"error": ...} so the flow can end with a clear message instead of a traceback.
    """
    ctx = task_context()
    ensure_ready(ctx, as_of)
    now = parse_as_of(as_of)
    try:
        recorded = service.remind(ctx, department, now, action, occurrence, note)
    except LookupError as exc:
        return {"error": str(exc), "recorded": 0}
    sent = service.dispatch(ctx, now, notifier_for(ctx, now), force=True,
                            only=frozenset({department})).as_dict()
    return {"recorded": recorded, "dispatch": sent}


def audit_form(ctx: Context, form: str, entity: str, key: str, params: dict,
               outcome: dict) -> None:
    """Record an office action taken through a Prefect form (登记报送, 审批延期, …) in the audit
    trail with the flow run that did it: whoever holds the API credential acts as the office, so
    the run id is what ties an entry to a click in the UI (and to the run's logs)."""
    from prefect.runtime import deployment, flow_run

    with ctx.db.session() as session:
        record_audit(session, f"prefect:{flow_run.id or '-'}", form, entity, key, utcnow(),
                     flow_run_id=str(flow_run.id or ""), flow_run_name=flow_run.name or "",
                     deployment=str(deployment.name or ""), params=params,
                     outcome={k: v for k, v in outcome.items() if k in AUDITED_OUTCOME})


AUDITED_OUTCOME = ("error", "field", "state", "replayed", "request_id", "occurrence_id",
                   "report_id", "due_on")
