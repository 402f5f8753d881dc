"""Run names and states say what happened, including deliveries that did not go out."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from duban.ledger.models import Delivery, OutboxMessage
from flows import dispatch_flow, office_entry
from flows.actions import action_flow
from flows.states import combined_state, day_state, is_error, overdue_count
from tests.support.ledger import PLAN
from tests.support.prefect_runs import count, flow_run_name, read_events, run, run_id

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("harness")]



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
    state = run(office_entry, 单位代码="mzj", 事项编号=987654, 报送类型="办结",
                收到日期="2023-10-09")
    assert state.is_failed() and state.name == "未登记" and "987654" in state.message
    assert flow_run_name(run_id(state)) == "登记报送 mzj 2023-10-09"
    links = asyncio.run(run_artifacts(run_id(state)))
    assert any("/artifacts/key/00-duban-board" in (a.data or "") for a in links), links


async def run_artifacts(flow_run_id) -> list:
    from prefect import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    async with get_client() as client:
        return await client.read_artifacts(artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))


def test_a_day_with_overdue_items_ends_red_and_a_quiet_day_green(ledger) -> None:
    quiet = run(action_flow, plan=PLAN, action=2, as_of="2023-06-26")  # nothing overdue yet
    assert quiet.is_completed() and quiet.name == "正常", quiet
    late = run(action_flow, plan=PLAN, action=2, as_of="2023-10-09")
    assert late.is_failed() and late.name == "有逾期"  # the Dashboard counts FAILED as red
    (result,) = late.result(raise_on_failure=False)
    assert late.message.startswith(f"逾期 {result['states']['overdue']} 项；")
    assert not is_error(late) and overdue_count(late) == result["states"]["overdue"] > 0


def test_a_broken_run_is_told_apart_from_overdue(ledger, duban_env, monkeypatch) -> None:
    monkeypatch.setenv("DUBAN_CONFIG_DIR", str(duban_env / "no-such-config"))
    state = run(action_flow, plan=PLAN, action=2, as_of="2023-10-09")
    assert state.is_failed() and state.name == "运行出错" and is_error(state)
    assert state.message.startswith("运行出错：") and "no-such-config" in state.message
    # its own event, for an automation apart from 有逾期's
    events = read_events(resource={"id": [f"prefect.flow-run.{run_id(state)}"]}, wait_for=3)
    assert "prefect.flow-run.运行出错" in {e.event for e in events}, [e.event for e in events]


def test_a_parent_run_is_red_when_a_child_is_late_and_says_when_one_broke() -> None:
    from prefect.states import Completed, Failed

    late, fine = day_state(3, "x"), day_state(0, "y")
    assert combined_state([fine, late, day_state(2, "z")], "行动").name == "有逾期"
    assert overdue_count(combined_state([fine, late, day_state(2, "z")], "行动")) == 5
    assert combined_state([fine, Completed(name="正常")], "行动").is_completed()
    broken = combined_state([late, Failed(name="运行出错", message="运行出错：boom")], "行动")
    assert broken.name == "运行出错" and "boom" in broken.message


def test_a_number_the_form_cannot_read_is_refused_in_words(ledger) -> None:
    state = run(office_entry, 单位代码="mzj", 事项编号=1, 报送类型="报送进展", 数值="二百")
    assert state.is_failed() and state.name == "未登记" and "数值应为数字" in state.message


@pytest.mark.parametrize(("flow_name", "fields", "choices"), [
    ("office_entry", ["单位代码", "事项编号", "报送类型", "数值", "计量单位", "情况说明",
                      "佐证材料链接", "登记人", "收到日期", "分子", "分母"],
     ("报送类型", ["办结", "报送进展", "签收"])),
    ("extension_flow", ["申请编号", "审批结果", "审批意见", "审批人"],
     ("审批结果", ["批准", "驳回"])),
])
def test_the_office_forms_are_in_chinese_with_help_and_choices(flow_name, fields, choices) -> None:
    import flows

    schema = getattr(flows, flow_name).parameters.model_dump()
    props = schema["properties"]
    assert list(props) == fields and all(props[f]["title"] == f for f in fields)
    assert all(props[f].get("description") for f in fields)  # help under every field
    assert all(ord(c) > 0x2E80 for f in fields for c in props[f]["description"][:1])
    assert props[choices[0]]["enum"] == choices[1]
    assert all("anyOf" not in p and p.get("type") != "null" for p in props.values())  # no toggles
