"""`duban plan check|show|load`: the plan config, validated and shown as the system reads it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from pydantic import ValidationError
from sqlalchemy import select

from cli.main import plan_app
from cli.output import echo_json, echo_lines, fail, fit_table
from duban.calendar.clock import local_day, utcnow
from duban.chase.occurrences import plan_matches
from duban.ledger.models import Action, Plan, Target
from duban.plan.allocations import allocation_problem, local_jurisdictions, set_allocation
from duban.plan.config import (
    ConfigError,
    PlanConfig,
    PlanFile,
    describe_problems,
    load_config,
    review_problems,
)
from duban.plan.drafting import draft, year_wording
from duban.plan.duties import derive_duties, target_goal
from duban.plan.lifecycle import (
    STATE_ZH,
    all_plans,
    find_plan,
    late_start,
    move,
    protect_late_start,
)
from duban.plan.loading import load_all
from duban.service import Context, materialise_all, setup

ConfigDirArg = Annotated[Path | None, typer.Argument(help=(
    "配置目录（默认 config/ 或 DUBAN_CONFIG_DIR） / the config folder (default: config/ or "
    "DUBAN_CONFIG_DIR)"))]
PlanOpt = Annotated[str | None, typer.Option(
    "--plan", help="方案代码或年份（默认最新） / plan key or year (default: newest)")]


def _load(config_dir: Path | None) -> PlanConfig:
    ctx = Context.from_env()
    try:
        return load_config(config_dir or ctx.settings.config_dir)
    except ConfigError as exc:
        count = len(exc.problems)
        typer.echo(f"配置有误，共 {count} 处 / {count} problem(s):", err=True)
        typer.echo(describe_problems(exc.problems), err=True)
        raise typer.Exit(code=1) from None


@plan_app.command("check")
def check(config_dir: ConfigDirArg = None) -> None:
    """检查方案配置，逐项列出问题 / validate the config, naming every problem.

    Exit 0 when good, else list every problem (file, field, what is wrong).

    Example: duban plan check config/
    """
    config = _load(config_dir)
    unreviewed = [p for source, plan in config.plans for p in review_problems(plan, source)]
    if unreviewed:
        count = len(unreviewed)
        typer.echo(f"草稿尚未审核，共 {count} 处待填写 / {count} field(s) to fill in:", err=True)
        typer.echo(describe_problems(unreviewed), err=True)
        raise typer.Exit(code=1)
    for source, plan in config.plans:
        duties = derive_duties(config, plan)
        targets = sum(len(a.targets) for a in plan.actions)
        typer.echo(
            f"OK {source}: {plan.plan.doc_no} {len(plan.actions)} 项行动, {targets} 个量化指标, "
            f"{len(duties)} 项职责" + ("（草稿，待 duban plan activate 启用）" if plan.plan.draft
                                       else "")
        )
        for warning in plan_warnings(config, plan, local_day(utcnow())):
            typer.echo(f"  提示：{warning}")
    _check_notify(config_dir)


def plan_warnings(config: PlanConfig, plan: PlanFile, today: Any) -> list[str]:
    """What a reviewer should look at: another year's wording, items that would start overdue."""
    warnings = [f"{w.where}：{w.text}" for w in year_wording(plan)]
    if plan.plan.draft:
        late = late_start(config, plan, today, Context.from_env().calendar).warning()
        warnings += [late] if late else []
    return warnings


def _check_notify(config_dir: Path | None) -> None:
    """The routing file is part of the config: a malformed notify.yaml fails the check too."""
    from notifications import Notifier, NotifyConfigError

    settings = Context.from_env().settings
    path = Path(config_dir) / "notify.yaml" if config_dir else settings.notify_config
    if config_dir and not path.exists():
        return
    try:
        Notifier(path)
    except NotifyConfigError as exc:
        fail(f"通知配置有误 / bad notify config: {exc}")
    typer.echo(f"OK {path}: 通知路由 / notification routes")


