"""`duban chase` and `duban remind`: run the Prefect flows in this process and print what happened.

The flows run in this process against the Prefect server `duban up` published (cli/connect.py), so
their runs, events and artifacts appear in the service's UI; with no service running they stop
with a message, unless --local (a temporary Prefect server in this process). Prefect is imported
lazily (flows.run), so other commands do not pay for it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer
from sqlalchemy.exc import SQLAlchemyError

from cli.connect import NOT_RUNNING_HINT, NotRunning, connect
from cli.main import app
from cli.output import echo_json, echo_lines, fail, require_ledger, table
from duban.calendar.clock import local_day, parse_as_of
from duban.calendar.workdays import WorkCalendar
from duban.chase.occurrences import STATE_ZH, STATES
from duban.plan.resolve import UnknownName, resolve_department
from duban.service import Context, active_plans
from duban.settings import Settings

DELIVERY = ("sent", "failed", "unknown", "unroutable")
DELIVERY_ZH = {"sent": "已发送", "failed": "失败", "unknown": "未知", "unroutable": "无路由",
               "skipped": "已记过"}

LOCAL_HELP = ("在本进程中用临时 Prefect 服务运行（督查人员界面看不到这些运行） / run in this "
              "process with a temporary Prefect server instead of the one `duban up` runs (its "
              "runs are not seen in the service's UI)")


def _connect(local: bool, as_json: bool) -> None:
    """Point Prefect at the server `duban up` published (before Prefect is first imported: it
    reads PREFECT_* once, at import); without one, say so and stop unless --local. The ledger
    is reached first: one clear line and exit 1 before any flow runs (issue 14.7)."""
    require_ledger()
    home = Settings.from_env().home
    try:
        line = connect(home, local)
    except NotRunning as exc:
        fail(f"{exc}{NOT_RUNNING_HINT}")
    if not as_json:
        typer.echo(line, err=True)


def _department_code(written: str) -> str:
    """The code of the department written as a code, full name or alias; an unknown one is one
    clear line (with close matches) and exit 1, before any flow runs."""
    require_ledger()
    ctx = Context.from_env()
    ctx.db.create_schema()
    with ctx.db.read() as session:
        try:
            return resolve_department(session, written).code
        except UnknownName as exc:
            fail(str(exc))


def action_entry(run: dict[str, Any], by_action: dict[str, dict[str, int]]) -> dict[str, Any]:
    """One action's line of the report: occurrences by state, reminders decided and delivered."""
    results = run["data"] or []
    states = dict.fromkeys(STATES, 0)
    for result in results:
        for state, count in result["states"].items():
            states[state] = states.get(state, 0) + count
    delivered = by_action.get(str(run["action"]), {})
    reminders = {state: delivered.get(state, 0) for state in DELIVERY}
    reminders["skipped"] = sum(r["skipped"] for r in results)
    return {
        "plan": run["plan"], "action": run["action"], "title": run["title"],
        "flow_state": run["state"],
        "ok": run["ok"], "message": run["message"], "states": states,
        "owed": sum(r["owed"] for r in results), "recorded": sum(r["recorded"] for r in results),
        "reminders": reminders,
    }


def chase_report(raw: dict[str, Any], now: datetime, dry_run: bool) -> dict[str, Any]:
    """The JSON document of `duban chase --json` from what flows.run.run_chase returned."""
    dispatch = raw["dispatch"]
    dispatched = (dispatch or {}).get("data") or {}
    by_action = dispatched.get("by_action", {})
    day = local_day(now)
    return {
        "as_of": now.isoformat(), "day": day.isoformat(),
        "workday": WorkCalendar().is_workday(day), "dry_run": dry_run,
        "actions": [action_entry(run, by_action) for run in raw["runs"]],
        "dispatch": None if dispatch is None else {
            "ok": dispatch["ok"], "flow_state": dispatch["state"], "message": dispatch["message"],
            **dispatched,
        },
    }


def report_lines(report: dict[str, Any]) -> list[str]:
    kind = "工作日" if report["workday"] else "非工作日：各行动跳过，不催办、不发送"
    dry = "  演练：不记录、不发送" if report["dry_run"] else ""
    lines = [f"督办 {report['day']}（{kind}）{dry}"]
    headers = ["行动", "名称", *(STATE_ZH[s] for s in STATES), "应催办", "新记"]
    if not report["dry_run"]:
        headers += [DELIVERY_ZH[s] for s in (*DELIVERY, "skipped")]
    rows = []
    for a in report["actions"]:
        row = [a["action"], a["title"], *(a["states"][s] for s in STATES), a["owed"], a["recorded"]]
        if not report["dry_run"]:
            row += [a["reminders"][s] for s in (*DELIVERY, "skipped")]
        rows.append([*row, a["flow_state"]])
    lines += table([*headers, "运行"], rows)
    dispatch = report["dispatch"]
    if dispatch is not None:
        lines.append(f"发送督办汇总：{dispatch['flow_state']}  {dispatch['message']}")
    lines += [f"失败：行动 {a['action']} {a['title']}：{a['message']}"
              for a in report["actions"] if not a["ok"]]
    return lines


