"""`duban token issue`, `duban confirm`, `duban reports`: department reports from the terminal.

A thin layer over duban.reports.submission (the same core the report page and office entry
use). Tokens are
shown once and stored hashed; every refusal is a clear message with exit code 1, no traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy.exc import SQLAlchemyError

from cli.errors import describe
from cli.main import app
from cli.output import echo_json, echo_lines, fail, fit_table
from duban.calendar.clock import shanghai, utcnow
from duban.ledger.models import Occurrence
from duban.plan.config import ConfigError
from duban.plan.progress import num
from duban.plan.resolve import UnknownName, resolve_department
from duban.reports import tokens
from duban.reports.errors import ReportError
from duban.reports.evidence import EVIDENCE_LIMIT, Evidence, EvidenceFile, evidence_fingerprint
from duban.reports.queries import ReportView, list_reports
from duban.reports.submission import Submission, Submitter, derive_key, submit
from duban.reports.verdicts import ReportOutcome
from duban.service import Context

token_app = typer.Typer(no_args_is_help=True,
                        help="单位令牌：报送页面与 duban confirm 用 / department tokens for the "
                        "report page and `duban confirm`.")
app.add_typer(token_app, name="token")

T = TypeVar("T")
PURPOSES = ("cli", "department")
BAD_TOKEN = ("令牌无效、已使用或已过期，请联系督办办公室重新签发 / "
             "the token is wrong, used or expired: ask the coordinating office for a new one")


def _run(action: Callable[[], T]) -> T:
    """Turn the core's refusals and database trouble into a message and exit code 1."""
    try:
        return action()
    except ReportError as exc:
        fail(f"{exc.field}: {exc.message}")
    except ConfigError as exc:
        fail(f"配置有误 / bad config: {exc}")
    except SQLAlchemyError as exc:
        fail(describe(exc))


@token_app.command("issue")
def issue(
    department: Annotated[str, typer.Argument(
        metavar="DEPT", help="单位代码、全称或别名 / a department by code, name or alias, "
        "e.g. taishan-mzj")],
    purpose: Annotated[str, typer.Option(
        "--purpose", help="用途：cli（命令行报送）或 department（单位待办页面） / cli (for duban "
        "confirm) or department (the /d/ list page)")] = "cli",
    days: Annotated[int | None, typer.Option(
        "--days", min=1, max=3650, help="有效天数（默认 cli 365，department 90） / lifetime "
        "in days (default: cli 365, department 90)")
    ] = None,
    by: Annotated[str, typer.Option(
        "--by", help="签发人（记入审计） / who issues it, for the audit trail")] = "office",
) -> None:
    """签发单位令牌（只显示一次） / issue a department token, shown once.

    The token is the last line of the output; only its SHA-256 is kept.

    A department token also prints the department's page link (/d/...) on the line before.

    Example: duban token issue taishan-mzj --purpose department --days 90
    """
    if purpose not in PURPOSES:
        fail(f"--purpose {purpose!r}: expected cli or department")
    ctx = Context.from_env()
    now = utcnow()

    def run() -> tuple[str, str, Any]:
        ctx.db.create_schema()
        with ctx.db.session() as session:
            try:
                dept = resolve_department(session, department)
            except UnknownName as exc:
                fail(str(exc))
            token = tokens.issue(session, dept, now, purpose, days=days,
                                 actor=_office_actor(by))
            expires = now + _lifetime(purpose, days)
            return token, f"{dept.name}（{dept.code}）", expires

    token, name, expires = _run(run)
    typer.echo(f"已为{name}签发 {purpose} 令牌，有效期至 {shanghai(expires)}（北京时间）。")
    typer.echo("令牌只显示这一次，系统仅保存其摘要；遗失请重新签发。")
    if purpose == "department":
        typer.echo(f"待办页面：{ctx.settings.portal_url}/d/{token}")
    typer.echo(token)


def _lifetime(purpose: str, days: int | None) -> timedelta:
    default = tokens.DEPARTMENT_DAYS if purpose == "department" else tokens.CLI_DAYS
    return timedelta(days=days or default)


