"""`duban extension request|list|approve|reject`: 延期申请 and the office's decision."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from cli.main import app
from cli.output import echo_json, echo_lines, fail, table
from duban.calendar.clock import utcnow
from duban.reports import tokens
from duban.reports.errors import ExtensionError
from duban.reports.extensions import decide, list_requests, request_extension
from duban.service import Context

extension_app = typer.Typer(no_args_is_help=True, help="Extension requests (延期申请).")
app.add_typer(extension_app, name="extension")

BAD_TOKEN = "令牌无效、已使用或已过期，请联系督办办公室 / the token is not valid"


@extension_app.command("request")
def request(
    occurrence_id: Annotated[int, typer.Argument(help="The item's id (待办编号).")],
    until: Annotated[str, typer.Option("--until", help="The new deadline, YYYY-MM-DD.")],
    reason: Annotated[str, typer.Option("--reason", help="Why more time is needed.")],
    token: Annotated[str | None, typer.Option(
        "--token", envvar="DUBAN_TOKEN", help="Your department's token (or DUBAN_TOKEN).")] = None,
) -> None:
    """Ask for a later deadline (a department, with its token); the office decides.

    Example: duban extension request 120 --until 2023-10-20 --reason "数据核实中" --token "$T"
    """
    try:
        new_due = date.fromisoformat(until)
    except ValueError:
        fail(f"--until {until!r}: expected YYYY-MM-DD", code=2)
    if not token:
        fail("缺少令牌：请用 --token 或环境变量 DUBAN_TOKEN 提供 / no token given")
    ctx, now = Context.from_env(), utcnow()
    ctx.db.create_schema()
    try:
        with ctx.db.session() as session:
            grant = tokens.check(session, token, now)
            if grant is None or grant.occurrence_id not in (None, occurrence_id):
                fail(BAD_TOKEN)
            made = request_extension(session, occurrence_id, grant.department_id, new_due,
                                     reason, now, ctx.calendar, grant.department_code)
            typer.echo(f"已提交延期申请（编号 {made.id}），等待督办办公室审批")
    except ExtensionError as exc:
        fail(str(exc))


@extension_app.command("list")
def list_command(
    state: Annotated[str | None, typer.Option("--state", help="pending|approved|rejected")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List extension requests, e.g. the pending ones awaiting the office.

    Example: duban extension list --state pending
    """
    ctx = Context.from_env()
    ctx.db.create_schema()
    with ctx.db.session() as session:
        views = list_requests(session, state)
    if as_json:
        echo_json([v.__dict__ for v in views])
        return
    rows = [(v.id, v.occurrence_id, v.department, v.current_due, v.requested_due, v.state,
             v.reason) for v in views]
    echo_lines(table(["编号", "待办", "单位", "原截止", "申请截止", "状态", "理由"], rows))


def _decide(request_id: int, approve: bool, note: str, by: str) -> None:
    ctx = Context.from_env()
    ctx.db.create_schema()
    try:
        with ctx.db.session() as session:
            made = decide(session, request_id, approve, by, utcnow(), note)
            verdict = "已批准，截止日期改为" if approve else "已驳回，截止日期仍为"
            typer.echo(f"延期申请 {made.id} {verdict} {made.occurrence.due_on}")
    except ExtensionError as exc:
        fail(str(exc))


@extension_app.command("approve")
def approve(
    request_id: Annotated[int, typer.Argument(help="The request's id.")],
    note: Annotated[str, typer.Option("--note", help="A note for the record.")] = "",
    by: Annotated[str, typer.Option("--by", help="Who decides.")] = "office",
) -> None:
    """Approve: the deadline and the reminder ladder move; the original date stays on record.

    Example: duban extension approve 3 --note "同意延期"
    """
    _decide(request_id, True, note, by)


@extension_app.command("reject")
def reject(
    request_id: Annotated[int, typer.Argument(help="The request's id.")],
    note: Annotated[str, typer.Option("--note", help="Why it is rejected.")] = "",
    by: Annotated[str, typer.Option("--by", help="Who decides.")] = "office",
) -> None:
    """Reject: the deadline stays.

    Example: duban extension reject 3 --note "请按期完成"
    """
    _decide(request_id, False, note, by)