def plan_actions(plan: str | None) -> dict[str, list[int]]:
    """{plan key: action numbers} of the active plans in the ledger (of the config's plans when
    the ledger has none yet), narrowed to `plan`."""
    ctx = Context.from_env()
    try:
        with ctx.db.read() as session:
            found = {p.key: [a.no for a in p.actions] for p in active_plans(session)}
    except SQLAlchemyError:
        found = {}
    if not found:
        found = {f.plan.key: [a.no for a in f.actions] for _, f in ctx.config.plans}
    if plan is not None:
        if plan not in found:
            fail(f"--plan {plan}: no active plan with this key; active: {', '.join(found)}",
                 code=2)
        found = {plan: found[plan]}
    return found


def _actions(requested: list[int] | None, plan: str | None) -> list[int] | None:
    """The requested action numbers, checked against the plans' own (None: every action)."""
    if not requested:
        return None
    known = sorted({n for numbers in plan_actions(plan).values() for n in numbers})
    bad = [n for n in requested if n not in known]
    if bad:
        fail(f"--action {bad[0]}: no such action; the plan's actions are numbered "
             f"{known[0]} to {known[-1]}" if known else f"--action {bad[0]}: no active plan",
             code=2)
    return sorted(set(requested))


@app.command("chase")
def chase(
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="日期 YYYY-MM-DD（北京时间当日结束时）或 ISO 时间，默认现在 / a day "
        "(end of that day in Asia/Shanghai) or an ISO datetime; default now")] = None,
    action: Annotated[list[int] | None, typer.Option(
        "--action", help="行动序号，可多次；默认全部 / action number within the plan; repeat "
        "for several; default: all")
    ] = None,
    plan: Annotated[str | None, typer.Option(
        "--plan", help="只催办此方案（代码）；默认全部执行中方案 / only this active plan "
        "(its key); default: every active plan")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="只计算应催办的事项，不记录、不发送 / decide what would be owed; record "
        "nothing, send nothing")] = False,
    local: Annotated[bool, typer.Option("--local", help=LOCAL_HELP)] = False,
    as_json: Annotated[bool, typer.Option(
        "--json", help="输出一个 JSON 文档 / print one JSON document")] = False,
) -> None:
    """每日督办：巡查各项行动并发送督办汇总 / chase the plans' actions, then send the digests.

    Chases the active plans' actions through Prefect, then sends the day's digests.

    Runs 每日督办 once, on the server `duban up` runs (so its runs, events and board are where
    supervisors look): each action as a subflow ("02 社区养老服务行动"), which records the
    reminders the ladder owes, then 发送督办汇总, which sends one digest per recipient. Running it
    twice on the same day records and sends nothing new. Non-working days are skipped. Without a
    running `duban up` it stops with a message, unless --local.

    Example: duban chase --as-of 2023-10-09 --action 2 --action 5
    """
    try:
        now = parse_as_of(as_of)
    except ValueError as exc:
        fail(str(exc), code=2)
    numbers = _actions(action, plan)
    _connect(local, as_json)
    from flows.run import run_chase

    raw = run_chase(now.isoformat(), numbers, dry_run, plan)
    if raw.get("error"):
        fail(f"每日督办运行失败：{raw['error']}")
    report = chase_report(raw, now, dry_run)
    if as_json:
        echo_json(report)
    else:
        echo_lines(report_lines(report))
    failed = [a for a in report["actions"] if not a["ok"]]
    if failed or (report["dispatch"] is not None and not report["dispatch"]["ok"]):
        raise typer.Exit(code=1)


@app.command("remind")
def remind(
    department: Annotated[str, typer.Argument(
        help="单位代码、全称或别名 / a department by code, name or alias, e.g. taishan-mzj")],
    action: Annotated[int | None, typer.Option(
        "--action", help="只催办此行动 / only this action")] = None,
    occurrence: Annotated[int | None, typer.Option(
        "--occurrence", help="只催办此事项编号（见 duban status） / only this item id (see duban "
        "status)")] = None,
    note: Annotated[str, typer.Option(
        "--note", help="附在消息中的一句话 / a line added to the message")] = "",
    local: Annotated[bool, typer.Option("--local", help=LOCAL_HELP)] = False,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON / print JSON")] = False,
) -> None:
    """人工催办：立即催促某单位 / urge a department now, outside the ladder.

    Records reminders for the department's open items and sends them at once.

    Runs the 手动催办 flow: outside the ladder, on any day, sent immediately as one digest.

    Example: duban remind mzj --action 2 --note "请于本周五前报送"
    """
    department = _department_code(department)
    _connect(local, as_json)
    from flows.run import run_remind

    outcome = run_remind(department, action, occurrence, note)
    if not outcome["ok"]:
        fail(outcome["message"] or f"手动催办失败（{outcome['state']}）")
    data = outcome["data"]
    if as_json:
        echo_json({"department": department, "flow_state": outcome["state"], **data})
        return
    typer.echo(f"已记录人工催办 {data['recorded']} 条（{department}）")
    sent = data["dispatch"]
    status = "，".join(f"{DELIVERY_ZH.get(k, k)} {n}" for k, n in sent["status"].items() if n)
    typer.echo(f"发出汇总 {sent['digests']} 份" + (f"：{status}" if status else ""))
