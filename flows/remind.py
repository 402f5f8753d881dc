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
    单位代码: str,
    行动序号: int | None = None,
    事项编号: int | None = None,
    附言: str = "",
    催办日期: str | None = None,
) -> State:
    """手动催办一个单位。

    The run form is labelled by the parameter names (Prefect titles each field with its name),
    so they are the office's words, as in 登记报送.

    Args:
        单位代码: 被催办单位的代码，见督办汇总消息或 duban status 的“单位”列。
        行动序号: 只催办该行动的事项（可空：全部未办结事项）。
        事项编号: 只催办这一个事项（可空）。
        附言: 随催办一并发送的话，如“请于周五前报送”。
        催办日期: 如 2023-10-09（可空：当前时间）；只用于补记或演练。
    """
    outcome = remind_department(单位代码, resolve_as_of(催办日期), 行动序号, 事项编号, 附言)
    return remind_state(outcome)


def remind_state(outcome: dict) -> State:
    """Failed("未催办") naming what did not match, or Completed("已催办") with what was sent."""
    if "error" in outcome:
        return Failed(name=NOT_REMINDED, message=f"未催办：{outcome['error']}")
    message = f"记录催办 {outcome['recorded']} 条；{delivery_summary(outcome['dispatch'])}"
    return Completed(name=REMINDED, message=message, data=outcome)
