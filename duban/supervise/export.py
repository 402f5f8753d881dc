"""The 台账 (ledger) as Excel or CSV: a summary sheet and one sheet per action, Chinese headers.
Several plans: an index sheet (方案) and one such sheet set per plan, its sheets named 方案1…,
each item row carrying its plan; in CSV one folder per plan. Nothing of one plan is mixed into
another's sheets (each plan's board is built on its own).

Excel: red/yellow/green fills, frozen header rows, widths that fit CJK text, and a bar chart per
quantified target (openpyxl's own charts: no image library needed, and Excel can restyle them).
CSV: the same tables, UTF-8 with BOM so Excel opens the Chinese correctly.
"""

from __future__ import annotations

import csv
import unicodedata
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from duban.chase.occurrences import STATE_ZH, STATES
from duban.plan.lifecycle import STATE_ZH as PLAN_STATE_ZH
from duban.plan.progress import num
from duban.supervise.board import (
    Board,
    ItemRow,
    colour_text,
    office_item_url,
    risk_text,
    standing_text,
)
from duban.supervise.score import SCORE_HEADERS, Scores, formula_text, score_rows

FILLS = {"红": "F8CBAD", "黄": "FFE699", "绿": "C6EFCE"}
ITEM_HEADERS = ["编号", "职责", "责任单位", "所属区县", "周期", "截止日期", "状态", "颜色",
                "逾期工作日", "催办次数", "最近送达", "截止日期暂定", "方案"]
PLAN_HEADERS = ["工作表", "方案", "文号", "名称", "状态", *(STATE_ZH[s] for s in STATES)]
EVIDENCE_HEADER = "报送材料"  # a link to the office's view of the item's reports and evidence
DATE_FORMAT = "yyyy-mm-dd"
ACTION_HEADERS = ["序号", "行动", *(STATE_ZH[s] for s in STATES), "红", "黄", "绿"]
DEPT_HEADERS = ["排名", "单位", "所属区县", *(STATE_ZH[s] for s in STATES), "延期申请",
                "延期批准"]
TARGET_HEADERS = ["行动", "指标", "目标", "全市数值", "已报送单位", "应报送单位", "研判"]
SHARE_HEADERS = ["指标", "区县（功能区）", "分解任务", "已报送数值", "研判"]
DELIVERY_ZH = {"sent": "已送达", "failed": "未送达（渠道失败）", "unknown": "结果未知",
               "unroutable": "未送达（无送达渠道）", "retrying": "未送达（待重试）",
               "pending": "待发送", "queued": "待发送", "sending": "发送中",
               "void": "已办结（未发）", "": "—"}


def text_width(text: str) -> int:
    """Terminal or spreadsheet columns: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def item_line(item: ItemRow) -> list[Any]:
    """One item's row; the deadline is a real date (Excel sorts and filters it as one)."""
    return [item.occurrence_id, item.duty, item.department_name, item.county, item.period,
            item.due, STATE_ZH[item.state], item.colour, item.overdue_days,
            item.chased, DELIVERY_ZH.get(item.last_delivery, item.last_delivery),
            "是" if item.provisional else "", item.plan]


def action_lines(board: Board) -> list[list[Any]]:
    out = []
    for no in sorted(board.titles):
        states, colours = board.states(no), board.colours(no)
        out.append([no, board.titles[no], *(states[s] for s in STATES),
                    colours["红"], colours["黄"], colours["绿"]])
    return out


def department_lines(board: Board) -> list[list[Any]]:
    none = {"requested": 0, "approved": 0}
    return [[rank, d.name, d.county, *(d.states[s] for s in STATES),
             board.extensions.get(d.code, none)["requested"],
             board.extensions.get(d.code, none)["approved"]]
            for rank, d in enumerate(board.departments(), 1)]


def target_lines(board: Board) -> list[list[Any]]:
    return [[f"{no} {board.titles.get(no, '')}", t.title, t.goal,
             "" if t.city_value is None else num(t.city_value), t.reported,
             len(t.expected_departments), risk_text(t)]
            for no in sorted(board.targets) for t in board.targets[no]]


def share_rows(board: Board) -> list[list[Any]]:
    titles = {t.target_id: t.title for t in board.targets_of()}
    return [[titles.get(target_id, ""), line.county, num(line.share),
             "" if line.value is None else num(line.value), line.text]
            for target_id, lines in board.shares.items() for line in lines]


