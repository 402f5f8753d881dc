"""`duban plan template|import|export`: the plan as a spreadsheet (任务分解表), no YAML needed."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
import yaml

from cli.main import plan_app
from cli.output import fail
from cli.plan_cmd import _load
from duban.calendar.clock import local_day, utcnow
from duban.plan.config import PlanFile, describe_problems
from duban.plan.workbook import read_book, write_book
from duban.service import Context

ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", help="配置目录（默认 config/ 或 DUBAN_CONFIG_DIR） / the config folder "
    "(default: config/ or DUBAN_CONFIG_DIR)")]
ForceOpt = Annotated[bool, typer.Option(
    "--force", help="覆盖已有文件 / overwrite an existing file")]
XLSX_HELP = "要写出的 .xlsx 文件 / the .xlsx to write"


@plan_app.command("template")
def template(
    file: Annotated[Path, typer.Argument(help=XLSX_HELP)],
    config_dir: ConfigOpt = None,
    force: ForceOpt = False,
) -> None:
    """生成空白任务分解表 / write the blank 任务分解表 (plan spreadsheet) an office fills in.

    Sheets: 填写说明 (instructions), 方案, 行动, 指标,
    任务, and 单位名录 (the department and county names the other sheets may use).

    Example: duban plan template 任务分解表.xlsx
    """
    config = _load(config_dir)
    _refuse_overwrite(file, force)
    write_book(file, config.registry)
    typer.echo(f"已生成 {file}：填好后运行 duban plan import {file}")


@plan_app.command("export")
def export(
    plan: Annotated[str, typer.Argument(
        metavar="PLAN", help="方案代码或年份 / a plan key or year")],
    file: Annotated[Path, typer.Argument(help=XLSX_HELP)],
    config_dir: ConfigOpt = None,
    force: ForceOpt = False,
) -> None:
    """把方案导出为任务分解表 / write a plan as the spreadsheet `plan import` reads back.

    Example: duban plan export 2023 方案2023.xlsx
    """
    config = _load(config_dir)
    try:
        plan_file = config.plan(plan)
    except KeyError as exc:
        fail(str(exc.args[0]))
    _refuse_overwrite(file, force)
    write_book(file, config.registry, plan_file)
    typer.echo(f"已导出 {plan_file.plan.key} 到 {file}")


@plan_app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(
        help="填好的任务分解表（.xlsx） / a filled-in 任务分解表 (.xlsx)")],
    out: Annotated[Path | None, typer.Option(
        "--out", help="写出的方案文件（默认配置目录下 plans/KEY.yaml） / the plan file to write "
        "(default: plans/KEY.yaml in the config)")] = None,
    config_dir: ConfigOpt = None,
    force: ForceOpt = False,
) -> None:
    """检查任务分解表并写出方案文件 / check a filled-in 任务分解表 and write the plan file.

    The same checks as `plan check`.
    Every problem is named by sheet, row and column; nothing is written until there are none.

    Example: duban plan import 任务分解表.xlsx
    """
    config = _load(config_dir)
    root = config_dir or Context.from_env().settings.config_dir
    plan, problems = read_book(file, config.registry)
    if plan is None:
        count = len(problems)
        typer.echo(f"表格有误，共 {count} 处 / {count} problem(s):", err=True)
        typer.echo(describe_problems(problems), err=True)
        raise typer.Exit(code=1)
    target = out or Path(root) / "plans" / f"{plan.plan.key}.yaml"
    in_config = target.resolve().parent == (Path(root) / "plans").resolve()
    for source, other in config.plans:  # two files of one key in plans/ would not load
        if (in_config and other.plan.key == plan.plan.key
                and Path(source).resolve() != target.resolve()):
            fail(f"plan key {plan.plan.key!r} is already in {source}: "
                 f"use --out {source} --force to replace it, or change 方案编码")
    _refuse_overwrite(target, force)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(plan_yaml(plan, file, local_day(utcnow())), encoding="utf-8")
    key = plan.plan.key
    state = f"草稿：审核后 duban plan activate {key}" if plan.plan.draft else "载入后即执行"
    typer.echo(f"已写入 {target}（{len(plan.actions)} 项行动；{state}）；"
               "运行 duban plan check 复核")


def plan_yaml(plan: PlanFile, source: Path, today: date) -> str:
    """The plan file's text: defaults left out, keys in the order of the config's own files."""
    data = plan.model_dump(exclude_defaults=True)
    data["plan"] = {name: getattr(plan.plan, name) if name == "timezone" else data["plan"][name]
                    for name in type(plan.plan).model_fields
                    if name in data["plan"] or name == "timezone"}
    header = f"# {plan.plan.doc_no}: imported by `duban plan import {source.name}` on {today}.\n\n"
    return header + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=10_000)


def _refuse_overwrite(path: Path, force: bool) -> None:
    if path.exists() and not force:
        fail(f"{path} exists; choose another name or add --force")
