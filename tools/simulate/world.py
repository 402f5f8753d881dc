"""The simulated office's machine: a fresh DUBAN_HOME, the Prefect server, the report page and
the departments' receivers, all on 127.0.0.1, torn down afterwards (also on failure or Ctrl-C).

Reuses `duban up`'s own process helpers (cli/processes.py): the same `prefect server start`
command and PREFECT_* environment, the same `python -m portal` app (through tools/simulate/page.py
for the clock). The scheduler is off and no deployment is served: the simulation makes every run
itself, day by day, as the schedule would.
"""

from __future__ import annotations

import os
import secrets
import shutil
import sqlite3
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import version
from pathlib import Path

from sqlalchemy import select

from cli import processes as up
from duban.ledger.models import Department
from duban.service import Context, setup
from tools.simulate.clock import SimClock
from tools.simulate.receivers import Inbox, MailReceiver, RobotReceiver, free_port

OFFICE_TAGS = ("office", "supervisor")
PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CONFIG_DIR = PROJECT_ROOT / "config"


@dataclass
class World:
    home: Path
    clock: SimClock
    inbox: Inbox = field(default_factory=Inbox)
    children: list[up.Child] = field(default_factory=list)
    robot: RobotReceiver | None = None
    mail: MailReceiver | None = None
    prefect_port: int = 0
    page_port: int = 0
    routes: dict[str, str] = field(default_factory=dict)  # tag -> robot | mail
    ctx: Context | None = None
    extra_logs: list[Path] = field(default_factory=list)
    auth: str = field(default_factory=lambda: f"duban:{secrets.token_hex(16)}")

    @classmethod
    def fresh(cls, keep: Path | None = None) -> World:
        home = Path(tempfile.mkdtemp(prefix="duban-sim-"))
        return cls(home=home, clock=SimClock(home / "clock"))

    @property
    def api_url(self) -> str:
        return f"http://{up.HOST}:{self.prefect_port}/api"

    @property
    def page_url(self) -> str:
        return f"http://{up.HOST}:{self.page_port}"

    def environment(self) -> None:
        """DUBAN_* and PREFECT_* for this process (before Prefect is imported) and children."""
        for name in [n for n in os.environ if n.startswith(("DUBAN_", "PREFECT_"))]:
            del os.environ[name]
        self.prefect_port, self.page_port = free_port(), free_port()
        os.environ.update({
            "DUBAN_HOME": str(self.home),
            "DUBAN_CONFIG_DIR": str(DEFAULT_CONFIG_DIR),
            "DUBAN_NOTIFY_CONFIG": str(self.home / "notify.yaml"),
            "DUBAN_PORTAL_URL": self.page_url,
            **up.prefect_env(self.home, self.prefect_port, self.auth),
            "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
            # Services that act only on schedules, deployments, workers, pauses, cancellations
            # or concurrency leases, none of which the simulation has (it makes every run
            # itself), and the UI nobody opens: off, so the server's CPU goes to the runs.
            **dict.fromkeys([f"PREFECT_SERVER_SERVICES_{name}_ENABLED" for name in (
                "LATE_RUNS", "FOREMAN", "PAUSE_EXPIRATIONS", "CANCELLATION_CLEANUP",
                "REPOSSESSOR")], "false"),
            "PREFECT_UI_ENABLED": "false",
            "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "300",
        })

    def start(self, start: datetime, log) -> Context:
        self.environment()
        self.robot, self.mail = RobotReceiver(self.inbox), MailReceiver(self.inbox)
        self.robot.start()
        self.mail.start()
        template = prefect_template()
        if template.exists():  # a freshly migrated, empty Prefect database: no migrations
            self.prefect_db.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(template, self.prefect_db)
        server = up.start_prefect_server(self.home, self.prefect_port, dict(os.environ))
        self.children.append(server)
        self.clock.set(start)
        self.ctx = Context.from_env()
        setup(self.ctx, start)
        self.write_routes()
        page = up.start_child("report page", [
            sys.executable, "-m", "tools.simulate.page", "--port", str(self.page_port),
            "--clock-file", str(self.clock.path)], {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
            self.home / "logs" / "page.log")
        self.children.append(page)
        took = up.wait_http(f"{self.api_url}/health", server, 600)
        log(f"Prefect server ready in {took:.0f} s on port {self.prefect_port}"
            + (" (migrated database from the cache)" if template.exists() else ""))
        if not template.exists():
            keep_template(self.prefect_db, template)
        up.wait_http(f"{self.page_url}/healthz", page, 120)
        log(f"report page ready on port {self.page_port}")
        return self.ctx

    @property
    def prefect_db(self) -> Path:
        return self.home / "prefect" / "prefect.db"  # Prefect's default under PREFECT_HOME

    def write_routes(self) -> None:
        """notify.yaml: city departments and the office by robot, county departments by mail;
        the outbox keeps its copy of everything, as the shipped notify.yaml recommends."""
        with self.ctx.db.read() as session:
            departments = list(session.execute(
                select(Department.code, Department.city_counterpart_id)))
        lines = ["version: 1", "urls:", "  - outbox://:", "      tag: always"]
        for code, counterpart in departments:
            channel = "mail" if counterpart else "robot"
            self.routes[code] = channel
        for tag in OFFICE_TAGS:
            self.routes[tag] = "robot" if tag == "office" else "mail"
        for tag, channel in sorted(self.routes.items()):
            url = self.robot.url(tag) if channel == "robot" else self.mail.url(tag)
            lines += [f"  - {url}:", f"      tag: {tag}"]
        (self.home / "notify.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def stop(self, keep: Path | None = None) -> None:
        for child in reversed(self.children):
            up.stop_child(child)
        for receiver in (self.robot, self.mail):
            if receiver is not None:
                receiver.close()
        if self.ctx is not None:
            self.ctx.db.dispose()
        if keep is not None:
            shutil.copytree(self.home / "logs", keep / "logs", dirs_exist_ok=True)
        shutil.rmtree(self.home, ignore_errors=True)


def prefect_template() -> Path:
    """Where a migrated, still empty Prefect database is kept for the next simulation: a fresh
    server spends most of its ~1 minute start migrating a new SQLite file step by step."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "duban" / f"simulate-prefect-{version('prefect')}.db"


def keep_template(live: Path, template: Path) -> None:
    """Copy the server's database right after its start (schema and block types, no run yet)
    with SQLite's backup API, which reads a consistent snapshot of a database in use."""
    if not live.exists():
        return
    template.parent.mkdir(parents=True, exist_ok=True)
    partial = template.with_suffix(f".{os.getpid()}.tmp")
    with sqlite3.connect(live) as source, sqlite3.connect(partial) as target:
        source.backup(target)
    source.close()
    target.close()
    partial.replace(template)