def plan_as_dict(config: PlanConfig, plan: PlanFile) -> dict[str, Any]:
    """The JSON shape of `duban plan show --json`."""
    registry = config.registry
    names = _department_names(config)
    duties = derive_duties(config, plan)
    actions = []
    for action in plan.actions:
        codes = [registry.resolve(d) for d in action.departments]
        actions.append({
            "no": action.no,
            "title": action.title,
            "clause": action.clause,
            "departments": [{"code": c, "name": names[c]} for c in codes],
            "targets": [
                {**t.model_dump(mode="json"), "goal": target_goal(t),
                 "owner": registry.resolve(t.owner) if t.owner else codes[0]}
                for t in action.targets
            ],
            "milestones": [m.model_dump(mode="json") for m in action.milestones],
            "duties": [
                {"key": d.key, "kind": d.kind, "title": d.title, "deliverable": d.deliverable,
                 "frequency": d.frequency, "due_rule": d.due_rule, "warn_days": d.warn_days,
                 "owners": list(d.owner_codes)}
                for d in duties if d.action_no == action.no
            ],
        })
    return {
        "plan": plan.plan.model_dump(mode="json"),
        "departments": _departments(config),
        "actions": actions,
    }


def _departments(config: PlanConfig) -> list[dict[str, Any]]:
    registry = config.registry
    city = registry.city().code
    out = []
    for dep in registry.city_departments:
        out.append({"code": dep.code, "name": dep.name, "short": dep.short,
                    "aliases": list(dep.aliases), "jurisdiction": city, "city_counterpart": None})
    for body in registry.bodies():
        out.append({"code": body.code, "name": body.name, "short": body.short,
                    "aliases": list(body.aliases), "jurisdiction": body.jurisdiction.code,
                    "city_counterpart": body.city_code})
    return out


def _department_names(config: PlanConfig) -> dict[str, str]:
    return {d["code"]: d["name"] for d in _departments(config)}


@plan_app.command("show")
def show(
    config_dir: ConfigDirArg = None,
    plan: PlanOpt = None,
    wide: Annotated[bool, typer.Option(
        "--wide", help="不截断列（表格可能超过100列） / do not shorten columns")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON / print JSON")] = False,
) -> None:
    """显示方案：行动、责任单位、指标和任务 / show the plan: actions, departments, targets.

    Actions, responsible departments (lead first), targets and duties.

    Example: duban plan show --json
    """
    config = _load(config_dir)
    try:
        plan_file = config.plan(plan)
    except KeyError as exc:
        fail(str(exc.args[0]))
    data = plan_as_dict(config, plan_file)
    if as_json:
        echo_json(data)
        return
    meta = data["plan"]
    typer.echo(f"{meta['doc_no']} {meta['title']}（{meta['issuer']}，{meta['issued']}）")
    rows = [
        (a["no"], a["title"], "、".join(d["name"] for d in a["departments"]),
         "；".join(f"{t['title']}{t['goal']}" for t in a["targets"]) or "—")
        for a in data["actions"]
    ]
    echo_lines(fit_table(["序号", "行动", "责任单位（牵头在前）", "量化指标"], rows,
                         shrink=[1, 2, 3], wide=wide))


@plan_app.command("load")
def load(config_dir: ConfigDirArg = None) -> None:
    """把方案配置载入台账（可重复执行） / load (or reload) the config into the ledger.

    Reloading an unchanged plan changes nothing.

    Example: duban plan load
    """
    ctx = Context.from_env()
    if config_dir:
        ctx.config = _load(config_dir)
    else:
        ctx.config = _load(None)
    result = setup(ctx, utcnow())
    for name, load_result in result.loads.items():
        typer.echo(
            f"{name}: 新增 {load_result.created}，更新 {load_result.updated}，"
            f"停用 {load_result.deactivated}"
        )
        for change in load_result.changes:
            typer.echo(f"  - {change}")
    typer.echo(f"新增待办 {result.new_occurrences} 条")
    for warning in unprotected_late_plans(ctx):
        typer.echo(f"提示：{warning}")


def unprotected_late_plans(ctx: Context) -> list[str]:
    """Plans that went straight to 执行中 on loading (no `draft: true`, so no `plan activate` and
    no late-start protection), never chased yet, with items already overdue: the first run would
    urge and escalate every one of them. Says so, and how to get the protection."""
    today = local_day(utcnow())
    out = []
    with ctx.db.read() as session:
        rows = {p.key: p for p in all_plans(session)}
        for _, plan_file in ctx.config.plans:
            row = rows.get(plan_file.plan.key)
            if row is None or row.state != "active" or row.started_on or row.ladder_from:
                continue
            late = late_start(ctx.config, plan_file, today, ctx.calendar)
            if late.overdue:
                out.append(
                    f"{row.key} 载入即执行中（未经 plan activate，无迟启保护）：{late.overdue} 项"
                    f"待办已逾期，首轮将逐项催办、升级。如需迟启保护：duban plan close {row.key} "
                    f"后 duban plan activate {row.key}，或在 plan 中填写 ladder_from / "
                    f"{late.overdue} overdue item(s) would be escalated on the first run")
    return out


@plan_app.command("new")
def new(
    year: Annotated[int, typer.Argument(
        help="新方案的年度，如 2024 / the new plan's year, e.g. 2024")],
    source: Annotated[str, typer.Option(
        "--from", help="以哪个方案为底稿：代码、年份或文件 / a plan key, a year, or a plan file")],
    out: Annotated[Path | None, typer.Option(
        "--out", help="写出的方案文件（默认 plans/YEAR.yaml） / default: plans/YEAR.yaml")] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="覆盖已有文件 / overwrite an existing file")] = False,
) -> None:
    """起草下一年度方案（草稿，待审） / draft next year's plan for review.

    Same structure, the plan's dates moved to YEAR, the
    document number and issue date left 待填写, text naming another year listed as warnings, and
    how many items would start overdue if it were activated today. It loads as a draft (not
    chased) until `duban plan activate`.

    Example: duban plan new 2024 --from 2023
    """
    ctx = Context.from_env()
    config = _load(None)
    path = Path(source)
    if not path.is_file():
        try:
            path = Path(next(f for f, p in config.plans
                             if source in (p.plan.key, str(p.plan.year))))
        except StopIteration:
            fail(f"--from {source!r}: no plan file, plan key or year of that name")
    target = out or ctx.settings.config_dir / "plans" / f"{year}.yaml"
    if target.exists() and not force:
        fail(f"{target} exists; choose --out or add --force")
    today = local_day(utcnow())
    try:
        text = draft(path, year, today)
        plan_file = _parse(text)
    except (ValueError, KeyError, TypeError, ValidationError) as exc:
        fail(f"{path}: cannot draft from this plan file ({exc})")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    typer.echo(f"已生成草稿 {target}（{plan_file.plan.key}）")
    typer.echo("请填写文号、印发日期（均为“待填写”），审核条款与指标后运行 duban plan check，"
               f"再 duban plan activate {plan_file.plan.key}")
    for warning in plan_warnings(config, plan_file, today):
        typer.echo(f"  提示：{warning}")


