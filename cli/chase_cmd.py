"""`duban chase` and `duban remind`: run the Prefect flows in this process and print what happened.

Prefect is imported lazily (flows.run), so other commands do not pay for it and duban/ stays free of
Prefect imports. Without PREFECT_API_URL, Prefect starts a temporary local server (5-10 s).
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Annotated, Any

import typer

from cli.main import app
from cli.output import echo_json, echo_lines, fail, require_ledger, table
from duban.calendar.clock import local_day, parse_as_of
from duban.calendar.workdays import WorkCalendar
from duban.chase.occurrences import STATE_ZH, STATES

ACTION_COUNT = 17
DELIVERY = ("sent", "failed", "unknown", "unroutable")
DELIVERY_ZH = {"sent": "已发送", "failed": "失败", "unknown": "未知", "unroutable": "无路由",
               "skipped": "已记过"}


EPHEMERAL_DEFAULTS = {
    # A loaded 2-core machine needs more than Prefect's 20 s to start its temporary server.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    # Nothing leaves the machine: no telemetry attempts (and no errors about them).
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
}


def _note_server(as_json: bool) -> None:
    require_ledger()  # one clear line and exit 1 before any flow runs (issue 14.7)
    """Set defaults before Prefect is first imported (it reads PREFECT_* once, at import)."""
    for name, value in EPHEMERAL_DEFAULTS.items():
        os.environ.setdefault(name, value)
    from flows.run import api_url

    if not api_url() and not as_json:
        typer.echo("未配置 PREFECT_API_URL：启动 Prefect 临时本地服务（约 5-10 秒）……", err=True)


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
        "action": run["action"], "title": run["title"], "flow_state": run["state"],
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


def _actions(requested: list[int] | None) -> list[int]:
    numbers = sorted(set(requested or range(1, ACTION_COUNT + 1)))
    bad = [n for n in numbers if not 1 <= n <= ACTION_COUNT]
    if bad:
        fail(f"--action {bad[0]}: expected an action number from 1 to {ACTION_COUNT}", code=2)
    return numbers


@app.command("chase")
def chase(
    as_of: Annotated[str | None, typer.Option(
        "--as-of", help="YYYY-MM-DD (end of that day in Asia/Shanghai) or an ISO datetime; "
        "default now.")] = None,
    action: Annotated[list[int] | None, typer.Option(
        "--action", help="Action number 1-17; repeat for several. Default: all 17.")] = None,
    dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Decide what would be owed; record nothing, send nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Chase the plan's actions through their Prefect flows, then send the day's digests.

    Runs each action's flow (named by the action's title), which records the reminders the ladder
    owes, then the 发送督办汇总 flow, which sends one digest per recipient. Running it twice on
    the same day records and sends nothing new. Non-working days are skipped.

    Example: duban chase --as-of 2023-10-09 --action 2 --action 5
    """
    try:
        now = parse_as_of(as_of)
    except ValueError as exc:
        fail(str(exc), code=2)
    numbers = _actions(action)
    _note_server(as_json)
    from flows.run import run_chase

    report = chase_report(run_chase(now.isoformat(), numbers, dry_run), now, dry_run)
    if as_json:
        echo_json(report)
    else:
        echo_lines(report_lines(report))
    failed = [a for a in report["actions"] if not a["ok"]]
    if failed or (report["dispatch"] is not None and not report["dispatch"]["ok"]):
        raise typer.Exit(code=1)


@app.command("remind")
def remind(
    department: Annotated[str, typer.Argument(help="Department code, e.g. mzj or taishan-mzj.")],
    action: Annotated[int | None, typer.Option("--action", help="Only this action.")] = None,
    occurrence: Annotated[int | None, typer.Option(
        "--occurrence", help="Only this occurrence id (see duban status).")] = None,
    note: Annotated[str, typer.Option("--note", help="A line added to the message.")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Urge a department now (人工催办): record reminders for its open items and send at once.

    Runs the 手动催办 flow: outside the ladder, on any day, sent immediately as one digest.

    Example: duban remind mzj --action 2 --note "请于本周五前报送"
    """
    _note_server(as_json)
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
