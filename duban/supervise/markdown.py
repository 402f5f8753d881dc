"""What supervisors see in the Prefect UI, rendered from a Board: keys, table rows, progress
figures and markdown. Plain data and text only; tasks/publish.py hands them to prefect.artifacts.

Artifact keys carry the plan, so nothing of one plan overwrites another's (Prefect allows
lowercase letters, digits and dashes; the Artifacts page shows the latest version of each key,
keeps every version, and its search box matches keys):
  00-duban-board                          markdown: 督办总览, every active plan, sorts first
  taimin-2023-12-02-overdue               table: the action's overdue (红) and due-soon (黄) items
  taimin-2023-12-02-summary               markdown: the action's colours, states, targets, shares

No progress artifacts: the Prefect UI labels them "Progress: 0%" in English; each target's bar,
figure and verdict are in the action's summary instead, in Chinese.

Every table is kept narrow enough for a 1366-pixel laptop screen (tests/prefect/
test_board_in_ui.py measures it in Chromium): the board names, counts and links; the details
(periods, deliveries, shares) live in the per-action artifacts and the Excel ledger.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from typing import Any

from duban.chase.occurrences import COLOUR, STATE_ZH, STATES
from duban.plan.progress import VERDICT_ZH, TargetProgress, num, period_text
from duban.supervise.board import (
    NO_DATA,
    Board,
    ItemRow,
    colour_text,
    office_item_url,
    risk_text,
    standing_text,
)

BOARD_KEY = "00-duban-board"
BOARD_TITLE = "督办总览"
BAR_WIDTH = 10
DEPARTMENTS_SHOWN = 20
LONGEST_SHOWN = 10
XLSX_HINT = "完整台账（含送达记录、各指标柱状图）请导出 Excel：`duban report --xlsx 台账.xlsx`"
OVERDUE_HEADERS = ["编号", "状态", "单位", "事项", "周期", "逾期工作日", "催办"]
NAME_COLUMNS = 20  # display columns (a CJK character takes two) before a name is cut or wrapped
DUTY_COLUMNS = 24
WRAP_NAME = 24  # markdown cells are wrapped (<br>), not cut: a little wider
WRAP_TEXT = 32
ROLLUP_ZH = {"sum": "各单位合计", "average": "各单位平均", "min": "以最低单位计",
             "all_covered": "以最低单位计"}
STATE_COLOUR = {"overdue": "红", "due_soon": "黄"}
_KEY_BAD = re.compile(r"[^a-z0-9-]+")


# -- keys -------------------------------------------------------------------------------------


def artifact_key(*parts: object) -> str:
    """A valid Prefect artifact key from parts, e.g. ("taimin-2023-12", "02", "summary")."""
    text = _KEY_BAD.sub("-", "-".join(str(p) for p in parts).lower())
    return re.sub(r"-{2,}", "-", text).strip("-")


def action_prefix(plan: str, no: int) -> str:
    """e.g. taimin-2023-12-02: the plan first, so one plan's artifacts sort together."""
    return artifact_key(plan, f"{no:02d}")


def overdue_key(plan: str, no: int) -> str:
    return f"{action_prefix(plan, no)}-overdue"


def summary_key(plan: str, no: int) -> str:
    return f"{action_prefix(plan, no)}-summary"


def key_link(text: str, key: str) -> str:
    """A link to an artifact key's page in the Prefect UI (relative: the UI's own address)."""
    return f"[{text}](/artifacts/key/{key})"


def board_link() -> str:
    return key_link(f"打开{BOARD_TITLE}", BOARD_KEY)


def _plan_key(board: Board) -> str:
    return board.plan.key if board.plan else "plan"


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
    rule = "各单位分子之和÷分母之和" if target.parts else ROLLUP_ZH.get(target.rollup,
                                                                     target.rollup)
    when = f"{period_text(target.period)}，" if target.period else ""  # a monthly target's month
    return f"{when}{rule}，{target.reported}/{len(target.expected_departments)} 个单位已报送"


def target_line(board: Board, target: TargetProgress) -> str:
    """One target in words: figure over target, how it was rolled up, the verdict."""
    line = f"- **{target.title}**：{figure_text(board, target)}（{source_text(target)}）"
    return line + (f"。{target.verdict.text}" if target.verdict else "")


# -- the action's overdue table -----------------------------------------------------------------


def _late_first(items: list[ItemRow]) -> list[ItemRow]:
    return sorted(items, key=lambda i: (-i.overdue_days, i.state != "overdue", i.due,
                                        i.department, i.occurrence_id))


