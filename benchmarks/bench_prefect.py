"""Prefect's share of an action flow on a synthetic ledger, and the per-occurrence baseline.

1. batched: the real action flow (flows.actions.action_flow, action 1) over N synthetic open
   occurrences of action 1 (benchmarks/synthetic.py), run through Prefect; its task runs are
   counted through the client once the server has recorded them;
2. baseline: the same N occurrences (a copy of the same ledger) through a deliberately naive flow
   defined here, one Prefect task run per occurrence, each calling the same core
   (duban.chase.occurrences.classify, duban.chase.ladder.ladder_steps and .record_owed)
   for its one item.

Both run under one temporary Prefect server (prefect_test_harness, SQLite). Prints one JSON line
of figures; asserts nothing about timing.

    .venv/bin/python benchmarks/bench_prefect.py [--occurrences 10000] [--settle 600]

The synthetic ledger is already set up (schema and plan), so the benchmark tells tasks.chase so:
otherwise the flow's first task would also load the 2023 plan into it, and action 1 would then
hold more than N occurrences.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import tempfile
import time
from functools import lru_cache
from pathlib import Path
from uuid import UUID

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = ROOT / "config"
sys.path.insert(0, str(ROOT))

from prefect import flow, get_client, task  # noqa: E402
from prefect.cache_policies import NO_CACHE  # noqa: E402
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId  # noqa: E402
from sqlalchemy import select  # noqa: E402

from benchmarks.synthetic import DAY, NOW, PLAN_KEY, populate  # noqa: E402
from duban.calendar.clock import local_day, parse_as_of  # noqa: E402
from duban.chase.ladder import OpenItem, ladder_steps, record_owed  # noqa: E402
from duban.chase.occurrences import classify  # noqa: E402
from duban.ledger.models import Action, Department, Duty, Occurrence, Plan  # noqa: E402
from duban.service import Context  # noqa: E402

AS_OF = NOW.isoformat()


@lru_cache(maxsize=1)
def _context(url: str) -> Context:
    """One Context per process for the naive tasks: the baseline should measure one task run per
    item, not re-reading the config 10,000 times."""
    return Context.from_env()


@task(name="逐项判定", cache_policy=NO_CACHE)
def chase_one(as_of: str, occurrence_id: int) -> int:
    """One occurrence through the ladder; returns how many reminders it recorded."""
    ctx = _context(os.environ["DUBAN_DATABASE_URL"])
    now = parse_as_of(as_of)
    today = local_day(now)
    with ctx.db.session() as s:
        row = s.execute(
            select(Occurrence.status, Occurrence.due_on, Occurrence.closed_on,
                   Occurrence.acknowledged_until, Duty.warn_days, Department.code,
                   Department.city_counterpart_id, Action.department_codes)
            .join(Duty, Occurrence.duty_id == Duty.id)
            .join(Action, Duty.action_id == Action.id)
            .join(Department, Occurrence.department_id == Department.id)
            .where(Occurrence.id == occurrence_id)
        ).one()
        status, due_on, closed_on, ack_until, warn_days, code, parent_id, leads = row
        classify(due_on, closed_on, today, warn_days, ctx.calendar)
        if status != "open":
            return 0
        lead = s.get(Department, parent_id).code if parent_id else leads[0]
        item = OpenItem(occurrence_id, code, lead, due_on, ack_until)
        owed = list(ladder_steps(item, today, ctx.config.ladder.ladder, ctx.calendar))
        return record_owed(s, owed, today, now)


@flow(name="逐项判定（基准）")
def naive_action(as_of: str, action_no: int = 1) -> dict:
    """Sync on purpose: a sync task costs ~14 ms per call in a sync flow here and ~100 ms in an
    async one (see task_call_ms_*), so this is the baseline's cheapest form."""
    ctx = _context(os.environ["DUBAN_DATABASE_URL"])
    with ctx.db.session() as s:
        ids = list(s.scalars(
            select(Occurrence.id).join(Duty, Occurrence.duty_id == Duty.id)
            .join(Action, Duty.action_id == Action.id).join(Plan, Duty.plan_id == Plan.id)
            .where(Action.no == action_no, Plan.active.is_(True)).order_by(Occurrence.id)))
    return {"recorded": sum(chase_one(as_of, occ) for occ in ids), "task_runs": len(ids)}


def use_ledger(url: str, home: Path) -> None:
    """Point the flows at `url` (DUBAN_*), and mark it set up for this day (see the docstring)."""
    from tasks import chase as chase_tasks

    os.environ.update(DUBAN_HOME=str(home), DUBAN_DATABASE_URL=url,
                      DUBAN_CONFIG_DIR=str(CONFIG_DIR),
                      DUBAN_NOTIFY_CONFIG=str(CONFIG_DIR / "notify.yaml"))
    _context.cache_clear()
    chase_tasks._READY.add((url, str(CONFIG_DIR), DAY))


