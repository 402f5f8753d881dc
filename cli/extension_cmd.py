"""`duban extension request|list|approve|reject`: 延期申请 and the office's decision."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from cli.main import app
from cli.output import echo_json, echo_lines, fail, fit_table
from duban.calendar.clock import utcnow
from duban.reports import tokens
from duban.reports.errors import ExtensionError
from duban.reports.extensions import decide, list_requests, request_extension
from duban.service import Context

extension_app = typer.Typer(
    no_args_is_help=True, help="延期申请：申请、列出、审批 / extension requests: ask, list, decide")
app.add_typer(extension_app, name="extension")

REQUEST_STATE_ZH = {"pending": "待审批", "approved": "已批准", "rejected": "已驳回"}
REQUEST_STATE_WORDS = {**{s: s for s in REQUEST_STATE_ZH},
                       **{zh: s for s, zh in REQUEST_STATE_ZH.items()}}
RequestArg = Annotated[int, typer.Argument(help="申请编号 / the request's id")]
ByOpt = Annotated[str, typer.Option("--by", help="审批人（记入审计） / who decides (audit trail)")]
BAD_TOKEN = "令牌无效、已使用或已过期，请联系督办办公室 / the token is not valid"


@extension_app.command("request")
def request(
    occurrence_id: Annotated[int, typer.Argument(
        help="事项编号 / the item's id (编号 in duban status)")],
    until: Annotated[str, typer.Option(
        "--until", help="申请延至的日期 YYYY-MM-DD / the new deadline, YYYY-MM-DD")],
    reason: Annotated[str, typer.Option(
        "--reason", help="延期理由 / why more time is needed")],
    token: Annotated[str | None, typer.Option(
        "--token", envvar="DUBAN_TOKEN", help="本单位令牌（或环境变量 DUBAN_TOKEN） / your "
        "department's token (or DUBAN_TOKEN)")] = None,
) -> None:
    """申请延期（单位凭令牌提出，办公室审批） / ask for a later deadline; the office decides.

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
    state: Annotated[str | None, typer.Option(
        "--state", help="只看某状态：pending 待审批、approved 已批准、rejected 已驳回 / only "
        "this state: pending, approved or rejected")] = None,
    wide: Annotated[bool, typer.Option(
        "--wide", help="不截断列（表格可能超过100列） / do not shorten columns")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON / print JSON")] = False,
) -> None:
    """列出延期申请 / list extension requests, e.g. the pending ones awaiting the office.

    Example: duban extension list --state 待审批
    """
    wanted = None
    if state:
        wanted = REQUEST_STATE_WORDS.get(state.strip())
        if wanted is None:
            choices = "、".join(f"{zh}（{en}）" for en, zh in REQUEST_STATE_ZH.items())
            fail(f"--state {state!r}：应为 {choices} / expected one of "
                 f"{', '.join(REQUEST_STATE_ZH)}", code=2)
    ctx = Context.from_env()
    ctx.db.create_schema()
    with ctx.db.session() as session:
        views = list_requests(session, wanted)
    if as_json:
        echo_json([v.__dict__ for v in views])
        return
    rows = [(v.id, v.occurrence_id, v.department, v.current_due, v.requested_due,
             REQUEST_STATE_ZH.get(v.state, v.state), v.reason) for v in views]
    echo_lines(fit_table(["编号", "事项", "单位", "原截止", "申请截止", "状态", "理由"], rows,
                         shrink=[2, 6], wide=wide))


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
    request_id: RequestArg,
    note: Annotated[str, typer.Option(
        "--note", help="审批意见 / a note for the record")] = "",
    by: ByOpt = "office",
) -> None:
    """批准延期 / approve: the deadline and the reminder ladder move.

    The original date stays on record.

    Example: duban extension approve 3 --note "同意延期"
    """
    _decide(request_id, True, note, by)


@extension_app.command("reject")
def reject(
    request_id: RequestArg,
    note: Annotated[str, typer.Option(
        "--note", help="驳回理由 / why it is rejected")] = "",
    by: ByOpt = "office",
) -> None:
    """驳回延期，截止日期不变 / reject: the deadline stays.

    Example: duban extension reject 3 --note "请按期完成"
    """
    _decide(request_id, False, note, by)
