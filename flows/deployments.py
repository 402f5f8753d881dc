"""The one list of deployments, computed from the active plans in the ledger.

`duban up` serves exactly this list and `duban deploy` applies exactly this list to a work pool;
both remove deployments of duban's flows that are no longer in it (a closed plan's actions). One
deployment per action of every active plan, named by number and title so the UI sorts them
("02 社区养老服务行动"), described from the plan's own identity (title, document number, issuer);
the daily parent flow on a schedule; the digest and the office's forms on demand.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

from prefect import Flow

from duban.ledger.models import Plan
from duban.service import Context, active_plans
from flows.actions import action_flow
from flows.bulletin import bulletin_flow
from flows.daily import daily_flow
from flows.dispatch import dispatch_flow
from flows.extension import extension_flow
from flows.office_entry import office_entry
from flows.remind import remind_flow
from flows.review import review_flow

# Every day, not only weekdays: each action skips non-working days itself, adjusted working
# Saturdays and Sundays (调休) must be covered, and the board is refreshed on days off too.
DAILY_CRON = "30 8 * * *"
TAG = "duban"
BULLETIN_CRON = "30 16 * * 5"  # 督办通报: Fridays 16:30


@dataclass(frozen=True)
class Spec:
    """One deployment: a flow, its name and description, fixed parameters, an optional
    schedule (cron in Asia/Shanghai) and an optional limit of runs at a time."""

    flow: Flow
    name: str
    description: str
    parameters: dict[str, Any] = field(default_factory=dict)
    cron: str | None = None
    concurrency_limit: int | None = None
    tags: tuple[str, ...] = (TAG,)

    @property
    def path(self) -> str:
        """flow name/deployment name, as run_deployment and the CLI name a deployment."""
        return f"{self.flow.name}/{self.name}"


DAILY = Spec(daily_flow, "每天巡查并发送汇总",
             "每天 08:30（北京时间）运行：依次判定各行动应催办的事项，全部完成后发送督办汇总、"
             "发布督办总览。同一时间只运行一次。", cron=DAILY_CRON, concurrency_limit=1)
FIXED = (
    Spec(dispatch_flow, "立即发送督办汇总",
         "把已记入台账的催办合并为每个单位一份汇总并发送，然后发布督办总览。同一时间只运行一次。",
         concurrency_limit=1),
    Spec(remind_flow, "催办一个单位", "督办人员手动催办某单位的未办结事项，立即发送。"),
    Spec(office_entry, "代部门登记报送", "督办办公室代为登记部门以纸质或电话方式报送的情况。"),
    Spec(extension_flow, "审批延期申请", "督办办公室批准或驳回部门的延期申请。"),
    Spec(review_flow, "审核销号",
         "督办办公室审核部门报送：销号（审核通过），或退回并写明原因（事项重新打开、限期重报）。"),
    Spec(bulletin_flow, "每周督办通报",
         "每周五 16:30（北京时间）编写本周督办通报（第N期，Word 文件）并给出下载链接。",
         cron=BULLETIN_CRON),
)


def action_label(no: int, title: str) -> str:
    return f"{no:02d} {title}"


def plan_identity(plan: Plan) -> str:
    """e.g. "《…行动方案》（…〔2023〕12号，…局印发）": what the plan calls itself."""
    return f"《{plan.title}》（{plan.doc_no}，{plan.issuer}印发）"


def action_specs(plans: list[Plan]) -> list[Spec]:
    """One deployment per action of each plan; a name two plans share gets the plan's year
    (and its key if that is not enough), so every name stays unique and readable."""
    labels = Counter(action_label(a.no, a.title) for p in plans for a in p.actions)
    years = Counter(p.year for p in plans)
    specs = []
    for plan in plans:
        for action in plan.actions:
            name = action_label(action.no, action.title)
            if labels[name] > 1:
                name += f"（{plan.year}年）" if years[plan.year] == 1 else f"（{plan.key}）"
            description = (f"{plan_identity(plan)}第{action.no}项：{action.title}。判定今日应催办的"
                           "事项并记入台账，发布本行动的督办视图；非工作日自动跳过。每天由“每日督办”"
                           "统一运行并发送汇总，此处可单独重跑本行动（不发送）。")
            specs.append(Spec(action_flow, name, description,
                              parameters={"plan": plan.key, "action": action.no},
                              tags=(TAG, f"plan:{plan.key}", f"action:{action.no:02d}")))
    return specs


def deployment_specs(ctx: Context) -> list[Spec]:
    """Everything `duban up` serves and `duban deploy` applies, in the order the UI lists it."""
    with ctx.db.read() as session:
        plans = active_plans(session)
        actions = action_specs(plans)
    # 立即发送督办汇总 also runs on its own schedule (DUBAN_REDISPATCH_CRON, hourly by default):
    # digests that failed transiently or were in flight at a crash are retried the same day
    redispatch = replace(FIXED[0], cron=ctx.settings.redispatch_cron or None)
    return [DAILY, *actions, redispatch, *FIXED[1:]]


def flow_names() -> set[str]:
    """The flows whose deployments duban manages (others on the server are left alone)."""
    return {DAILY.flow.name, action_flow.name, *(s.flow.name for s in FIXED)}
