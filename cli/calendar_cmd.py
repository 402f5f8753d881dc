"""`duban calendar YYYY-MM`: show a month of China's working-day calendar, to check deadlines."""

from __future__ import annotations

import json
import re
from typing import Annotated

import typer

from cli.main import app
from cli.output import pad
from duban.calendar.workdays import DayInfo, WorkCalendar

WEEKDAYS_ZH = ("周一", "周二", "周三", "周四", "周五", "周六", "周日")
KINDS_ZH = {
    "workday": "工作日",
    "weekend": "周末",
    "holiday": "节假日",
    "adjusted_workday": "调休上班",
}
PROVISIONAL_ZH = "暂定（无官方数据）"
_MONTH_RE = re.compile(r"(\d{4})-(\d{2})")


def parse_month(value: str) -> tuple[int, int]:
    """'2023-10' -> (2023, 10); ValueError naming the value and the expected form otherwise."""
    match = _MONTH_RE.fullmatch(value.strip())
    year, month = (int(match[1]), int(match[2])) if match else (0, 0)
    if year < 1 or not 1 <= month <= 12:
        raise ValueError(f"invalid month {value!r}: expected YYYY-MM, e.g. 2023-10")
    return year, month


def _table(days: list[DayInfo]) -> list[str]:
    header = [pad("日期", 12), pad("星期", 6), pad("类型", 10), "节日"]
    lines = ["".join(header).rstrip()]
    for info in days:
        cells = [
            pad(info.date.isoformat(), 12),
            pad(WEEKDAYS_ZH[info.date.weekday()], 6),
            pad(KINDS_ZH[info.kind], 10),
            info.name or "",
        ]
        lines.append("".join(cells).rstrip())
    return lines


def _as_json(label: str, days: list[DayInfo]) -> str:
    payload = {
        "month": label,
        "provisional": any(info.provisional for info in days),
        "days": [
            {
                "date": info.date.isoformat(),
                "workday": info.workday,
                "kind": info.kind,
                "name": info.name,
            }
            for info in days
        ],
    }
    return json.dumps(payload, ensure_ascii=False)


@app.command("calendar")
def calendar(
    month: Annotated[str, typer.Argument(
        metavar="YYYY-MM", help="月份，如 2023-10 / the month, e.g. 2023-10")],
    as_json: Annotated[bool, typer.Option(
        "--json", help="输出 JSON 而非表格 / print JSON instead of a table")] = False,
) -> None:
    """工作日历：某月的工作日、周末、节假日和调休 / a month of China's working-day calendar.

    Each day is 工作日 (working day), 周末 (weekend), 节假日 (holiday) or 调休上班 (an adjusted
    working weekend).

    Years without an official State Council notice are marked 暂定（无官方数据）.

    Example: duban calendar 2023-10 --json
    """
    try:
        year, month_no = parse_month(month)
    except ValueError as exc:
        typer.echo(f"Error: {exc}", err=True)
        raise typer.Exit(code=2) from None
    label = f"{year:04d}-{month_no:02d}"
    days = WorkCalendar().month(year, month_no)
    if as_json:
        typer.echo(_as_json(label, days))
        return
    workdays = sum(info.workday for info in days)
    typer.echo(f"{year}年{month_no}月：{workdays} 个工作日")
    if any(info.provisional for info in days):
        typer.echo(PROVISIONAL_ZH)
    for line in _table(days):
        typer.echo(line)
