"""The fault-injection suite's quick form (the whole matrix: `python -m tools.faults`): a dispatch
killed with SIGKILL mid-send, killed after planning (its digests planned, none sent), and a
database outage mid-record (on PostgreSQL a private server restarted with `pg_ctl restart -m
immediate`); after recovery every owed digest arrived, no reminder was lost or voided, each
recipient has one digest of the day, duplicates stay within the in-flight bound."""

from __future__ import annotations

import os

import pytest

from duban.chase.faults import KILL_POINTS
from tools.faults import CONCURRENCY, PrivateServer, Scenario, run_scenario


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """run_scenario points DUBAN_* at its ledger: registered here so they are restored."""
    for name in ("HOME", "DATABASE_URL", "NOTIFY_CONFIG", "DISPATCH_LEASE_SECONDS",
                 "DELIVERY_RETRY_SECONDS", "FAULT_DINGTALK_URL"):
        monkeypatch.setenv(f"DUBAN_{name}", "")
    return tmp_path


def _check(scenario: Scenario, workdir, duplicates: bool = True) -> None:
    outcome = run_scenario(scenario, workdir)
    assert outcome.crashed, outcome.notes
    assert outcome.owed > 10 and outcome.delivered == outcome.owed
    assert outcome.lost == 0
    assert outcome.reminders > outcome.owed and outcome.lost_reminders == 0
    assert outcome.void == 0 and outcome.second == 0  # the same digests, none dropped
    assert outcome.duplicates <= CONCURRENCY
    if duplicates and not scenario.outage_at:
        assert outcome.duplicates >= 1  # it really died with messages on the wire


def test_kill_points_are_enumerated_and_many() -> None:
    assert len(set(KILL_POINTS)) == len(KILL_POINTS) >= 20


def test_sqlite_killed_mid_send_recovers(workdir, sqlite_url) -> None:
    _check(Scenario("kill -9 after a batch was sent", "sqlite", kill_at="send.returned@2"),
           workdir)


def test_sqlite_killed_after_planning_sends_the_planned_digests(workdir, sqlite_url) -> None:
    """Planned digests whose reminders wait for their send are not assembled a second time
    (that voided them, with nothing sent, and sent the same items as new digests)."""
    _check(Scenario("kill -9 after planning", "sqlite", kill_at="plan.committed"), workdir,
           duplicates=False)


@pytest.mark.postgres
def test_postgres_restarted_mid_record_recovers(workdir, postgres_admin_url) -> None:
    if not PrivateServer.available():  # Debian's postgresql package brings both tools
        reason = "initdb/pg_ctl are not installed (on PATH or /usr/lib/postgresql/*/bin)"
        if os.environ.get("DUBAN_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{reason}; DUBAN_REQUIRE_POSTGRES=1 makes this test mandatory")
        pytest.skip(reason)
    _check(Scenario("PostgreSQL restarted mid-record", "postgres",
                    outage_at="record.digest_state@3", restart=True), workdir)
