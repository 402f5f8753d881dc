"""`duban status`: every occurrence with its due date and state, as the ledger stood on a day."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

import typer

from cli.main import app
from cli.output import echo_json, echo_lines, fail, fit_table
from duban.calendar.clock import local_day, parse_as_of
from duban.chase.dispatch import undelivered
from duban.chase.occurrences import STATE_ZH, STATES, StatusRow, status_rows
from duban.plan.resolve import UnknownName, resolve_county, resolve_department
from duban.service import Context

AsOfOpt = Annotated[
    str | None,
    typer.Option("--as-of", help="日期 YYYY-MM-DD（北京时间）或 ISO 时间；按当日台账显示 / "
                 "a day (Asia/Shanghai) or an ISO instant: the ledger as it stood then"),
]
SHOWN_UNDELIVERED = 10  # recipients named in the 未送达 line (--json lists them all)
# Filters beyond the states themselves: 签收 (urging paused), 已销号 (closed either way).
EXTRA_FILTERS = {"acknowledged": "已签收", "closed": "已销号"}
STATE_WORDS = {**{s: s for s in STATES}, **{zh: s for s, zh in STATE_ZH.items()},
               **{s: s for s in EXTRA_FILTERS}, **{zh: s for s, zh in EXTRA_FILTERS.items()},
               "待审核": "reported", "退回": "returned", "签收": "acknowledged", "销号": "closed"}


def summary_lines(rows: list[StatusRow], indent: str = "  ") -> list[str]:
    """The total, then the count of each state on its own line (within 100 columns)."""
    counts = Counter(r.state for r in rows)
    acknowledged = sum(r.acknowledged for r in rows)
    return [f"共 {len(rows)} 项，其中已签收 {acknowledged}",
            indent + "，".join(f"{STATE_ZH[s]} {counts.get(s, 0)}" for s in STATES)]


def state_filter(word: str) -> str:
    """A state named in English or Chinese; a clear error for anything else."""
    state = STATE_WORDS.get(word.strip())
    if state is None:
        choices = "、".join(f"{zh}（{s}）" for s, zh in {**STATE_ZH, **EXTRA_FILTERS}.items())
        fail(f"--state {word!r}：应为 {choices} / expected one of "
             f"{', '.join([*STATES, *EXTRA_FILTERS])}", code=2)
    return state


def keep(row: StatusRow, state: str) -> bool:
    if state == "acknowledged":
        return row.acknowledged
    if state == "closed":
        return row.state in ("done", "done_late")
    if state == "returned":
        return row.returned
    return row.state == state


@app.command("status")
def status(
    as_of: AsOfOpt = None,
    department: Annotated[str | None, typer.Option(
        "--department", help="单位：代码、全称、简称或别名 / a department by code, name or alias, "
        "e.g. taishan-mzj, 泰山区民政局")] = None,
    county: Annotated[str | None, typer.Option(
        "--county", help="区县：代码或名称 / a county by code or name, e.g. taishan, 泰山区")
    ] = None,
    action: Annotated[list[int] | None, typer.Option(
        "--action", help="行动序号（可多次） / action number(s)")] = None,
    plan: Annotated[str | None, typer.Option(
        "--plan", help="方案代码或年份 / plan key or year")] = None,
    state: Annotated[str | None, typer.Option(
        "--state", help="只看某状态 / only this state: 逾期 overdue, 临期 due_soon, 未到期 "
        "upcoming, 已退回 returned, 待审核 reported, 已签收 acknowledged, 已销号 closed, "
        "按期完成 done, 逾期完成 done_late")] = None,
    wide: Annotated[bool, typer.Option(
        "--wide", help="不截断列（表格可能超过100列） / do not shorten columns")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON / print JSON")] = False,
) -> None:
    """督办事项状态：截止日期与状态（按当日台账） / items with due date and state as of a day.

    Later reports, reviews and extensions do not count for a past --as-of day.

    Example: duban status --as-of 2023-10-09 --department 泰山区民政局 --state 逾期
    """
    try:
        now = parse_as_of(as_of)
    except ValueError as exc:
        fail(str(exc), code=2)
    wanted = state_filter(state) if state else None
    ctx = Context.from_env()
    ctx.db.create_schema()
    today = local_day(now)
    with ctx.db.read() as session:
        try:
            chosen = resolve_department(session, department) if department else None
            ids = [chosen.id] if chosen else None
            county_id = resolve_county(session, county).id if county else None
        except UnknownName as exc:
            fail(str(exc))
        rows = status_rows(session, today, ctx.calendar, plan, ids, action, county_id)
        missed = [u for u in undelivered(session, today)
                  if chosen is None or u.recipient == chosen.code]
    if wanted:
        rows = [r for r in rows if keep(r, wanted)]
    if as_json:
        echo_json({"as_of": today.isoformat(), "occurrences": [r.as_dict() for r in rows],
                   "undelivered": [u.as_dict() for u in missed]})
        return
    head, states = summary_lines(rows)
    typer.echo(f"截至 {today.isoformat()}：{head}\n{states}")
    if missed:
        more = f"；…等 {len(missed)} 个" if len(missed) > SHOWN_UNDELIVERED else ""
        typer.echo(f"未送达 {len(missed)} 个收件方：" + "；".join(
            f"{u.name}（{u.state_zh}，{u.day.isoformat()}：{u.reason}）"
            for u in missed[:SHOWN_UNDELIVERED]) + more)
    plans = list(dict.fromkeys(r.plan for r in rows))
    several = len(plans) > 1  # then each plan is summed up, and each row names its plan
    for key in plans if several else []:
        head, states = summary_lines([r for r in rows if r.plan == key], indent="    ")
        typer.echo(f"  方案 {key}：{head}\n{states}")
    body = [
        (r.id, *([r.plan] if several else []), r.action, r.duty,
         f"{r.department_name} {r.department}", r.period,
         r.due + ("*" if r.provisional else ""), _state_text(r))
        for r in rows
    ]
    headers = ["编号", *(["方案"] if several else []), "行动", "职责", "单位", "周期", "截止",
               "状态"]
    shrink = [3, 4] if several else [2, 3]
    echo_lines(fit_table(headers, body, shrink=shrink, wide=wide))


def _state_text(row: StatusRow) -> str:
    text = STATE_ZH[row.state]
    if row.returned and row.state != "returned":
        text += "·退回"
    return text + ("·签收" if row.acknowledged else "")
