"""演练 (drill): duban on two Prefect workers with PostgreSQL; one worker dies mid-send.

    .venv/bin/python -m tools.drill [--workers 2] [--timeout 420] [--json FILE] [--keep DIR]

What it builds, all on this machine and torn down afterwards (processes and databases, also on
failure or Ctrl-C):

  - two PostgreSQL databases: Prefect's (duban_drill_prefect_*) and duban's ledger
    (duban_drill_ledger_*), the 2023 plan loaded into the ledger;
  - a Prefect server on that database with basic auth on, on a free port (PREFECT_HOME in a
    temporary directory; the scheduler service off: the drill makes every run itself);
  - `duban deploy --pool duban` (the work pool and the active plan's deployments, the same set
    `duban up` serves);
  - a local HTTP receiver: notify.yaml routes every recipient tag to json://127.0.0.1:PORT/TAG;
  - two `prefect worker start --pool duban` processes with the DUBAN_* environment.

What it does, at the instant 2023-10-16 09:00 (Asia/Shanghai; a busy working day):

  1. reports entered for the office (duban.office_entry.enter_on_behalf) before the workers run;
  2. wave 1: two action deployments at once; when done, 发送督办汇总, and as soon as it runs,
     wave 2: two more actions, while more reports are entered from another thread;
  3. the receiver holds the digests' HTTP requests; when the first arrives, the worker running
     the dispatch is SIGKILLed with every process it started (a machine lost mid-send), and
     its unfinished runs are marked Crashed (what an operator or a zombie-run automation does);
  4. on the surviving worker: every action the killed worker was running, action 1 again (it
     had completed: a rerun must record nothing), a dispatch within the lease (09:01), then
     the final dispatch after the lease (DUBAN_DISPATCH_LEASE_SECONDS = 120 s later, in the
     drill's clock: every run is given its as_of instant).

What it checks (exit 1 when any fails, 2 when the drill itself could not run):

  - every reminder the ladder owes for those actions is in the ledger, recorded once;
  - no reminder and no digest is left pending/queued/sending after the final dispatch;
  - every digest reached the receiver exactly once, except digests the killed worker had
    claimed: those at most once more, under the same digest id, and not within the lease;
  - every report entered is in the ledger, once;
  - the re-triggered runs completed on the surviving worker.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import httpx
import typer
from sqlalchemy import func, select
from sqlalchemy.engine import URL, make_url

from duban.calendar.clock import at_local
from duban.chase.digest import redact_links
from duban.ledger.models import (
    Action,
    Department,
    Digest,
    Duty,
    Occurrence,
    Reminder,
    Report,
    Target,
)
from duban.office_entry import enter_on_behalf
from duban.service import Context, chase, setup
from duban.settings import Settings
from flows.states import OVERDUE
from tests.support.net import free_port

REPO = Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO / "config"
DAY = date(2023, 10, 16)  # a Monday: many items due, overdue and escalated; the weekly brief
T0 = at_local(DAY, 9)  # 09:00 Asia/Shanghai, the instant every run of the drill is "at"
WAVE_1 = (1, 2)
WAVE_2 = (3, 5)
ACTIONS = WAVE_1 + WAVE_2
QUIET_ACTION = 8  # reports entered while the workers run go to this action: it is not chased
LEASE_SECONDS = 120
WITHIN_LEASE = T0 + timedelta(seconds=60)
AFTER_LEASE = T0 + timedelta(seconds=LEASE_SECONDS + 1)
POOL = "duban"
DISPATCH_FLOW = "发送督办汇总/立即发送督办汇总"  # deployment paths: flow/deployment
WORKER_LIMIT = 2  # flow runs at once per worker: one per core on the 2-core CI machine
HOLD_LIMIT = 8.0  # seconds the receiver may hold a request (below the notifier's 10 s timeout)
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
DB_PREFIX = "duban_drill_"
FINAL = ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")
ACTION_FLOWS = {  # the shipped plan's action deployments (flow 行动督办, named "NN title")
    1: "行动督办/01 社区固本强基行动", 2: "行动督办/02 社区养老服务行动",
    3: "行动督办/03 社区未成年人关爱行动", 5: "行动督办/05 社区就业服务行动",
}


class DrillError(RuntimeError):
    """The drill itself could not run (a process did not start, a wait ran out)."""


# -- processes -----------------------------------------------------------------------------


def _die_with_parent() -> Callable[[], None] | None:
    """A pre-exec hook: the child is SIGKILLed when the drill dies (Linux PR_SET_PDEATHSIG), so
    a drill killed outright leaves no server or worker behind. libc is looked up here, in the
    parent: the hook itself only makes one call."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return lambda: prctl(1, signal.SIGKILL)


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 25) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def start(name: str, argv: list[str], env: dict[str, str], log: Path, cwd: Path) -> Proc:
    """A child in its own session (its pid is its process group), output to `log`."""
    with log.open("ab") as out:
        popen = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True,
                                 preexec_fn=_die_with_parent())
    return Proc(name, popen, log)


def _parents() -> dict[int, int]:
    """pid -> parent pid for every process visible in /proc."""
    parents = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    return parents


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for child, parent in _parents().items():
        children.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def ancestor_among(pid: int, candidates: dict[int, str]) -> str | None:
    """The name of the candidate process that `pid` descends from (or is), if any."""
    parents = _parents()
    seen = 0
    while pid > 1 and seen < 64:
        if pid in candidates:
            return candidates[pid]
        pid, seen = parents.get(pid, 0), seen + 1
    return None


def _signal(pid: int, signum: int, group: bool = False) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if group:
            if os.getpgid(pid) != os.getpgid(0):  # never our own group
                os.killpg(os.getpgid(pid), signum)
        else:
            os.kill(pid, signum)


