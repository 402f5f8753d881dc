"""Serve every duban deployment from one process (`duban up`), with schedules in Asia/Shanghai.

This is `prefect.serve(..., pause_on_shutdown=False)` written out (Runner, add each deployment,
start) so that "ready" is announced after the deployments are registered and the first runs are
queued before the runner's first poll. pause_on_shutdown=False: stopping `duban up` keeps the
schedules and their upcoming runs, and a restart re-registers the same flow + "daily" pairs,
which overwrites them instead of adding new ones.

Entrypoints are module paths (flows.actions.action_02), so runs import the installed package
whatever the working directory.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from uuid import UUID

from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
from prefect.deployments import arun_deployment
from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.runner import Runner
from prefect.schedules import Cron

from duban.calendar.clock import TIMEZONE
from flows import ACTION_FLOWS, DEPLOYMENT_NAME, deployables, dispatch_flow

RUNNER_NAME = "duban"
INITIAL_TAG = "启动时运行"
INITIAL_WAIT = 600.0  # seconds the first dispatch waits for the first action runs to finish


async def build_deployments() -> list[RunnerDeployment]:
    deployments = []
    for item in deployables():
        schedules = [Cron(item.cron, timezone=TIMEZONE)] if item.cron else []
        deployments.append(await item.flow.ato_deployment(
            name=DEPLOYMENT_NAME, schedules=schedules, tags=["duban"],
            entrypoint_type=EntrypointType.MODULE_PATH,
        ))
    return deployments


def deployment_path(flow) -> str:
    return f"{flow.name}/{DEPLOYMENT_NAME}"


async def trigger_initial_runs(wait: float = INITIAL_WAIT, poll: float = 3.0) -> None:
    """Run every action once now, then the digest once they are done, so the UI is never empty
    (the digest publishes the 督办总览 board, on days off too).

    The on-demand flows (手动催办, 登记报送, 审批延期) are not triggered: they need parameters.
    The runs are the ordinary ones (dedup keys make a second chase on the same day record nothing
    new; a non-working day skips itself).
    """
    runs = [
        await arun_deployment(deployment_path(f), timeout=0, tags=[INITIAL_TAG], as_subflow=False)
        for f in ACTION_FLOWS
    ]
    await wait_until_final([r.id for r in runs], wait, poll)
    await arun_deployment(deployment_path(dispatch_flow), timeout=0, tags=[INITIAL_TAG],
                         as_subflow=False)


async def wait_until_final(ids: list[UUID], wait: float, poll: float) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    async with get_client() as client:
        while loop.time() < deadline:
            runs = await client.read_flow_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids))
            )
            if all(r.state is not None and r.state.is_final() for r in runs):
                return True
            await asyncio.sleep(poll)
    return False


async def serve_all(limit: int, initial_runs: bool, on_ready: Callable[[int], None]) -> None:
    """Register the deployments, call on_ready(count), and run scheduled work until stopped."""
    runner = Runner(name=RUNNER_NAME, pause_on_shutdown=False, limit=limit)
    deployments = await build_deployments()
    for deployment in deployments:
        await runner.aadd_deployment(deployment)
    on_ready(len(deployments))
    first = asyncio.create_task(trigger_initial_runs()) if initial_runs else None
    try:
        await runner.start()
    finally:
        if first is not None:
            first.cancel()


def serve_forever(limit: int, initial_runs: bool, on_ready: Callable[[int], None]) -> None:
    """Blocking: returns after SIGTERM (the runner stops gracefully) or raises KeyboardInterrupt."""
    asyncio.run(serve_all(limit, initial_runs, on_ready))