def width(text: str) -> int:
    """Display columns: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


_TOKEN = re.compile(r"[A-Za-z0-9.%/-]+|.", re.S)  # a date or a number is never split


def _pieces(text: str, columns: int) -> list[str]:
    pieces, line = [], ""
    for token in _TOKEN.findall(text):
        if line and width(line + token) > columns:
            pieces.append(line)
            line = ""
        line += token
    return [*pieces, line] if line else pieces


def cut(text: str, columns: int) -> str:
    """At most `columns` display columns, '…' marking a cut (the full text is in the Excel)."""
    return text if width(text) <= columns else _pieces(text, columns - 1)[0] + "…"


def wrap(text: str, columns: int) -> str:
    """Markdown table cells do not wrap in the Prefect UI: break long text with <br>."""
    return "<br>".join(_pieces(text.replace("<", "&lt;"), columns))


def short_duty(duty: str) -> str:
    """The duty without its trailing parenthesis (how often, which target): the table says it."""
    head = re.sub(r"（[^（）]*）$", "", duty)
    return head or duty


def overdue_rows(board: Board, no: int) -> list[dict[str, Any]]:
    """The action's overdue and due-soon items, the longest overdue first; short columns, long
    names cut (a table artifact cannot wrap); deadlines and deliveries are in the Excel."""
    return [
        {
            "编号": i.occurrence_id,
            "状态": f"{STATE_COLOUR[i.state]} {STATE_ZH[i.state]}",
            "单位": cut(i.department_name, NAME_COLUMNS),
            "事项": cut(short_duty(i.duty), DUTY_COLUMNS),
            "周期": i.period + ("（暂定）" if i.provisional else ""),
            "逾期工作日": i.overdue_days,
            "催办": i.chased,
        }
        for i in _late_first(board.overdue_or_at_risk(no))
    ]


def overdue_table(board: Board, no: int) -> list[dict[str, Any]] | dict[str, list[Any]]:
    """Rows for a table artifact; with no rows, empty columns, so the headers still show."""
    return overdue_rows(board, no) or {header: [] for header in OVERDUE_HEADERS}


def overdue_description(board: Board, no: int) -> str:
    states = board.states(no)
    return (f"{_plan_label(board)}行动{no} {board.titles.get(no, '')} 逾期、临期事项清单："
            f"逾期 {states['overdue']} 项，临期 {states['due_soon']} 项"
            f"（截至 {board.as_of.isoformat()}）")


def summary_description(board: Board, no: int) -> str:
    return (f"{_plan_label(board)}行动{no} {board.titles.get(no, '')} 小结："
            f"{colour_text(board.colours(no))}（截至 {board.as_of.isoformat()}）")


def board_description(boards: list[Board]) -> str:
    """The card text under 00-duban-board on the Artifacts page: what it is, in Chinese."""
    as_of = boards[0].as_of.isoformat() if boards else ""
    colours = sum((b.colours() for b in boards), Counter())
    return f"{BOARD_TITLE}（督办事项逾期情况，截至 {as_of}）：{colour_text(colours)}"


def _plan_label(board: Board) -> str:
    return f"{board.plan.doc_no} " if board.plan and board.plan.doc_no else ""


# -- markdown ---------------------------------------------------------------------------------


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(headers: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines


def _items_line(board: Board, action: int | None = None) -> str:
    """Items only, each colour with its meaning, plus those done late (no colour)."""
    states = board.states(action)
    late_done = f" · 逾期完成 {states['done_late']}" if states["done_late"] else ""
    return (f"事项 {sum(states.values())} 项：{colour_text(board.colours(action), bold=True)}"
            f"{late_done}")


def _target_rows(board: Board, targets: list[tuple[int, TargetProgress]]) -> list[list[Any]]:
    rows = []
    for no, target in targets:
        percent = percent_of(target.city_value, goal_value(board, target))
        verdict = VERDICT_ZH[target.verdict.code] if target.verdict else NO_DATA
        reported = f"{target.reported}/{len(target.expected_departments)}"
        rows.append([wrap(f"{no}. {target.title}", WRAP_TEXT), wrap(target.goal, 12),
                     f"`{bar(percent)}`", reported, verdict])
    return rows


TARGET_HEADERS = ["指标", "目标", "全市完成进度", "已报送", "研判"]
SHARE_HEADERS = ["区县（功能区）", "分解任务", "已报送", "完成比例", "研判"]


def _share_lines(board: Board, target: TargetProgress) -> list[str]:
    lines = board.shares.get(target.target_id, [])
    if not lines:
        return []
    rows = [[wrap(line.county, WRAP_NAME), _amount(line.share, target.unit),
             "—" if line.value is None else _amount(line.value, target.unit),
             percent_text(percent_of(line.value, line.share)),
             VERDICT_ZH.get(line.verdict, "尚无报送")] for line in lines]
    return ["", f"**任务分解：{target.title}**（目标{target.goal}）", "",
            *_table(SHARE_HEADERS, rows)]


def action_summary(board: Board, no: int) -> str:
    """The action's summary artifact: colours, states, its targets and their shares."""
    title = board.titles.get(no, "")
    plan = f"{board.plan.name}　" if board.plan else ""
    lines = [f"# 行动{no} {title}", "",
             f"{plan}截至 {board.as_of.isoformat()}（北京时间）", "",
             _items_line(board, no), "",
             f"按状态：{_state_line(board.states(no))}", ""]
    targets = [(no, t) for t in board.targets_of(no)]
    if targets:
        lines += ["## 指标进度", "", standing_text([t for _, t in targets]), "",
                  *_table(TARGET_HEADERS, _target_rows(board, targets)), ""]
        lines += [target_line(board, t) for _, t in targets]
        for _, target in targets:
            lines += _share_lines(board, target)
    else:
        lines += ["本行动无量化指标，按任务节点督办。"]
    lines += ["", f"逾期、临期事项清单：{key_link('打开清单', overdue_key(_plan_key(board), no))}"
              f"；返回{board_link()}。", "", XLSX_HINT + "。"]
    return "\n".join(lines) + "\n"


