"""Every department the seed lists under an action owes at least one duty for it (按职责落实).

The department lists are parsed from the seed's own text (the closing parenthesis of each
numbered action paragraph), not typed in here, and compared with the duties the shipped config
derives: a department owes a duty when it owns a milestone or a target of the action.
"""

from __future__ import annotations

import re
from functools import cache

import pytest

from duban.plan.config import PlanConfig, load_config
from duban.plan.duties import derive_duties
from tests.support.paths import CONFIG_DIR
from tests.support.paths import SEED as SEED_FILE

DIGITS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
# an action paragraph: a Chinese ordinal, 、, the title ending in 行动, 。
HEADING = re.compile(r"(?m)^([一二三四五六七八九十]{1,3})、([^。、\n]{2,30}?行动)。")
# its closing parenthesis: （A、B、C按职责落实） or （A落实）
RESPONSIBLE = re.compile(r"（([^（）]+?)(?:按职责)?落实）")


def cn_number(text: str) -> int:
    """一 .. 九十九 as an int (十 = 10, 十七 = 17, 二十 = 20)."""
    if "十" not in text:
        return DIGITS[text]
    tens, _, units = text.partition("十")
    return (DIGITS[tens] if tens else 1) * 10 + (DIGITS[units] if units else 0)


@cache
def seed_department_lists() -> dict[int, list[str]]:
    """Action number -> the departments its paragraph names (as written, lead first)."""
    text = re.sub(r"[ \t\u3000]+", "", SEED_FILE.read_text(encoding="utf-8"))
    headings = list(HEADING.finditer(text))
    lists: dict[int, list[str]] = {}
    for i, heading in enumerate(headings):
        end = headings[i + 1].start() if i + 1 < len(headings) else len(text)
        paragraph = text[heading.start():end]
        found = RESPONSIBLE.findall(paragraph)
        assert found, f"action {heading.group(1)} names no responsible department"
        lists[cn_number(heading.group(1))] = found[-1].split("、")
    return lists


@cache
def config() -> PlanConfig:
    return load_config(CONFIG_DIR)


def owing_city_departments(no: int) -> set[str]:
    """City department codes owing at least one duty of action `no`: a milestone's owner, a
    target's owner (whose county and zone bodies, or the body standing in for them, report its
    progress; a fallback body reporting for it does not make its own department owe)."""
    cfg = config()
    action = next(a for a in cfg.plan().actions if a.no == no)
    lead = cfg.registry.resolve(action.departments[0])
    target_owner = {t.key: cfg.registry.resolve(t.owner) if t.owner else lead
                    for t in action.targets}
    owners: set[str] = set()
    for duty in derive_duties(cfg, cfg.plan()):
        if duty.action_no != no:
            continue
        if duty.target_key is not None:
            owners.add(target_owner[duty.target_key])
        else:
            owners.update(duty.owner_codes)
    return owners


def test_the_seed_parses_into_every_action() -> None:
    lists = seed_department_lists()
    assert sorted(lists) == [a.no for a in config().plan().actions]
    assert all(lists.values())


@pytest.mark.parametrize("no", range(1, 18))
def test_every_listed_department_owes_a_duty(no: int) -> None:
    written = seed_department_lists()[no]
    action = next(a for a in config().plan().actions if a.no == no)
    assert action.departments == written  # the config lists what the seed lists
    resolve = config().registry.resolve
    codes = {form: resolve(form) for form in written}
    assert None not in codes.values(), codes
    owing = owing_city_departments(no)
    idle = [form for form, code in codes.items() if code not in owing]
    assert not idle, f"action {no}: listed but owing nothing: {idle}"
