"""The flows under Prefect's test harness, against a real SQLite ledger and the built-in outbox."""

from __future__ import annotations

import asyncio

import pytest
import yaml

from duban.ledger.models import OutboxMessage, Reminder
from flows import daily_flow, dispatch_flow, remind_flow
from flows.actions import action_flow
from tests.support.ledger import PLAN
from tests.support.paths import CONFIG_DIR
from tests.support.prefect_runs import count, flow_run_name, run, run_id, task_run_count

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("harness")]



def test_every_action_flow_reports_overdue_on_2023_10_09(ledger) -> None:
    plan = yaml.safe_load((CONFIG_DIR / "plans" / "2023.yaml").read_text("utf-8"))
    titles = [a["title"] for a in plan["actions"]]
    for no in range(1, len(titles) + 1):
        state = run(action_flow, plan=PLAN, action=no, as_of="2023-10-09")
        assert state.is_failed() and state.name == "有逾期", (no, state)  # red on the Dashboard
        (result,) = state.result(raise_on_failure=False)
        assert result["action"] == no and result["title"] == titles[no - 1]
        assert result["states"]["overdue"] > 0 and result["recorded"] == result["owed"]
        assert flow_run_name(run_id(state)) == f"{no:02d} {titles[no - 1]} 2023-10-09"
    assert count(ledger, Reminder) > 0
    assert count(ledger, OutboxMessage) == 0  # deciding is not sending


def test_a_holiday_skips_itself_without_a_task_run(ledger) -> None:
    state = run(action_flow, plan=PLAN, action=2, as_of="2023-10-01")
    assert state.is_completed() and state.name == "非工作日"
    assert "2023-10-01" in state.message
    assert count(ledger, Reminder) == 0
    assert task_run_count(run_id(state), expected_at_least=0) == 0


def test_an_adjusted_working_saturday_is_chased(ledger) -> None:
    state = run(action_flow, plan=PLAN, action=2, as_of="2023-10-07")  # 国庆 调休: workday
    assert state.name == "有逾期"
    (result,) = state.result(raise_on_failure=False)
    assert result["workday"] is True and count(ledger, Reminder) > 0


def test_task_runs_per_flow_run_do_not_grow_with_the_reminders(ledger) -> None:
    few = run(action_flow, plan=PLAN, action=2, as_of="2023-06-26")
    many = run(action_flow, plan=PLAN, action=2, as_of="2023-10-09")
    assert few.name == "正常" and few.result()[0]["owed"] == 0
    assert many.result(raise_on_failure=False)[0]["owed"] > 100
    sent = run(dispatch_flow, as_of="2023-10-09")
    assert sent.name == "已发送" and sent.result()["digests"] > 5
    # action: chase + publish (events, artifacts); dispatch: send + publish the board
    assert [task_run_count(run_id(s), 2) for s in (few, many, sent)] == [2, 2, 2]


def test_a_second_chase_and_dispatch_the_same_day_add_nothing(ledger) -> None:
    first = run(action_flow, plan=PLAN, action=2, as_of="2023-10-09")
    first = first.result(raise_on_failure=False)[0]
    assert run(dispatch_flow, as_of="2023-10-09").name == "已发送"
    reminders, messages = count(ledger, Reminder), count(ledger, OutboxMessage)
    again = run(action_flow, plan=PLAN, action=2, as_of="2023-10-09")
    again = again.result(raise_on_failure=False)[0]
    assert again["recorded"] == 0 and again["skipped"] == first["owed"]
    nothing = run(dispatch_flow, as_of="2023-10-09")
    assert nothing.name == "无待发" and nothing.result()["digests"] == 0
    assert (count(ledger, Reminder), count(ledger, OutboxMessage)) == (reminders, messages)


def test_dispatch_skips_a_holiday_unless_forced(ledger) -> None:
    assert run(dispatch_flow, as_of="2023-10-02").name == "非工作日"
    forced = run(dispatch_flow, as_of="2023-10-02", force=True)
    assert forced.is_completed() and forced.name in ("已发送", "无待发")


