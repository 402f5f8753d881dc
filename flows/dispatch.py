"""发送督办汇总: send the day's digests, one per recipient, after the action flows have chased."""

from __future__ import annotations

from prefect import flow
from prefect.states import Completed, State
from pydantic import Field

from flows.common import (
    AS_OF_FIELD,
    delivery_summary,
    non_workday_state,
    resolve_as_of,
    run_name,
    shared_client,
)
from flows.states import error_state
from tasks.chase import dispatch_digests
from tasks.publish import publish_board

SENT = "已发送"
NOTHING = "无待发"
UNDELIVERED = "有未送达"
FORCE_FIELD = Field(False, json_schema_extra={"title": "非工作日也发送"},
                    description="非工作日也发送汇总（一般不用）。")


@flow(
    name="发送督办汇总",
    flow_run_name=run_name,
    description=(
        "把各行动已记入台账的催办合并为每个单位每天一份汇总并发送；非工作日不发送（force 除外）。"
        "随后发布督办总览（Artifacts：00-duban-board）。"
    ),
)
async def dispatch_flow(
    as_of: str | None = AS_OF_FIELD,
    force: bool = FORCE_FIELD,
) -> State:
    """Send the day's digests (not on a day off unless forced), then publish 督办总览: every
    day, since items fall overdue on days off too."""
    try:
        now = resolve_as_of(as_of)
        skipped = None if force else non_workday_state(now)
        with shared_client():
            result = dispatch_digests(now, force) if skipped is None else None
            publish_board(now)
    except Exception as exc:  # noqa: BLE001  运行出错, told apart from any delivery outcome
        return error_state(exc)
    return skipped if skipped is not None else dispatch_state(result)


def dispatch_state(result: dict) -> State:
    """已发送 / 无待发 / 有未送达 (failed, unknown or unroutable digests are named, not hidden)."""
    status = result.get("status", {})
    if not result.get("digests"):
        name = NOTHING
    elif any(n for state, n in status.items() if state != "sent"):
        name = UNDELIVERED
    else:
        name = SENT
    return Completed(name=name, message=delivery_summary(result), data=result)
