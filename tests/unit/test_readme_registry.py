"""The shipped plan's actions in the config = the rows of the README's table, each numbered as its
deployment ("02 社区养老服务行动"); the README's first screen gives exactly the two commands, and
.ci/run calls the test one."""

from __future__ import annotations

import re

import yaml

from tests.support.paths import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def _config_actions() -> list[tuple[int, str]]:
    plan = yaml.safe_load((REPO / "config" / "plans" / "2023.yaml").read_text(encoding="utf-8"))
    return [(a["no"], a["title"]) for a in plan["actions"]]


def test_readme_table_lists_every_action_with_its_flow() -> None:
    rows = re.findall(r"^\| (\d+) \| (\S+) \| \S+ \| `(\d\d)` \|", README, re.M)
    assert [(int(no), title) for no, title, _ in rows] == _config_actions()
    assert [int(number) for _, _, number in rows] == [no for no, _ in _config_actions()]


def test_first_screen_has_exactly_the_two_commands() -> None:
    first_screen = README.split("\n## ")[0]
    commands = re.findall(r"^\./run \w+", first_screen, re.M)
    assert commands == ["./run up", "./run test"]
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "./run test" in ci and "DUBAN_REQUIRE_POSTGRES=1" in ci
