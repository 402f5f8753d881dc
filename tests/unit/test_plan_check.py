"""`duban plan check`: every bad input named by file, field path and fault; never a traceback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli import app
from tests.support.paths import REPO

runner = CliRunner()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    shutil.copytree(REPO / "config", target)
    return target


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"fixture text {old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_shipped_config_is_good() -> None:
    result = runner.invoke(app, ["plan", "check", str(REPO / "config")])
    assert result.exit_code == 0, result.output
    assert "17 项行动" in result.output and "22 个量化指标" in result.output


CASES = [
    ("plans/2023.yaml", "value: 2200", "value: [1, 2", "2023.yaml", "bad YAML"),
    ("plans/2023.yaml", "[市民政局, 市市场监管局]", "[市民政局, 市外星局]",
     "actions[1].departments[1]", "unknown department '市外星局'"),
    ("plans/2023.yaml", "value: 2200", "value: 两千二", "actions[1].targets[0].value",
     "valid number"),
    ("plans/2023.yaml", "deadline: within_year\n        rollup: sum", "rollup: sum",
     "actions[0].targets[3].deadline", "Field required"),
    ("plans/2023.yaml", "key: elderly-home-adaptation", "key: community-workers-per-10k",
     "actions[1].targets[0].key", "duplicate key 'community-workers-per-10k'"),
    ("plans/2023.yaml", "title: 社区养老服务行动", "title: 社区养老服务行动\n    title: 又一个",
     "2023.yaml", "duplicate key 'title'"),
    ("departments.yaml", "code: mzj", "code: zzb", "departments", "duplicate code 'zzb'"),
    ("plans/2023.yaml", "op: at_least", "op: roughly", "actions[0].targets[0].op", "roughly"),
]


@pytest.mark.parametrize(("file", "old", "new", "where", "message"), CASES)
def test_bad_config_is_named(config: Path, file, old, new, where, message) -> None:
    _edit(config / file, old, new)
    result = runner.invoke(app, ["plan", "check", str(config)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert where in result.output and message in result.output, result.output
    assert file.split("/")[-1] in result.output


def test_every_problem_is_listed_at_once(config: Path) -> None:
    _edit(config / "plans/2023.yaml", "value: 2200", "value: x")
    _edit(config / "plans/2023.yaml", "value: 500", "value: y")
    result = runner.invoke(app, ["plan", "check", str(config)])
    assert result.exit_code == 1
    assert result.output.count("valid number") == 2


def test_missing_config_dir_is_named(tmp_path: Path) -> None:
    result = runner.invoke(app, ["plan", "check", str(tmp_path / "nope")])
    assert result.exit_code == 1 and "nope: not a directory" in result.output


def test_plan_show_json_shape() -> None:
    result = runner.invoke(app, ["plan", "show", str(REPO / "config"), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["plan"]["doc_no"] == "泰民〔2023〕12号" and data["plan"]["issued"] == "2023-06-05"
    assert len(data["actions"]) == 17
    elderly = data["actions"][1]
    assert elderly["title"] == "社区养老服务行动"
    assert elderly["departments"][0] == {"code": "mzj", "name": "泰安市民政局"}
    homes = next(t for t in elderly["targets"] if t["key"] == "elderly-home-adaptation")
    assert (homes["op"], homes["value"], homes["unit"]) == ("at_least", 2200, "户")
    ranged = data["actions"][9]["targets"][0]
    assert ranged["op"] == "range" and ranged["value"] == [10, 15]
    codes = {d["code"] for d in data["departments"]}
    assert {"mzj", "taishan-mzj", "dongping-wjw", "lndx"} <= codes
    assert "taishan-lndx" not in codes  # 市老年大学 has no county counterpart
    duty_kinds = {d["kind"] for d in elderly["duties"]}
    assert duty_kinds == {"target_progress", "target_final", "milestone_progress", "milestone"}


def test_every_command_has_an_example_in_its_help() -> None:
    commands = [["calendar"], ["status"], ["plan", "check"], ["plan", "show"], ["plan", "load"],
                ["db", "upgrade"]]
    for command in commands:
        result = runner.invoke(app, [*command, "--help"])
        assert result.exit_code == 0
        assert "Example: duban" in result.output or "Example:" in result.output, command