def kill_tree(proc: Proc) -> list[int]:
    """SIGKILL a child and every process it started, as a machine that loses power.

    Prefect's process worker starts each flow run in a new session, so killing the worker's
    process group alone would leave its runs going: stop the whole tree first, then kill it."""
    _signal(proc.pid, signal.SIGSTOP, group=True)
    tree = [proc.pid, *descendants(proc.pid)]
    for pid in tree:
        _signal(pid, signal.SIGSTOP)
    tree = [proc.pid, *descendants(proc.pid)]
    for pid in tree:
        _signal(pid, signal.SIGKILL, group=True)
        _signal(pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.popen.wait(10)
    return tree


def stop(procs: list[Proc], timeout: float = 10.0) -> None:
    """SIGTERM each child's group, give them `timeout` seconds together, then kill whatever is
    left of their trees."""
    for proc in procs:
        if proc.alive():
            _signal(proc.pid, signal.SIGTERM, group=True)
    deadline = time.monotonic() + timeout
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.popen.wait(max(0.0, deadline - time.monotonic()))
    for proc in procs:
        kill_tree(proc)




# -- the receiver ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    tag: str
    title: str
    body: str
    at: float


class Receiver:
    """A local HTTP endpoint for apprise's json:// plugin: records every message by path (the
    recipient tag). While `hold` is set it keeps each request open (up to HOLD_LIMIT seconds),
    so a sender killed then has sent but not heard back, the worst moment to die."""

    def __init__(self) -> None:
        self.messages: list[Received] = []
        self.lock = threading.Lock()
        self.first = threading.Event()
        self.released = threading.Event()
        self.released.set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    payload = json.loads(raw or b"{}")
                except ValueError:
                    payload = {}
                receiver.record(Received(self.path.strip("/"), str(payload.get("title", "")),
                                         str(payload.get("message", "")), time.monotonic()))
                receiver.released.wait(HOLD_LIMIT)
                with contextlib.suppress(OSError):
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"{}")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def record(self, message: Received) -> None:
        with self.lock:
            self.messages.append(message)
        self.first.set()

    def snapshot(self) -> list[Received]:
        with self.lock:
            return list(self.messages)

    def hold(self) -> None:
        self.first.clear()
        self.released.clear()

    def release(self) -> None:
        self.released.set()

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        self.release()
        if self.thread.is_alive():
            self.server.shutdown()
        self.server.server_close()


def write_routes(path: Path, port: int, tags: list[str]) -> Path:
    """notify.yaml: each recipient tag to its own path on the receiver."""
    lines = ["version: 1", "urls:"]
    for tag in tags:
        lines += [f"  - json://127.0.0.1:{port}/{tag}:", f"      tag: {tag}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# -- PostgreSQL ------------------------------------------------------------------------------


class Postgres:
    """Creates and drops the drill's databases through an admin connection (psycopg)."""

    def __init__(self, admin_url: str) -> None:
        self.admin = make_url(admin_url)
        self.created: list[str] = []

    def _connect(self):
        import psycopg

        url = self.admin
        return psycopg.connect(host=url.host or "127.0.0.1", port=url.port or 5432,
                               user=url.username, password=url.password,
                               dbname=url.database or "postgres", autocommit=True,
                               connect_timeout=5)

    def url(self, database: str, driver: str) -> URL:
        return self.admin.set(drivername=driver, database=database)

    def create(self, database: str) -> None:
        with self._connect() as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        self.created.append(database)

    def drop(self, database: str) -> None:
        with self._connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    def drop_created(self) -> list[str]:
        dropped = []
        for database in reversed(self.created):
            with contextlib.suppress(Exception):
                self.drop(database)
                dropped.append(database)
        self.created.clear()
        return dropped

    def drop_orphans(self) -> list[str]:
        """Databases of an earlier drill whose process no longer exists (it was SIGKILLed)."""
        with self._connect() as conn:
            names = [r[0] for r in conn.execute(
                "SELECT datname FROM pg_database WHERE datname LIKE %s", (DB_PREFIX + "%",))]
        orphans = []
        for name in names:
            match = re.fullmatch(rf"{DB_PREFIX}(?:prefect|ledger)_(\d+)_[0-9a-f]+", name)
            if match and not Path(f"/proc/{match[1]}").exists():
                self.drop(name)
                orphans.append(name)
        return orphans


# -- the Prefect API (plain HTTP with basic auth: no Prefect import in this process) --------


class PrefectAPI:
    def __init__(self, api_url: str, auth: str) -> None:
        user, _, password = auth.partition(":")
        self.client = httpx.Client(base_url=api_url, auth=(user, password), timeout=30)
        self._deployments: dict[str, str] = {}

    def status_without_auth(self) -> int:
        return httpx.post(f"{self.client.base_url}/flows/filter", json={}, timeout=10).status_code

    def deployment_id(self, path: str) -> str:
        flow, _, name = path.partition("/")
        if path not in self._deployments:
            answer = self.client.get(f"/deployments/name/{quote(flow)}/{quote(name)}")
            answer.raise_for_status()
            self._deployments[path] = answer.json()["id"]
        return self._deployments[path]

    def deployments(self) -> list[dict]:
        answer = self.client.post("/deployments/filter", json={"limit": 200})
        answer.raise_for_status()
        return answer.json()

    def run(self, flow: str, **parameters: Any) -> str:
        answer = self.client.post(f"/deployments/{self.deployment_id(flow)}/create_flow_run",
                                  json={"parameters": parameters, "tags": ["演练"]})
        answer.raise_for_status()
        return answer.json()["id"]

    def runs(self, ids: list[str]) -> list[dict]:
        answer = self.client.post("/flow_runs/filter",
                                  json={"flow_runs": {"id": {"any_": ids}}, "limit": 200})
        answer.raise_for_status()
        return answer.json()

    def crash(self, run_id: str, message: str) -> None:
        self.client.post(f"/flow_runs/{run_id}/set_state", json={
            "state": {"type": "CRASHED", "name": "Crashed", "message": message}, "force": True,
        }).raise_for_status()

    def online_workers(self) -> list[str]:
        answer = self.client.post(f"/work_pools/{POOL}/workers/filter", json={})
        answer.raise_for_status()
        return [w["name"] for w in answer.json() if w.get("status") == "ONLINE"]

    def close(self) -> None:
        self.client.close()


# -- the drill -------------------------------------------------------------------------------


@dataclass
class RunRecord:
    id: str
    label: str
    phase: str
    action: int | None = None  # None: the dispatch
    state: str = ""
    state_name: str = ""
    message: str = ""
    worker: str | None = None
    pid: str | None = None


@dataclass
class Outcome:
    violations: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)

    def check(self, ok: bool, zh: str, en: str) -> None:
        self.lines.append(f"  [{'通过' if ok else '失败'}] {zh} / {en}")
        if not ok:
            self.violations.append(en)

    def say(self, text: str) -> None:
        self.lines.append(text)


