"""手动催办: urge one department now, outside the ladder, and send the digest at once."""

from __future__ import annotations

from prefect import flow
from prefect.states import Completed, Failed, State

from flows.common import delivery_summary, resolve_as_of, run_name
from tasks.chase import remind_department

REMINDED = "已催办"
NOT_REMINDED = "未催办"


@flow(
    name="手动催办",
    flow_run_name=run_name,
    description="督办人员手动催办某单位的未办结事项（可限定行动或待办编号，可附言），立即发送。",
)
async def remind_flow(
    department: str,
    action: int | None = None,
    occurrence: int | None = None,
    note: str = "",
    as_of: str | None = None,
) -> State:
    outcome = remind_department(department, resolve_as_of(as_of), action, occurrence, note)
    return remind_state(outcome)


def remind_state(outcome: dict) -> State:
    """Failed("未催办") naming what did not match, or Completed("已催办") with what was sent."""
    if "error" in outcome:
        return Failed(name=NOT_REMINDED, message=f"未催办：{outcome['error']}")
    message = f"记录催办 {outcome['recorded']} 条；{delivery_summary(outcome['dispatch'])}"
    return Completed(name=REMINDED, message=message, data=outcome)