def _parse(text: str) -> PlanFile:
    return PlanFile.model_validate(yaml.safe_load(text))


@plan_app.command("allocate")
def allocate(
    target: Annotated[str, typer.Argument(
        help="指标代码 / the target's key, e.g. elderly-home-adaptation")],
    shares: Annotated[list[str], typer.Argument(
        help="区县=分解值 … / COUNTY=VALUE ..., e.g. taishan=300")],
    plan: PlanOpt = None,
) -> None:
    """任务分解：把全市指标分到各区县 / split a city-wide target among counties and zones.

    Each county's progress is
    then judged against its own share. Shares of a summed target must add up to it exactly.

    Example: duban plan allocate elderly-home-adaptation taishan=300 daiyue=400 xintai=400
    feicheng=400 ningyang=300 dongping=300 gaoxin=40 taishanjq=30 lvjing=30
    """
    parsed: dict[str, float] = {}
    for item in shares:
        code, _, raw = item.partition("=")
        try:
            parsed[code.strip()] = float(raw)
        except ValueError:
            fail(f"{item!r}: expected COUNTY=NUMBER, e.g. taishan=300", code=2)
    ctx = Context.from_env()
    ctx.db.create_schema()
    with ctx.db.session() as session:
        row = _target_row(session, target, plan)
        fault = allocation_problem(row.value_high or row.value_low, row.rollup, row.unit, parsed,
                                   local_jurisdictions(session))
        if fault:
            fail(f"{target}: {fault}")
        set_allocation(session, row, parsed, "cli", utcnow(), "office")
    typer.echo(f"已分解 {target}：" + "，".join(f"{k} {v:g}" for k, v in parsed.items()))


def _target_row(session: Any, key: str, plan: str | None) -> Target:
    query = select(Target).join(Action).join(Plan).where(Target.key == key, Plan.active.is_(True))
    if plan:
        query = query.where(plan_matches(plan))
    rows = session.scalars(query.order_by(Plan.year.desc())).all()
    if not rows:
        fail(f"no target {key!r} in the loaded plans (run duban plan load first)")
    return rows[0]


PlanArg = Annotated[str, typer.Argument(
    metavar="PLAN", help="方案代码或年份 / a plan key, or its year")]