class Drill:
    def __init__(self, workers: int, timeout: float, admin_url: str, keep: Path | None,
                 log: Callable[[str], None]) -> None:
        self.workers_wanted = workers
        self.deadline = time.monotonic() + timeout
        self.keep = keep
        self.log = log
        self.started = time.monotonic()
        self.tmp = Path(tempfile.mkdtemp(prefix="duban-drill-"))
        self.pg = Postgres(admin_url)
        tag = f"{os.getpid()}_{secrets.token_hex(3)}"
        self.prefect_db, self.ledger_db = f"{DB_PREFIX}prefect_{tag}", f"{DB_PREFIX}ledger_{tag}"
        self.auth = f"duban:{secrets.token_hex(16)}"
        self.port = free_port()
        self.api_url = f"http://127.0.0.1:{self.port}/api"
        self.server: Proc | None = None
        self.workers: list[Proc] = []
        self.victim: Proc | None = None
        self.api: PrefectAPI | None = None
        self.receiver = Receiver()
        self.runs: dict[str, RunRecord] = {}
        self.reports: list[tuple[int, str]] = []  # (report id, idempotency key)
        self.report_errors: list[str] = []
        self.timings: dict[str, float] = {}
        self.outcome = Outcome()
        self.killed_claims: dict[int, tuple[str, int]] = {}  # digest id -> (claimed_by, tries)
        self.killed_pids: list[int] = []
        self.within_lease_states: dict[int, str] = {}
        self.owed: dict[int, int] = {}

    # -- plumbing --

    def left(self) -> float:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise DrillError("the drill ran out of time (--timeout)")
        return remaining

    def lap(self, name: str, since: float) -> None:
        self.timings[name] = round(time.monotonic() - since, 1)
        self.log(f"  {name}: {self.timings[name]} s")

    def base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "DUBAN_"))}
        env.update(PYTHONUNBUFFERED="1", PREFECT_SERVER_ANALYTICS_ENABLED="false",
                   PREFECT_API_URL=self.api_url, PREFECT_API_AUTH_STRING=self.auth)
        return env

    def prefect_cli(self, *args: str, timeout: float = 180.0) -> None:
        env = {**self.base_env(), "PREFECT_HOME": str(self.tmp / "prefect-cli")}
        done = subprocess.run([sys.executable, "-m", "prefect", *args], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=min(timeout, self.left()))
        if done.returncode != 0:
            raise DrillError(f"prefect {' '.join(args)} failed:\n{done.stdout[-2000:]}"
                             f"{done.stderr[-2000:]}")

    def duban_deploy(self) -> int:
        """`duban deploy --pool POOL` as an operator runs it; how many deployments it applied."""
        url = self.pg.url(self.ledger_db, "postgresql").render_as_string(hide_password=False)
        env = {**self.base_env(), "PREFECT_HOME": str(self.tmp / "prefect-cli"),
               "DUBAN_HOME": str(self.tmp / "office"), "DUBAN_DATABASE_URL": url,
               "DUBAN_CONFIG_DIR": str(CONFIG_DIR)}
        done = subprocess.run([str(Path(sys.executable).with_name("duban")), "deploy", "--pool",
                               POOL], cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=min(300.0, self.left()))
        found = re.search(r"共 (\d+) 个部署", done.stdout)
        if done.returncode != 0 or found is None:
            raise DrillError(f"duban deploy failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        return int(found.group(1))

    # -- set up --

    def ledger_context(self) -> Context:
        url = self.pg.url(self.ledger_db, "postgresql").render_as_string(hide_password=False)
        home = self.tmp / "office"
        return Context(Settings(home=home, database_url=url, config_dir=CONFIG_DIR,
                                notify_config=self.tmp / "notify.yaml",
                                portal_url="http://127.0.0.1:8000"))

    def start_server(self) -> None:
        url = self.pg.url(self.prefect_db, "postgresql+asyncpg").render_as_string(
            hide_password=False)
        env = {**self.base_env(),
               "PREFECT_HOME": str(self.tmp / "prefect-server"),
               "PREFECT_SERVER_DATABASE_CONNECTION_URL": url,
               "PREFECT_SERVER_API_AUTH_STRING": self.auth,
               "PREFECT_SERVER_API_HOST": "127.0.0.1",
               "PREFECT_SERVER_API_PORT": str(self.port),
               "PREFECT_UI_API_URL": self.api_url,
               "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false"}
        argv = [sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                "--port", str(self.port)]
        self.server = start("Prefect server", argv, env, self.tmp / "prefect-server.log",
                            REPO)

    def wait_server(self) -> None:
        health = f"http://127.0.0.1:{self.port}/api/health"
        while True:
            self.left()
            if not self.server.alive():
                raise DrillError("the Prefect server exited:\n" + self.server.tail())
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(health, timeout=2).status_code == 200:
                    return
            time.sleep(0.5)

    def start_workers(self) -> None:
        url = self.pg.url(self.ledger_db, "postgresql").render_as_string(hide_password=False)
        for n in range(1, self.workers_wanted + 1):
            name = f"drill-w{n}"
            env = {**self.base_env(),
                   "PREFECT_HOME": str(self.tmp / name / "prefect"),
                   "PREFECT_WORKER_QUERY_SECONDS": "2",
                   "DUBAN_HOME": str(self.tmp / name),
                   "DUBAN_DATABASE_URL": url,
                   "DUBAN_CONFIG_DIR": str(CONFIG_DIR),
                   "DUBAN_NOTIFY_CONFIG": str(self.tmp / "notify.yaml"),
                   "DUBAN_PORTAL_URL": "http://127.0.0.1:8000",
                   "DUBAN_DISPATCH_LEASE_SECONDS": str(LEASE_SECONDS)}
            (self.tmp / name).mkdir()
            argv = [sys.executable, "-m", "prefect", "worker", "start", "--pool", POOL,
                    "--name", name, "--limit", str(WORKER_LIMIT)]
            self.workers.append(start(name, argv, env, self.tmp / f"{name}.log", REPO))

    def wait_workers(self) -> None:
        names = {w.name for w in self.workers}
        while not names <= set(self.api.online_workers()):
            self.left()
            for worker in self.workers:
                if not worker.alive():
                    raise DrillError(f"{worker.name} exited:\n{worker.tail()}")
            time.sleep(1)

    def set_up(self) -> Context:
        self.log("准备 / setting up")
        t = time.monotonic()
        orphans = self.pg.drop_orphans()
        if orphans:
            self.log(f"  dropped leftovers of an earlier drill: {', '.join(orphans)}")
        self.pg.create(self.prefect_db)
        self.pg.create(self.ledger_db)
        self.receiver.start()
        self.start_server()
        ctx = self.ledger_context()
        setup(ctx, T0)
        with ctx.db.session() as s:
            tags = sorted(s.scalars(select(Department.code))) + ["office", "supervisor"]
        write_routes(self.tmp / "notify.yaml", self.receiver.port, tags)
        self.lap("ledger on PostgreSQL, plan loaded", t)
        self.wait_server()
        self.api = PrefectAPI(self.api_url, self.auth)
        self.outcome.figures["api_without_auth"] = self.api.status_without_auth()
        self.lap("Prefect server on PostgreSQL ready", t)
        t = time.monotonic()
        self.prefect_cli("work-pool", "create", POOL, "--type", "process", "--overwrite")
        self.start_workers()
        self.outcome.figures["deployments_applied"] = self.duban_deploy()
        self.outcome.figures["deployments"] = len(self.api.deployments())
        self.wait_workers()
        self.lap("work pool, deploy --all, workers online", t)
        return ctx

    # -- reports --

    def open_items(self, ctx: Context, actions: tuple[int, ...], count: int) -> list[tuple]:
        """(occurrence id, department code, reported in parts) of open monthly/quarterly target
        reports."""
        with ctx.db.session() as s:
            return s.execute(
                select(Occurrence.id, Department.code, Target.numerator_label.is_not(None))
                .join(Duty, Occurrence.duty_id == Duty.id)
                .outerjoin(Target, Duty.target_id == Target.id)
                .join(Action, Duty.action_id == Action.id)
                .join(Department, Occurrence.department_id == Department.id)
                .where(Action.no.in_(actions), Duty.kind == "target_progress",
                       Occurrence.status == "open", Occurrence.period_start <= DAY)
                .order_by(Occurrence.id).limit(count)
            ).all()

    def enter_reports(self, ctx: Context, items: list[tuple], pause: float = 0.0) -> None:
        for occurrence_id, code, in_parts in items:
            key = f"drill-{occurrence_id}"
            parts = {"numerator": "1", "denominator": "1"} if in_parts else {}
            try:
                outcome = enter_on_behalf(ctx, code, occurrence_id, "progress",
                                          None if in_parts else "1", "演练：电话报送", None, "演练",
                                          T0, idempotency_key=key, **parts)
                self.reports.append((outcome.report_id, key))
            except Exception as exc:  # recorded as a violation, never swallowed
                self.report_errors.append(f"{occurrence_id}: {type(exc).__name__}: {exc}")
            time.sleep(pause)

    # -- runs --

    def trigger(self, flow: str, label: str, phase: str, as_of, action: int | None = None) -> str:
        run_id = self.api.run(flow, as_of=as_of.isoformat())
        self.runs[run_id] = RunRecord(run_id, label, phase, action)
        return run_id

    def trigger_action(self, no: int, phase: str, label: str = "") -> str:
        return self.trigger(ACTION_FLOWS[no], f"行动{no}{label}", phase, T0, no)

    def refresh(self, ids: list[str]) -> list[RunRecord]:
        workers = {w.pid: w.name for w in self.workers if w.alive()}
        for run in self.api.runs(ids):
            record = self.runs[run["id"]]
            record.state, record.state_name = run["state_type"], run["state_name"]
            record.message = (run.get("state") or {}).get("message") or ""
            record.pid = run.get("infrastructure_pid")
            if record.worker is None and record.pid and record.pid.isdigit():
                record.worker = ancestor_among(int(record.pid), workers)
            if record.worker is None and run["state_type"] in ("PENDING", "RUNNING"):
                record.worker = self.worker_running(record.id)
        return [self.runs[i] for i in ids]

    def worker_running(self, run_id: str) -> str | None:
        """The live worker with a process of this flow run (PREFECT__FLOW_RUN_ID in its
        environment), for when the run's infrastructure_pid is not there yet."""
        needle = f"PREFECT__FLOW_RUN_ID={run_id}".encode()
        for worker in self.workers:
            if not worker.alive():
                continue
            for pid in descendants(worker.pid):
                with contextlib.suppress(OSError):
                    if needle in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                        return worker.name
        return None

    def wait_final(self, ids: list[str], what: str) -> list[RunRecord]:
        while True:
            self.left()
            records = self.refresh(ids)
            if all(r.state in FINAL for r in records):
                return records
            if not any(w.alive() for w in self.workers if w is not self.victim):
                raise DrillError(f"no worker left while waiting for {what}")
            time.sleep(1)

    def phase_a(self, ctx: Context) -> None:
        self.log("第一阶段：两个工作节点 / phase A: two workers")
        t = time.monotonic()
        wave1 = [self.trigger_action(n, "A") for n in WAVE_1]
        self.wait_final(wave1, "wave 1")
        self.lap("wave 1 (actions 1, 2) completed", t)
        quiet = self.open_items(ctx, (QUIET_ACTION,), 4)
        reporter = threading.Thread(target=self.enter_reports, args=(ctx, quiet, 0.5))
        self.receiver.hold()
        t = time.monotonic()
        dispatch = self.trigger(DISPATCH_FLOW, "汇总", "A", T0)
        self.wait_running(dispatch)
        wave2 = [self.trigger_action(n, "A") for n in WAVE_2]
        reporter.start()
        try:
            self.kill_dispatching_worker(ctx, dispatch, wave2)
        finally:
            self.receiver.release()
            reporter.join(60)
        self.lap("wave 2 + dispatch triggered, worker killed mid-send", t)

    def wait_running(self, run_id: str) -> None:
        """Until the run's flow has begun (or it has already sent something)."""
        while not self.receiver.first.is_set():
            self.left()
            record = self.refresh([run_id])[0]
            if record.state == "RUNNING":
                return
            if record.state in FINAL:
                raise DrillError(f"{record.label} ended early: {record.state_name} "
                                 f"{record.message}")
            time.sleep(0.5)

    def kill_dispatching_worker(self, ctx: Context, dispatch: str, others: list[str]) -> None:
        while not self.receiver.first.wait(1):
            self.left()
            records = self.refresh([dispatch, *others])
            if records[0].state in FINAL:
                raise DrillError(f"the dispatch ended before sending anything: "
                                 f"{records[0].state_name} {records[0].message}")
        time.sleep(0.5)  # let the notifier's threads put every claimed digest on the wire
        record = self.refresh([dispatch, *others])[0]
        self.victim = next((w for w in self.workers if w.name == record.worker), None)
        if self.victim is None:
            raise DrillError(f"cannot tell which worker runs the dispatch (pid {record.pid})")
        in_flight = [f"{r.label}（{r.state}）" for r in self.refresh(others)
                     if r.worker == self.victim.name and r.state not in FINAL]
        self.killed_pids = kill_tree(self.victim)
        self.log(f"  SIGKILL {self.victim.name}: {len(self.killed_pids)} processes "
                 f"(dispatch{' + ' + ', '.join(in_flight) if in_flight else ''})")
        self.outcome.figures["killed_worker"] = self.victim.name
        self.outcome.figures["killed_processes"] = len(self.killed_pids)
        self.outcome.figures["killed_runs"] = ["汇总", *in_flight]
        self.outcome.figures["received_before_kill"] = len(self.receiver.snapshot())
        with ctx.db.session() as s:
            rows = s.execute(select(Digest.id, Digest.claimed_by, Digest.attempts)
                             .where(Digest.state == "sending")).all()
        self.killed_claims = {i: (by, tries) for i, by, tries in rows}

    def phase_b(self) -> None:
        self.log("第二阶段：幸存节点 / phase B: the surviving worker")
        t = time.monotonic()
        lost = self.runs_lost()
        for record in lost:  # what an operator (or a zombie-run automation) does
            self.api.crash(record.id, "演练：工作节点被强制终止 / drill: worker killed")
        ids = [r.id for r in self.runs.values() if r.phase == "A"]
        going = [r.id for r in self.refresh(ids) if r.state not in FINAL]  # on the survivor
        # again: every action the killed worker was running, and action 1, which completed
        # before the kill (a rerun must record nothing new)
        numbers = sorted({r.action for r in lost if r.action} | {WAVE_1[0]})
        again = [self.trigger_action(n, "B", "（重跑）") for n in numbers]
        within = self.trigger(DISPATCH_FLOW, "汇总（租约内）", "B", WITHIN_LEASE)
        self.wait_final([*going, *again, within], "the re-triggered runs")
        self.lap("actions re-run + dispatch within the lease", t)

    def runs_lost(self, grace: float = 15.0) -> list[RunRecord]:
        """Phase-A runs that died with the victim: taken by it (so PENDING or RUNNING) and not
        finished. A run a worker has just taken may show no process for a moment: one that
        still belongs to no live worker after `grace` seconds was the victim's."""
        ids = [r.id for r in self.runs.values() if r.phase == "A"]
        deadline = time.monotonic() + grace
        while True:
            taken = [r for r in self.refresh(ids) if r.state in ("PENDING", "RUNNING")]
            unknown = [r for r in taken if r.worker is None]
            if not unknown or time.monotonic() > deadline:
                for record in unknown:
                    record.worker = self.victim.name  # no live worker has it: it was the victim
                return [r for r in taken if r.worker == self.victim.name]
            time.sleep(1)

    def final_dispatch(self, ctx: Context) -> None:
        with ctx.db.session() as s:
            self.within_lease_states = dict(s.execute(
                select(Digest.id, Digest.state).where(Digest.id.in_(list(self.killed_claims)))
            ).all())
        t = time.monotonic()
        final = self.trigger(DISPATCH_FLOW, "汇总（租约后）", "B", AFTER_LEASE)
        self.wait_final([final], "the final dispatch")
        self.lap("final dispatch after the lease", t)

    # -- checks --

    def expected_owed(self, ctx: Context) -> None:
        """What the ladder owes today for the drill's actions, by the core's own dry run."""
        self.owed = {r.action: r.owed for r in chase(ctx, T0, list(ACTIONS), dry_run=True)}

    def verify(self, ctx: Context) -> Outcome:
        out = self.outcome
        out.say("检查 / checks")
        out.check(out.figures.get("api_without_auth") == 401,
                  "Prefect API 未带口令时拒绝访问（401）",
                  "the Prefect API refuses requests without the basic-auth string (401)")
        expected = out.figures.get("deployments_applied")
        found = out.figures.get("deployments")
        out.check(found == expected, f"duban deploy 的 {expected} 个部署均已创建（{found}）",
                  f"the {expected} deployments of duban deploy exist ({found} found)")
        self.verify_reminders(ctx, out)
        self.verify_digests(ctx, out)
        self.verify_reports(ctx, out)
        self.verify_runs(out)
        return out

    def verify_reminders(self, ctx: Context, out: Outcome) -> None:
        with ctx.db.session() as s:
            per_action = dict(s.execute(
                select(Action.no, func.count(Reminder.id))
                .join(Occurrence, Reminder.occurrence_id == Occurrence.id)
                .join(Duty, Occurrence.duty_id == Duty.id)
                .join(Action, Duty.action_id == Action.id)
                .where(Reminder.send_on == DAY, Reminder.level != "manual")
                .group_by(Action.no)).all())
            states = Counter(dict(s.execute(
                select(Reminder.state, func.count()).group_by(Reminder.state)).all()))
            unattached = s.scalar(select(func.count()).select_from(Reminder)
                                  .where(Reminder.digest_id.is_(None)))
        owed, recorded = sum(self.owed.values()), sum(per_action.get(n, 0) for n in ACTIONS)
        out.figures.update(reminders_owed=owed, reminders_recorded=recorded,
                           reminder_states=dict(states))
        missing = {n: self.owed[n] - per_action.get(n, 0) for n in ACTIONS
                   if per_action.get(n, 0) != self.owed[n]}
        out.check(not missing, f"应催办 {owed} 条全部记入台账，各一次（行动 1、2、3、5）",
                  f"all {owed} owed reminders recorded, once each"
                  + (f"; differences by action {missing}" if missing else ""))
        left = sum(n for state, n in states.items() if state != "sent")
        out.check(left == 0 and unattached == 0,
                  f"最后一次发送后无待发/排队/发送中的催办（共 {sum(states.values())} 条，"
                  f"状态 {dict(states)}）",
                  f"no reminder left pending/queued/sending after the final dispatch "
                  f"({left} not sent, {unattached} in no digest)")

    def verify_digests(self, ctx: Context, out: Outcome) -> None:
        with ctx.db.session() as s:
            digests = s.execute(select(Digest.id, Digest.recipient, Digest.title, Digest.body,
                                       Digest.state, Digest.attempts)).all()
        by_content: dict[tuple[str, str, str], list[int]] = {}
        for digest_id, recipient, title, body, _, _ in digests:
            by_content.setdefault((recipient, title, body), []).append(digest_id)
        received: Counter[int] = Counter()
        strangers = 0
        for message in self.receiver.snapshot():
            ids = by_content.get((message.tag, message.title, redact_links(message.body)))
            if ids is None:
                strangers += 1
                continue
            received[min(ids, key=lambda i: received[i])] += 1  # equal contents: share out
        killed = set(self.killed_claims)
        answered = _void_and_answered(ctx, [d[0] for d in digests if d[4] == "void"])
        digests = [d for d in digests if d[0] not in answered]  # rightly not sent (see below)
        out.figures["void_answered"] = len(answered)
        lost = [d[0] for d in digests if received[d[0]] == 0]
        doubled = [d[0] for d in digests if received[d[0]] > 1 and d[0] not in killed]
        killed_over = [i for i in killed if received[i] > 2]
        resent = sorted(i for i in killed if received[i] == 2)
        unsent = [d[0] for d in digests if d[4] != "sent"]
        tries_wrong = [d[0] for d in digests
                       if d[5] != (2 if d[0] in killed else 1)]
        taken_in_lease = [i for i, state in self.within_lease_states.items() if state != "sending"]
        out.figures.update(
            digests=len(digests), received=sum(received.values()) + strangers,
            claimed_by_killed_worker=len(killed), resent_after_lease=len(resent),
            recipients=len({d[1] for d in digests}),
        )
        foreign = [i for i, (by, _) in self.killed_claims.items()
                   if not by or _pid_of(by) not in self.killed_pids]
        out.check(bool(killed) and not foreign,
                  f"被终止的节点正在发送：其进程已认领 {len(killed)} 份汇总（发送中）",
                  f"the killed worker died mid-send: its processes held {len(killed)} claimed "
                  f"digests ({len(foreign)} claimed by another process)")
        out.check(not unsent, f"全部 {len(digests)} 份汇总状态为已发送",
                  f"all {len(digests)} digests end as sent ({len(unsent)} not)")
        out.check(not lost and strangers == 0,
                  f"接收端收到每一份汇总（未收到 {len(lost)} 份，无法对应 {strangers} 条）",
                  f"every digest reached the receiver ({len(lost)} lost, "
                  f"{strangers} unmatched messages)")
        out.check(not doubled, "未被终止节点认领的汇总恰好收到一次",
                  f"digests not claimed by the killed worker arrived exactly once "
                  f"({len(doubled)} duplicated)")
        out.check(not killed_over and not taken_in_lease,
                  f"被终止节点认领的 {len(killed)} 份：租约内无人重发，租约后以同一汇总编号"
                  f"至多再发一次（再发 {len(resent)} 份）",
                  f"the killed worker's {len(killed)} digests: not taken within the lease, "
                  f"then at most once more under the same digest id ({len(resent)} resent, "
                  f"{len(killed_over)} more than twice)")
        out.check(not tries_wrong, "认领次数：被终止节点认领的为 2 次，其余为 1 次",
                  f"claim attempts are 2 for the killed worker's digests, 1 for the rest "
                  f"({len(tries_wrong)} differ)")

    def verify_reports(self, ctx: Context, out: Outcome) -> None:
        keys = [k for _, k in self.reports]
        with ctx.db.session() as s:
            stored = Counter(s.scalars(select(Report.idempotency_key)
                                       .where(Report.idempotency_key.in_(keys))))
            ids = set(s.scalars(select(Report.id).where(Report.id.in_([i for i, _ in
                                                                       self.reports]))))
        out.figures["reports"] = len(self.reports)
        ok = (not self.report_errors and len(self.reports) >= 6
              and all(stored[k] == 1 for k in keys) and len(ids) == len(self.reports))
        out.check(ok, f"报送 {len(self.reports)} 份（运行前 3 份、运行中 4 份）全部在台账中，"
                      "各一份",
                  f"{len(self.reports)} reports entered before and during the runs are all in "
                  f"the ledger, once each" + (f"; errors {self.report_errors}"
                                              if self.report_errors else ""))

    def verify_runs(self, out: Outcome) -> None:
        phase_b = [r for r in self.runs.values() if r.phase == "B"]
        survivor = {w.name for w in self.workers if w is not self.victim}
        bad = [f"{r.label}: {r.state} {r.state_name} on {r.worker}" for r in phase_b
               if not _finished(r) or r.worker not in survivor]
        out.check(bool(phase_b) and not bad,
                  f"重新触发的 {len(phase_b)} 次运行均在幸存节点上完成",
                  f"the {len(phase_b)} re-triggered runs completed on the surviving worker"
                  + (f": {bad}" if bad else ""))
        spared = [f"{r.label}: {r.state_name}" for r in self.runs.values()
                  if r.phase == "A" and r.worker != self.victim.name and not _finished(r)]
        out.check(not spared, "未在被终止节点上的运行均已完成",
                  "every run not on the killed worker completed"
                  + (f": {spared}" if spared else ""))
        rerun = [r for r in phase_b if r.action == WAVE_1[0]]
        recorded = [_recorded(r.message) for r in rerun]
        out.check(recorded == [0], f"已完成的行动{WAVE_1[0]}重跑：新记 0 条",
                  f"rerunning the completed action {WAVE_1[0]} recorded nothing new "
                  f"({recorded})")

    # -- everything --

    def run(self) -> Outcome:
        ctx = self.set_up()
        before = self.open_items(ctx, ACTIONS, 3)
        self.enter_reports(ctx, before)
        self.expected_owed(ctx)
        self.phase_a(ctx)
        self.phase_b()
        self.final_dispatch(ctx)
        outcome = self.verify(ctx)
        outcome.figures["runs"] = [
            {"run": r.label, "phase": r.phase, "state": r.state_name or r.state,
             "worker": r.worker, "message": r.message} for r in self.runs.values()]
        ctx.db.dispose()
        return outcome

    def clean_up(self) -> list[str]:
        notes = []
        stop([w for w in self.workers if w is not self.victim])  # workers first: they
        if self.server:  # tell the server they are leaving
            stop([self.server])
        if self.api:
            self.api.close()
        self.receiver.close()
        from duban.ledger.database import forget_database

        forget_database(self.pg.url(self.ledger_db, "postgresql").render_as_string(
            hide_password=False))
        dropped = self.pg.drop_created()
        notes.append(f"dropped databases: {', '.join(dropped) or 'none'}")
        if self.keep:
            shutil.copytree(self.tmp, self.keep, dirs_exist_ok=True)
            notes.append(f"logs kept in {self.keep}")
        shutil.rmtree(self.tmp, ignore_errors=True)
        return notes

    def logs_tail(self) -> str:
        parts = []
        for proc in [*([self.server] if self.server else []), *self.workers]:
            parts.append(f"--- {proc.name} ({proc.log.name}) ---\n{proc.tail()}")
        return "\n".join(parts)


def report(drill: Drill, outcome: Outcome) -> str:
    f = outcome.figures
    lines = [
        "督办演练报告 / duban drill report",
        f"  时点 / as of: {DAY} 09:00 Asia/Shanghai; 行动 / actions {', '.join(map(str, ACTIONS))}"
        f"; 租约 / lease {LEASE_SECONDS} s (DUBAN_DISPATCH_LEASE_SECONDS)",
        f"  Prefect server on PostgreSQL, basic auth on; pool '{POOL}', {f.get('deployments')} "
        f"deployments; {drill.workers_wanted} workers",
        f"  被终止 / killed: {f.get('killed_worker')} ({f.get('killed_processes')} processes, "
        f"runs: {', '.join(f.get('killed_runs', []))}), receiver had "
        f"{f.get('received_before_kill')} messages then",
        f"  催办 / reminders: owed {f.get('reminders_owed')}, recorded "
        f"{f.get('reminders_recorded')}; states {f.get('reminder_states')}",
        f"  汇总 / digests: {f.get('digests')} to {f.get('recipients')} recipients; received "
        f"{f.get('received')} messages; claimed by the killed worker "
        f"{f.get('claimed_by_killed_worker')}, resent after the lease "
        f"{f.get('resent_after_lease')}",
        f"  报送 / reports: {f.get('reports')}",
        "  运行 / runs:",
    ]
    for run in f.get("runs", []):
        lines.append(f"    {run['phase']} {run['run']} — {run['state']} — {run['worker'] or '?'}"
                     f" — {run['message'][:70]}")
    lines.append("  用时 / timings: " + ", ".join(f"{k} {v} s" for k, v in drill.timings.items()))
    lines += outcome.lines
    return "\n".join(lines)


app = typer.Typer(add_completion=False, rich_markup_mode=None, pretty_exceptions_enable=False)


@app.command(
    help="督办演练：两个工作节点，其一在发送中被强制终止 / the drill: two workers, one killed "
         "mid-send. Exit 0: every guarantee held; 1: one did not; 2: the drill could not run.",
    epilog="Example: .venv/bin/python -m tools.drill --keep /tmp/drill-logs",
)
def drill_command(
    workers: Annotated[int, typer.Option(min=2, help="worker processes (>= 2)")] = 2,
    timeout: Annotated[float, typer.Option(help="seconds for the whole drill")] = 420.0,
    pg: Annotated[str, typer.Option(
        envvar="DUBAN_DRILL_PG",
        help="admin URL of the PostgreSQL server (database to connect to)")] = PG_ADMIN,
    json_out: Annotated[Path | None, typer.Option(
        "--json", help="also write the outcome as JSON here")] = None,
    keep: Annotated[Path | None, typer.Option(
        help="copy the logs and config here afterwards")] = None,
) -> None:
    raise typer.Exit(run_drill(workers, timeout, pg, json_out, keep))


def run_drill(workers: int, timeout: float, pg: str, json_out: Path | None,
              keep: Path | None) -> int:
    """Run the drill, clean up whatever happens, print the verdict; the exit code."""

    def log(text: str) -> None:
        print(text, flush=True)

    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    drill = Drill(workers, timeout, pg, keep, log)
    code, outcome = 2, Outcome()
    try:
        outcome = drill.run()
        log(report(drill, outcome))
        code = 1 if outcome.violations else 0
    except (DrillError, httpx.HTTPError, subprocess.TimeoutExpired) as exc:
        outcome.violations.append(f"drill could not complete: {exc}")
        log(f"演练未能完成 / the drill could not complete: {exc}\n{drill.logs_tail()}")
    except KeyboardInterrupt:
        outcome.violations.append("interrupted")
        log("演练被中断 / interrupted")
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for note in drill.clean_up():
            log(f"  清理 / cleanup: {note}")
        signal.signal(signal.SIGTERM, previous)
    took = round(time.monotonic() - drill.started, 1)
    if json_out:
        json_out.write_text(json.dumps({
            "ok": code == 0, "exit": code, "seconds": took, "violations": outcome.violations,
            "figures": outcome.figures, "timings": drill.timings,
        }, ensure_ascii=False, indent=1, default=str), encoding="utf-8")
    verdict = ("演练通过 / DRILL PASSED" if code == 0 else
               f"演练失败 / DRILL FAILED ({len(outcome.violations)}): "
               + "; ".join(outcome.violations))
    log(f"{verdict} — {took} s")
    return code


def _pid_of(claimer: str) -> int | None:
    """duban.chase.dispatch.worker_name() is "host:pid"."""
    tail = claimer.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _void_and_answered(ctx: Context, digest_ids: list[int]) -> set[int]:
    """Digests the dispatch found nothing still owed in when it came to send them (`void`):
    right when every reminder in them is void and its item was reported or acknowledged
    meanwhile (the drill enters reports during the runs)."""
    right = set()
    with ctx.db.session() as s:
        for digest_id in digest_ids:
            rows = s.execute(select(Reminder.state, Reminder.occurrence_id)
                             .where(Reminder.digest_id == digest_id)).all()
            answered = set(s.scalars(select(Report.occurrence_id).where(
                Report.occurrence_id.in_([occ for _, occ in rows]))))
            if rows and all(state == "void" and occ in answered for state, occ in rows):
                right.add(digest_id)
    return right


def _finished(run: RunRecord) -> bool:
    """The run did its work: Completed, or 有逾期 (Failed-type by design: red on the Dashboard
    when the day has overdue items), never 运行出错 or Crashed."""
    return run.state == "COMPLETED" or (run.state == "FAILED" and run.state_name == OVERDUE)


def _recorded(message: str) -> int | None:
    """How many reminders an action run says it recorded ("…新记 N 条…")."""
    match = re.search(r"新记 (\d+) 条", message)
    return int(match[1]) if match else None


def _raise_interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    app(prog_name="python -m tools.drill")
