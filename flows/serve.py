"""Serve duban's deployments from one process (`duban up`) and keep the service honest.

`prefect.serve(..., pause_on_shutdown=False)` written out (Runner, add each deployment, start) so
that "ready" is announced after the deployments are registered. The deployments are exactly
flows.deployments.deployment_specs(ctx) (computed from the active plans); deployments of duban's
flows that are no longer in that list (a closed plan's actions, an old name) are deleted.
pause_on_shutdown=False: stopping `duban up` keeps the schedule, and a restart re-registers the
same flow + name pairs, which overwrites them instead of adding new ones.

Beside the runner, in the same event loop:
- the start-up catch-up: stale scheduled runs of the daily flow (days the service was down) are
  dropped and one run of 每日督办 starts now, so the board exists within a minute of start-up and
  a missed day is caught up once, never "skipped at capacity";
- the event relay: every few seconds the ledger's item_event outbox is drained into Prefect's
  event feed (tasks/events.py, same event ids, so still exactly once), so a report made on the
  page or the CLI shows in the feed within seconds, not with the next run;
- the zombie automation: a flow run whose heartbeats stop for 90 s (its process died) is set
  Crashed by the server itself.

Entrypoints are module paths (flows.actions.action_flow), so runs import the installed package
whatever the working directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from prefect import get_client
from prefect.automations import Automation, ChangeFlowRunState, EventTrigger
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterId,
    FlowFilter,
    FlowFilterName,
    FlowRunFilter,
    FlowRunFilterExpectedStartTime,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.deployments import arun_deployment
from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.exceptions import ObjectAlreadyExists
from prefect.runner import Runner
from prefect.schedules import Cron
from prefect.types._datetime import now as prefect_now

from duban.calendar.clock import TIMEZONE
from duban.service import Context
from flows.deployments import DAILY, Spec, deployment_specs, flow_names
from tasks.events import emit_pending

RUNNER_NAME = "duban"
INITIAL_TAG = "启动时补跑"
RELAY_SECONDS = 3.0
REGISTER_AT_ONCE = 4  # deployments registered concurrently (the server writes each one)
ZOMBIE_AUTOMATION = "无心跳的运行标记为崩溃"
ZOMBIE_AFTER = timedelta(seconds=90)  # three missed heartbeats (Prefect's minimum is 30 s)

log = logging.getLogger("duban.serve")


async def build_deployment(spec: Spec) -> RunnerDeployment:
    schedules = [Cron(spec.cron, timezone=TIMEZONE)] if spec.cron else []
    return await spec.flow.ato_deployment(
        name=spec.name, description=spec.description, parameters=spec.parameters,
        schedules=schedules, tags=list(spec.tags), concurrency_limit=spec.concurrency_limit,
        entrypoint_type=EntrypointType.MODULE_PATH,
    )


async def remove_stale(specs: list[Spec]) -> list[str]:
    """Delete deployments of duban's flows that are not in `specs`; returns their paths."""
    wanted = {s.path for s in specs}
    removed = []
    async with get_client() as client:
        found = await client.read_deployments(
            flow_filter=FlowFilter(name=FlowFilterName(any_=sorted(flow_names()))))
        flows = {f.id: f.name for f in await client.read_flows(
            flow_filter=FlowFilter(name=FlowFilterName(any_=sorted(flow_names()))))}
        for deployment in found:
            path = f"{flows.get(deployment.flow_id, '?')}/{deployment.name}"
            if path not in wanted:
                await client.delete_deployment(deployment.id)
                removed.append(path)
    return removed


async def drop_missed_runs() -> int:
    """Delete the daily flow's scheduled runs whose time has passed (the service was down): the
    catch-up run replaces them, once, instead of one run per missed day."""
    async with get_client() as client:
        deployment = await client.read_deployment_by_name(DAILY.path)
        runs = await client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment.id])),
            flow_run_filter=FlowRunFilter(
                state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.SCHEDULED])),
                expected_start_time=FlowRunFilterExpectedStartTime(before_=prefect_now("UTC"))))
        for run in runs:
            await client.delete_flow_run(run.id)
    return len(runs)


