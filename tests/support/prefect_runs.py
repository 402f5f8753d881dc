"""Prefect test helpers: run a flow under the harness, and read back what the server recorded
(task runs, names, artifacts, events), polling where the server records a moment later."""

from __future__ import annotations

import asyncio
from uuid import UUID

from prefect.client.schemas.objects import State
from sqlalchemy import func, select

from duban.service import Context


def run(flow, **params) -> State:
    """Run a flow (in the harness) and return its final state, failed or not."""
    return asyncio.run(flow(**params, return_state=True))


def run_id(state: State):
    return state.state_details.flow_run_id


def count(ctx: Context, model) -> int:
    with ctx.db.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def task_run_count(flow_run_id: UUID, expected_at_least: int = 1, wait: float = 30.0) -> int:
    """Task runs of one flow run, read back through the Prefect API.

    The server records task runs from events, a little after the flow run has finished: poll
    until at least `expected_at_least` are there and the count has held still for a second.
    """
    return asyncio.run(_settled_task_run_count(flow_run_id, expected_at_least, wait))


async def _settled_task_run_count(flow_run_id: UUID, at_least: int, wait: float) -> int:
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    previous, steady_since = -1, loop.time()
    async with get_client() as client:
        while True:
            runs = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            )
            now = loop.time()
            if len(runs) != previous:
                previous, steady_since = len(runs), now
            if (len(runs) >= at_least and now - steady_since >= 1.0) or now > deadline:
                return len(runs)
            await asyncio.sleep(0.2)


def flow_run_name(flow_run_id: UUID) -> str:
    return asyncio.run(_flow_run_name(flow_run_id))


async def _flow_run_name(flow_run_id: UUID) -> str:
    from prefect import get_client

    async with get_client() as client:
        return (await client.read_flow_run(flow_run_id)).name


def latest_artifacts(keys: list[str]) -> dict:
    """The latest artifact of each key, read back through the Prefect API, by key."""
    return asyncio.run(_latest_artifacts(keys))


async def _latest_artifacts(keys: list[str]) -> dict:
    from prefect import get_client
    from prefect.client.schemas.filters import (
        ArtifactCollectionFilter,
        ArtifactCollectionFilterKey,
    )

    async with get_client() as client:
        found = await client.read_latest_artifacts(artifact_filter=ArtifactCollectionFilter(
            key=ArtifactCollectionFilterKey(any_=keys)))
    return {a.key: a for a in found}


def read_events(wait_for: int = 1, wait: float = 30.0, **filters) -> list:
    """Events matching an EventFilter built from `filters`, through POST /api/events/filter.

    The server persists events in batches a moment after they arrive: poll until at least
    `wait_for` are there and the count has held still for a second."""
    return asyncio.run(_read_events(wait_for, wait, filters))


async def _read_events(at_least: int, wait: float, filters: dict) -> list:
    from prefect import get_client
    from prefect.events.filters import EventFilter

    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    previous, steady_since = -1, loop.time()
    async with get_client() as client:
        while True:
            page = await client.read_events(filter=EventFilter(**filters), limit=50)
            events = list(page.events)
            while page.next_page and len(events) < page.total:
                page = await client.read_events_page(str(page.next_page))
                events += page.events
            now = loop.time()
            if len(events) != previous:
                previous, steady_since = len(events), now
            if (len(events) >= at_least and now - steady_since >= 1.0) or now > deadline:
                return events
            await asyncio.sleep(0.3)
