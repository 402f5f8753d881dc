"""One action of a plan: a single flow, parameterised by the plan's key and the action's number.

Each active plan's actions become deployments of this flow (flows/deployments.py), named by number
and title ("02 社区养老服务行动"), so the UI lists them in order whatever the plan; the daily flow
(flows/daily.py) runs them as subflows. Nothing here knows a plan: the ledger does.
"""

from __future__ import annotations

from prefect import flow
from prefect.states import State
from pydantic import Field

from flows.common import AS_OF_FIELD, DRY_RUN_FIELD, run_action, run_name

ACTION_FLOW_NAME = "行动督办"
PLAN_KEY_FIELD = Field(..., json_schema_extra={"title": "方案"},
                       description="方案代码（由部署给定）。")
ACTION_NO_FIELD = Field(..., json_schema_extra={"title": "行动序号"},
                        description="方案中的行动序号（由部署给定）。")


@flow(
    name=ACTION_FLOW_NAME,
    flow_run_name=run_name,
    description="判定某项行动今日应催办的事项并记入台账，发布该行动的督办视图；非工作日自动跳过。"
    "发送由“发送督办汇总”统一完成。每项行动一个部署，由计划生成。",
)
async def action_flow(
    plan: str = PLAN_KEY_FIELD,
    action: int = ACTION_NO_FIELD,
    as_of: str | None = AS_OF_FIELD,
    dry_run: bool = DRY_RUN_FIELD,
) -> State:
    """plan: the plan's key (config plans/*.yaml); action: its number within the plan."""
    return run_action(plan, action, as_of, dry_run)
