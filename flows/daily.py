"""每日督办: the day as one parent flow, each action of the active plans as a subflow, then the
digest. Ordering is explicit (the digest starts when the last action has finished) instead of two
clocks, and the UI groups a day's runs under one parent run.
"""

from __future__ import annotations

from typing import Any

from prefect import flow
from prefect.states import Completed, Failed, State

from flows.actions import action_flow
from flows.common import day_label, resolve_as_of, run_name
from flows.dispatch import dispatch_flow
from tasks.chase import plan_actions

DAILY_FLOW_NAME = "每日督办"
DONE = "已完成"
FAILED = "有失败"


async def outcome(state: State) -> dict[str, Any]:
    """A finished subflow as data: its state name and message, and what it returned.

    ok means "ran to the end": a Failed-type state the flow chose to return with its data (a day
    with overdue items may be shown that way) is not an error; an exception or a crash is."""
    data = await state.aresult(raise_on_failure=False)
    ok = state.is_completed() or (state.is_failed() and data is not None
                                  and not isinstance(data, BaseException))
    return {"ok": ok, "state": state.name, "message": state.message or ("" if ok else str(data)),
            "data": data if ok else None}


@flow(
    name=DAILY_FLOW_NAME,
    flow_run_name=run_name,
    description="每天一次：依次运行各在办计划的每项行动（判定催办、发布督办视图），全部完成后发送"
    "督办汇总并发布督办总览。非工作日各行动自动跳过，督办总览照常更新。",
)
async def daily_flow(
    as_of: str | None = None,
    dry_run: bool = False,
    plan: str | None = None,
    actions: list[int] | None = None,
) -> State:
    """as_of: 督办时点（默认现在）; dry_run: 演练（不记录、不发送）;
    plan / actions: 只跑某计划、某几项行动."""
    now = resolve_as_of(as_of)
    runs = []
    for key, no, title in plan_actions(now, plan, actions, dry_run):
        named = action_flow.with_options(flow_run_name=f"{no:02d} {title} {day_label(now)}"
                                         + ("（演练）" if dry_run else ""))
        state = await named(plan=key, action=no, as_of=now, dry_run=dry_run, return_state=True)
        runs.append({"plan": key, "action": no, "title": title, **await outcome(state)})
    dispatch = None
    if not dry_run:
        dispatch = await outcome(await dispatch_flow(as_of=now, return_state=True))
    return daily_state(runs, dispatch)


def daily_state(runs: list[dict], dispatch: dict | None) -> State:
    """Failed "有失败" naming the runs that failed, else Completed "已完成" with the day's sums."""
    failed = [r for r in runs if not r["ok"]] + ([dispatch] if dispatch and not dispatch["ok"]
                                                  else [])
    data = {"runs": runs, "dispatch": dispatch}
    if failed:
        names = "、".join(f"{r['action']:02d} {r['title']}" if "action" in r else "发送督办汇总"
                         for r in failed)
        return Failed(name=FAILED, message=f"运行失败：{names}", data=data)
    overdue = sum(1 for r in runs
                  if any(x["states"].get("overdue") for x in r["data"] or []))
    sent = f"；{dispatch['state']}：{dispatch['message']}" if dispatch else ""
    return Completed(name=DONE, message=f"行动 {len(runs)} 项（有逾期 {overdue} 项）{sent}",
                     data=data)
