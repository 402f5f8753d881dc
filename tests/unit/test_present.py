"""duban.supervise.markdown: what the artifacts say, from a hand-made Board (no database)."""

from __future__ import annotations

import re
from datetime import date

import pytest
import yaml

from duban.plan.allocations import ShareLine
from duban.plan.progress import TargetProgress, Verdict
from duban.supervise import markdown as present
from duban.supervise.board import Board, ItemRow
from tests.support.paths import CONFIG_DIR

AS_OF = date(2023, 10, 9)
COUNTIES = [f"c{i}-mzj" for i in range(9)]
TITLES = {2: "社区养老服务行动", 4: "社区助残服务行动"}


def item(occ: int, dept: str, name: str, county: str, state: str, late: int = 0,
         action: int = 2, chased: int = 0, last: str = "", provisional: bool = False) -> ItemRow:
    return ItemRow(occ, "taimin-2023-12", action, TITLES[action],
                   "特殊困难老年人家庭适老化改造进展", dept, name, county, "2023-08",
                   date(2023, 9, 8), state, late, chased, last, provisional)


def target(value: float | None, verdict: Verdict | None, reported: int = 9) -> TargetProgress:
    progress = TargetProgress(1, "elderly-home-adaptation", "特殊困难老年人家庭适老化改造",
                              "不少于2200户", "户", "sum", COUNTIES)
    progress.figures = {code: None for code in COUNTIES[:reported]}  # only counted here
    progress.city_value, progress.source, progress.verdict = value, "rollup", verdict
    return progress


@pytest.fixture
def board() -> Board:
    items = [
        item(1, "taishan-mzj", "泰山区民政局", "泰山区", "overdue", 3, chased=2, last="sent"),
        item(2, "taishan-mzj", "泰山区民政局", "泰山区", "overdue", 12, chased=5, last="failed"),
        item(3, "daiyue-mzj", "岱岳区民政局", "岱岳区", "overdue", 1, last="pending"),
        item(4, "daiyue-mzj", "岱岳区民政局", "岱岳区", "due_soon", provisional=True),
        item(5, "mzj", "泰安市民政局", "泰安市", "upcoming"),
        item(6, "mzj", "泰安市民政局", "泰安市", "done"),
        item(7, "cl|x", "市残联|办公室", "泰安市", "overdue", 2, action=4),
    ]
    behind = Verdict("behind", "进度滞后：1870户，目标不少于2200户，按时序进度应完成约1900户", 1900)
    return Board(
        AS_OF, items, {2: [target(1870, behind)], 4: []}, dict(TITLES),
        goal_values={1: 2200}, goal_lows={1: 2200},
        extensions={"taishan-mzj": {"requested": 2, "approved": 1, "rejected": 0, "pending": 1}},
        shares={1: [ShareLine("泰山区", 300, 260, "on_track", "进度正常：260户"),
                    ShareLine("新泰市", 400, None, "none", "尚无报送")]},
    )


def test_keys_carry_the_plan_are_valid_and_never_collide() -> None:
    assert present.artifact_key("Taimin 2023", "02", "Over_due") == "taimin-2023-02-over-due"
    assert present.overdue_key("taimin-2023-12", 2) == "taimin-2023-12-02-overdue"
    assert present.summary_key("x-2026", 17) == "x-2026-17-summary"
    assert present.BOARD_KEY == "00-duban-board"  # sorts first (A to Z); "duban" finds it
    plan = yaml.safe_load((CONFIG_DIR / "plans" / "2023.yaml").read_text("utf-8"))
    keys = [present.BOARD_KEY]
    for other in (plan["plan"]["key"], "another-2026"):
        for action in plan["actions"]:
            no = int(action["no"])
            keys += [present.overdue_key(other, no), present.summary_key(other, no)]
    assert all(re.fullmatch(r"[a-z0-9-]+", k) for k in keys)
    assert len(keys) == len(set(keys)) == 1 + 2 * 2 * 17
    assert sorted(keys)[0] == present.BOARD_KEY


@pytest.mark.parametrize(("percent", "shown"), [
    (0, "░░░░░░░░░░ 0%"), (52, "▓▓▓▓▓░░░░░ 52%"), (99.6, "▓▓▓▓▓▓▓▓▓░ 99%"),
    (100, "▓▓▓▓▓▓▓▓▓▓ 100%"),
])
def test_text_progress_bars_never_show_100_before_the_target_is_reached(percent, shown) -> None:
    assert present.bar(percent) == shown


