"""Fault injection for the dispatch (issue 13): kill -9 at every enumerated point, a database
outage mid-dispatch, receivers that fail, hang or answer an errcode; then recover and count.

    python -m tools.faults [--db sqlite|postgres|both] [--seed N] [--report docs/faults.md]

Each scenario: a fresh ledger (SQLite file, or a PostgreSQL schema), the shipped plan loaded and
chased for one busy morning; a dispatch in a child process (sender concurrency 4) that dies where
told (DUBAN_FAULT_KILL_AT, duban.chase.faults.KILL_POINTS: SIGKILL, no cleanup); then recovery
dispatches, each past the lease and the retry wait, until no message is pending or in flight.
Counted at the receiver (a local HTTP server standing for every recipient's person-facing
channel): owed digests, delivered, lost, duplicates, and the bound (the in-flight messages at
the crash: the sender's concurrency). Also counted in the ledger: reminders lost
(chased but in no digest a person-facing channel took, nor counted unknown), digests voided (no
item is answered in the suite, so a void digest dropped owed items) and second digests of a
recipient's day (one digest per recipient per day: a retry is the same digest).
The database outages: on PostgreSQL, a private server (initdb + pg_ctl on a free port, when
they are installed) is restarted with `pg_ctl restart -m immediate` under the running dispatch,
and the shared server's backends of the child are terminated (pg_terminate_backend); on SQLite,
where there is no server, the ledger file is made unopenable for a moment instead.
The seed orders the scenarios and picks the N-th pass of a kill point; the same seed gives the
same runs. The report is a Markdown table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from sqlalchemy import create_engine, func, select, text

CONCURRENCY = 4
LEASE_SECONDS = 30
RETRY_SECONDS = 30
DAY = date(2023, 7, 10)  # a Monday: actions 2 and 5 owe a few dozen digests
ACTIONS = [2, 5]
LOADED_AT = datetime(2023, 6, 5, 1, 0, tzinfo=UTC)
PG_ADMIN = os.environ.get("DUBAN_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REPO = Path(__file__).resolve().parent.parent


# -- the receiver ------------------------------------------------------------------------------


class Receiver:
    """Stands for every recipient's channel. `mode`: ok | fail:N (HTTP 500 N times per title,
    then 200) | hang (the first request per title answers after the client gave up) |
    errcode:N (DingTalk-style 130101 N times per title, then errcode 0)."""

    def __init__(self, mode: str = "ok") -> None:
        self.mode, self.lock = mode, threading.Lock()
        self.seen: Counter[str] = Counter()  # title -> requests received
        self.accepted: Counter[str] = Counter()  # title -> requests answered with success
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                payload = json.loads(body or b"{}")
                title = payload.get("title") or _first_line(payload)
                status, answer = receiver.answer(title)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(data)  # a client that gave up (hang) is gone

            def log_message(self, *args) -> None:
                """Quiet."""

        return Handler

    def answer(self, title: str) -> tuple[int, dict]:
        with self.lock:
            self.seen[title] += 1
            n = self.seen[title]
        kind, _, arg = self.mode.partition(":")
        if kind == "fail" and n <= int(arg):
            return 500, {"error": "busy"}
        if kind == "errcode" and n <= int(arg):
            return 200, {"errcode": 130101, "errmsg": "send too fast"}
        if kind == "hang" and n == 1:
            time.sleep(2.5)  # the client's read timeout is 1 s: an unknown outcome
        with self.lock:
            self.accepted[title] += 1
        return 200, {"errcode": 0, "errmsg": "ok"}

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def _first_line(payload: dict) -> str:
    """DingTalk's text message: the title is the content's first line."""
    content = (payload.get("text") or {}).get("content", "")
    return content.replace("\r", "").split("\n", 1)[0]


# -- scenarios ---------------------------------------------------------------------------------


@dataclass
class Scenario:
    name: str
    db: str
    kill_at: str = ""  # a kill point, optionally @N
    mode: str = "ok"  # the receiver's behaviour
    outage_at: str = ""  # a point at which the database goes away
    channel: str = "json"  # json | dingtalk
    restart: bool = False  # PostgreSQL: a private server, restarted at `outage_at`


@dataclass
class Outcome:
    scenario: Scenario
    crashed: bool = False
    runs: int = 0
    owed: int = 0
    delivered: int = 0
    lost: int = 0
    duplicates: int = 0
    unknown: int = 0
    reminders: int = 0  # chased reminders of the day
    lost_reminders: int = 0  # in no digest a person took (nor unknown)
    void: int = 0  # digests voided: wrong here, nobody answers an item in the suite
    second: int = 0  # digests beyond one per recipient of the day
    bound: int = CONCURRENCY
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (self.lost == self.lost_reminders == self.void == self.second == 0
                and self.duplicates <= self.bound * max(1, int(self.crashed)))


def scenarios(db: str, rng: random.Random, quick: bool = False) -> list[Scenario]:
    from duban.chase.faults import KILL_POINTS

    out = []
    points = KILL_POINTS if db == "sqlite" else KILL_POINTS[::2]  # PostgreSQL: every other one
    for point in points:
        nth = rng.choice((1, 2, 3)) if point in ("assemble.digest", "record.message",
                                                 "record.message_committed", "send.target",
                                                 "send.target_done") else 1
        out.append(Scenario(f"kill -9 at {point}@{nth}", db, kill_at=f"{point}@{nth}"))
    out += [
        Scenario("receiver fails 2x then succeeds", db, mode="fail:2"),
        Scenario("receiver hangs past the timeout", db, mode="hang"),
        Scenario("errcode 130101 2x then 0 (DingTalk)", db, mode="errcode:2", channel="dingtalk"),
        Scenario("database outage mid-dispatch", db, outage_at="record.digest_state@3"),
        *([Scenario("PostgreSQL restarted mid-dispatch", db, outage_at="record.digest_state@3",
                    restart=True)] if db == "postgres" and PrivateServer.available() else []),
        Scenario("kill -9 mid-send + receiver fails 1x", db, kill_at="send.returned@2",
                 mode="fail:1"),
    ]
    rng.shuffle(out)
    return out[:3] if quick else out


class PrivateServer:
    """A throwaway PostgreSQL server of our own (initdb on a free port), so a scenario can
    restart a server without touching the shared one. As root, it runs as the postgres user."""

    def __init__(self) -> None:
        from tests.support.net import free_port

        self.home = Path(tempfile.mkdtemp(prefix="duban-faults-pg-"))  # the owner must reach it
        self.data, self.port = self.home / "data", free_port()
        self.admin = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    @staticmethod
    def available() -> bool:
        return bool(_pg_tool("initdb") and _pg_tool("pg_ctl"))

    @staticmethod
    def _as_owner(argv: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv

    def start(self) -> None:
        if os.geteuid() == 0:
            import shutil

            shutil.chown(self.home, "postgres", "postgres")
        subprocess.run(self._as_owner([_pg_tool("initdb"), "-D", str(self.data), "-U", "postgres",
                                       "--auth=trust", "-E", "UTF8", "--no-sync"]),
                       check=True, capture_output=True, timeout=120)
        subprocess.run(self._as_owner(
            [_pg_tool("pg_ctl"), "-D", str(self.data), "-w", "-l", str(self.data / "log"), "-o",
             f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories= "
             "-c fsync=off", "start"]), check=True, capture_output=True, timeout=120)

    def restart(self) -> None:
        """Crash and restart: every connection dies, the server recovers from its WAL."""
        _restart(self.data)

    def stop(self) -> None:
        import shutil

        stop = [_pg_tool("pg_ctl"), "-D", str(self.data), "-w", "-m", "immediate", "stop"]
        subprocess.run(self._as_owner(stop), capture_output=True, timeout=120)
        shutil.rmtree(self.home, ignore_errors=True)


class Ledger:
    """A fresh ledger for one scenario: a SQLite file or a PostgreSQL schema (on the shared
    server, or on a private one the scenario may restart)."""

    def __init__(self, db: str, root: Path, private: bool = False) -> None:
        self.db, self.root, self.schema, self.server = db, root, None, None
        self.admin = PG_ADMIN
        if db == "sqlite":
            self.url = f"sqlite:///{root / 'duban.db'}"
            return
        if private:
            self.server = PrivateServer()
            self.server.start()
            self.admin = self.server.admin
        self.schema = f"f_{uuid.uuid4().hex[:12]}"
        with create_engine(self.admin).begin() as conn:
            conn.execute(text(f"CREATE SCHEMA {self.schema}"))
        self.url = (f"{self.admin}?options=-csearch_path%3D{self.schema}"
                    f"&application_name={self.schema}")

    def drop(self) -> None:
        if self.schema:
            from duban.ledger.database import forget_database

            forget_database(self.url)
            if self.server is not None:
                self.server.stop()
                return
            with create_engine(self.admin).begin() as conn:
                conn.execute(text(f"DROP SCHEMA {self.schema} CASCADE"))


def _notify(root: Path, port: int, channel: str) -> Path:
    path = root / "notify.yaml"
    person = (f"dingtalk://{'a' * 64}" if channel == "dingtalk"
              else f"json://127.0.0.1:{port}/people")
    path.write_text("version: 1\nurls:\n  - outbox://:\n      tag: always\n"
                    f"  - {person}:\n      tag: always\n", encoding="utf-8")
    return path


def _env(ledger: Ledger, notify: Path, port: int, scenario: Scenario) -> dict[str, str]:
    env = {**os.environ, "DUBAN_HOME": str(ledger.root), "DUBAN_DATABASE_URL": ledger.url,
           "DUBAN_NOTIFY_CONFIG": str(notify), "DUBAN_DISPATCH_LEASE_SECONDS": str(LEASE_SECONDS),
           "DUBAN_DELIVERY_RETRY_SECONDS": str(RETRY_SECONDS),
           "DUBAN_FAULT_DINGTALK_URL": f"http://127.0.0.1:{port}/robot/send",
           "PYTHONPATH": str(REPO)}
    env.pop("DUBAN_FAULT_KILL_AT", None)
    env.pop("DUBAN_FAULT_PGDATA", None)
    return env


_BASE: dict[str, Path] = {}


def run_scenario(scenario: Scenario, workdir: Path) -> Outcome:
    """Prepare the ledger (SQLite: a copy of one prepared file), break it, recover, count."""
    import shutil

    from duban.calendar.clock import at_local
    from duban.service import Context, chase, setup

    started = time.monotonic()
    outcome = Outcome(scenario)
    root = Path(tempfile.mkdtemp(dir=workdir))
    ledger = Ledger(scenario.db, root, private=scenario.restart)
    morning = at_local(DAY, 9)
    try:
        with Receiver(scenario.mode) as receiver:
            notify = _notify(root, receiver.port, scenario.channel)
            env = _env(ledger, notify, receiver.port, scenario)
            os.environ.update({k: v for k, v in env.items() if k.startswith("DUBAN_")})
            if ledger.server is not None:
                env["DUBAN_FAULT_PGDATA"] = str(ledger.server.data)
            base = _BASE.get(scenario.db)
            if base is not None:
                shutil.copyfile(base, root / "duban.db")
            ctx = Context.from_env()
            if base is None:
                setup(ctx, LOADED_AT)
                chase(ctx, morning, ACTIONS)
                if scenario.db == "sqlite":
                    ctx.db.dispose()
                    _BASE["sqlite"] = workdir / "base.db"
                    shutil.copyfile(root / "duban.db", _BASE["sqlite"])
            _dispatches(scenario, env, morning, outcome)
            _count(ctx, receiver, outcome)
            ctx.db.dispose()
    finally:
        ledger.drop()
    outcome.seconds = round(time.monotonic() - started, 1)
    return outcome


def _child(env: dict[str, str], as_of, extra: dict[str, str]) -> int:
    return subprocess.run([sys.executable, "-m", "tools.faults", "child", as_of.isoformat()],
                          env={**env, **extra}, cwd=REPO, capture_output=True,
                          timeout=300).returncode


def _dispatches(scenario: Scenario, env: dict[str, str], morning, outcome: Outcome) -> None:
    first = {}
    if scenario.kill_at:
        first["DUBAN_FAULT_KILL_AT"] = scenario.kill_at
    if scenario.outage_at:
        first["DUBAN_FAULT_OUTAGE_AT"] = scenario.outage_at
    code = _child(env, morning, first)
    outcome.runs = 1
    outcome.crashed = code != 0
    if scenario.kill_at and code != -9:
        outcome.notes.append(f"kill point not reached (exit {code})")
    at = morning
    for _ in range(6):  # recovery, in this process: past the lease and the retry wait each time
        at += timedelta(seconds=max(LEASE_SECONDS, RETRY_SECONDS) * 2 + 1)
        try:
            dispatch_once(at)
        except Exception as exc:  # counted below: what matters is what got through
            outcome.notes.append(f"recovery run failed: {type(exc).__name__}")
        outcome.runs += 1
        if not _waiting(env):
            break


def _waiting(env: dict[str, str]) -> bool:
    from duban.ledger.database import database_for
    from duban.ledger.models import DeliveryMessage

    with database_for(env["DUBAN_DATABASE_URL"]).session() as s:
        return bool(s.scalar(select(func.count()).select_from(DeliveryMessage).where(
            DeliveryMessage.state.in_(("pending", "sending")))))


def _count(ctx, receiver: Receiver, outcome: Outcome) -> None:
    from duban.ledger.models import DeliveryMessage, Digest, Reminder

    with ctx.db.session() as s:
        owed = set(s.scalars(select(Digest.title).where(
            Digest.state.not_in(("void", "carried")))))
        outcome.unknown = s.scalar(select(func.count()).select_from(DeliveryMessage).where(
            DeliveryMessage.state == "unknown"))
        states = Counter(dict(s.execute(select(Reminder.state, func.count())
                                        .where(Reminder.send_on == DAY)
                                        .group_by(Reminder.state)).tuples().all()))
        outcome.void = s.scalar(select(func.count()).select_from(Digest).where(
            Digest.state == "void"))
        per_day = s.execute(select(Digest.recipient, func.count()).where(
            Digest.day == DAY, Digest.state != "carried").group_by(Digest.recipient)).all()
    outcome.reminders = sum(states.values())
    outcome.lost_reminders = outcome.reminders - states["sent"] - states["unknown"]
    outcome.second = sum(n - 1 for _, n in per_day)
    outcome.owed = len(owed)
    got = {t: n for t, n in receiver.seen.items() if t in owed}
    outcome.delivered = len(got)
    outcome.lost = len(owed - set(got))
    extra = Counter({t: n - 1 for t, n in receiver.accepted.items() if n > 1})
    outcome.duplicates = sum(extra.values())


# -- the child: one dispatch, as the service runs it ----------------------------------------


def child(as_of: str) -> None:
    """One dispatch as the service runs it, in a process that may be told to die."""
    from duban.chase import faults
    from duban.service import Context

    outage = os.environ.get("DUBAN_FAULT_OUTAGE_AT")
    pgdata = os.environ.get("DUBAN_FAULT_PGDATA")
    if outage and pgdata:
        faults.on(outage, lambda: _restart(Path(pgdata)))
    elif outage:
        faults.on(outage, lambda: _outage(Context.from_env()))
    dispatch_once(datetime.fromisoformat(as_of))


def dispatch_once(now: datetime) -> None:
    from duban.chase.dispatch import outbox_sink
    from duban.service import Context, dispatch
    from notifications import Notifier

    url = os.environ.get("DUBAN_FAULT_DINGTALK_URL")
    if url:  # the vendor's host is hard-coded: point the plugin at the local receiver
        from apprise.plugins.dingtalk import NotifyDingTalk

        NotifyDingTalk.notify_url = url
    ctx = Context.from_env()
    notifier = Notifier(ctx.settings.notify_config, timeout=1.0, max_workers=CONCURRENCY,
                        retries=1, retry_budget=3.0,
                        outbox=outbox_sink(ctx.settings.database_url, lambda: now))
    dispatch(ctx, now, notifier, force=True)
    ctx.db.dispose()


def _pg_tool(name: str) -> str:
    """PostgreSQL's server tool `name`: on PATH, else where Debian's postgresql package keeps it
    (/usr/lib/postgresql/<version>/bin, not on PATH); "" when not installed."""
    import glob
    import shutil

    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found if isinstance(found, str) else (found[-1] if found else "")


def _restart(data: Path) -> None:
    """The private PostgreSQL server crashes and comes back under the running dispatch."""
    restart = [_pg_tool("pg_ctl"), "-D", str(data), "-w", "-m", "immediate", "-l",
               str(data / "log"), "restart"]
    subprocess.run(PrivateServer._as_owner(restart),
                   check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=120)  # no pipe the server would hold


def _outage(ctx) -> None:
    """The database goes away under the running dispatch."""
    url = ctx.settings.database_url
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        ctx.db.engine.dispose()
        os.rename(path, path.with_suffix(".away"))  # nothing to open now: the next write fails
        threading.Timer(0.5, lambda: os.rename(path.with_suffix(".away"), path)).start()
        raise RuntimeError("the ledger went away (SQLite file unopenable)")
    name = url.rsplit("application_name=", 1)[1]
    with create_engine(PG_ADMIN).begin() as conn:
        conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE application_name = :n"), {"n": name})


# -- the report -------------------------------------------------------------------------------


def table(outcomes: list[Outcome]) -> str:
    lines = ["| DB | scenario | crashed | runs | owed | delivered | lost | reminders "
             "| lost reminders | void | 2nd digests | duplicates | bound | unknown | s "
             "| verdict |", "|" + "---|" * 16]
    for o in outcomes:
        verdict = "ok" if o.ok else "FAIL"
        note = f" ({'; '.join(o.notes)})" if o.notes else ""
        lines.append(f"| {o.scenario.db} | {o.scenario.name}{note} | {'yes' if o.crashed else 'no'}"
                     f" | {o.runs} | {o.owed} | {o.delivered} | {o.lost} | {o.reminders} "
                     f"| {o.lost_reminders} | {o.void} | {o.second} | {o.duplicates} "
                     f"| {o.bound} | {o.unknown} | {o.seconds} | {verdict} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    kid = sub.add_parser("child")
    kid.add_argument("as_of")
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--shard", default="1/1", help="run the i-th of n slices (I/N)")
    parser.add_argument("--report", type=Path, default=REPO / "docs" / "faults.md")
    args = parser.parse_args(argv)
    if args.command == "child":
        child(args.as_of)
        return 0
    rng = random.Random(args.seed)
    dbs = ("sqlite", "postgres") if args.db == "both" else (args.db,)
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="duban-faults-") as work:
        for db in dbs:
            index, count = (int(x) for x in args.shard.split("/"))
            for scenario in scenarios(db, rng, args.quick)[index - 1::count]:
                outcome = run_scenario(scenario, Path(work))
                with args.report.with_suffix(".rows").open("a", encoding="utf-8") as rows:
                    rows.write(table([outcome]).splitlines()[-1] + "\n")
                print(f"{db:8} {scenario.name:45} lost {outcome.lost}/{outcome.lost_reminders} "
                      f"void {outcome.void} 2nd {outcome.second} dup {outcome.duplicates}"
                      f" {'ok' if outcome.ok else 'FAIL'} {outcome.seconds}s", flush=True)
                outcomes.append(outcome)
    report = (f"# Fault injection: the dispatch (seed {args.seed})\n\n"
              f"`python -m tools.faults --db {args.db} --seed {args.seed}` on {date.today()}. "
              f"Sender concurrency {CONCURRENCY} (the in-flight bound), lease {LEASE_SECONDS} s, "
              f"retry wait {RETRY_SECONDS} s. See tools/faults.py for what each column means.\n\n"
              + table(outcomes) + "\n")
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(report, encoding="utf-8")
    print(f"report: {args.report}")
    return 0 if all(o.ok for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
