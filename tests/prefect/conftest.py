"""Fixtures for the Prefect layer: one test harness server for the session, a ledger per test.

The harness (a temporary Prefect server on a free port, ~8 s to start) is shared by every test in
this folder that asks for it; each test gets its own SQLite ledger through the DUBAN_* variables,
which is what the tasks read (Context.from_env()).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest
from sqlalchemy import func, select

from duban.service import Context, setup
from tests.conftest import LOADED_AT
from tests.support.paths import CONFIG_DIR

PLAN = "taimin-2023-12"  # the shipped plan's key: tests may name it, code may not

try:  # engineer "house" moves the receivers to tests/support
    from tests.support.receivers import HttpReceiver
except ImportError:  # pragma: no cover
    from tests.integration.receivers import HttpReceiver


@pytest.fixture(scope="session")
def harness() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def people_hook() -> Iterator[HttpReceiver]:
    """A local web hook standing for the people's channel (the outbox alone delivers nothing)."""
    with HttpReceiver() as http:
        yield http


@pytest.fixture
def duban_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, people_hook: HttpReceiver) -> Path:
    """DUBAN_* pointing at a fresh ledger under tmp_path; every recipient reaches a local web
    hook (a person-facing channel) and the outbox (the record)."""
    monkeypatch.setenv("DUBAN_HOME", str(tmp_path))
    monkeypatch.setenv("DUBAN_DATABASE_URL", f"sqlite:///{tmp_path / 'duban.db'}")
    monkeypatch.setenv("DUBAN_CONFIG_DIR", str(CONFIG_DIR))
    notify = tmp_path / "notify.yaml"
    notify.write_text("version: 1\nurls:\n  - outbox://:\n      tag: always\n"
                      f"  - json://127.0.0.1:{people_hook.port}/people:\n      tag: always\n",
                      encoding="utf-8")
    monkeypatch.setenv("DUBAN_NOTIFY_CONFIG", str(notify))
    monkeypatch.setenv("DUBAN_PORTAL_URL", "http://127.0.0.1:8000")
    return tmp_path


@pytest.fixture
def ledger(duban_env: Path) -> Context:
    """The 2023 plan loaded into the ledger the flows will open."""
    ctx = Context.from_env()
    setup(ctx, LOADED_AT)
    return ctx


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
