"""每日督办: the day as one parent flow, each action of the active plans as a subflow, then the
digest. Ordering is explicit (the digest starts when the last action has finished) instead of two
clocks, and the UI groups a day's runs under one parent run. A day off is one run with one task
(the board), not a subflow per action that would only skip itself.
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.states import Failed, State
from pydantic import Field

from flows.actions import action_flow
from flows.common import (
    AS_OF_FIELD,
    DRY_RUN_FIELD,
    PLAN_FIELD,
    day_label,
    non_workday_state,
    resolve_as_of,
    run_name,
    shared_client,
)
from flows.dispatch import dispatch_flow
from flows.states import ERROR, NON_WORKDAY, OVERDUE, day_state, error_state, non_workday
from tasks.chase import plan_actions
from tasks.publish import publish_board

DAILY_FLOW_NAME = "每日督办"


async def outcome(state: State) -> dict[str, Any]:
    """A finished subflow as data: its state name and message, and what it returned.

    ok means "ran to the end": a Failed-type state the flow chose to return with its data (a day
    with overdue items may be shown that way) is not an error; an exception or a crash is."""
    data = await state.aresult(raise_on_failure=False)
    ok = state.is_completed() or (state.is_failed() and data is not None
                                  and not isinstance(data, BaseException))
    return {"ok": ok, "state": state.name, "message": state.message or ("" if ok else str(data)),
            "data": data if ok else None}


ACTIONS_FIELD = Field(None, json_schema_extra={"title": "行动序号"},
                      description="只运行这几项行动（留空：全部行动）。")
BOARD_FIRST_FIELD = Field(False, json_schema_extra={"title": "先发布督办总览"},
                          description="启动补跑用：先按台账现状发布督办总览，再逐项巡查。")


@flow(
    name=DAILY_FLOW_NAME,
    flow_run_name=run_name,
    description="每天一次：依次运行各在办计划的每项行动（判定催办、发布督办视图），全部完成后发送"
    "督办汇总并发布督办总览。非工作日各行动自动跳过，督办总览照常更新。",
)
async def daily_flow(
    as_of: str | None = AS_OF_FIELD,
    dry_run: bool = DRY_RUN_FIELD,
    plan: str | None = PLAN_FIELD,
    actions: list[int] | None = ACTIONS_FIELD,
    board_first: bool = BOARD_FIRST_FIELD,
) -> State:
    """as_of: 督办时点（默认现在）; dry_run: 演练（不记录、不发送）;
    plan / actions: 只跑某计划、某几项行动; board_first: 先按台账现状发布督办总览（启动时补跑用，
    the board is there in seconds instead of after the whole day's chase)."""
    now = resolve_as_of(as_of)
    with shared_client():
        day_off = non_workday_state(now)
        if day_off is not None:
            return day_off_state(now, day_off, plan, actions, dry_run)
        if board_first and not dry_run:
            publish_board(now)
        runs = []
        for key, no, title in plan_actions(now, plan, actions, dry_run):
            named = action_flow.with_options(flow_run_name=f"{no:02d} {title} {day_label(now)}"
                                             + ("（演练）" if dry_run else ""))
            state = await named(plan=key, action=no, as_of=now, dry_run=dry_run,
                                return_state=True)
            runs.append({"plan": key, "action": no, "title": title, **await outcome(state)})
        dispatch = None
        if not dry_run:
            dispatch = await outcome(await dispatch_flow(as_of=now, return_state=True))
    return daily_state(runs, dispatch)


def day_off_state(now: str, day_off: State, plan: str | None, actions: list[int] | None,
                  dry_run: bool) -> State:
    """A day off costs one task run, not a subflow per action that would only skip itself:
    nothing is chased or sent; 督办总览 is published (items fall overdue on days off too).
    The runs list still names every action, marked 非工作日, as their skipped runs would."""
    try:
        listed = plan_actions(now, plan, actions, dry_run)
        if not dry_run:
            publish_board(now)
    except Exception as exc:  # noqa: BLE001  运行出错, as when a subflow breaks
        return error_state(exc)
    runs = [{"plan": key, "action": no, "title": title, "ok": True, "state": NON_WORKDAY,
             "message": day_off.message, "data": []} for key, no, title in listed]
    return non_workday(f"{day_off.message}：各行动不催办，不发送汇总"
                       + ("" if dry_run else "；督办总览已更新"),
                       data={"runs": runs, "dispatch": None})


def daily_state(runs: list[dict], dispatch: dict | None) -> State:
    """The day's state reflects its children (flows/states.py): 运行出错 naming the runs that
    broke; else 有逾期 (red) with the overdue items summed when any action has them; else 正常."""
    failed = [r for r in runs if not r["ok"]] + ([dispatch] if dispatch and not dispatch["ok"]
                                                  else [])
    data = {"runs": runs, "dispatch": dispatch}
    if failed:
        names = "、".join(f"{r['action']:02d} {r['title']}" if "action" in r else "发送督办汇总"
                         for r in failed)
        return Failed(name=ERROR, message=f"运行出错：{names}", data=data)
    overdue = sum(x["states"].get("overdue", 0) for r in runs for x in r["data"] or []
                  if isinstance(x, dict))
    late = sum(1 for r in runs if r["state"] == OVERDUE)
    sent = f"；{dispatch['state']}：{dispatch['message']}" if dispatch else ""
    return day_state(overdue, f"行动 {len(runs)} 项（有逾期 {late} 项）{sent}", data)
