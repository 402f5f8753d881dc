"""`duban chase` and `duban remind` in-process (typer's CliRunner) against the harness server.

--local: the harness is this process's Prefect server (tests/prefect/test_service_up.py runs them
against a real `duban up` without it)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import flows  # noqa: F401  Prefect sets up logging on first use: not inside CliRunner's streams
from cli import app
from duban.ledger.models import OutboxMessage, Reminder
from tests.support.prefect_runs import count

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("harness")]

runner = CliRunner()


def chase_json(*args: str) -> dict:
    result = runner.invoke(app, ["chase", "--local", "--as-of", "2023-10-09", "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_chase_reports_each_action_and_a_second_run_sends_nothing_new(ledger) -> None:
    report = chase_json()
    assert report["day"] == "2023-10-09" and report["workday"] is True
    assert [a["action"] for a in report["actions"]] == list(range(1, 18))  # the shipped plan
    elderly = report["actions"][1]
    assert elderly["title"] == "社区养老服务行动" and elderly["flow_state"] == "有逾期"
    assert elderly["states"]["overdue"] > 0 and elderly["recorded"] == elderly["owed"] > 0
    assert elderly["reminders"]["sent"] > 0 and elderly["reminders"]["skipped"] == 0
    assert report["dispatch"]["flow_state"] == "已发送" and report["dispatch"]["digests"] > 0
    messages = count(ledger, OutboxMessage)
    assert messages == report["dispatch"]["digests"]

    again = chase_json()
    assert all(a["recorded"] == 0 and a["reminders"]["skipped"] == a["owed"]
               for a in again["actions"])
    assert again["dispatch"]["digests"] == 0 and again["dispatch"]["flow_state"] == "无待发"
    assert count(ledger, OutboxMessage) == messages


def test_chase_text_lists_states_in_chinese(ledger) -> None:
    result = runner.invoke(app, ["chase", "--local", "--as-of", "2023-10-01", "--action", "2"])
    assert result.exit_code == 0, result.output
    assert "非工作日" in result.stdout and "社区养老服务行动" in result.stdout
    assert "逾期" in result.stdout and count(ledger, Reminder) == 0


def test_a_dry_run_records_and_sends_nothing(ledger) -> None:
    report = chase_json("--dry-run", "--action", "2", "--action", "5")
    assert report["dry_run"] is True and report["dispatch"] is None
    assert [a["action"] for a in report["actions"]] == [2, 5]
    assert all(a["owed"] > 0 and a["recorded"] == 0 for a in report["actions"])
    assert count(ledger, Reminder) == 0 and count(ledger, OutboxMessage) == 0


def test_an_unknown_action_number_is_refused(ledger) -> None:
    result = runner.invoke(app, ["chase", "--local", "--action", "18"])
    assert result.exit_code == 2 and "1 to 17" in result.output  # the shipped plan's numbers


def test_remind_a_department(ledger) -> None:
    # a department by its short name (or full name, alias or code), as the office writes it
    result = runner.invoke(app, ["remind", "--local", "市民政局", "--action", "2", "--note",
                                 "请报送"])
    assert result.exit_code == 0, result.output
    assert "已记录人工催办" in result.stdout and "（mzj）" in result.stdout
    assert "发出汇总" in result.stdout
    assert count(ledger, Reminder) > 0 and count(ledger, OutboxMessage) >= 1


def test_remind_an_unknown_department_fails_without_a_traceback(ledger) -> None:
    result = runner.invoke(app, ["remind", "--local", "nosuch"])
    assert result.exit_code == 1
    assert "没有名为“nosuch”的单位" in result.output and "Traceback" not in result.output
    assert count(ledger, Reminder) == 0


def test_without_a_running_service_a_command_says_so_and_stops(ledger) -> None:
    result = runner.invoke(app, ["chase", "--as-of", "2023-10-09"])
    assert result.exit_code == 1 and "duban up 未在运行" in result.output
    assert "--local" in result.output and "Traceback" not in result.output
    assert count(ledger, Reminder) == 0
