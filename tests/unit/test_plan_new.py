"""`duban plan new YEAR --from PLAN`: same structure, dates moved, both plans valid together."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import yaml
from typer.testing import CliRunner

from cli import app
from tests.support.paths import REPO

runner = CliRunner()


def test_new_plan_is_a_draft_to_review(tmp_path: Path, monkeypatch) -> None:
    """Dates move; the document number and date are left to fill; text naming 2023 is listed;
    the number of items that would start overdue today is given; check refuses it unreviewed."""
    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config)
    monkeypatch.setenv("DUBAN_CONFIG_DIR", str(config))
    result = runner.invoke(app, ["plan", "new", "2024", "--from", "2023"])
    assert result.exit_code == 0, result.output
    path = config / "plans" / "2024.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    plan = data["plan"]
    assert (plan["key"], plan["year"], plan["draft"]) == ("taimin-2024-12", 2024, True)
    assert plan["doc_no"] == plan["issued"] == "待填写"  # not invented
    assert "ladder_from" not in plan  # late-start protection is the default at activation
    assert str(plan["starts"]) == "2024-06-01" and str(plan["ends"]) == "2024-12-31"
    assert plan["title"].startswith("2024年")
    assert [a["title"] for a in data["actions"]][1] == "社区养老服务行动"
    assert "全市 2023 年改造" in data["actions"][1]["clause"]  # kept as written, and flagged:
    assert "行动2 条款" in result.output and "含 2023 年" in result.output
    assert re.search(r"有 \d+ 项已逾期", result.output)  # 2024 is over: all would start late
    assert "默认自启用之日起" in result.output and "--from-deadlines" in result.output
    check = runner.invoke(app, ["plan", "check", str(config)])
    assert check.exit_code == 1 and "plan.doc_no" in check.output and "待填写" in check.output
    text = path.read_text(encoding="utf-8").replace("doc_no: 待填写", "doc_no: 泰民〔2024〕3号")
    text = text.replace("issued: 待填写", "issued: 2024-05-30")
    path.write_text(text, encoding="utf-8")
    check = runner.invoke(app, ["plan", "check", str(config)])
    assert check.exit_code == 0, check.output
    assert "泰民〔2024〕3号" in check.output and "泰民〔2023〕12号" in check.output
    assert "草稿" in check.output
    again = runner.invoke(app, ["plan", "new", "2024", "--from", "2023"])
    assert again.exit_code == 1 and "exists" in again.output


def test_a_plan_not_yet_started_needs_no_ladder_from(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DUBAN_CONFIG_DIR", str(REPO / "config"))
    out = tmp_path / "2099.yaml"
    result = runner.invoke(app, ["plan", "new", "2099", "--from", "2023", "--out", str(out)])
    assert result.exit_code == 0, result.output
    plan = yaml.safe_load(out.read_text(encoding="utf-8"))["plan"]
    assert "ladder_from" not in plan and "已逾期" not in result.output


def test_unknown_source_is_named(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DUBAN_CONFIG_DIR", str(REPO / "config"))
    result = runner.invoke(app, ["plan", "new", "2024", "--from", "1999",
                                 "--out", str(tmp_path / "x.yaml")])
    assert result.exit_code == 1 and "'1999'" in result.output
