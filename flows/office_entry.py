"""登记报送: the office records a report a department gave on paper or by phone.

Parameters are plain values typed into the Prefect UI (no secrets, no files: evidence is a link).
The task opens its own Context from the environment and calls duban.office_entry.enter_on_behalf, so
a retried run records the report once (the idempotency key is derived from what was entered);
then it emits the pending item events (签收 / 报送 / 更正) in the same task run.
"""

from __future__ import annotations

from prefect import flow, task
from prefect.cache_policies import NO_CACHE
from prefect.states import Completed, Failed, State

from duban.calendar.clock import parse_as_of
from duban.office_entry import enter_on_behalf
from duban.reports.errors import ReportError
from duban.service import Context
from flows.common import run_name
from tasks.chase import audit_form
from tasks.events import emit_pending

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
) -> dict:
    """Record the report; a refusal comes back as {"error", "field"} (nothing recorded)."""
    ctx = Context.from_env()
    ctx.db.create_schema()
    try:
        outcome = enter_on_behalf(
            ctx, department, occurrence, kind, value, note, evidence_url or None, entered_by,
            parse_as_of(as_of), unit=unit,
        )
    except ReportError as exc:
        result = {"error": exc.message, "field": exc.field}
    else:
        result = {**outcome.as_dict(), "replayed": outcome.replayed, "events": emit_pending(ctx)}
    audit_form(ctx, "登记报送", "occurrence", str(occurrence), {
        "department": department, "occurrence": occurrence, "kind": kind, "value": value,
        "unit": unit, "entered_by": entered_by, "as_of": as_of}, result)
    return result


DESCRIPTION = "督办办公室代为登记部门以纸质或电话方式报送的办结、进展或签收情况。"


@flow(name="登记报送", flow_run_name=run_name, description=DESCRIPTION)
async def office_entry(
    department: str,
    occurrence: int,
    kind: str = "done",
    value: float | None = None,
    unit: str | None = None,
    note: str = "",
    evidence_url: str = "",
    entered_by: str = "office",
    as_of: str | None = None,
) -> State:
    """as_of: when the report was received (YYYY-MM-DD or ISO instant; default now)."""
    outcome = enter_report(department, occurrence, kind, value, unit, note, evidence_url,
                           entered_by, as_of)
    return entry_state(outcome)


def entry_state(outcome: dict) -> State:
    """Failed("未登记") saying what is wrong, or Completed("已登记") with the report's answer."""
    if "error" in outcome:
        return Failed(name=NOT_ENTERED, message=f"未登记：{outcome['field']}: {outcome['error']}")
    return Completed(name=ENTERED, message=outcome["message"], data=outcome)
