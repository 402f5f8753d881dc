"""审批延期: the office approves or rejects a department's extension request from the Prefect UI.

Parameters are plain values typed into the deployment's run form, named in Chinese because the
form shows the names. One thin task opens its own
Context and calls duban.reports.extensions.decide (an approval moves the deadline and so the
reminder
ladder; the plan's date stays on record); then it emits the pending item events (延期).
"""

from __future__ import annotations

from typing import Literal

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext
from prefect.states import Completed, Failed, State

from duban.calendar.clock import utcnow
from duban.reports.extensions import ExtensionError, decide
from duban.service import Context
from tasks.chase import audit_form
from tasks.events import emit_pending
from tasks.publish import link_board

APPROVED = "已批准"
REJECTED = "已驳回"
NOT_DECIDED = "未审批"


@task(name="审批延期申请", task_run_name="审批延期申请 #{request_id}", cache_policy=NO_CACHE)
def decide_extension(request_id: int, approve: bool, note: str, decided_by: str) -> dict:
    """Record the decision; a refusal comes back as {"error": ...} (nothing recorded)."""
    ctx = Context.from_env()
    ctx.db.create_schema()
    try:
        with ctx.db.session() as session:
            request = decide(session, request_id, approve, decided_by or "office", utcnow(),
                             note)
            outcome = {
                "request_id": request.id, "occurrence_id": request.occurrence_id,
                "department": request.department.code,
                "department_name": request.department.name, "state": request.state,
                "due_on": request.occurrence.due_on.isoformat(),
                "original_due_on": request.occurrence.original_due_on.isoformat(),
                "requested_due_on": request.requested_due_on.isoformat(),
            }
    except ExtensionError as exc:
        outcome = {"error": str(exc)}
    else:
        outcome["events"] = emit_pending(ctx)
    audit_form(ctx, "审批延期", "extension_request", str(request_id), {
        "request_id": request_id, "approve": approve, "decided_by": decided_by}, outcome)
    return outcome


def _run_name() -> str:
    """e.g. "审批延期 #3 批准"."""
    context = FlowRunContext.get()
    params = (context.parameters or {}) if context else {}
    return f"审批延期 #{params.get('申请编号', '?')} {params.get('审批结果', '')}"


@flow(
    name="审批延期",
    flow_run_name=_run_name,
    description="督办办公室审批部门的延期申请（申请编号见 duban extension list 或报送页面）：批准则"
    "截止日期与催办阶梯顺延，原定截止日期留档；驳回则截止日期不变。点击 Run → Custom run 填写。",
)
async def extension_flow(
    申请编号: int, 审批结果: Literal["批准", "驳回"], 审批意见: str = "", 审批人: str = "督办办公室"
) -> State:
    """审批一份延期申请。

    Args:
        申请编号: 延期申请的编号，见 duban extension list。
        审批结果: 批准＝截止日期改为申请的日期；驳回＝截止日期不变。
        审批意见: 写给申请单位的意见（可空）。
        审批人: 经办人姓名，记入审计日志。
    """
    outcome = decide_extension(申请编号, 审批结果 == "批准", 审批意见, 审批人)
    await link_board()
    return extension_state(outcome)


def extension_state(outcome: dict) -> State:
    """Completed 已批准 / 已驳回, or Failed 未审批 with the reason (in Chinese first)."""
    if "error" in outcome:
        return Failed(name=NOT_DECIDED, message=f"未审批：{outcome['error']}")
    if outcome["state"] == "approved":
        message = (f"已批准{outcome['department_name']}的延期申请 #{outcome['request_id']}："
                   f"截止日期改为 {outcome['due_on']}（原定 {outcome['original_due_on']}）")
        return Completed(name=APPROVED, message=message, data=outcome)
    message = (f"已驳回{outcome['department_name']}的延期申请 #{outcome['request_id']}："
               f"截止日期仍为 {outcome['due_on']}")
    return Completed(name=REJECTED, message=message, data=outcome)