def _state_line(states: Counter[str]) -> str:
    return "，".join(f"{STATE_ZH[s]} {states[s]}" for s in STATES)


LEGEND = ("颜色只表示事项的期限：红 = 已逾期未办结，黄 = 临近截止（预警期内），绿 = 按期"
          "（未到期或按期完成）。指标完成情况另以文字研判（已达标 / 进度正常 / 进度滞后 / "
          "未达标 / 尚无报送数据），不计入颜色。")


def board_markdown(boards: Board | list[Board], notice: str | None = None,
                   office_url: str | None = None) -> str:
    """督办总览: for each active plan, every action, the departments ranked by overdue items,
    each county's roll-up, the longest-overdue items, the targets and those at risk; and from
    1 November the warning that next year's holiday data is missing. With `office_url` (the
    portal's address) each listed item's number opens the office's view of its evidence."""
    boards = [boards] if isinstance(boards, Board) else boards
    as_of = boards[0].as_of.isoformat() if boards else ""
    lines = [f"# {BOARD_TITLE}", "", f"截至 **{as_of}**（北京时间）", ""]
    if notice:
        lines += [f"> ⚠️ **节假日数据提醒**：{notice}", ""]
    if not boards:
        lines += ["目前没有正在督办的方案。", ""]
    if boards and boards[0].undelivered:
        lines += _undelivered_section(boards[0])
    for board in boards:
        lines += _plan_section(board, several=len(boards) > 1, office_url=office_url)
    lines += ["---", "", LEGEND, "", XLSX_HINT + "。"]
    return "\n".join(lines) + "\n"


UNDELIVERED_ROWS = 20  # the worst first: failed, unknown, waiting for a retry, no channel


def _undelivered_section(board: Board) -> list[str]:
    """未送达: recipients whose latest digest reached no person, with the vendor's reason."""
    missed = board.undelivered
    rows = [[u.name, u.day.isoformat(), u.state_zh, cut(u.reason, 60)]
            for u in missed[:UNDELIVERED_ROWS]]
    more = ([f"…等 {len(missed)} 个收件方（Excel 各行动表“最近送达”列逐项列出）", ""]
            if len(missed) > UNDELIVERED_ROWS else [])
    return [f"### ⚠️ 未送达（{len(missed)} 个收件方）", "",
            *_table(["收件方", "汇总日期", "状态", "原因"], rows), "", *more]


def _plan_section(board: Board, several: bool, office_url: str | None = None) -> list[str]:
    """One plan's part of the board; with several plans each gets its own heading."""
    lines = [f"## {board.plan.name}", ""] if board.plan and several else []
    if board.plan and not several:
        lines += [f"方案：{board.plan.name}", ""]
    lines += [_items_line(board), "", standing_text(board.targets_of()), ""]
    lines += _actions_section(board)
    lines += _departments_section(board)
    lines += _counties_section(board)
    lines += _longest_section(board, office_url)
    lines += _targets_section(board)
    return lines


