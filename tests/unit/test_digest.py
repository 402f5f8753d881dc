"""The digest's text with two active plans: each plan headed by name, its actions numbered within
it (two plans' 一、 never run together), one signature from the office's configured name."""

from __future__ import annotations

import re
from datetime import date

from duban.chase.digest import DigestItem, compose, plan_heading, signature

DAY = date(2026, 11, 30)
FIRST = plan_heading("甲方案", "甲〔2026〕1号")
SECOND = plan_heading("乙方案", "乙〔2026〕7号")


def _item(plan: str, no: int, title: str, duty: str, late: int) -> DigestItem:
    return DigestItem(action_no=no, action_title=title, duty_title=duty, deliverable="材料",
                      department_name="某单位", period="2026-10", due_on=date(2026, 11, 10),
                      overdue_days=late, level="urge", how_to_report="", plan=plan)


def test_two_plans_in_one_digest_are_headed_and_numbered_apart() -> None:
    items = [_item(FIRST, 1, "社区甲行动", "甲事项", 5),
             _item(SECOND, 1, "志愿乙行动", "乙事项", 3),
             _item(FIRST, 2, "社区丙行动", "丙事项", 1)]
    _, body = compose("某单位", DAY, items, False, sign=signature("某市某局督办办公室"))
    lines = body.splitlines()
    assert lines.count(FIRST) == 1 and lines.count(SECOND) == 1
    # under each heading its own sections: 一、二、 of the first plan, 一、 of the second
    first, second = lines.index(FIRST), lines.index(SECOND)
    sections = [(i, line) for i, line in enumerate(lines) if re.match(r"^[一二三]、", line)]
    assert [line for i, line in sections if first < i < second] == [
        "一、社区甲行动", "二、社区丙行动"]
    assert [line for i, line in sections if i > second] == ["一、志愿乙行动"]
    assert first < second  # the plan of the most urgent item first
    assert lines[-1] == "某市某局督办办公室 督办系统（duban）"


def test_the_signature_is_the_configured_office_only() -> None:
    _, body = compose("某单位", DAY, [_item(FIRST, 3, "社区甲行动", "甲事项", 0)], False)
    assert body.splitlines()[-1] == "督办系统（duban）"  # no office configured: no name invented
    _, notice = compose("某单位", DAY, [], False, notices=["提示"], sign=signature("办公室"))
    assert notice.splitlines()[-1] == "办公室 督办系统（duban）"
