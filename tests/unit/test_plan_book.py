"""The plan as a spreadsheet: export then import gives the same plan (2023's and a plan of another
shape); a filled-in template with mistakes is refused, each named by sheet, row and column."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from cli import app
from duban.plan.config import load_config
from tests.support.plans import FIRST_KEY, SECOND_KEY, two_plan_config

runner = CliRunner()


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = two_plan_config(tmp_path)
    monkeypatch.setenv("DUBAN_CONFIG_DIR", str(root))
    monkeypatch.setenv("DUBAN_HOME", str(tmp_path / "home"))
    return root


@pytest.mark.parametrize("key", [FIRST_KEY, SECOND_KEY])
def test_export_then_import_gives_the_same_plan(config: Path, tmp_path: Path, key: str) -> None:
    book = tmp_path / f"{key}.xlsx"
    exported = runner.invoke(app, ["plan", "export", key, str(book)])
    assert exported.exit_code == 0, exported.output
    sheets = load_workbook(book).sheetnames
    assert sheets == ["填写说明", "方案", "行动", "指标", "任务", "单位名录"]
    other = tmp_path / "other"  # the same registry, the imported plan file alone
    other.mkdir()
    (other / "plans").mkdir()
    for name in ("departments.yaml", "ladder.yaml"):
        (other / name).write_text((config / name).read_text(encoding="utf-8"), encoding="utf-8")
    imported = runner.invoke(app, ["plan", "import", str(book),
                                   "--out", str(other / "plans" / f"{key}.yaml")])
    assert imported.exit_code == 0, imported.output
    original = load_config(config).plan(key)
    again = load_config(other).plan(key)
    assert again == original
    assert again.model_dump() == original.model_dump()  # field by field, types included


def test_import_into_the_config_refuses_a_key_already_there(config: Path, tmp_path) -> None:
    book = tmp_path / "p.xlsx"
    assert runner.invoke(app, ["plan", "export", SECOND_KEY, str(book)]).exit_code == 0
    result = runner.invoke(app, ["plan", "import", str(book)])
    assert result.exit_code == 1 and "volunteer-2023.yaml" in result.output
    assert not (config / "plans" / f"{SECOND_KEY}.yaml").exists()


def test_a_template_filled_with_mistakes_names_each_cell(config: Path, tmp_path) -> None:
    book = tmp_path / "任务分解表.xlsx"
    made = runner.invoke(app, ["plan", "template", str(book)])
    assert made.exit_code == 0, made.output
    wb = load_workbook(book)
    assert "任务分解表填写说明" in wb["填写说明"]["A1"].value
    _fill_plan(wb)
    wb["行动"].append([1, "就业服务行动", "开展社区就业服务。", "市人力资源社会保障局、市不存在局"])
    wb["行动"].append(["二", "创业服务行动", "开展社区创业服务。", "市人力资源社会保障局"])
    wb["指标"].append([1, "jobs", "新增就业", "人数", "差不多", "很多", None, "人", "年内", "求和",
                      "否", "每月", "是"])
    wb["任务"].append([9, "fair", "举办招聘会", "招聘会总结", None, "年底"])
    wb.save(book)
    result = runner.invoke(app, ["plan", "import", str(book)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    out = result.output
    assert "行动 第3行 A列（序号）" in out  # "二" is not a number
    assert "指标 第2行 E列（比较方式）" in out and "不少于" in out  # lists the choices
    assert "指标 第2行 F列（目标值）" in out
    assert "任务 第2行 A列（行动序号）" in out  # no action 9
    assert not list((config / "plans").glob("jiuye*"))  # nothing half-written


def test_a_filled_template_imports_as_a_draft_to_review(config: Path, tmp_path) -> None:
    book = tmp_path / "任务分解表.xlsx"
    assert runner.invoke(app, ["plan", "template", str(book)]).exit_code == 0
    wb = load_workbook(book)
    plan = _fill_plan(wb)
    wb["行动"].append([1, "就业服务行动", "开展社区就业服务。", "市人力资源社会保障局、市就业局"])
    wb["指标"].append([1, "jobs-2027", "新增就业", "人数", "不少于", 5000, None, "人", "年内",
                      "求和", "是", "每季度", "是"])
    wb["任务"].append([1, "job-fair", "举办招聘会", "招聘会总结", "市民政局", "2027-09-30"])
    wb.save(book)
    unreviewed = runner.invoke(app, ["plan", "import", str(book)])
    assert unreviewed.exit_code == 1 and "方案 第4行 B列（文号）" in unreviewed.output
    assert "待填写" in unreviewed.output
    assert "行动 第2行 D列" in unreviewed.output and "市就业局" in unreviewed.output
    wb["行动"]["D2"] = "市人力资源社会保障局、市民政局"
    plan.cell(row=4, column=2, value="泰人社〔2027〕1号")
    plan.cell(row=6, column=2, value="2026-12-20")
    wb.save(book)
    result = runner.invoke(app, ["plan", "import", str(book)])
    assert result.exit_code == 0, result.output
    loaded = load_config(config).plan("jiuye-2027-1")
    assert loaded.plan.draft and loaded.actions[0].targets[0].period == "quarterly"
    assert str(loaded.actions[0].milestones[0].due) == "2027-09-30"
    check = runner.invoke(app, ["plan", "check"])
    assert check.exit_code == 0 and "泰人社〔2027〕1号" in check.output


PLAN_CELLS = ((2, "jiuye-2027-1"), (3, "2027年社区就业服务方案"), (5, "泰安市人力资源和社会保障局"),
              (7, 2027), (8, "2027-01-01"), (9, "2027-12-31"))


def _fill_plan(wb):
    """The 方案 sheet filled in, except the document number and date (still 待填写)."""
    plan = wb["方案"]
    for row, value in PLAN_CELLS:
        plan.cell(row=row, column=2, value=value)
    return plan