def _actions_section(board: Board) -> list[str]:
    plan = _plan_key(board)
    rows = []
    for no in sorted(board.titles):
        colours, targets = board.colours(no), board.targets_of(no)
        risky = sum(1 for n, _ in board.at_risk() if n == no)
        rows.append([key_link(wrap(f"{no}. {board.titles[no]}", WRAP_TEXT),
                              summary_key(plan, no)),
                     colours["红"], colours["黄"], colours["绿"],
                     f"{risky}/{len(targets)}" if targets else "—",
                     key_link("清单", overdue_key(plan, no))])
    return ["## 各行动", "",
            *_table(["行动（点击看小结）", "红 逾期", "黄 临期", "绿 按期", "指标有风险",
                     "逾期清单"], rows), ""]


def _departments_section(board: Board) -> list[str]:
    ranked = board.departments()
    late = [d for d in ranked if d.overdue or d.states["due_soon"]]
    shown = late[:DEPARTMENTS_SHOWN]
    none = {"requested": 0, "approved": 0}
    rows = [[rank, wrap(d.name, WRAP_NAME), d.overdue, d.states["due_soon"],
             "{requested}/{approved}".format(**board.extensions.get(d.code, none))]
            for rank, d in enumerate(shown, 1)]
    lines = ["## 单位排名（按逾期事项）", ""]
    if rows:
        lines += _table(["排名", "单位", "红 逾期", "黄 临期", "延期 申请/批准"], rows)
    else:
        lines.append("各单位均无逾期、临期事项。")
    rest = len(ranked) - len(shown)
    if rest:
        lines += ["", f"另有 {rest} 个单位未列出（完整排名见 Excel 台账）。"]
    return [*lines, ""]


def _counties_section(board: Board) -> list[str]:
    rows = [[wrap(county, WRAP_NAME), *_colour_counts(c), c["done_late"],
             sum(c.values())] for county, c in board.counties()]
    return ["## 各区县汇总", "",
            *_table(["区县（功能区）", "红 逾期", "黄 临期", "绿 按期", "逾期完成", "合计"],
                    rows), ""]


def _colour_counts(states: Counter[str]) -> list[int]:
    """红, 黄, 绿 from counts by state (duban.chase.occurrences.COLOUR)."""
    return [sum(n for s, n in states.items() if COLOUR.get(s) == c) for c in ("红", "黄", "绿")]


def _longest_section(board: Board, office_url: str | None = None) -> list[str]:
    late = [i for i in _late_first(board.items) if i.state == "overdue"][:LONGEST_SHOWN]
    if not late:
        return []
    rows = [[_item_number(i.occurrence_id, office_url), wrap(i.department_name, WRAP_NAME),
             wrap(f"行动{i.action}：{short_duty(i.duty)}（{i.period}）", WRAP_TEXT),
             i.overdue_days] for i in late]
    hint = ["点击编号查看该事项的报送记录与佐证材料（督办办公室页面，需办公室口令）。", ""]
    return [f"## 逾期最久的事项（前 {LONGEST_SHOWN} 项）", "", *(hint if office_url else []),
            *_table(["编号", "单位", "事项", "逾期工作日"], rows), ""]


def _item_number(occurrence_id: int, office_url: str | None) -> str:
    """The item's number, linked to the office's view of its reports when the portal is known."""
    if not office_url:
        return str(occurrence_id)
    return f"[{occurrence_id}]({office_item_url(office_url, occurrence_id)})"


def _targets_section(board: Board) -> list[str]:
    targets = [(no, t) for no in sorted(board.targets) for t in board.targets[no]]
    if not targets:
        return []
    lines = ["## 指标进度", "", *_table(TARGET_HEADERS, _target_rows(board, targets)), ""]
    lines += ["## 可能无法按期完成的指标", ""]
    lines += [f"- 行动{no} {t.title}（目标{t.goal}）：{risk_text(t)}"
              for no, t in board.at_risk()] or ["无。"]
    shared = [(no, t) for no, t in targets if board.shares.get(t.target_id)]
    if shared:
        plan = _plan_key(board)
        lines += ["", "## 任务分解", ""]
        lines += [f"- 行动{no} {t.title}：各区县分解任务与完成情况见"
                  f"{key_link('行动小结', summary_key(plan, no))}" for no, t in shared]
    return [*lines, ""]
