"""`duban review`: the office's 审核 of what departments reported: 销号 (accept) or 退回 (return).

A thin layer over duban.reports.review. Several items may be accepted at once (all or none);
a return names one item and says why. Every refusal is one clear line and exit code 1.
"""

from __future__ import annotations

from typing import Annotated

import typer

from cli.main import app
from cli.output import echo_json, echo_lines, fail, fit_table
from duban.calendar.clock import utcnow
from duban.plan.progress import num
from duban.plan.resolve import UnknownName, resolve_department
from duban.reports.queries import ReportView
from duban.reports.review import ReviewError, accept, pending_reviews, return_item
from duban.service import Context


@app.command("review")
def review(
    occurrences: Annotated[list[int] | None, typer.Argument(
        metavar="OCC...", help="事项编号（销号可一次多个） / item id(s); several for --accept")
    ] = None,
    accept_: Annotated[bool, typer.Option(
        "--accept", help="销号：审核通过，事项关闭 / accept: close the item(s)")] = False,
    return_reason: Annotated[str | None, typer.Option(
        "--return", metavar="REASON",
        help="退回并说明原因，事项重新打开、限期重报 / return with a reason: reopened, due anew")
    ] = None,
    list_: Annotated[bool, typer.Option(
        "--list", help="列出待审核事项 / list the items awaiting review")] = False,
    department: Annotated[str | None, typer.Option(
        "--department", help="单位代码、全称或简称（与 --list 同用） / a department, for --list")
    ] = None,
    by: Annotated[str, typer.Option("--by", help="审核人 / who reviews (audit trail)")] = "office",
    wide: Annotated[bool, typer.Option("--wide", help="不截断列 / do not shorten columns")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON / print JSON")] = False,
) -> None:
    """审核销号：对已报送事项销号或退回 / review reported items: accept (销号) or return (退回).

    \b
    Examples:
      duban review --list
      duban review 120 121 --accept
      duban review 120 --return "佐证材料不全，请补充改造户清单"
    """
    if list_ or (not occurrences and not accept_ and return_reason is None):
        _list(department, wide, as_json)
        return
    if accept_ == (return_reason is not None):
        fail("请选择 --accept 或 --return 其中之一 / give either --accept or --return", code=2)
    if not occurrences:
        fail("请给出事项编号 / give the item id(s)", code=2)
    if return_reason is not None and len(occurrences) != 1:
        fail("退回一次只能一个事项 / return one item at a time", code=2)
    ctx, now = Context.from_env(), utcnow()
    ctx.db.create_schema()
    try:
        with ctx.db.session() as session:
            if accept_:
                outcomes = [accept(session, occ, by, now) for occ in occurrences]
            else:
                outcomes = [return_item(session, occurrences[0], return_reason or "", by, now,
                                        ctx.calendar, ctx.config.ladder.review.rework_days)]
    except ReviewError as exc:
        fail(str(exc))
    if as_json:
        echo_json([o.as_dict() for o in outcomes])
        return
    for outcome in outcomes:
        typer.echo(outcome.message + ("（此前已处理）" if outcome.replayed else ""))


def _list(department: str | None, wide: bool, as_json: bool) -> None:
    ctx = Context.from_env()
    ctx.db.create_schema()
    with ctx.db.read() as session:
        ids = None
        if department:
            try:
                ids = [resolve_department(session, department).id]
            except UnknownName as exc:
                fail(str(exc))
        pending = pending_reviews(session, ids)
    if as_json:
        echo_json([p.__dict__ for p in pending])
        return
    typer.echo(f"待审核 {len(pending)} 项 / {len(pending)} awaiting review")
    rows = [(p.occurrence_id, f"{p.department_name} {p.department}", p.report_id, p.reported_at,
             "" if p.value is None else f"{num(p.value)}{p.unit or ''}", _evidence(p.evidence),
             p.note) for p in pending]
    echo_lines(fit_table(["编号", "单位", "报告", "报送时间", "数值", "佐证", "说明"], rows,
                         shrink=[1, 5, 6], wide=wide))


def _evidence(evidence: str) -> str:
    view = ReportView(0, 0, "done", None, None, "", evidence, "", "", "", "", None, None, "", "")
    return view.evidence_label
