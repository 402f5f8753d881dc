"""登记报送: the office records a report a department gave on paper or by phone.

Parameters are plain values typed into the Prefect UI's run form, named in Chinese because the
form shows the names (no secrets, no files: evidence is a link).
The task opens its own Context from the environment and calls duban.office_entry.enter_on_behalf, so
a retried run records the report once (the idempotency key is derived from what was entered);
then it emits the pending item events (签收 / 报送 / 更正) in the same task run.
"""

from __future__ import annotations

from typing import Literal

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.context import FlowRunContext
from prefect.states import Completed, Failed, State

from duban.calendar.clock import parse_as_of
from duban.office_entry import enter_on_behalf
from duban.reports.errors import ReportError
from duban.service import Context
from flows.common import day_label
from tasks.chase import audit_form
from tasks.events import emit_pending
from tasks.publish import link_board

ENTERED = "已登记"
NOT_ENTERED = "未登记"


@task(name="代为登记", task_run_name="代为登记 {department} #{occurrence}", cache_policy=NO_CACHE)
def enter_report(
    department: str,
    occurrence: int,
    kind: str,
    value: float | None,
    unit: str | None,
    note: str,
    evidence_url: str,
    entered_by: str,
    as_of: str | None,
    numerator: str = "",
    denominator: str = "",
) -> dict:
    """Record the report; a refusal comes back as {"error", "field"} (nothing recorded)."""
    ctx = Context.from_env()
    ctx.db.create_schema()
    try:
        outcome = enter_on_behalf(
            ctx, department, occurrence, kind, value, note, evidence_url or None, entered_by,
            parse_as_of(as_of), unit=unit, numerator=numerator or None,
            denominator=denominator or None,
        )
    except ReportError as exc:
        result = {"error": exc.message, "field": exc.field}
    else:
        result = {**outcome.as_dict(), "replayed": outcome.replayed, "events": emit_pending(ctx)}
    audit_form(ctx, "登记报送", "occurrence", str(occurrence), {
        "department": department, "occurrence": occurrence, "kind": kind, "value": value,
        "unit": unit, "numerator": numerator, "denominator": denominator,
        "entered_by": entered_by, "as_of": as_of}, result)
    return result


DESCRIPTION = ("督办办公室代为登记部门以纸质、电话等方式报送的办结、进展或签收情况："
               "点击 Run → Custom run，按表单填写。")
KINDS = {"办结": "done", "报送进展": "progress", "签收": "ack"}


def _entry_run_name() -> str:
    """e.g. "登记报送 mzj 2023-10-09"."""
    context = FlowRunContext.get()
    params = (context.parameters or {}) if context else {}
    return f"登记报送 {params.get('单位代码', '')} {day_label(params.get('收到日期') or None)}"


# The run form in the Prefect UI is labelled by the parameter names (Prefect sets each field's
# title to its name), so the names are the office's own words; the help under each field comes
# from the Args section below.
@flow(name="登记报送", flow_run_name=_entry_run_name, description=DESCRIPTION)
async def office_entry(
    单位代码: str,
    事项编号: int,
    报送类型: Literal["办结", "报送进展", "签收"] = "办结",
    数值: str = "",
    计量单位: str = "",
    情况说明: str = "",
    佐证材料链接: str = "",
    登记人: str = "督办办公室",
    收到日期: str = "",
    分子: str = "",
    分母: str = "",
) -> State:
    """登记一份部门报送。

    Args:
        单位代码: 报送单位的代码，见督办汇总消息或 duban status 的“单位”列。
        事项编号: 督办事项编号，见督办汇总消息或逾期清单的“编号”列。
        报送类型: 办结＝事项已完成；报送进展＝阶段性数值，事项继续跟踪；签收＝已收到，暂停催办。
        数值: 指标数值，只填数字（如 260 或 85.5）；没有量化指标的事项留空。
        计量单位: 数值的单位，如 户、%；留空按指标的单位。
        情况说明: 报送内容摘要，如“9月累计改造260户”。
        佐证材料链接: 佐证材料的网址（可空）。
        登记人: 经办人姓名，记入审计日志。
        收到日期: 收到报送的日期，如 2023-10-09；留空为当前时间。
        分子: 比率或平均数指标（如月探访率）的分子，如已探访人数；与分母一起填写，数值留空。
        分母: 该指标的分母，如 应探访人数，须大于0。
    """
    value, problem = _number(数值)
    if problem:
        return entry_state({"error": problem, "field": "数值"})
    outcome = enter_report(单位代码, 事项编号, KINDS[报送类型], value, 计量单位 or None, 情况说明,
                           佐证材料链接, 登记人, 收到日期 or None, 分子.strip(), 分母.strip())
    await link_board()
    return entry_state(outcome)


def _number(text: str) -> tuple[float | None, str]:
    """The form's 数值 as a number (None when left empty), or what is wrong with it."""
    text = text.strip()
    if not text:
        return None, ""
    try:
        return float(text), ""
    except ValueError:
        return None, f"数值应为数字（如 260 或 85.5），收到“{text}”"


def entry_state(outcome: dict) -> State:
    """Failed("未登记") saying what is wrong, or Completed("已登记") with the report's answer."""
    if "error" in outcome:
        return Failed(name=NOT_ENTERED, message=f"未登记：{outcome['field']}: {outcome['error']}")
    return Completed(name=ENTERED, message=outcome["message"], data=outcome)
