"""`duban bulletin`: 督办通报, a numbered issue for the week ending on a day, as a Word file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cli.main import app
from cli.output import fail
from cli.status_cmd import AsOfOpt
from duban.calendar.clock import local_day, parse_as_of, utcnow
from duban.plan.config import ConfigError
from duban.service import Context
from duban.supervise.bulletin import BulletinError, compose, record_path, write_docx
from duban.supervise.score import load_scoring


@app.command("bulletin")
def bulletin(
    docx: Annotated[Path, typer.Option(
        "--docx", help="写出的 Word 文件 / the .docx file to write")],
    as_of: AsOfOpt = None,
    plan: Annotated[str | None, typer.Option(
        "--plan", help="方案代码或年份（默认最新的现行方案） / plan key or year")] = None,
) -> None:
    """督办通报：截至某日的一周情况，编号第N期 / the bulletin for the week ending on a day.

    Overall figures, red and yellow items by department, returned items, the ranking (考评)
    and the units that finished on time. The numbering persists: the same week keeps its
    number, the next week takes the next one.

    Example: duban bulletin --as-of 2023-10-13 --docx 督办通报.docx
    """
    try:
        now = parse_as_of(as_of)
    except ValueError as exc:
        fail(str(exc), code=2)
    if docx.suffix.lower() != ".docx":
        fail(f"--docx {docx}：文件名应以 .docx 结尾 / the file name must end in .docx", code=2)
    ctx = Context.from_env()
    ctx.db.create_schema()
    try:
        spec = load_scoring(ctx.settings.config_dir)
    except ConfigError as exc:
        fail(f"配置有误 / bad config: {exc}")
    try:
        with ctx.db.session() as session:
            issue = compose(session, local_day(now), ctx.calendar,
                            ctx.config.ladder.slow_progress_ratio, spec, utcnow(), plan)
            path = write_docx(issue, docx)
            record_path(session, issue.plan_key, issue.no, path.resolve())
    except BulletinError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"无法写出 {docx}：{exc.strerror} / cannot write {docx}")
    typer.echo(f"已写出 {issue.title}（{issue.start}至{issue.end}）：{path}")
