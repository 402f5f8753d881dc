"""`duban up`: the one command that runs everything on one machine, until Ctrl-C or SIGTERM.

Order matters: leftovers of a killed earlier start are stopped; the ledger (setup, status summary);
the Prefect server (API locked with the credential in $DUBAN_HOME/prefect-auth) and the portal as
child processes, their pids recorded under DUBAN_HOME; PREFECT_* and DUBAN_* exported and only
then Prefect imported (flows.serve), because Prefect reads its settings once, at import. Once the
deployments are registered the service is published in $DUBAN_HOME/service.json, which
`duban chase`, `duban remind` and the other Prefect commands read (cli/connect.py).
"""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.engine import make_url

from cli import connect
from cli import processes as up
from cli.main import app
from cli.output import fail
from cli.status_cmd import summary_lines
from duban import service
from duban.calendar.clock import local_day, utcnow
from duban.chase.occurrences import status_rows
from duban.service import Context
from duban.settings import Settings

READY = "duban 已就绪"  # tests and scripts wait for this line


def _prepare_ledger() -> Context:
    """Create or upgrade the ledger, load the plan, print where things stand today."""
    ctx = Context.from_env()
    os.environ["DUBAN_HOME"] = str(ctx.settings.home)  # children resolve the same home
    now = utcnow()
    result = service.setup(ctx, now)
    with ctx.db.session() as session:
        rows = status_rows(session, local_day(now), ctx.calendar)
    url = make_url(ctx.settings.database_url).render_as_string(hide_password=True)
    typer.echo(f"台账：{url}（新建待办 {result.new_occurrences} 项）")
    head, states = summary_lines(rows)
    typer.echo(f"截至 {local_day(now).isoformat()}：{head}\n{states}")
    return ctx


def _credential(home: Path) -> str:
    auth, created = connect.auth_string(home)
    path = home / connect.AUTH_FILE
    if created:
        typer.echo(f"已生成 Prefect 界面与接口的登录口令（用户名:密码），保存在 {path}"
                   f"（仅本账户可读），查看：cat {path}")
    else:
        typer.echo(f"Prefect 登录口令：{path}（cat 查看）")
    return auth


def _start_server(home: Path, port: int, host: str, timeout: float,
                  children: list[up.Child]) -> str:
    env = {**os.environ, **up.prefect_env(home, port, _credential(home), host)}
    server = up.start_prefect_server(home, port, env, host)
    children.append(server)
    up.record_children(home, children)
    took = up.wait_http(f"{env['PREFECT_API_URL']}/health", server, timeout)
    os.environ.update(up.prefect_env(home, port, env["PREFECT_API_AUTH_STRING"], host))
    ui = env["PREFECT_API_URL"].removesuffix("/api")
    typer.echo(f"Prefect 界面：{ui}（监听 {host}；启动 {took:.1f} 秒；日志 {server.log}）")
    return ui


def _start_portal(home: Path, port: int, host: str, timeout: float,
                  children: list[up.Child]) -> str | None:
    if not up.portal_available():
        typer.echo("报送页面：不可用（未安装 portal）")
        return None
    url = f"http://{up.HOST}:{port}"
    os.environ.setdefault("DUBAN_PORTAL_URL", url)  # an explicit public URL wins, for links
    portal = up.start_portal(home, port, os.environ, host)
    children.append(portal)
    up.record_children(home, children)
    try:
        up.wait_http(f"{url}/healthz", portal, timeout)
    except up.StartupError as exc:
        typer.echo(f"报送页面未能启动：{exc}", err=True)
        return None
    typer.echo(f"报送页面：{url}（邮件与消息中的链接：{Settings.from_env().portal_url}）")
    return url


def _check_ports(host: str, *ports: int) -> None:
    for port in ports:
        if not up.port_free(port, host):
            fail(f"port {port} on {host} is in use (another duban up?); choose another with "
                 "--prefect-port / --portal-port")


def _stop_leftovers(home: Path) -> None:
    stopped = up.stop_leftovers(home)
    if stopped:
        typer.echo("上次 duban up 未正常退出，已停止其遗留进程：" + "、".join(stopped))


