"""`duban status`: every occurrence with its due date and state, as of a day."""

from __future__ import annotations

from collections import Counter
from typing import Annotated

import typer

from cli.main import app
from cli.output import echo_json, echo_lines, fail, table
from duban.calendar.clock import local_day, parse_as_of
from duban.chase.occurrences import STATE_ZH, STATES, StatusRow, status_rows
from duban.service import Context

AsOfOpt = Annotated[
    str | None,
    typer.Option("--as-of", help="YYYY-MM-DD (that day in Asia/Shanghai) or an ISO datetime."),
]


def summary_lines(rows: list[StatusRow]) -> list[str]:
    counts = Counter(r.state for r in rows)
    return ["，".join(f"{STATE_ZH[s]} {counts.get(s, 0)}" for s in STATES) + f"（共 {len(rows)}）"]


@app.command("status")
def status(
    as_of: AsOfOpt = None,
    department: Annotated[
        str | None, typer.Option("--department", help="A code, e.g. mzj.")
    ] = None,
    action: Annotated[list[int] | None, typer.Option("--action", help="Action number(s).")] = None,
    plan: Annotated[str | None, typer.Option("--plan", help="Plan key or year.")] = None,
    state: Annotated[str | None, typer.Option("--state", help="Only this state.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List occurrences (duty x department x period): due date and state as of a day.

    States: upcoming, due_soon, overdue, done, done_late.

    Example: duban status --as-of 2023-10-09 --department mzj --action 2
    """
    try:
        now = parse_as_of(as_of)
    except ValueError as exc:
        fail(str(exc), code=2)
    if state and state not in STATES:
        fail(f"--state {state!r}: expected one of {', '.join(STATES)}", code=2)
    ctx = Context.from_env()
    ctx.db.create_schema()
    with ctx.db.read() as session:
        rows = status_rows(session, local_day(now), ctx.calendar, plan, department, action)
    if state:
        rows = [r for r in rows if r.state == state]
    if as_json:
        echo_json({"as_of": local_day(now).isoformat(), "occurrences": [r.as_dict() for r in rows]})
        return
    typer.echo(f"截至 {local_day(now).isoformat()}：" + summary_lines(rows)[0])
    body = [
        (r.id, r.action, r.duty, r.department, r.period, r.due + ("*" if r.provisional else ""),
         STATE_ZH[r.state])
        for r in rows
    ]
    echo_lines(table(["编号", "行动", "职责", "单位", "周期", "截止", "状态"], body))
