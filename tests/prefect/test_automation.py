"""The README's automation, run as written against the harness server: created, listed, and it
notifies (a local receiver stands in for the DingTalk robot) when an item is escalated."""

from __future__ import annotations

import asyncio
import re

import pytest
from prefect.automations import Automation

from flows.actions import action_flow
from tests.support.ledger import PLAN
from tests.support.paths import REPO
from tests.support.receivers import HttpReceiver

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("harness")]

DINGTALK = "https://oapi.dingtalk.com/robot/send"


def readme_automation() -> str:
    """The README's one Python block that creates an automation, wherever its section is (the
    section was renamed once and a heading-based lookup broke with an IndexError)."""
    text = (REPO / "README.md").read_text("utf-8")
    blocks = [code for code in re.findall(r"```python\n(.*?)```", text, flags=re.S)
              if "Automation(" in code]
    assert len(blocks) == 1, f"README.md: {len(blocks)} python blocks with Automation(, not 1"
    return blocks[0]


def test_the_readme_automation_notifies_on_escalation(ledger) -> None:
    code = readme_automation()
    assert 'expect={"duban.item.escalated"}' in code and DINGTALK in code
    with HttpReceiver() as receiver:
        exec(compile(code.replace(DINGTALK, receiver.url("/robot/send")), "README.md", "exec"),
             {"__name__": "readme"})
        automation = Automation.read(name="督办升级通知督查人员")
        try:
            assert automation.enabled and automation.trigger.expect == {"duban.item.escalated"}
            state = asyncio.run(action_flow(plan=PLAN, action=4, as_of="2023-10-09",
                                            return_state=True))
            assert state.name == "有逾期"
            (first, *_) = receiver.wait_for(1, timeout=60, path="/robot/send")
        finally:
            automation.delete()
    assert first.query["access_token"] == "REPLACE-WITH-THE-ROBOT-ACCESS-TOKEN"
    content = first.json["text"]["content"]
    assert first.json["msgtype"] == "text"
    assert content.startswith("督办升级：") and "已逾期" in content and "个工作日" in content
    assert "{{" not in content
