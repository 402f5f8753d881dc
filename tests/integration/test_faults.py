"""The fault-injection suite's quick form (the whole matrix: `python -m tools.faults`): a dispatch
killed with SIGKILL mid-send, and a database outage mid-record, on SQLite and PostgreSQL; after
recovery every owed digest arrived, none was lost, duplicates stay within the in-flight bound."""

from __future__ import annotations

import pytest

from duban.chase.faults import KILL_POINTS
from tools.faults import CONCURRENCY, Scenario, run_scenario


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """run_scenario points DUBAN_* at its ledger: registered here so they are restored."""
    for name in ("HOME", "DATABASE_URL", "NOTIFY_CONFIG", "DISPATCH_LEASE_SECONDS",
                 "DELIVERY_RETRY_SECONDS", "FAULT_DINGTALK_URL"):
        monkeypatch.setenv(f"DUBAN_{name}", "")
    return tmp_path


def _check(scenario: Scenario, workdir) -> None:
    outcome = run_scenario(scenario, workdir)
    assert outcome.crashed, outcome.notes
    assert outcome.owed > 10 and outcome.delivered == outcome.owed
    assert outcome.lost == 0
    assert 1 <= outcome.duplicates <= CONCURRENCY or scenario.outage_at


def test_kill_points_are_enumerated_and_many() -> None:
    assert len(set(KILL_POINTS)) == len(KILL_POINTS) >= 20


def test_sqlite_killed_mid_send_recovers(workdir, sqlite_url) -> None:
    _check(Scenario("kill -9 after a batch was sent", "sqlite", kill_at="send.returned@2"),
           workdir)


@pytest.mark.postgres
def test_postgres_backends_terminated_mid_record_recovers(workdir, postgres_admin_url) -> None:
    _check(Scenario("pg_terminate_backend mid-record", "postgres",
                    outage_at="record.digest_state@3"), workdir)