def sheet_title(no: int, title: str) -> str:
    return f"{no:02d} {title}"[:31]


@dataclass(frozen=True)
class PlanBoard:
    """One plan's board with the plan's identity, for a ledger covering several plans."""

    key: str
    doc_no: str
    title: str
    state: str  # draft | active | closed
    board: Board
    scores: Scores | None = None


def write_csv(board: Board, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    tables = {
        "总览-行动.csv": (ACTION_HEADERS, action_lines(board)),
        "总览-单位排名.csv": (DEPT_HEADERS, department_lines(board)),
        "总览-指标.csv": (TARGET_HEADERS, target_lines(board)),
    }
    for no, title in sorted(board.titles.items()):
        rows = [item_line(i) for i in board.items if i.action == no]
        tables[f"{sheet_title(no, title)}.csv"] = (ITEM_HEADERS, rows)
    return [_csv(folder / name, headers, rows) for name, (headers, rows) in tables.items()]


def write_plans_csv(plans: list[PlanBoard], folder: Path) -> list[Path]:
    """One plan: as write_csv. Several: 方案.csv (the index) and a folder per plan key."""
    if len(plans) == 1:
        return write_csv(plans[0].board, folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = [_csv(folder / "方案.csv", PLAN_HEADERS, plan_lines(plans, by_key=True))]
    for plan in plans:
        written += write_csv(plan.board, folder / plan.key)
    return written


def _csv(path: Path, headers: list[str], rows: list[list[Any]]) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(headers)
        writer.writerows(rows)
    return path


def plan_lines(plans: list[PlanBoard], by_key: bool = False) -> list[list[Any]]:
    return [[plan.key if by_key else f"方案{n}", plan.key, plan.doc_no, plan.title,
             PLAN_STATE_ZH.get(plan.state, plan.state),
             *(plan.board.states()[s] for s in STATES)]
            for n, plan in enumerate(plans, 1)]


def write_xlsx(board: Board, path: Path, scores: Scores | None = None,
               office_url: str | None = None) -> Path:
    """The workbook; with `scores` a 考评 sheet, with `office_url` (the portal's address) each
    item links to the office's view of its reports and evidence."""
    from openpyxl import Workbook

    book = Workbook()
    _board_sheets(book, board, "", scores=scores, office_url=office_url)
    book.remove(book.worksheets[0])
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def write_plans_xlsx(plans: list[PlanBoard], path: Path, office_url: str | None = None) -> Path:
    """One plan: as write_xlsx. Several: an index sheet 方案 (key, document number, title, state,
    item counts) and each plan's sheet set, named 方案1 总览, 方案1-02 行动…"""
    if len(plans) == 1:
        return write_xlsx(plans[0].board, path, plans[0].scores, office_url)
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    index = book.active
    index.title = "方案"
    index["A1"] = "督办台账：各方案分别成表（工作表名前缀见下表）"
    index["A1"].font = Font(bold=True, size=14)
    _table(index, 3, PLAN_HEADERS, plan_lines(plans))
    _fit(index, skip_rows=1)
    for n, plan in enumerate(plans, 1):
        _board_sheets(book, plan.board, f"方案{n}", f"{plan.doc_no} {plan.title}", plan.scores,
                      office_url)
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def _board_sheets(book: Any, board: Board, prefix: str, heading: str = "",
                  scores: Scores | None = None, office_url: str | None = None) -> None:
    """A board's sheet set: 总览, one sheet per action, 考评 (with scores), 指标进度图,
    任务分解 (when allocated); named `prefix …` when several plans share the workbook."""
    def name(title: str, sep: str = " ") -> str:
        return f"{prefix}{sep}{title}"[:31] if prefix else title

    _summary(book.create_sheet(name("总览")), board, heading)
    for no, title in sorted(board.titles.items()):
        sheet = book.create_sheet(name(sheet_title(no, title), "-"))
        items = [i for i in board.items if i.action == no]
        headers = ITEM_HEADERS + ([EVIDENCE_HEADER] if office_url else [])
        _table(sheet, 1, headers, [item_line(i) for i in items],
               colours=[i.colour for i in items], colour_col=8)
        if office_url:
            urls = [office_item_url(office_url, i.occurrence_id) for i in items]
            _links(sheet, len(headers), urls)
        _filtered(sheet)
        _fit(sheet)
    if scores is not None:
        sheet = book.create_sheet(name("考评"))
        sheet["A1"] = formula_text(scores.spec)
        _table(sheet, 3, SCORE_HEADERS, score_rows(scores))
        sheet.freeze_panes = "A4"
        sheet.auto_filter.ref = f"A3:{sheet.cell(row=3, column=len(SCORE_HEADERS)).column_letter}" \
            f"{max(sheet.max_row, 3)}"
        _fit(sheet, skip_rows=2)
    _charts(book.create_sheet(name("指标进度图")), board)
    if board.shares:
        sheet = book.create_sheet(name("任务分解"))
        _table(sheet, 1, SHARE_HEADERS, share_rows(board))
        sheet.freeze_panes = "A2"
        _fit(sheet)


def _links(sheet: Any, column: int, urls: list[str]) -> None:
    from openpyxl.styles import Font

    for row, url in enumerate(urls, 2):
        cell = sheet.cell(row=row, column=column, value="查看")
        cell.hyperlink = url
        cell.font = Font(color="0563C1", underline="single")


def _filtered(sheet: Any) -> None:
    """Frozen header, an autofilter over the table, dates shown as dates."""
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = sheet.dimensions
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            if isinstance(cell.value, date):
                cell.number_format = DATE_FORMAT


def _summary(sheet: Any, board: Board, heading: str = "") -> None:
    from openpyxl.styles import Font

    scope = f"{heading} " if heading else ""
    sheet["A1"] = f"{scope}督办台账（截至 {board.as_of.isoformat()}，日期为北京时间）"
    sheet["A1"].font = Font(bold=True, size=14)
    colours = board.colours()
    sheet["A2"] = f"事项：{colour_text(colours)}；{standing_text(board.targets_of())}"
    row = _table(sheet, 4, ACTION_HEADERS, action_lines(board))
    sheet.freeze_panes = "A5"
    row = _table(sheet, row + 2, DEPT_HEADERS, department_lines(board))
    _table(sheet, row + 2, TARGET_HEADERS, target_lines(board))
    _fit(sheet, skip_rows=2)


def _table(sheet: Any, top: int, headers: list[str], rows: list[list[Any]],
           colours: list[str] | None = None, colour_col: int | None = None) -> int:
    """Write a header row and rows from row `top`; returns the last row written."""
    from openpyxl.styles import Font, PatternFill

    for col, header in enumerate(headers, 1):
        cell = sheet.cell(row=top, column=col, value=header)
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="D9E1F2")
    for offset, values in enumerate(rows, 1):
        for col, value in enumerate(values, 1):
            sheet.cell(row=top + offset, column=col, value=value)
        if colours and colour_col and colours[offset - 1] in FILLS:  # done late: no colour
            fill = PatternFill("solid", fgColor=FILLS[colours[offset - 1]])
            for col in (colour_col - 1, colour_col):
                sheet.cell(row=top + offset, column=col).fill = fill
    return top + len(rows)


def _fit(sheet: Any, skip_rows: int = 0) -> None:
    """Column widths that fit their text (CJK characters take two columns); title rows that
    span the sheet (`skip_rows`) do not widen the first column."""
    from openpyxl.utils import get_column_letter

    widths: dict[int, int] = {}
    for row in sheet.iter_rows(min_row=skip_rows + 1):
        for cell in row:
            if cell.value is not None:
                widths[cell.column] = max(widths.get(cell.column, 0), text_width(str(cell.value)))
    for col, width in widths.items():
        sheet.column_dimensions[get_column_letter(col)].width = min(max(width + 2, 8), 60)


def _charts(sheet: Any, board: Board) -> None:
    """One bar chart per target: the city figure against the target."""
    from openpyxl.chart import BarChart, Reference

    sheet.append(["指标", "全市数值", "目标值"])
    anchor_row = 1
    for index, target in enumerate(board.targets_of()):
        row = index + 2
        sheet.append([target.title, target.city_value or 0, board.goal_values[target.target_id]])
        chart = BarChart()
        chart.type = "bar"
        chart.title = f"{target.title}（{target.goal}）"[:60]
        chart.y_axis.title = target.unit
        data = Reference(sheet, min_col=2, max_col=3, min_row=1, max_row=1)
        chart.add_data(Reference(sheet, min_col=2, max_col=3, min_row=row, max_row=row),
                       from_rows=True, titles_from_data=False)
        chart.set_categories(data)
        chart.legend = None
        chart.height, chart.width = 5, 14
        sheet.add_chart(chart, f"E{anchor_row}")
        anchor_row += 11
    _fit(sheet)

