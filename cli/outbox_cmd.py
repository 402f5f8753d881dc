"""`duban outbox`: read what the built-in outbox channel stored (no account needed anywhere)."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy import select

from cli.main import app
from cli.output import echo_json
from duban.calendar.clock import shanghai
from duban.ledger.models import OutboxMessage
from duban.service import Context


@app.command("outbox")
def outbox(
    recipient: Annotated[str | None, typer.Option(
        "--recipient", help="收件标签（单位代码、office 等） / a tag, e.g. mzj or office")] = None,
    last: Annotated[int, typer.Option(
        "--last", help="显示最新的几条 / how many of the newest messages")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON / print JSON")] = False,
) -> None:
    """内置发件箱的最新消息 / the newest messages of the built-in outbox.

    Each message is shown whole, newest last.

    Example: duban outbox --recipient office --last 3
    """
    ctx = Context.from_env()
    ctx.db.create_schema()
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(last)
    if recipient:
        query = query.where(OutboxMessage.recipient == recipient)
    with ctx.db.read() as session:
        messages = list(reversed(session.scalars(query).all()))
    if as_json:
        echo_json([{"id": m.id, "recipient": m.recipient, "title": m.title, "body": m.body,
                    "at": shanghai(m.at)} for m in messages])
        return
    if not messages:
        typer.echo("发件箱为空 / the outbox is empty")
    for m in messages:
        typer.echo(f"── #{m.id} → {m.recipient}  {shanghai(m.at)}\n{m.title}\n\n{m.body}\n")
