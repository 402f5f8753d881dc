"""`duban deploy`: the work-pool path. The same deployments `duban up` serves (one source of truth:
flows.deployments.deployment_specs, computed from the active plans in the ledger), applied to a
Prefect work pool whose workers run them; deployments of closed plans are removed."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from cli.connect import NotRunning, connect
from cli.main import app
from cli.output import fail
from duban import service
from duban.calendar.clock import utcnow
from duban.service import Context


@app.command("deploy")
def deploy(
    pool: Annotated[str, typer.Option(
        "--pool", help="Prefect 工作池（process 类型，不存在则创建） / the Prefect work pool "
        "(type process); created when missing")] = "duban",
) -> None:
    """在工作池上创建或更新部署（按执行中方案） / deploy duban's flows to a work pool.

    Creates or updates duban's deployments on a work pool, from the active plans in the ledger.

    Talks to PREFECT_API_URL (with PREFECT_API_AUTH_STRING), or to the server `duban up` runs for
    this DUBAN_HOME. Run it again after a plan is activated or closed. Workers started with
    `prefect worker start --pool POOL` then run the deployments; they need the same DUBAN_*
    environment.

    Example: PREFECT_API_URL=http://10.0.0.5:4200/api duban deploy --pool duban
    """
    ctx = Context.from_env()
    try:
        typer.echo(connect(ctx.settings.home, local=False))
    except NotRunning as exc:
        fail(f"{exc}请先运行 `duban up`，或设置 PREFECT_API_URL（及 PREFECT_API_AUTH_STRING）"
             "指向工作池所在的 Prefect 服务。")
    service.setup(ctx, utcnow())
    from flows.serve import apply_to_pool

    specs, removed = asyncio.run(apply_to_pool(ctx, pool))
    for spec in specs:
        typer.echo(f"已部署：{spec.path}" + (f"（{spec.cron}，北京时间）" if spec.cron else ""))
    for path in removed:
        typer.echo(f"已移除：{path}")
    typer.echo(f"共 {len(specs)} 个部署，工作池 {pool}。")
