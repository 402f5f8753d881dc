"""What every duban flow shares: one fixed "now", the run name, the working-day gate, final states.

Flows are `async def` although the work below them is synchronous: Prefect 3.9 spends ~1 s per sync
flow run on its heartbeat and ~0.1-0.4 s per async one (measured here), which is most of the cost
of `duban chase` over a plan's actions. The tasks are ordinary sync functions called from the flow.
"""

from __future__ import annotations

import functools
from contextlib import AbstractContextManager

from prefect.context import FlowRunContext, SyncClientContext
from prefect.states import State
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from duban.calendar.clock import local_day, parse_as_of
from duban.calendar.workdays import WorkCalendar
from duban.chase.occurrences import STATE_ZH
from duban.ledger.models import Action, Plan
from flows.states import day_state, error_state, non_workday
from tasks.chase import chase_actions, task_context
from tasks.publish import publish_action

# Run forms in Chinese (Prefect builds "Custom run" from the parameter schema): Field's default,
# a description, and the Chinese title in json_schema_extra (as in flows/review.py).
AS_OF_FIELD = Field(None, json_schema_extra={"title": "督办时点"},
                    description="日期 YYYY-MM-DD（北京时间）或 ISO 时间；留空为当前时间。"
                    "只用于补跑或演练。")
DRY_RUN_FIELD = Field(False, json_schema_extra={"title": "演练"},
                      description="演练：只计算应催办的事项，不记入台账、不发送。")
PLAN_FIELD = Field(None, json_schema_extra={"title": "方案"},
                   description="方案代码或年份；留空为全部执行中的方案。")

DELIVERY_ZH = {"sent": "已发送", "failed": "未送达", "unknown": "结果未知",
               "unroutable": "无送达渠道", "retrying": "待重试", "in_flight": "发送中"}

def shared_client() -> AbstractContextManager:
    """One Prefect sync client for every sync task run (and sync artifact call) of this run and
    its subflows. Without it each task run builds its own client, loading the CA bundle into a
    new SSL context and asking the server's version: most of an action flow's client time."""
    return SyncClientContext.get_or_create()


def resolve_as_of(as_of: str | None) -> str:
    """The run's instant as an aware ISO string, fixed once so every task sees the same now."""
    return parse_as_of(as_of).isoformat()


def day_label(as_of: str | None) -> str:
    """The Shanghai date an as-of value means; an invalid value is shown as given (the flow then
    fails on it with the parse error, which is clearer than a run that cannot be named)."""
    try:
        return local_day(parse_as_of(as_of)).isoformat()
    except ValueError:
        return str(as_of)


def run_name() -> str:
    """e.g. "02 社区养老服务行动 2023-10-09", "手动催办 mzj 2023-10-09", "… （演练）"."""
    context = FlowRunContext.get()
    if context is None:  # called outside a run: nothing better to say
        return "duban"
    params = context.parameters or {}
    parts = [context.flow.name]
    if params.get("action") is not None and params.get("plan"):
        parts = [action_label(str(params["plan"]), int(params["action"]))]
    elif params.get("department") or params.get("单位代码"):
        parts.append(str(params.get("department") or params.get("单位代码")))
    parts.append(day_label(params.get("as_of") or params.get("催办日期")))
    return " ".join(parts) + ("（演练）" if params.get("dry_run") else "")


def action_label(plan: str, action_no: int) -> str:
    """e.g. "02 社区养老服务行动": the action's number and title as the ledger has them, so runs
    and deployments sort by number; the bare number when the plan does not have it."""
    title = action_titles(plan).get(action_no)
    return f"{action_no:02d} {title}" if title else f"{action_no:02d}"


def action_titles(plan: str) -> dict[int, str]:
    """{number: title} of a plan's actions, read from the ledger (empty when it is not there)."""
    ctx = task_context()
    try:
        with ctx.db.read() as session:
            rows = session.execute(select(Action.no, Action.title).join(Plan)
                                   .where(Plan.key == plan)).all()
    except SQLAlchemyError:  # no ledger yet: the run still gets a name
        return {}
    return dict(rows)


@functools.cache
def _calendar() -> WorkCalendar:
    """One calendar per process: a fresh one computes the year's flags again (~0.1 s), and the
    daily flow asks once per action."""
    return WorkCalendar()


def non_workday_state(as_of: str, data: object = None) -> State | None:
    """Completed("非工作日") on a day off, None on a working day (adjusted Saturdays included)."""
    day = local_day(parse_as_of(as_of))
    if _calendar().is_workday(day):
        return None
    return non_workday(f"{day} 为非工作日，跳过", data=data)


def run_action(plan: str, action_no: int, as_of: str | None, dry_run: bool) -> State:
    """The whole body of an action flow: gate on the working day, chase in one task run, then
    publish the events and the supervisors' artifacts in one more (not in a dry run).
    Whatever breaks ends the run as 运行出错, never as 有逾期 (flows/states.py)."""
    try:
        now = resolve_as_of(as_of)
        skipped = non_workday_state(now, data=[])
        if skipped is not None:
            return skipped
        with shared_client():
            results = chase_actions(now, [action_no], dry_run, plan)
            if not dry_run:
                publish_action(now, action_no, plan)
    except Exception as exc:  # noqa: BLE001  the run's state says it; the log has the traceback
        return error_state(exc)
    return action_state(results, dry_run)


def action_state(results: list[dict], dry_run: bool) -> State:
    """有逾期 (a red, Failed-type state) when anything is overdue, else 正常 (flows/states.py);
    the message sums it up."""
    overdue = sum(r["states"].get("overdue", 0) for r in results)
    states = sum_counts(r["states"] for r in results)
    counts = "，".join(f"{STATE_ZH[s]} {n}" for s, n in states.items() if n) or "暂无事项"
    owed = sum(r["owed"] for r in results)
    if dry_run:
        reminders = f"应催办 {owed} 条（演练，未记录）"
    else:
        recorded = sum(r["recorded"] for r in results)
        reminders = f"应催办 {owed} 条，新记 {recorded} 条，此前已记 {owed - recorded} 条"
    return day_state(overdue, f"{counts}；{reminders}", data=results)


def sum_counts(counters) -> dict[str, int]:
    """Add up {key: count} dicts, keys in the order of duban.chase.occurrences.STATE_ZH first."""
    total: dict[str, int] = dict.fromkeys(STATE_ZH, 0)
    for counter in counters:
        for key, count in counter.items():
            total[key] = total.get(key, 0) + count
    return total


UNDELIVERED_SHOWN = 5


def delivery_summary(result: dict) -> str:
    """The dispatch's own summary (duban.chase.dispatch.DispatchResult.summary: who was not
    reached, when each is tried again, the office told); else e.g. "汇总 3 份：已发送 2"."""
    if result.get("summary"):
        return result["summary"]
    parts = [f"{DELIVERY_ZH.get(k, k)} {n}" for k, n in result.get("status", {}).items() if n]
    text = f"汇总 {result.get('digests', 0)} 份" + ("：" + "，".join(parts) if parts else "")
    missed = result.get("undelivered") or []
    if missed:
        names = "、".join(f"{m['name']}（{DELIVERY_ZH.get(m['state'], m['state'])}）"
                         for m in missed[:UNDELIVERED_SHOWN])
        more = f"等 {len(missed)} 个收件方" if len(missed) > UNDELIVERED_SHOWN else ""
        text += f"；未送达：{names}{more}"
    return text
