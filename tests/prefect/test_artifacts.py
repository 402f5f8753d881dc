"""What supervisors see: the artifacts the flows publish, read back through the Prefect API and
checked against the ledger (`duban status --json`, duban.supervise.board) for the same as-of."""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import date

import pytest
from typer.testing import CliRunner

import flows  # noqa: F401  Prefect sets up logging on first use: not inside CliRunner's streams
from cli import app
from duban.calendar.clock import parse_as_of
from duban.service import materialise_all
from duban.supervise.board import build_board
from duban.supervise.score import load_scoring, score_departments
from flows import dispatch_flow, office_entry
from flows.actions import action_flow
from tests.support.ledger import PLAN, target_occurrence
from tests.support.paths import CONFIG_DIR
from tests.support.prefect_runs import latest_artifacts, run, run_id, task_run_count

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("harness")]

DAY = "2023-10-09"
BOARD = "00-duban-board"
SHARES = ["taishan=300", "daiyue=400", "xintai=400", "feicheng=400", "ningyang=300",
          "dongping=300", "gaoxin=40", "taishanjq=30", "lvjing=30"]  # = 2200

runner = CliRunner()



def status(*args: str) -> list[dict]:
    result = runner.invoke(app, ["status", "--as-of", DAY, "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["occurrences"]


def section(markdown: str, title: str) -> list[list[str]]:
    """The body rows of the first table under the `## title` heading, as lists of cells."""
    lines = markdown.split(f"## {title}", 1)[1].split("\n## ", 1)[0].splitlines()
    rows = [line for line in lines if line.startswith("| ")][1:]
    return [[c.strip() for c in re.split(r"(?<!\\)\|", row)[1:-1]] for row in rows]


def test_an_action_run_publishes_its_overdue_table_and_summary(ledger) -> None:
    state = run(action_flow, plan=PLAN, action=2, as_of=DAY)
    assert state.name == "有逾期"
    keys = [f"{PLAN}-02-overdue", f"{PLAN}-02-summary"]
    found = latest_artifacts(keys)
    assert set(found) == set(keys)
    assert all(a.flow_run_id == run_id(state) for a in found.values())

    occurrences = status("--action", "2")
    counts = Counter(o["state"] for o in occurrences)
    late = {o["id"] for o in occurrences if o["state"] in ("overdue", "due_soon")}
    table = found[f"{PLAN}-02-overdue"]
    rows = json.loads(table.data)
    assert table.type == "table" and {r["编号"] for r in rows} == late and len(rows) == len(late)
    assert list(rows[0]) == ["编号", "状态", "单位", "事项", "周期", "逾期工作日", "催办"]
    assert [r["逾期工作日"] for r in rows] == sorted((r["逾期工作日"] for r in rows), reverse=True)
    assert Counter(r["状态"] for r in rows) == {"红 逾期": counts["overdue"],
                                               "黄 临期": counts["due_soon"]}
    assert table.description.startswith(
        "泰民〔2023〕12号 行动2 社区养老服务行动 逾期、临期事项清单")
    assert f"逾期 {counts['overdue']} 项" in table.description

    summary = found[f"{PLAN}-02-summary"].data
    assert summary.startswith("# 行动2 社区养老服务行动")
    assert f"红 逾期 **{counts['overdue']}**" in summary
    assert f"逾期 {counts['overdue']}，" in summary and f"临期 {counts['due_soon']}，" in summary
    assert "特殊困难老年人家庭适老化改造" in summary and "░░░░░░░░░░ 0%" in summary
    assert "尚无报送数据" in summary and "0/9 个单位已报送" in summary
    assert f"(/artifacts/key/{BOARD})" in summary  # back to the board from the run
    assert "Progress" not in summary
    assert task_run_count(run_id(state), 2) == 2  # chase + publish, whatever the item count


def test_progress_rolls_up_county_reports_and_shares_sit_beside_results(ledger) -> None:
    materialise_all(ledger, parse_as_of(DAY))
    result = runner.invoke(app, ["plan", "allocate", "elderly-home-adaptation", *SHARES])
    assert result.exit_code == 0, result.output
    for county, value in (("taishan-mzj", 260), ("daiyue-mzj", 300)):
        occ = target_occurrence(ledger, county, "elderly-home-adaptation", "2023-09")
        entered = run(office_entry, 单位代码=county, 报送类型="报送进展", 数值=str(value),
                      计量单位="户", 事项编号=occ, 情况说明="9月累计改造", 收到日期=DAY)
        assert entered.name == "已登记", entered.message
        assert task_run_count(run_id(entered)) == 1

    state = run(action_flow, plan=PLAN, action=2, as_of=DAY)
    summary_artifact = latest_artifacts([f"{PLAN}-02-summary"])[f"{PLAN}-02-summary"]
    assert summary_artifact.flow_run_id == run_id(state)
    summary = summary_artifact.data
    assert "560 / 2200 户 = 25%" in summary  # the sum of the counties
    assert "各单位合计，2/9 个单位已报送" in summary
    assert "任务分解：特殊困难老年人家庭适老化改造" in summary
    shares = {row[0]: row for row in section(summary, "指标进度")
              if row[0] in ("泰山区", "岱岳区", "新泰市")}
    assert shares["泰山区"][1:4] == ["300 户", "260 户", "86%"]
    assert shares["岱岳区"][1:4] == ["400 户", "300 户", "75%"]
    assert shares["新泰市"][2] == "—"
    assert "`▓▓░░░░░░░░ 25%`" in summary


def test_the_board_ranks_departments_and_rolls_up_counties_as_the_ledger(ledger) -> None:
    chased = run(action_flow, plan=PLAN, action=4, as_of=DAY)
    state = run(dispatch_flow, as_of=DAY)
    assert state.name == "已发送", state.message
    board_artifact = latest_artifacts([BOARD])[BOARD]
    assert board_artifact.flow_run_id == run_id(state) and board_artifact.type == "markdown"
    assert board_artifact.description.startswith("督办总览（督办事项逾期情况，截至 2023-10-09）")
    markdown = board_artifact.data
    assert markdown.startswith("# 督办总览") and "节假日数据提醒" not in markdown

    counts = Counter(o["state"] for o in status())
    assert f"红 逾期 **{counts['overdue']}** · 黄 临期 **{counts['due_soon']}**" in markdown
    assert "方案：泰民〔2023〕12号" in markdown
    with ledger.db.session() as s:
        board = build_board(s, date(2023, 10, 9), ledger.calendar)

    actions = section(markdown, "各行动")
    assert [int(r[0].split(".")[0].strip("[")) for r in actions] == list(range(1, 18))
    assert sum(int(r[1]) for r in actions) == counts["overdue"]

    ranking = section(markdown, "单位排名（按逾期事项）")
    expected = [d for d in board.departments() if d.overdue or d.states["due_soon"]][:20]
    assert [r[1].replace("<br>", "") for r in ranking] == [d.name for d in expected]
    assert [int(r[2]) for r in ranking] == sorted((int(r[2]) for r in ranking), reverse=True)
    assert int(ranking[0][2]) == max(d.overdue for d in board.departments())

    counties = section(markdown, "各区县汇总")
    assert [(r[0].replace("<br>", ""), int(r[1]), int(r[2])) for r in counties] == [
        (name, c["overdue"], c["due_soon"]) for name, c in board.counties()]
    assert sum(int(r[1]) for r in counties) == counts["overdue"]
    assert {r[0] for r in counties} >= {"泰安市", "泰山区", "东平县", "泰安高新技术产业开发区"}

    assert "## 可能无法按期完成的指标" in markdown and "`░░░░░░░░░░ 0%`" in markdown
    assert "duban report --xlsx 台账.xlsx" in markdown

    scored = section(markdown, "考评得分（本年度）")  # 考评 (issue 16.6), the formula's own figures
    with ledger.db.read() as s:
        scores = score_departments(s, date(2023, 10, 9), ledger.calendar,
                                   load_scoring(CONFIG_DIR)).lines[:len(scored)]
    assert len(scored) >= 10
    assert [(int(r[0]), r[1].replace("<br>", "")) for r in scored] == [
        (d.rank, d.name) for d in scores]
    assert [float(r[2]) for r in scored] == pytest.approx([d.score for d in scores], abs=0.05)
    assert "token" not in markdown.lower()  # links only to the office's view (its credential)
    links = re.findall(r"\]\((https?://[^)]*)\)", markdown)
    assert links and all(re.fullmatch(r"http://127\.0\.0\.1:8000/office/items/\d+", u)
                         for u in links)
    assert f"(/artifacts/key/{PLAN}-04-overdue)" in markdown
    assert [task_run_count(run_id(s), 2) for s in (chased, state)] == [2, 2]


def test_the_board_is_published_on_days_off_and_warns_of_missing_holiday_data(ledger) -> None:
    holiday = run(dispatch_flow, as_of="2023-10-01")
    assert holiday.name == "非工作日"
    board = latest_artifacts([BOARD])[BOARD]
    assert board.flow_run_id == run_id(holiday) and "截至 **2023-10-01**" in board.data

    november = run(dispatch_flow, as_of="2026-11-02")  # 2027's official calendar is not out
    board = latest_artifacts([BOARD])[BOARD]
    assert board.flow_run_id == run_id(november)
    assert "节假日数据提醒" in board.data and "2027年法定节假日" in board.data
    assert "督办办公室" in board.data and "pip" not in board.data