def test_percent_of_the_target_is_capped_and_zero_without_data() -> None:
    assert present.percent_of(1870, 2200) == 85.0
    assert present.percent_of(3000, 2200) == 100.0
    assert present.percent_of(None, 2200) == 0.0
    assert present.percent_of(260, 2200) == 11.8


def test_a_target_line_says_figure_over_target_and_the_verdict(board) -> None:
    line = present.target_line(board, board.targets_of(2)[0])
    assert "1870 / 2200 户 = 85%" in line and "各单位合计，9/9 个单位已报送" in line
    assert line.endswith("按时序进度应完成约1900户")


def test_a_range_is_measured_against_its_low_end_and_percent_units_read_naturally(board) -> None:
    board.goal_lows[1], board.goal_values[1] = 10, 15
    ranged = target(12, Verdict("met", "已达标"))
    ranged.unit = "个"
    assert present.figure_text(board, ranged) == "12 / 10 个 = 100%"
    board.goal_lows[1] = board.goal_values[1] = 100
    rate = target(95, Verdict("not_met", "未达标"))
    rate.unit = "%"
    assert present.figure_text(board, rate) == "95% / 100% = 95%"
    assert present.figure_text(board, target(None, None, 0)) == "尚无报送数据"


def test_overdue_table_lists_red_then_yellow_longest_overdue_first(board) -> None:
    rows = present.overdue_rows(board, 2)
    assert [r["编号"] for r in rows] == [2, 1, 3, 4]
    assert list(rows[0]) == present.OVERDUE_HEADERS
    assert rows[0]["状态"] == "红 逾期" and rows[-1]["状态"] == "黄 临期"
    assert rows[0]["逾期工作日"] == 12 and rows[0]["催办"] == 5
    assert rows[0]["事项"] == "特殊困难老年人家庭适老…"  # cut to fit a 1366-pixel screen
    assert rows[-1]["周期"] == "2023-08（暂定）"
    assert present.overdue_description(board, 2) == \
        "行动2 社区养老服务行动 逾期、临期事项清单：逾期 3 项，临期 1 项（截至 2023-10-09）"


def test_long_names_are_cut_in_tables_and_wrapped_in_markdown() -> None:
    name = "中共泰安市委农业农村委员会办公室"
    assert present.cut(name, 20) == "中共泰安市委农业农…" and present.width("中共…") == 5
    assert present.cut("市民政局", 20) == "市民政局"
    assert present.wrap(name, 24) == "中共泰安市委农业农村委员<br>会办公室"
    assert present.wrap("<b>x", 24) == "&lt;b>x"
    assert present.short_duty("城乡社区助老食堂进展（每月报送，目标不少于300家）") == \
        "城乡社区助老食堂进展"


def test_an_action_with_nothing_late_still_shows_the_table_headers(board) -> None:
    board.items = [i for i in board.items if i.action != 4]
    assert present.overdue_table(board, 4) == {h: [] for h in present.OVERDUE_HEADERS}


def test_action_summary_has_colours_states_targets_and_shares(board) -> None:
    text = present.action_summary(board, 2)
    assert text.startswith("# 行动2 社区养老服务行动\n")
    # colours count items only: the behind target is not yellow, it is said in words
    assert "事项 6 项：红 逾期 **3** · 黄 临期 **1** · 绿 按期 **2**" in text
    assert "未到期 1，临期 1，逾期 3，已退回 0，已报送·待审核 0，按期完成 1，逾期完成 0" in text
    assert "指标 1 项：进度滞后 1" in text
    assert "| 2. 特殊困难老年人家庭适老化改造 | 不少于2200户 | `▓▓▓▓▓▓▓▓░░ 85%` | 9/9 " \
           "| 进度滞后 |" in text
    assert "- **特殊困难老年人家庭适老化改造**：1870 / 2200 户 = 85%" in text
    assert "| 泰山区 | 300 户 | 260 户 | 86% | 进度正常 |" in text
    assert "| 新泰市 | 400 户 | — | 0% | 尚无报送 |" in text
    assert "(/artifacts/key/plan-02-overdue)" in text and "(/artifacts/key/00-duban-board)" in text
    assert "duban report --xlsx" in text and "Progress" not in text
    assert "本行动无量化指标" in present.action_summary(board, 4)