def _office_actor(by: str) -> str:
    by = by.strip() or "office"
    return by if by.startswith("office") else f"office:{by}"


def read_evidence(text: str | None) -> Evidence:
    """A URL stays a link; anything else is a file path, read up to the size limit + 1 byte."""
    if not text:
        return None
    if text.startswith(("http://", "https://")):
        return text
    path = Path(text).expanduser()
    if not path.is_file():
        fail(f"evidence: 找不到佐证文件 {text} / no such file")
    size = path.stat().st_size
    with path.open("rb") as stream:
        content = stream.read(EVIDENCE_LIMIT + 1)
    return EvidenceFile(path.name, content, size)


def _kind(ack: bool, progress: bool) -> str:
    if ack and progress:
        fail("--ack 与 --progress 只能选一个 / choose either --ack or --progress")
    return "ack" if ack else "progress" if progress else "done"


@app.command("confirm")
def confirm(
    occurrence_id: Annotated[int, typer.Argument(
        metavar="OCCURRENCE_ID",
        help="事项编号（duban status 的“编号”） / the item's number (编号 in duban status)")],
    value: Annotated[str | None, typer.Option(
        "--value", help="指标数值 / the indicator value")] = None,
    unit: Annotated[str | None, typer.Option(
        "--unit", help="计量单位，须与指标一致 / the unit, must be the target's")] = None,
    numerator: Annotated[str | None, typer.Option(
        "--numerator", help="分子：比率或平均数指标按分子、分母报送（如已探访人数），与 "
        "--denominator 一起代替 --value / a rate's or an average's numerator")] = None,
    denominator: Annotated[str | None, typer.Option(
        "--denominator", help="分母，须大于0（如应探访人数） / its denominator, above 0")] = None,
    note: Annotated[str, typer.Option(
        "--note", help="情况说明，最多2000字 / a note, at most 2000 characters")] = "",
    evidence: Annotated[str | None, typer.Option(
        "--evidence", help="佐证材料：http(s) 链接或文件（pdf jpg png docx xlsx doc xls zip txt，"
        "不超过10 MB） / an http(s) link, or a file of these kinds, at most 10 MB")] = None,
    ack: Annotated[bool, typer.Option(
        "--ack", help="签收：已收到，正在办理 / acknowledge: received, working on it")] = False,
    progress: Annotated[bool, typer.Option(
        "--progress", help="报送进展（不办结） / a progress report instead of done")] = False,
    keep_open: Annotated[bool, typer.Option(
        "--keep-open", help="节点任务的季度进展，不办结 / a milestone's quarterly progress that "
        "does not close it")] = False,
    correct: Annotated[int | None, typer.Option(
        "--correct", metavar="REPORT_ID", help="更正此前的这份报送（审核前） / supersede this "
        "earlier report (before review)")] = None,
    reason: Annotated[str, typer.Option(
        "--reason", help="更正原因 / why the correction")] = "",
    problems: Annotated[str, typer.Option(
        "--problems", help="存在问题 / problems met")] = "",
    support: Annotated[str, typer.Option(
        "--support", help="需要支持 / support needed")] = "",
    idempotency_key: Annotated[str | None, typer.Option(
        "--idempotency-key", help="防重复提交的键，默认由令牌和内容生成 / default: derived from "
        "the token and what is sent")] = None,
    token: Annotated[str | None, typer.Option(
        "--token", envvar="DUBAN_TOKEN", help="本单位令牌（或环境变量 DUBAN_TOKEN） / your "
        "department's token (or DUBAN_TOKEN)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON / print JSON")] = False,
) -> None:
    """单位报送：办结、报送进展或签收 / report on one item: done, --progress or --ack.

    Done is the default; --progress reports progress, --ack acknowledges (签收).

    Sending the same thing twice records it once. A correction supersedes an earlier report
    (--correct REPORT_ID --reason TEXT); both stay visible in `duban reports`.

    Example: duban confirm 120 --value 260 --note "6月新增改造260户" --token "$DUBAN_TOKEN"
    A rate or an average: duban confirm 130 --progress --numerator 1180 --denominator 1200
    """
    kind = _kind(ack, progress)
    if not token:
        fail("缺少令牌：请用 --token 或环境变量 DUBAN_TOKEN 提供 / no token given")
    proof = read_evidence(evidence)
    ctx = Context.from_env()
    now = utcnow()
    key = idempotency_key or derive_key(
        "cli", tokens.hash_token(token), occurrence_id, kind, value, unit, note,
        evidence_fingerprint(proof), problems, support, keep_open, correct, reason,
        *((numerator, denominator) if numerator is not None or denominator is not None else ()),
    )

    def run() -> ReportOutcome:
        ctx.db.create_schema()
        with ctx.db.session() as session:
            grant = tokens.check(session, token, now)
            if grant is None:
                fail(BAD_TOKEN)
            submission = Submission(
                occurrence_id, kind, key, value=value, unit=unit, note=note, evidence=proof,
                numerator=numerator, denominator=denominator,
                problems=problems, support=support, keep_open=keep_open, correction_of=correct,
                reason=reason)
            by = Submitter(grant.department_id, link=grant if grant.purpose == "link" else None,
                           via="cli")
            return submit(session, submission, by, ctx.report_rules, now)

    outcome = _run(run)
    if as_json:
        echo_json({**outcome.as_dict(), "replayed": outcome.replayed})
        return
    typer.echo(outcome.message)
    if outcome.replayed:
        typer.echo("（重复提交：此前已记录，未重复登记）")