@plan_app.command("list")
def list_plans(
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON / print JSON")] = False,
) -> None:
    """台账中的方案及其状态 / the plans in the ledger and their state.

    草稿 draft, 执行中 active, 已结束 closed.

    Example: duban plan list
    """
    ctx = Context.from_env()
    ctx.db.create_schema()
    with ctx.db.read() as session:
        rows = [{"key": p.key, "year": p.year, "doc_no": p.doc_no, "title": p.title,
                 "issuer": p.issuer, "state": p.state, "actions": len(p.actions),
                 "ladder_from": p.ladder_from, "source": p.source_file}
                for p in all_plans(session)]
    if as_json:
        echo_json(rows)
        return
    if not rows:
        typer.echo("台账中还没有方案：请先运行 duban plan load")
        return
    echo_lines(fit_table(
        ["方案", "年度", "文号", "名称", "状态", "行动数", "催办起算"],
        [(r["key"], r["year"], r["doc_no"], r["title"], STATE_ZH[r["state"]], r["actions"],
          r["ladder_from"] or "—") for r in rows], shrink=[3]))


@plan_app.command("activate")
def activate(
    plan: PlanArg,
    from_deadlines: Annotated[bool, typer.Option(
        "--from-deadlines", help="不做迟启保护，已逾期事项首轮即按原截止日期催办、升级 / no "
        "late-start protection: overdue items are urged and escalated from their own deadlines")
    ] = False,
) -> None:
    """启用方案，开始催办（执行中） / start chasing a plan (执行中, active).

    It is loaded (or reloaded) from config and moves to 执行中 (active).

    Refused while its file still says 待填写 (an unreviewed draft). Late-start protection is the
    default: when items are already past their deadline and the plan sets no `ladder_from`,
    their urging and escalation count from today (the activation day), and the first run sends
    each department one start notice of what it owes; --from-deadlines turns that off.

    Example: duban plan activate 2026
    """
    ctx = Context.from_env()
    ctx.config = _load(None)
    now = utcnow()
    ctx.db.create_schema()
    with ctx.db.session() as session:
        load_all(session, ctx.config, now)
        row = _find(session, plan)
        source, plan_file = _plan_file(ctx.config, row.key)
        problems = review_problems(plan_file, source)
        if problems:
            fail("方案尚未审核，不能启用 / not reviewed:\n" + describe_problems(problems))
        late = late_start(ctx.config, plan_file, local_day(now), ctx.calendar)
        protected = not from_deadlines and protect_late_start(session, row, late, now)
        changed = _move(session, row, "active", now)
        key, ladder_from = row.key, row.ladder_from
    materialise_all(ctx, now)
    typer.echo(f"{key}：{'已启用（执行中）' if changed else '已在执行中'}")
    if late.overdue and ladder_from:
        how = "（迟启保护：以今天为催办起算日期）" if protected else ""
        typer.echo(f"提示：{late.overdue} 项待办已过截止日期；首轮运行时向每个单位发一条启动通知，"
                   f"已逾期事项自 {ladder_from.isoformat()} 起催办{how}")
    elif late.overdue:
        typer.echo(f"提示：{late.overdue} 项待办已过截止日期，按原截止日期立即逐项催办、升级"
                   "（--from-deadlines）")


@plan_app.command("close")
def close(plan: PlanArg) -> None:
    """结束方案，停止催办（已结束） / stop chasing a plan (已结束, closed).

    It leaves the daily board and gets no more reminders; its
    ledger stays, and `duban report --plan KEY` / `duban status --plan KEY` still show it.

    Example: duban plan close taimin-2023-12
    """
    ctx = Context.from_env()
    ctx.db.create_schema()
    with ctx.db.session() as session:
        row = _find(session, plan)
        changed = _move(session, row, "closed", utcnow())
        key = row.key
    typer.echo(f"{key}：{'已结束，不再催办' if changed else '已是结束状态'}")


def _find(session: Any, name: str) -> Plan:
    try:
        return find_plan(session, name)
    except LookupError as exc:
        fail(str(exc.args[0]))


def _move(session: Any, row: Plan, state: str, now: Any) -> bool:
    try:
        return move(session, row, state, now)
    except ValueError as exc:
        fail(str(exc))


def _plan_file(config: PlanConfig, key: str) -> tuple[str, PlanFile]:
    for source, plan_file in config.plans:
        if plan_file.plan.key == key:
            return source, plan_file
    fail(f"plan {key!r} is in the ledger but no longer in the config (plans/*.yaml)")