def test_board_ranks_departments_rolls_up_counties_and_lists_risks(board) -> None:
    text = present.board_markdown(board)
    assert text.startswith("# 督办总览\n") and "节假日数据提醒" not in text
    assert "事项 7 项：红 逾期 **4** · 黄 临期 **1** · 绿 按期 **2**" in text
    assert "指标 1 项：进度滞后 1" in text and "红 = 已逾期未办结" in text
    ranking = text.split("## 单位排名（按逾期事项）")[1].split("\n## ")[0]
    rows = [line for line in ranking.splitlines() if re.match(r"\| \d", line)]
    assert rows == ["| 1 | 泰山区民政局 | 2 | 0 | 2/1 |",
                    "| 2 | 岱岳区民政局 | 1 | 1 | 0/0 |",
                    "| 3 | 市残联\\|办公室 | 1 | 0 | 0/0 |"]
    assert "另有 1 个单位未列出" in ranking  # 市民政局: nothing late
    counties = text.split("## 各区县汇总")[1].split("\n## ")[0]
    assert "| 泰山区 | 2 | 0 | 0 | 0 | 2 |" in counties
    assert "| 泰安市 | 1 | 0 | 2 | 0 | 3 |" in counties
    assert "| [2. 社区养老服务行动](/artifacts/key/plan-02-summary) | 3 | 1 | 2 | 1/1 | " \
           "[清单](/artifacts/key/plan-02-overdue) |" in text
    assert "## 逾期最久的事项" in text and "| 2 | 泰山区民政局 | 行动2：" in text
    assert "`▓▓▓▓▓▓▓▓░░ 85%`" in text
    assert "- 行动2 特殊困难老年人家庭适老化改造（目标不少于2200户）：进度滞后" in text
    assert "## 任务分解" in text and "duban report --xlsx 台账.xlsx" in text


def test_longest_overdue_items_link_to_the_offices_evidence_view(board) -> None:
    """Issue 16.4: from the board's detail the office opens an item's reports and evidence."""
    plain = present.board_markdown(board)
    linked = present.board_markdown(board, office_url="https://duban.example.gov.cn/")
    longest = linked.split("## 逾期最久的事项")[1].split("\n## ")[0]
    assert "| [2](https://duban.example.gov.cn/office/items/2) | 泰山区民政局 | 行动2：" in longest
    assert "佐证材料" in longest and "http" not in plain
    assert linked.count("/office/items/") == longest.count("/office/items/")  # only there


def test_each_plan_has_its_own_part_of_the_board(board) -> None:
    from dataclasses import replace

    from duban.supervise.board import PlanRef

    one = replace(board, plan=PlanRef("taimin-2023-12", "泰民〔2023〕12号", "行动方案"))
    two = replace(board, plan=PlanRef("other-2026", "某〔2026〕1号", "另一方案"),
                  items=board.items[:1])
    text = present.board_markdown([one, two])
    assert text.count("## 各行动") == 2
    assert "## 泰民〔2023〕12号《行动方案》" in text and "## 某〔2026〕1号《另一方案》" in text
    first, second = text.split("## 某〔2026〕1号《另一方案》")
    assert "/artifacts/key/taimin-2023-12-02-summary" in first
    assert "/artifacts/key/other-2026-02-summary" in second and "taimin" not in second
    assert "事项 1 项：红 逾期 **1**" in second
    assert present.board_description([one, two]).startswith(
        "督办总览（督办事项逾期情况，截至 2023-10-09）")


def test_board_carries_the_missing_holiday_data_warning_when_given(board) -> None:
    text = present.board_markdown(board, "2027年法定节假日和调休安排尚未录入系统。")
    assert "> ⚠️ **节假日数据提醒**：2027年法定节假日和调休安排尚未录入系统。" in text
    assert text.index("节假日数据提醒") < text.index("## 各行动")


def test_the_holiday_warning_for_supervisors_says_the_office_acts() -> None:
    from duban.calendar.workdays import WorkCalendar
    from duban.chase.holiday_notice import board_notice

    calendar = WorkCalendar()
    text = board_notice(calendar, date(2026, 11, 2))
    if calendar.missing_next_year(date(2026, 11, 2)) is None:
        pytest.skip("next year's holiday data is already installed here")
    assert "督办办公室" in text and "督查人员无需操作" in text and "暂定" in text
    assert "pip" not in text and board_notice(calendar, date(2026, 6, 1)) is None
