"""Run names and states say what happened, including deliveries that did not go out."""

from __future__ import annotations

import asyncio

import pytest
from prefect.states import State
from sqlalchemy import select

from duban.ledger.models import Delivery, OutboxMessage
from flows import dispatch_flow, office_entry
from flows.actions import action_flow
from tests.prefect.conftest import PLAN, count, flow_run_name

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("harness")]


def run(flow, **params) -> State:
    return asyncio.run(flow(**params, return_state=True))


def run_id(state: State):
    return state.state_details.flow_run_id


def test_a_digest_with_no_route_names_who_was_not_reached(ledger, duban_env, monkeypatch,
                                                          people_hook) -> None:
    notify = duban_env / "only.yaml"  # only the city bureau and the office have a channel
    notify.write_text("version: 1\nurls:\n  - outbox://:\n      tag: mzj, office\n"
                      f"  - json://127.0.0.1:{people_hook.port}/people:\n      tag: mzj, office\n",
                      encoding="utf-8")
    monkeypatch.setenv("DUBAN_NOTIFY_CONFIG", str(notify))
    assert run(action_flow, plan=PLAN, action=2, as_of="2023-10-09").name == "有逾期"
    state = run(dispatch_flow, as_of="2023-10-09")
    assert state.is_completed() and state.name == "有未送达", state
    result = state.result()
    assert result["status"]["sent"] == 2 and result["status"]["unroutable"] > 5
    assert len(result["undelivered"]) == result["status"]["unroutable"]
    assert {u["state"] for u in result["undelivered"]} == {"unroutable"}
    assert "无送达渠道" in state.message and "未送达：" in state.message
    names = {u["name"] for u in result["undelivered"]}
    assert "督查人员" in names or "泰山区民政局" in names
    assert any(name in state.message for name in names)
    assert flow_run_name(run_id(state)) == "发送督办汇总 2023-10-09"
    with ledger.db.session() as s:
        unroutable = s.scalars(select(Delivery.recipient)
                               .where(Delivery.status == "unroutable")).all()
    assert sorted(unroutable) == sorted(u["recipient"] for u in result["undelivered"])
    assert count(ledger, OutboxMessage) == 2  # 市民政局 and the office


def test_office_entry_runs_are_named_by_department_and_day(ledger) -> None:
    state = run(office_entry, department="mzj", occurrence=987654, kind="done", as_of="2023-10-09")
    assert state.is_failed() and state.name == "未登记" and "987654" in state.message
    assert flow_run_name(run_id(state)) == "登记报送 mzj 2023-10-09"