async def catch_up() -> Any:
    """One run of 每日督办 now (the day's chase, digest and board), publishing the board from the
    ledger as it stands first, so supervisors have it within seconds of the run starting."""
    await drop_missed_runs()
    return await arun_deployment(DAILY.path, timeout=0, tags=[INITIAL_TAG], as_subflow=False,
                                 parameters={"board_first": True})


async def ensure_zombie_automation() -> None:
    """Prefect's own crash detection: after a heartbeat, expect another heartbeat or a final
    state event within ZOMBIE_AFTER, per flow run; otherwise set the run Crashed."""
    automation = Automation(
        name=ZOMBIE_AUTOMATION,
        description="运行进程意外退出（心跳中断 90 秒）时，由服务器把该运行标记为 Crashed，"
        "不再显示为运行中。",
        trigger=EventTrigger(
            after={"prefect.flow-run.heartbeat"},
            expect={"prefect.flow-run.*"},
            match={"prefect.resource.id": "prefect.flow-run.*"},
            for_each={"prefect.resource.id"},
            posture="Proactive",
            threshold=1,
            within=ZOMBIE_AFTER,
        ),
        actions=[ChangeFlowRunState(
            state=StateType.CRASHED, name="Crashed",
            message="运行进程已退出（心跳中断），由服务器标记为崩溃。")],
    )
    async with get_client() as client:
        for existing in await client.read_automations_by_name(ZOMBIE_AUTOMATION):
            await client.delete_automation(existing.id)
    await automation.acreate()


async def relay_events(ctx: Context, every: float = RELAY_SECONDS) -> None:
    """Drain the ledger's item-event outbox into the event feed every few seconds, forever."""
    while True:
        try:
            await asyncio.to_thread(emit_pending, ctx, None, every * 10)
        except Exception:  # a database or network hiccup: try again next time
            log.exception("event relay: emitting the ledger's events failed")
        await asyncio.sleep(every)


async def serve_all(ctx: Context, limit: int, initial_runs: bool,
                    on_ready: Callable[[list[Spec], list[str]], None]) -> None:
    """Register the deployments, call on_ready(specs, removed), and run until stopped."""
    runner = Runner(name=RUNNER_NAME, pause_on_shutdown=False, limit=limit)
    specs = deployment_specs(ctx)
    gate = asyncio.Semaphore(REGISTER_AT_ONCE)

    async def register(spec: Spec) -> None:
        async with gate:
            await runner.aadd_deployment(await build_deployment(spec))

    await asyncio.gather(*(register(spec) for spec in specs), ensure_zombie_automation())
    removed = await remove_stale(specs)
    background = [asyncio.create_task(relay_events(ctx))]
    if initial_runs:
        background.append(asyncio.create_task(catch_up()))
    on_ready(specs, removed)
    try:
        await runner.start()
    finally:
        for job in background:
            job.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await job


def serve_forever(ctx: Context, limit: int, initial_runs: bool,
                  on_ready: Callable[[list[Spec], list[str]], None]) -> None:
    """Blocking: returns after SIGTERM (the runner stops gracefully) or raises KeyboardInterrupt."""
    asyncio.run(serve_all(ctx, limit, initial_runs, on_ready))


async def apply_to_pool(ctx: Context, pool: str) -> tuple[list[Spec], list[str]]:
    """`duban deploy`: the same deployments as `duban up` serves, applied to a work pool (its
    workers run them); stale ones removed. Returns (applied, removed)."""
    async with get_client() as client:
        with contextlib.suppress(ObjectAlreadyExists):
            await client.create_work_pool(WorkPoolCreate(name=pool, type="process"))
    specs = deployment_specs(ctx)
    for spec in specs:
        deployment = await build_deployment(spec)
        await deployment.apply(work_pool_name=pool)
    return specs, await remove_stale(specs)