@app.command("up")
def up_command(
    prefect_port: Annotated[int, typer.Option(
        "--prefect-port", help="Prefect 服务与界面的端口 / port of the local Prefect server and "
        "UI")] = 4200,
    portal_port: Annotated[int, typer.Option(
        "--portal-port", help="报送页面的端口 / port of the report portal")] = 8000,
    host: Annotated[str, typer.Option(
        "--host", help="监听地址：127.0.0.1 仅本机，0.0.0.0 对网络开放（接口仍需登录） / address "
        "the server and the portal listen on; 127.0.0.1 keeps them on this machine, 0.0.0.0 "
        "opens them to the network (the API stays locked)")] = up.HOST,
    portal: Annotated[bool, typer.Option(
        "--portal/--no-portal", help="是否启动报送页面 / start the report portal or not")] = True,
    initial_runs: Annotated[bool, typer.Option(
        "--initial-runs/--no-initial-runs",
        help="启动时运行一次每日督办（补跑当天、发布督办总览） / run 每日督办 once at start "
        "(catch up the day, publish the board)")] = True,
    limit: Annotated[int, typer.Option(
        "--limit", min=1, help="同时执行的运行数 / flow runs executed at the same time")] = 4,
    startup_timeout: Annotated[float, typer.Option(
        "--startup-timeout", help="等待服务和页面启动的秒数 / seconds to wait for the server "
        "and the portal")] = 90.0,
) -> None:
    """启动督办服务：台账、Prefect 界面、报送页面和定时运行 / run duban: ledger, UI, portal, flows.

    Runs the ledger, the Prefect server and UI, the report portal, and the scheduled flows.

    Serves 每日督办 (every day 08:30 Asia/Shanghai: each action of the active plans as a
    subflow, then 发送督办汇总 and the 督办总览 board artifact), one deployment per action
    ("02 社区养老服务行动"), and on demand 发送督办汇总, 手动催办, 登记报送 and 审批延期. The
    Prefect API and UI are locked with the credential in DUBAN_HOME/prefect-auth. Everything lives
    under DUBAN_HOME (the ledger, Prefect's database in DUBAN_HOME/prefect, logs in
    DUBAN_HOME/logs). Ctrl-C or SIGTERM stops it all; schedules stay, and a restart does not
    duplicate runs. Other duban commands find this service through DUBAN_HOME/service.json.

    Example: duban up --prefect-port 4200 --portal-port 8000
    """
    started = time.monotonic()
    previous = signal.signal(signal.SIGTERM, up.raise_shutdown)
    children: list[up.Child] = []
    home = None
    try:
        ctx = Context.from_env()
        home = ctx.settings.home
        _stop_leftovers(home)
        _check_ports(host, prefect_port, *([portal_port] if portal else []))
        ctx = _prepare_ledger()
        ui = _start_server(home, prefect_port, host, startup_timeout, children)
        portal_url = (_start_portal(home, portal_port, host, startup_timeout, children)
                      if portal else None)
        _serve(ctx, limit, initial_runs, started, ui, portal_url)
    except (KeyboardInterrupt, up.Shutdown):
        pass
    except up.StartupError as exc:
        fail(str(exc))
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut cleanup
        if home is not None:
            connect.withdraw(home)
        for child in reversed(children):
            up.stop_child(child)
        if home is not None and children:
            up.forget_children(home)
        signal.signal(signal.SIGTERM, previous)
    typer.echo("duban 已停止。")


def _serve(ctx: Context, limit: int, initial_runs: bool, started: float, ui: str,
           portal_url: str | None) -> None:
    from flows.serve import serve_forever  # imports Prefect: only now that PREFECT_* are set

    home = ctx.settings.home

    def ready(specs, removed: list[str]) -> None:
        actions = sum(1 for s in specs if "action" in s.parameters)
        typer.echo(f"已部署 {len(specs)} 个部署：每日督办（每天 08:30，依次运行 {actions} 项行动后"
                   "发送汇总）、每项行动各一个、发送督办汇总、手动催办、登记报送、审批延期（按需，"
                   "在界面中填写参数运行）")
        if removed:
            typer.echo("已移除不再在办的部署：" + "、".join(removed))
        typer.echo("督办总览：Prefect 界面 Artifacts 页面的 00-duban-board")
        published = connect.publish(home, {
            "api_url": os.environ["PREFECT_API_URL"], "ui_url": ui, "portal_url": portal_url,
            # the base of the links this service's messages carry: commands beside it use it too
            "link_url": Settings.from_env().portal_url,
            "pid": os.getpid(), "started": datetime.now(UTC).isoformat(timespec="seconds"),
        })
        typer.echo(f"另开终端运行的 duban chase / remind / deploy 自动使用本服务（{published}）；"
                   "Prefect 自带的命令需设置 PREFECT_API_URL 与 PREFECT_API_AUTH_STRING。")
        typer.echo(f"{READY}，用时 {time.monotonic() - started:.1f} 秒。按 Ctrl-C 停止。")

    serve_forever(ctx, limit, initial_runs, ready)
