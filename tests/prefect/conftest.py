"""Fixtures for the Prefect layer: one test harness server for the session, a ledger per test.

The harness (a temporary Prefect server on a free port, ~8 s to start) is shared by every test in
this folder that asks for it; each test gets its own SQLite ledger through the DUBAN_* variables,
which is what the tasks read (Context.from_env()).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from duban.service import Context, setup
from tests.support.ledger import LOADED_AT
from tests.support.paths import CONFIG_DIR
from tests.support.receivers import HttpReceiver


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