async def count_task_runs(
    flow_run_id: UUID, at_least: int, settle: float, plateau: float = 120.0, hold: float = 2.0
) -> tuple[int, float]:
    """Task runs of one flow run as the server has recorded them, polled until the count has
    held for `hold` s with at least `at_least`; or held for `plateau` s below it (the server stopped
    recording); or `settle` seconds passed. Returns (count, seconds waited)."""
    started = time.perf_counter()
    previous, steady = -1, started
    run_filter = FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
    async with get_client() as client:
        while True:
            answer = await client.request(
                "POST", "/task_runs/count", json={"flow_runs": run_filter.model_dump(mode="json")})
            answer.raise_for_status()
            count = int(answer.json())
            now = time.perf_counter()
            if count != previous:
                previous, steady = count, now
            held = now - steady
            if (count >= at_least and held >= hold) or held >= plateau or now - started > settle:
                return count, round(now - started, 1)
            await asyncio.sleep(0.5)


@task(name="空任务", cache_policy=NO_CACHE)
def noop(i: int) -> int:
    return i


@flow(name="空任务（异步流程）")
async def noop_async(n: int) -> float:
    started = time.perf_counter()
    for i in range(n):
        noop(i)
    return time.perf_counter() - started


@flow(name="空任务（同步流程）")
def noop_sync(n: int) -> float:
    started = time.perf_counter()
    for i in range(n):
        noop(i)
    return time.perf_counter() - started


async def task_call_ms(n: int) -> dict:
    """Client-side cost of one sync task run called from an async vs a sync flow, timed inside
    the flow body (so the flow run's own start and end are left out)."""
    spent_async = await noop_async(n)
    spent_sync = await asyncio.to_thread(noop_sync, n)
    return {"task_call_ms_async_flow": round(spent_async / n * 1000, 1),
            "task_call_ms_sync_flow": round(spent_sync / n * 1000, 1)}


async def timed(call) -> tuple[object, float]:
    started = time.perf_counter()
    state = await call(return_state=True)
    return state, time.perf_counter() - started


async def bench(folder: Path, occurrences: int, settle: float, probe: int) -> dict:
    from flows.actions import action_flow

    plan = PLAN_KEY  # the synthetic ledger's plan (the shipped config's plan is not in it)


    first = folder / "batched.db"
    db = populate(f"sqlite:///{first}", occurrences)
    db.dispose()  # the last connection checkpoints the WAL: the file alone is the ledger
    shutil.copy(first, folder / "naive.db")

    use_ledger(f"sqlite:///{first}", folder / "batched")
    batched, batched_s = await timed(
        lambda **kw: action_flow(plan=plan, action=1, as_of=AS_OF, **kw))
    batched_result = await batched.aresult(raise_on_failure=False)
    batched_id = batched.state_details.flow_run_id
    # 有逾期 is a Failed-type state carrying the chase's results (flows/states.py); an error
    # (运行出错) carries an exception instead
    recorded = (sum(r["recorded"] for r in batched_result)
                if isinstance(batched_result, list) else None)
    tasks, tasks_wait = await count_task_runs(batched_id, 1, settle, hold=5.0)

    use_ledger(f"sqlite:///{folder / 'naive.db'}", folder / "naive")
    naive, naive_s = await timed(lambda **kw: asyncio.to_thread(naive_action, as_of=AS_OF, **kw))
    naive_result = await naive.aresult(raise_on_failure=False)
    naive_ok = naive.is_completed()
    naive_tasks, naive_wait = await count_task_runs(naive.state_details.flow_run_id,
                                                    occurrences, settle)
    return {
        **await task_call_ms(probe),
        "occurrences": occurrences,
        "batched_state": batched.name, "batched_s": round(batched_s, 2),
        "batched_task_runs": tasks, "batched_recorded": recorded,
        "naive_state": naive.name, "naive_s": round(naive_s, 2),
        "naive_task_runs_called": naive_result["task_runs"] if naive_ok else None,
        "naive_task_runs": naive_tasks,
        "naive_recorded": naive_result["recorded"] if naive_ok else None,
        "naive_server_settle_s": naive_wait, "batched_server_settle_s": tasks_wait,
        "ratio": round(naive_s / batched_s, 1) if batched_s else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--occurrences", type=int, default=10_000)
    parser.add_argument("--probe", type=int, default=200,
                        help="empty task runs timed in an async and in a sync flow")
    parser.add_argument("--settle", type=float, default=600.0,
                        help="seconds to wait for the server to record every task run")
    args = parser.parse_args()
    from prefect.testing.utilities import prefect_test_harness

    with tempfile.TemporaryDirectory(prefix="bench-prefect-") as tmp:
        started = time.perf_counter()
        with prefect_test_harness(server_startup_timeout=180):
            harness_s = time.perf_counter() - started
            figures = asyncio.run(bench(Path(tmp), args.occurrences, args.settle, args.probe))
    figures["harness_start_s"] = round(harness_s, 1)
    print(json.dumps(figures, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
