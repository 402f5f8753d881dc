"""Thin Prefect tasks over `duban.service`: one task run per batch, never per duty or message.

Tasks take strings and numbers (an as-of ISO instant, action numbers, a department code) and build
their Context from the environment (`task_context()`, once per process) and open their own
sessions: Prefect hashes task inputs and may run tasks in other threads, so sessions and clients
never cross this boundary. Per-item results live in the ledger; a task returns
the batch's summary as plain dicts (`ChaseResult.as_dict()`, `DispatchResult.as_dict()`).
"""

from __future__ import annotations

import threading
from datetime import date

from prefect import task
from prefect.cache_policies import NO_CACHE

from duban import service
from duban.calendar.clock import local_day, parse_as_of
from duban.service import Context
from duban.settings import Settings
from notifications import notifier_for

# (database URL, config dir, local day) already set up by this process. Served and deployed runs
# each get a fresh process, so this means "once per flow run" there; `duban chase` runs 17 flows
# in one process and sets up once.
_READY: set[tuple[str, str, date]] = set()
_READY_LOCK = threading.Lock()

_CONTEXTS: dict[Settings, Context] = {}


def task_context() -> Context:
    """Context.from_env(), one per settings per process: the plan config (~0.1 s to load and
    check) and the calendar's caches are shared by the tasks of a process (`duban chase` runs 35
    task runs in one; a served run is a process of its own, so a config change takes effect with
    the next run)."""
    settings = Settings.from_env()
    with _READY_LOCK:
        return _CONTEXTS.setdefault(settings, Context(settings))


def ensure_ready(ctx: Context, as_of: str) -> None:
    """Create or upgrade the schema and load the plan (idempotent), at most once per day here."""
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
    as_of: str, actions: list[int] | None = None, dry_run: bool = False
) -> list[dict]:
    """Classify the actions' occurrences and record the reminders owed at `as_of`.

    A dry run writes nothing (not even the plan load): it only needs the schema to exist.
    """
    ctx = task_context()
    if dry_run:
        ctx.db.create_schema()
    else:
        ensure_ready(ctx, as_of)
    results = service.chase(ctx, parse_as_of(as_of), actions, dry_run=dry_run)
    return [r.as_dict() for r in results]


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
    """Record manual urging for a department, then send it at once (dispatch with force).

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
    sent = service.dispatch(ctx, now, notifier_for(ctx, now), force=True).as_dict()
    return {"recorded": recorded, "dispatch": sent}