@app.command("reports")
def reports(
    occurrence_id: Annotated[int, typer.Argument(
        metavar="OCCURRENCE_ID", help="事项编号 / the item's number")],
    wide: Annotated[bool, typer.Option(
        "--wide", help="不截断列（表格可能超过100列） / do not shorten columns")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON / print JSON")] = False,
) -> None:
    """事项的全部报送记录（含已更正的） / every report of one item, corrected ones included.

    Oldest first; superseded reports are shown with what corrected them.

    Example: duban reports 120 --json
    """
    ctx = Context.from_env()

    def run() -> tuple[str, list[ReportView]]:
        ctx.db.create_schema()
        with ctx.db.session() as session:
            occ = session.get(Occurrence, occurrence_id)
            if occ is None:
                fail(f"没有编号为 {occurrence_id} 的事项 / no occurrence {occurrence_id}")
            header = (f"事项 {occ.id}：{occ.department.name}（{occ.period}），"
                      f"截止 {occ.due_on.isoformat()}，" + _progress_word(occ)
                      + f"\n  {occ.duty.title}")
            return header, list_reports(session, occurrence_id)

    header, views = _run(run)
    if as_json:
        echo_json({"occurrence": occurrence_id, "reports": [v.as_dict() for v in views]})
        return
    typer.echo(header)
    if not views:
        typer.echo("暂无报送记录")
        return
    rows = [
        (v.id, v.at, v.kind_zh, (f"{num(v.value)}{v.unit or ''}" + (
            f"（{num(v.numerator)}/{num(v.denominator)}）" if v.denominator is not None else ""))
         if v.value is not None else "—",
         v.entered_by, f"已被{v.superseded_by}更正" if v.superseded_by else "有效",
         v.reason or "", v.note)
        for v in views
    ]
    echo_lines(fit_table(["编号", "时间", "类型", "数值", "录入", "状态", "更正原因", "说明"], rows,
                         shrink=[4, 6, 7], wide=wide))


def _progress_word(occ: Occurrence) -> str:
    """已完成 D (and whether the office has signed it off), 已退回 D, or 待办."""
    if occ.closed_on is None:
        return f"已退回 {occ.returned_on.isoformat()}，待重报" if occ.returned_on else "待办"
    done = f"已完成 {occ.closed_on.isoformat()}"
    return done + ("，待审核" if occ.status == "reported" else "，已销号"
                   if occ.duty.action.plan.review_required else "")