def test_a_dry_run_records_nothing(ledger) -> None:
    state = run(action_flow, plan=PLAN, action=2, as_of="2023-10-09", dry_run=True)
    assert state.name == "有逾期" and "演练" in state.message
    (result,) = state.result(raise_on_failure=False)
    assert result["owed"] > 0 and result["recorded"] == 0
    assert count(ledger, Reminder) == 0
    assert flow_run_name(run_id(state)) == "02 社区养老服务行动 2023-10-09（演练）"


def test_manual_urging_records_and_sends_at_once(ledger) -> None:
    state = run(remind_flow, 单位代码="mzj", 行动序号=2, 附言="请于周五前报送",
                催办日期="2023-10-09")
    assert state.is_completed() and state.name == "已催办", state
    outcome = state.result()
    assert outcome["recorded"] > 0 and outcome["dispatch"]["digests"] >= 1
    assert count(ledger, OutboxMessage) == outcome["dispatch"]["digests"]
    assert flow_run_name(run_id(state)) == "手动催办 mzj 2023-10-09"
    assert task_run_count(run_id(state)) == 1


@pytest.mark.parametrize(("params", "named"), [
    ({"单位代码": "nosuch"}, "nosuch"),
    ({"单位代码": "mzj", "事项编号": 987654}, "987654"),
])
def test_manual_urging_that_matches_nothing_fails_clearly(ledger, params, named) -> None:
    state = run(remind_flow, **params, 催办日期="2023-10-09")
    assert state.is_failed() and state.name == "未催办"
    assert state.message.startswith("未催办：") and named in state.message
    assert count(ledger, Reminder) == 0


def test_the_day_is_one_parent_run_each_action_a_subflow_then_the_digest(ledger) -> None:
    state = run(daily_flow, as_of="2023-10-09", actions=[2, 5])
    # the day has overdue items: the parent is 有逾期 (Failed-type, red), not 运行出错
    assert state.name == "有逾期" and state.is_failed(), state
    data = state.result(raise_on_failure=False)
    assert [(r["plan"], r["action"]) for r in data["runs"]] == [(PLAN, 2), (PLAN, 5)]
    assert data["dispatch"]["state"] == "已发送" and count(ledger, OutboxMessage) > 0
    children = subflow_runs(run_id(state))
    names = [c.name for c in sorted(children, key=lambda c: c.start_time)]
    assert names == ["02 社区养老服务行动 2023-10-09", "05 社区就业服务行动 2023-10-09",
                     "发送督办汇总 2023-10-09"]
    digest = max(children, key=lambda c: c.start_time)
    assert all(c.end_time <= digest.start_time for c in children if c is not digest)


def test_a_day_off_is_one_run_that_chases_and_sends_nothing(ledger) -> None:
    state = run(daily_flow, as_of="2023-10-02", actions=[2, 5])  # 国庆: a Monday off
    assert state.is_completed() and state.name == "非工作日", state
    assert "不发送汇总" in state.message and "督办总览已更新" in state.message
    data = state.result()
    assert data["dispatch"] is None
    assert [(r["action"], r["state"], r["data"]) for r in data["runs"]] == [
        (2, "非工作日", []), (5, "非工作日", [])]
    assert subflow_runs(run_id(state)) == []  # no subflow that would only skip itself
    assert task_run_count(run_id(state)) == 1  # the board, for items falling overdue meanwhile
    assert count(ledger, Reminder) == 0 and count(ledger, OutboxMessage) == 0


def subflow_runs(parent_id):
    """The flow runs whose parent task run belongs to this flow run."""
    async def read():
        from prefect import get_client
        from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId

        async with get_client() as client:
            return await client.read_flow_runs(flow_run_filter=FlowRunFilter(
                parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[parent_id])))
    return asyncio.run(read())
