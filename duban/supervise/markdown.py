"""What supervisors see in the Prefect UI, rendered from a Board: keys, table rows, progress
figures and markdown. Plain data and text only; tasks/publish.py hands them to prefect.artifacts.

Artifact keys (Prefect allows lowercase letters, digits and dashes; the UI shows the latest
version of each key, and keeps every version):
  action-02-overdue                  table: the action's overdue (红) and due-soon (黄) items
  action-02-elderly-home-adaptation  progress: one per quantified target, city figure / target
  action-02-summary                  markdown: colours, states, targets, shares
  duban-board                        markdown: 督办总览, all actions, departments and counties
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

from duban.chase.occurrences import STATE_ZH, STATES
from duban.plan.progress import VERDICT_ZH, TargetProgress, num
from duban.supervise.board import Board, ItemRow, risk_text
from duban.supervise.export import DELIVERY_ZH

BOARD_KEY = "duban-board"
BOARD_TITLE = "督办总览"
BAR_WIDTH = 10
DEPARTMENTS_SHOWN = 30
LONGEST_SHOWN = 10
XLSX_HINT = "导出 Excel 台账（含各指标柱状图）：`duban report --xlsx 台账.xlsx`"
OVERDUE_HEADERS = ["编号", "状态", "单位", "区县", "职责", "周期", "截止日期", "逾期工作日",
                   "催办次数", "最近送达"]
ROLLUP_ZH = {"sum": "各单位合计", "average": "各单位平均", "min": "以最低单位计",
             "all_covered": "以最低单位计"}
STATE_COLOUR = {"overdue": "红", "due_soon": "黄"}
_KEY_BAD = re.compile(r"[^a-z0-9-]+")


# -- keys -------------------------------------------------------------------------------------


def artifact_key(*parts: object) -> str:
    """A valid Prefect artifact key from parts, e.g. ("action-02", "elderly-home-adaptation")."""
    text = _KEY_BAD.sub("-", "-".join(str(p) for p in parts).lower())
    return re.sub(r"-{2,}", "-", text).strip("-")


def action_prefix(no: int) -> str:
    return f"action-{no:02d}"


def overdue_key(no: int) -> str:
    return f"{action_prefix(no)}-overdue"


def summary_key(no: int) -> str:
    return f"{action_prefix(no)}-summary"


def target_key(no: int, key: str) -> str:
    return artifact_key(action_prefix(no), key)


# -- figures ----------------------------------------------------------------------------------


def percent_of(value: float | None, goal: float | None) -> float:
    """The share of the target reached, 0-100 (capped: beyond the target is 100)."""
    if value is None:
        return 0.0
    if not goal or goal <= 0:
        return 100.0
    return round(max(0.0, min(100.0, value / goal * 100)), 1)


def percent_text(percent: float) -> str:
    """Rounded down, so 100% means reached: 99.6 -> '99%'."""
    return "100%" if percent >= 100 else f"{math.floor(percent)}%"


def bar(percent: float, width: int = BAR_WIDTH) -> str:
    """A text progress bar: 52 -> '▓▓▓▓▓░░░░░ 52%'."""
    filled = min(width, max(0, math.floor(percent / 100 * width)))
    return "▓" * filled + "░" * (width - filled) + " " + percent_text(percent)


def _amount(value: float, unit: str) -> str:
    return f"{num(value)}%" if unit == "%" else f"{num(value)} {unit}"


def goal_value(board: Board, target: TargetProgress) -> float | None:
    """The value that meets the target (a range's low end; 100 for full coverage)."""
    low = board.goal_lows.get(target.target_id)
    return low if low is not None else board.goal_values.get(target.target_id)


def figure_text(board: Board, target: TargetProgress) -> str:
    """e.g. '1870 / 2200 户 = 85%', or what is missing when nobody has reported."""
    goal = goal_value(board, target)
    if target.city_value is None:
        return "尚无报送数据"
    percent = percent_text(percent_of(target.city_value, goal))
    if target.unit == "%":
        return f"{num(target.city_value)}% / {num(goal or 0)}% = {percent}"
    return f"{num(target.city_value)} / {num(goal or 0)} {target.unit} = {percent}"


def source_text(target: TargetProgress) -> str:
    if target.source == "final":
        return "年终核定数"
    rule = ROLLUP_ZH.get(target.rollup, target.rollup)
    return f"{rule}，{target.reported}/{len(target.expected_departments)} 个单位已报送"


@dataclass(frozen=True)
class ProgressFigure:
    key: str
    title: str
    percent: float
    description: str


def progress_figures(board: Board, no: int) -> list[ProgressFigure]:
    """One progress artifact per quantified target of the action."""
    figures = []
    for target in board.targets_of(no):
        percent = percent_of(target.city_value, goal_value(board, target))
        description = (f"**行动{no} {target.title}**（目标{target.goal}）："
                       f"{figure_text(board, target)}（{source_text(target)}）")
        if target.verdict is not None:
            description += f"。{target.verdict.text}"
        figures.append(ProgressFigure(target_key(no, target.key), target.title, percent,
                                      description))
    return figures


# -- the action's overdue table -----------------------------------------------------------------


def _late_first(items: list[ItemRow]) -> list[ItemRow]:
    return sorted(items, key=lambda i: (-i.overdue_days, i.state != "overdue", i.due,
                                        i.department, i.occurrence_id))


def overdue_rows(board: Board, no: int) -> list[dict[str, Any]]:
    """The action's overdue and due-soon items, the longest overdue first."""
    return [
        {
            "编号": i.occurrence_id,
            "状态": f"{STATE_COLOUR[i.state]} {STATE_ZH[i.state]}",
            "单位": i.department_name,
            "区县": i.county,
            "职责": i.duty,
            "周期": i.period,
            "截止日期": i.due.isoformat() + ("（暂定）" if i.provisional else ""),
            "逾期工作日": i.overdue_days,
            "催办次数": i.chased,
            "最近送达": DELIVERY_ZH.get(i.last_delivery, i.last_delivery),
        }
        for i in _late_first(board.overdue_or_at_risk(no))
    ]


def overdue_table(board: Board, no: int) -> list[dict[str, Any]] | dict[str, list[Any]]:
    """Rows for a table artifact; with no rows, empty columns, so the headers still show."""
    return overdue_rows(board, no) or {header: [] for header in OVERDUE_HEADERS}


def overdue_description(board: Board, no: int) -> str:
    states = board.states(no)
    return (f"行动{no} {board.titles.get(no, '')}：逾期 {states['overdue']} 项，"
            f"临期 {states['due_soon']} 项（截至 {board.as_of.isoformat()}）")


# -- markdown ---------------------------------------------------------------------------------


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines


def _colour_line(colours: Counter[str]) -> str:
    return f"红 **{colours['红']}** · 黄 **{colours['黄']}** · 绿 **{colours['绿']}**"


def _state_line(states: Counter[str]) -> str:
    counts = "，".join(f"{STATE_ZH[s]} {states[s]}" for s in STATES)
    return f"{counts}（共 {sum(states.values())} 项）"


def _target_rows(board: Board, targets: list[tuple[int, TargetProgress]]) -> list[list[Any]]:
    rows = []
    for no, target in targets:
        value = "—" if target.city_value is None else _amount(target.city_value, target.unit)
        percent = percent_of(target.city_value, goal_value(board, target))
        verdict = VERDICT_ZH[target.verdict.code] if target.verdict else "尚无报送数据"
        rows.append([no, target.title, target.goal, value, f"`{bar(percent)}`",
                     f"{target.reported}/{len(target.expected_departments)}", verdict])
    return rows


TARGET_HEADERS = ["行动", "指标", "目标", "全市", "进度", "已报送", "研判"]
SHARE_HEADERS = ["区县（功能区）", "分解任务", "已报送", "完成比例", "研判"]


def _share_lines(board: Board, target: TargetProgress) -> list[str]:
    lines = board.shares.get(target.target_id, [])
    if not lines:
        return []
    rows = [[line.county, _amount(line.share, target.unit),
             "—" if line.value is None else _amount(line.value, target.unit),
             percent_text(percent_of(line.value, line.share)),
             VERDICT_ZH.get(line.verdict, "尚无报送")] for line in lines]
    return ["", f"**任务分解：{target.title}**（目标{target.goal}）", "",
            *_table(SHARE_HEADERS, rows)]


def action_summary(board: Board, no: int) -> str:
    """The action's summary artifact: colours, states, its targets and their shares."""
    title = board.titles.get(no, "")
    lines = [f"# 行动{no} {title}", "",
             f"截至 {board.as_of.isoformat()}（北京时间）：{_colour_line(board.colours(no))}", "",
             f"事项：{_state_line(board.states(no))}", ""]
    targets = [(no, t) for t in board.targets_of(no)]
    if targets:
        lines += ["## 指标进度", "", *_table(TARGET_HEADERS, _target_rows(board, targets)), ""]
        lines += [f"- {t.title}：{t.verdict.text}" for _, t in targets if t.verdict]
        for _, target in targets:
            lines += _share_lines(board, target)
    else:
        lines += ["本行动无量化指标，按任务节点督办。"]
    lines += ["", f"逾期、临期事项清单见 Artifacts 中的 `{overdue_key(no)}`；{XLSX_HINT}"]
    return "\n".join(lines) + "\n"


def board_markdown(board: Board, notice: str | None = None) -> str:
    """督办总览: every action, the departments ranked by overdue items, each county's roll-up,
    the targets (with progress bars) and those at risk, shares beside results, and from
    1 November the warning that next year's holiday data is missing."""
    states, colours = board.states(), board.colours()
    lines = [f"# {BOARD_TITLE}", "",
             f"截至 **{board.as_of.isoformat()}**（北京时间）：{_colour_line(colours)}", "",
             f"事项：{_state_line(states)}", ""]
    if notice:
        lines += [f"> ⚠️ **节假日数据提醒**：{notice}", ""]
    lines += _actions_section(board)
    lines += _departments_section(board)
    lines += _counties_section(board)
    lines += _longest_section(board)
    lines += _targets_section(board)
    lines += ["", "---", "", XLSX_HINT + "。",
              "各行动明细：Artifacts 页面的 `action-01-overdue` … `action-17-overdue`"
              "（逾期、临期清单）与 `action-01-summary` … `action-17-summary`（行动小结）。"]
    return "\n".join(lines) + "\n"


def _actions_section(board: Board) -> list[str]:
    rows = []
    for no in sorted(board.titles):
        states, colours = board.states(no), board.colours(no)
        risky = sum(1 for n, _ in board.at_risk() if n == no)
        rows.append([no, board.titles[no], colours["红"], colours["黄"], colours["绿"],
                     states["overdue"], states["due_soon"],
                     f"{risky}/{len(board.targets_of(no))}" if board.targets_of(no) else "—",
                     f"[清单](/artifacts/key/{overdue_key(no)}) · "
                     f"[小结](/artifacts/key/{summary_key(no)})"])
    return ["## 各行动", "",
            *_table(["序号", "行动", "红", "黄", "绿", "逾期", "临期", "指标风险", "明细"], rows),
            ""]


def _departments_section(board: Board) -> list[str]:
    ranked = board.departments()
    late = [d for d in ranked if d.overdue or d.states["due_soon"]]
    shown = late[:DEPARTMENTS_SHOWN]
    none = {"requested": 0, "approved": 0}
    rows = [[rank, d.name, d.overdue, d.states["due_soon"], d.states["upcoming"],
             d.states["done"] + d.states["done_late"],
             board.extensions.get(d.code, none)["requested"],
             board.extensions.get(d.code, none)["approved"]]
            for rank, d in enumerate(shown, 1)]
    lines = ["## 单位排名（按逾期事项）", ""]
    if rows:
        lines += _table(["排名", "单位", "逾期", "临期", "未到期", "已完成", "延期申请",
                         "延期批准"], rows)
    else:
        lines.append("各单位均无逾期、临期事项。")
    rest = len(ranked) - len(shown)
    if rest:
        lines += ["", f"另有 {rest} 个单位未列出（完整排名见 Excel 台账）。"]
    return [*lines, ""]


def _counties_section(board: Board) -> list[str]:
    rows = [[county, c["overdue"], c["due_soon"], c["upcoming"], c["done"], c["done_late"],
             sum(c.values())] for county, c in board.counties()]
    return ["## 各区县汇总", "",
            *_table(["区县（功能区）", "逾期", "临期", "未到期", "按期完成", "逾期完成", "合计"],
                    rows), ""]


def _longest_section(board: Board) -> list[str]:
    late = [i for i in _late_first(board.items) if i.state == "overdue"][:LONGEST_SHOWN]
    if not late:
        return []
    rows = [[i.occurrence_id, f"行动{i.action}", i.department_name, i.duty, i.period,
             i.due.isoformat(), i.overdue_days, i.chased] for i in late]
    return [f"## 逾期最久的事项（前 {LONGEST_SHOWN} 项）", "",
            *_table(["编号", "行动", "单位", "职责", "周期", "截止日期", "逾期工作日", "催办次数"],
                    rows), ""]


def _targets_section(board: Board) -> list[str]:
    targets = [(no, t) for no in sorted(board.targets) for t in board.targets[no]]
    if not targets:
        return []
    lines = ["## 指标进度", "", *_table(TARGET_HEADERS, _target_rows(board, targets)), ""]
    risky = board.at_risk()
    lines += ["## 可能无法按期完成的指标", ""]
    lines += [f"- 行动{no} {t.title}（目标{t.goal}）：{risk_text(t)}"
              for no, t in risky] or ["无。"]
    shared = [t for _, t in targets if board.shares.get(t.target_id)]
    if shared:
        lines += ["", "## 任务分解与完成情况"]
        for target in shared:
            lines += _share_lines(board, target)
    return [*lines, ""]
