"""`duban report --xlsx FILE | --csv DIR`: the 台账 (ledger) for supervisors, outside the UI."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.main import app
from cli.output import fail
from cli.status_cmd import AsOfOpt
from duban.calendar.clock import local_day, parse_as_of
from duban.plan.lifecycle import active_plans, find_plan
from duban.service import Context
from duban.supervise.board import build_board
from duban.supervise.export import PlanBoard, write_plans_csv, write_plans_xlsx
from duban.supervise.score import load_scoring, score_departments


@app.command("report")
def report(
    as_of: AsOfOpt = None,
    xlsx: Annotated[Path | None, typer.Option(
        "--xlsx", help="写出 Excel 台账 / write an Excel workbook")] = None,
    csv_dir: Annotated[Path | None, typer.Option(
        "--csv", help="把 CSV 文件写入此目录 / write CSV files into this folder")] = None,
    plan: Annotated[str | None, typer.Option(
        "--plan", help="方案代码或年份 / plan key or year")] = None,
) -> None:
    """导出台账（Excel / CSV） / write the ledger (台账) as Excel or CSV.

    A summary sheet (actions, departments ranked by overdue items, targets)
    and one sheet per action with red/yellow/green fills; or the same tables as CSV. Every
    active plan gets its own sheet set (an index sheet 方案 names them); --plan picks one plan,
    a closed one included.

    Example: duban report --as-of 2023-10-16 --xlsx 台账.xlsx --csv 台账/
    """
    if xlsx is None and csv_dir is None:
        fail("give --xlsx FILE and/or --csv DIR", code=2)
    try:
        now = parse_as_of(as_of)
    except ValueError as exc:
        fail(str(exc), code=2)
    ctx = Context.from_env()
    ctx.db.create_schema()
    day = local_day(now)
    with ctx.db.read() as session:
        try:
            plans = [find_plan(session, plan)] if plan else active_plans(session)
        except LookupError as exc:
            fail(str(exc.args[0]))
        scoring = load_scoring(ctx.settings.config_dir)
        boards = [PlanBoard(p.key, p.doc_no, p.title, p.state,
                            build_board(session, day, ctx.calendar,
                                        ctx.config.ladder.slow_progress_ratio, p.key),
                            score_departments(session, day, ctx.calendar, scoring, p.key))
                  for p in plans]
    if not boards:
        fail("没有执行中的方案：用 --plan 指定方案，或 duban plan activate / duban plan list")
    if xlsx is not None:
        written = write_plans_xlsx(boards, xlsx, office_url=ctx.settings.portal_url)
        typer.echo(f"已写出 {written}")
    if csv_dir is not None:
        for path in write_plans_csv(boards, csv_dir):
            typer.echo(f"已写出 {path}")
