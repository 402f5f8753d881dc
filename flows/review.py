"""审核销号: the office accepts (销号) or returns (退回) a reported item from the Prefect UI.

A deployment without a schedule: "Run" -> "Custom run" shows a form with Chinese field titles.
One thin task opens its own Context and calls duban.reports.review (the verdict is audited with
this flow run's id); then it emits the pending item events (duban.item.closed / returned).
A retried run records the verdict once (verdicts are idempotent).
"""

from __future__ import annotations

from typing import Literal

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext
from prefect.states import Completed, Failed, State
from pydantic import Field

from duban.calendar.clock import utcnow
from duban.reports.review import ReviewError, accept, return_item
from duban.service import Context
from tasks.events import emit_pending

ACCEPTED = "已销号"
RETURNED = "已退回"
NOT_REVIEWED = "未审核"
Verdict = Literal["销号", "退回"]
# The run form's fields. Prefect titles each field by its parameter name and keeps only a
# Field's default, description and json_schema_extra: the Chinese title rides in the latter.
OCCURRENCE_FIELD = Field(..., json_schema_extra={"title": "事项编号"},
                         description="待审核事项的编号（duban review --list）")
VERDICT_FIELD = Field("销号", json_schema_extra={"title": "审核结论"},
                      description="销号：审核通过；退回：不通过，须写明原因")
REASON_FIELD = Field("", json_schema_extra={"title": "退回原因"},
                     description="退回时必填，部门报送页面会显示此原因")
REVIEWER_FIELD = Field("", json_schema_extra={"title": "审核人"},
                       description="姓名，记入审计记录")


@task(name="审核销号", task_run_name="审核 #{occurrence} {verdict}", cache_policy=NO_CACHE)
def review_item(occurrence: int, verdict: str, reason: str, reviewer: str, via: str) -> dict:
    """Record the verdict; a refusal comes back as {"error": ...} (nothing recorded)."""
    ctx = Context.from_env()
    ctx.db.create_schema()
    by = reviewer.strip() or "office"
    by = by if by.startswith("office") else f"office:{by}"
    try:
        with ctx.db.session() as session:
            if verdict == "销号":
                outcome = accept(session, occurrence, by, utcnow(), via)
            else:
                outcome = return_item(session, occurrence, reason, by, utcnow(), ctx.calendar,
                                      ctx.config.ladder.review.rework_days, via)
            result = outcome.as_dict()
    except ReviewError as exc:
        return {"error": str(exc)}
    result["events"] = emit_pending(ctx)
    return result


def _run_name() -> str:
    """e.g. "审核销号 #120 退回"."""
    context = FlowRunContext.get()
    params = (context.parameters or {}) if context else {}
    return f"审核销号 #{params.get('occurrence', '?')} {params.get('verdict', '销号')}"


@flow(
    name="审核销号",
    flow_run_name=_run_name,
    description="督办办公室审核部门报送：销号则事项关闭；退回须写明原因，事项重新打开，"
    "自退回之日起按工作日重新计算截止日期并重新催办。待审核事项见 duban review --list。",
)
async def review_flow(
    occurrence: int = OCCURRENCE_FIELD,
    verdict: Verdict = VERDICT_FIELD,
    reason: str = REASON_FIELD,
    reviewer: str = REVIEWER_FIELD,
) -> State:
    """The office's verdict on one reported item."""
    context = FlowRunContext.get()
    via = f"prefect:{context.flow_run.id}" if context and context.flow_run else "prefect"
    return review_state(review_item(occurrence, verdict, reason, reviewer, via))


def review_state(outcome: dict) -> State:
    """Completed 已销号 / 已退回, or Failed 未审核 with the reason."""
    if "error" in outcome:
        return Failed(name=NOT_REVIEWED, message=f"未审核：{outcome['error']}")
    name = ACCEPTED if outcome["verdict"] == "accepted" else RETURNED
    return Completed(name=name, message=outcome["message"], data=outcome)
