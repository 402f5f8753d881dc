"""督办通报, weekly: the issue for the week is written under $DUBAN_HOME/bulletins/ and linked as
an artifact (`duban-bulletin`) pointing at the office's page that serves it (behind the office
credential). Re-running the same week rewrites the same issue under the same number."""

from __future__ import annotations

from prefect import flow, task
from prefect.artifacts import create_link_artifact
from prefect.cache_policies import NO_CACHE
from prefect.states import Completed, Failed, State
from pydantic import Field

from duban.calendar.clock import local_day, parse_as_of, utcnow
from duban.service import Context
from duban.supervise.bulletin import BulletinError, compose, record_path, write_docx
from duban.supervise.score import load_scoring

ARTIFACT_KEY = "duban-bulletin"
AS_OF_FIELD = Field(None, description="通报截至的日期 YYYY-MM-DD（默认今天）",
                    json_schema_extra={"title": "截至日期"})
PLAN_FIELD = Field(None, description="方案代码或年份（默认最新的现行方案）",
                   json_schema_extra={"title": "方案"})


@task(name="编写督办通报", cache_policy=NO_CACHE)
def write_bulletin(as_of: str | None, plan: str | None) -> dict:
    """Compose, number, write and record the issue; link it as an artifact."""
    ctx = Context.from_env()
    ctx.db.create_schema()
    spec = load_scoring(ctx.settings.config_dir)
    try:
        with ctx.db.session() as session:
            issue = compose(session, local_day(parse_as_of(as_of)), ctx.calendar,
                            ctx.config.ladder.slow_progress_ratio, spec, utcnow(), plan)
            path = (ctx.settings.home / "bulletins"
                    / f"督办通报-{issue.plan_key}-第{issue.no}期.docx")
            write_docx(issue, path)
            record_path(session, issue.plan_key, issue.no, path)
    except BulletinError as exc:
        return {"error": str(exc)}
    link = f"{ctx.settings.portal_url}/office/bulletins/{issue.plan_key}/{issue.no}"
    create_link_artifact(link, link_text=f"{issue.title}（{issue.start}至{issue.end}）",
                         key=ARTIFACT_KEY, description=issue.overall_text())
    return {"no": issue.no, "title": issue.title, "path": str(path), "link": link,
            "summary": issue.overall_text()}


@flow(name="督办通报", description="每周五 16:30（北京时间）编写本周督办通报（第N期，Word "
      "文件），存于 DUBAN_HOME/bulletins，并在 Artifacts 的 duban-bulletin 中给出下载链接"
      "（需督办办公室口令）。")
async def bulletin_flow(as_of: str | None = AS_OF_FIELD, plan: str | None = PLAN_FIELD) -> State:
    """The week's bulletin."""
    outcome = write_bulletin(as_of, plan)
    if "error" in outcome:
        return Failed(name="未编写", message=outcome["error"])
    return Completed(name="已编写", message=f"{outcome['title']}：{outcome['summary']}",
                     data=outcome)
