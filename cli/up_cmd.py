"""`duban up`: the one command that runs everything on one machine, until Ctrl-C or SIGTERM.

Order matters: the ledger first (setup, status summary), then the Prefect server and the portal as
child processes, then PREFECT_* and DUBAN_* are exported and only then is Prefect imported
(flows.serve), because Prefect reads its settings from the environment once, at import.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.engine import make_url

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
    typer.echo(f"截至 {local_day(now).isoformat()}：" + summary_lines(rows)[0])
    return ctx


def _start_server(home: Path, port: int, timeout: float, children: list[up.Child]) -> None:
    env = {**os.environ, **up.prefect_env(home, port)}
    server = up.start_prefect_server(home, port, env)
    children.append(server)
    took = up.wait_http(f"http://{up.HOST}:{port}/api/health", server, timeout)
    os.environ.update(up.prefect_env(home, port))
    typer.echo(f"Prefect 界面：http://{up.HOST}:{port}（启动 {took:.1f} 秒；日志 {server.log}）")


def _start_portal(home: Path, port: int, timeout: float, children: list[up.Child]) -> None:
    if not up.portal_available():
        typer.echo("报送页面：不可用（未安装 portal）")
        return
    url = f"http://{up.HOST}:{port}"
    os.environ.setdefault("DUBAN_PORTAL_URL", url)  # an explicit public URL wins, for links
    portal = up.start_portal(home, port, os.environ)
    children.append(portal)
    try:
        up.wait_http(f"{url}/healthz", portal, timeout)
    except up.StartupError as exc:
        typer.echo(f"报送页面未能启动：{exc}", err=True)
        return
    typer.echo(f"报送页面：{url}（邮件与消息中的链接：{Settings.from_env().portal_url}）")


def _check_ports(*ports: int) -> None:
    for port in ports:
        if not up.port_free(port):
            fail(f"port {port} on {up.HOST} is in use (another duban up?); choose another with "
                 "--prefect-port / --portal-port")


@app.command("up")
def up_command(
    prefect_port: Annotated[int, typer.Option(
        "--prefect-port", help="Port of the local Prefect server and UI.")] = 4200,
    portal_port: Annotated[int, typer.Option(
        "--portal-port", help="Port of the report portal.")] = 8000,
    portal: Annotated[bool, typer.Option(
        "--portal/--no-portal", help="Start the report portal.")] = True,
    initial_runs: Annotated[bool, typer.Option(
        "--initial-runs/--no-initial-runs",
        help="Run every action once at start, then the digest.")] = True,
    limit: Annotated[int, typer.Option(
        "--limit", min=1, help="Flow runs executed at the same time.")] = 4,
    startup_timeout: Annotated[float, typer.Option(
        "--startup-timeout", help="Seconds to wait for the server and the portal.")] = 90.0,
) -> None:
    """Run duban: ledger, Prefect server and UI, report portal, and the scheduled flows.

    Serves the 17 action flows (every day 08:30 Asia/Shanghai; each skips non-working days
    itself), 发送督办汇总 (09:00, then the 督办总览 board artifact), and on demand 手动催办,
    登记报送 and 审批延期. Everything lives under DUBAN_HOME
    (the ledger, Prefect's database in DUBAN_HOME/prefect, logs in DUBAN_HOME/logs).
    Ctrl-C or SIGTERM stops it all; schedules stay, and a restart does not duplicate runs.

    Example: duban up --prefect-port 4200 --portal-port 8000
    """
    started = time.monotonic()
    previous = signal.signal(signal.SIGTERM, up.raise_shutdown)
    children: list[up.Child] = []
    try:
        _check_ports(prefect_port, *([portal_port] if portal else []))
        ctx = _prepare_ledger()
        home = ctx.settings.home
        _start_server(home, prefect_port, startup_timeout, children)
        if portal:
            _start_portal(home, portal_port, startup_timeout, children)
        _serve(limit, initial_runs, started)
    except (KeyboardInterrupt, up.Shutdown):
        pass
    except up.StartupError as exc:
        fail(str(exc))
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut cleanup
        for child in reversed(children):
            up.stop_child(child)
        signal.signal(signal.SIGTERM, previous)
    typer.echo("duban 已停止。")


def _serve(limit: int, initial_runs: bool, started: float) -> None:
    from flows.serve import serve_forever  # imports Prefect: only now that PREFECT_* are set

    def ready(count: int) -> None:
        typer.echo(f"已部署 {count} 个流程：17 个行动（每天 08:30）、发送督办汇总（每天 09:00）、"
                   "手动催办、登记报送、审批延期（按需，在界面中填写参数运行）")
        typer.echo("督办总览：Prefect 界面 Artifacts 页面的 duban-board")
        typer.echo(f"{READY}，用时 {time.monotonic() - started:.1f} 秒。按 Ctrl-C 停止。")

    serve_forever(limit, initial_runs, ready)
