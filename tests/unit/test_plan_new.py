"""`duban plan new YEAR --from PLAN`: same structure, dates moved, both plans valid together."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml
from typer.testing import CliRunner

from cli import app
from tests.support.paths import REPO

runner = CliRunner()


def test_new_plan_moves_dates_and_checks_clean(tmp_path: Path, monkeypatch) -> None:
    config = tmp_path / "config"
    shutil.copytree(REPO / "config", config)
    monkeypatch.setenv("DUBAN_CONFIG_DIR", str(config))
    result = runner.invoke(app, ["plan", "new", "2024", "--from", "2023"])
    assert result.exit_code == 0, result.output
    data = yaml.safe_load((config / "plans" / "2024.yaml").read_text(encoding="utf-8"))
    plan = data["plan"]
    assert (plan["key"], plan["year"]) == ("taimin-2024-12", 2024)
    assert plan["doc_no"] == "泰民〔2024〕12号"
    assert str(plan["issued"]) == "2024-06-05" and str(plan["ends"]) == "2024-12-31"
    assert plan["title"].startswith("2024年")
    assert [a["title"] for a in data["actions"]][1] == "社区养老服务行动"
    check = runner.invoke(app, ["plan", "check", str(config)])
    assert check.exit_code == 0
    assert "泰民〔2024〕12号" in check.output and "泰民〔2023〕12号" in check.output
    again = runner.invoke(app, ["plan", "new", "2024", "--from", "2023"])
    assert again.exit_code == 1 and "exists" in again.output


def test_unknown_source_is_named(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DUBAN_CONFIG_DIR", str(REPO / "config"))
    result = runner.invoke(app, ["plan", "new", "2024", "--from", "1999",
                                 "--out", str(tmp_path / "x.yaml")])
    assert result.exit_code == 1 and "'1999'" in result.output
