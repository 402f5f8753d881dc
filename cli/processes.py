"""The child processes of `duban up`: a local Prefect server and the report portal.

Prefect-free on purpose: the server is the `prefect` command in a subprocess, and this module must
run before Prefect is imported (Prefect reads PREFECT_* from the environment once, at import).
The Prefect-aware part, serving the deployments, is flows/serve.py.

Children start in their own session, so a Ctrl-C in the terminal reaches `duban up` only, which
then stops them in order (portal, then server) and waits for them. Should `duban up` die without
that (SIGKILL, the OOM killer), the kernel sends each child SIGTERM (Linux PR_SET_PDEATHSIG) and
they stop by themselves; where that is not available, the next start stops what the pid record
under DUBAN_HOME names (stop_leftovers).
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
STOP_TIMEOUT = 15.0


class StartupError(RuntimeError):
    """A child did not come up; the message says which and ends with its last log lines."""


class Shutdown(BaseException):  # noqa: N818 (a signal, like KeyboardInterrupt, not an error)
    """SIGTERM arrived: unwind through the `finally` blocks that stop the children."""


def raise_shutdown(signum: int, _frame: object) -> None:
    raise Shutdown(signum)


@dataclass
class Child:
    name: str
    process: subprocess.Popen
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def port_free(port: int, host: str = HOST) -> bool:
    """Whether a server could listen there (SO_REUSEADDR, as uvicorn: TIME_WAIT is no obstacle)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _libc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc if hasattr(libc, "prctl") else None
    except OSError:
        return None


def _die_with(parent: int, libc: ctypes.CDLL | None):
    """A preexec_fn: the child gets SIGTERM when `parent` dies, however it dies. `libc` is
    loaded before the fork (nothing but a system call happens in the child)."""

    def arm() -> None:
        if libc is None:
            return
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the parent died before the wish was registered
            os.kill(os.getpid(), signal.SIGTERM)

    return arm


def start_child(name: str, argv: list[str], env: Mapping[str, str], log: Path) -> Child:
    """Start a child in its own session (a terminal's Ctrl-C reaches `duban up` only) that the
    kernel stops when `duban up` dies. Call from the main thread: the death signal follows the
    thread that forked."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        process = subprocess.Popen(argv, env=dict(env), stdout=out, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True,
                                   preexec_fn=_die_with(os.getpid(), _libc()))
    return Child(name, process, log)


def stop_child(child: Child, timeout: float = STOP_TIMEOUT) -> int | None:
    """SIGTERM the child's process group, then SIGKILL after `timeout`. Returns its exit code."""
    if child.alive():
        _signal_group(child, signal.SIGTERM)
        try:
            child.process.wait(timeout)
        except subprocess.TimeoutExpired:
            _signal_group(child, signal.SIGKILL)
            child.process.wait(5)
    return child.process.returncode


def _signal_group(child: Child, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.process.pid, signum)


def wait_http(url: str, child: Child, timeout: float) -> float:
    """Poll `url` until it answers (any HTTP status); returns the seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if not child.alive():
            raise StartupError(f"{child.name} exited with code {child.process.returncode}:\n"
                               f"{child.log_tail()}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return time.monotonic() - start
        except urllib.error.HTTPError:
            return time.monotonic() - start
        except (OSError, ValueError):
            time.sleep(0.3)
    raise StartupError(f"{child.name} did not answer {url} within {timeout:.0f} s:\n"
                       f"{child.log_tail()}")


def prefect_env(home: Path, port: int, auth: str, host: str = HOST) -> dict[str, str]:
    """PREFECT_* for the server and for every process that talks to it.

    `prefect server start --port P` alone leaves the UI calling port 4200: the server's API port
    and the UI's API URL must be set too. The API is locked with one credential (the server's
    auth string; clients send the same). Flow runs send heartbeats, so a run whose process died
    is marked Crashed by the server (flows/serve.py). Analytics off: nothing leaves the machine.
    """
    api = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/api"
    return {
        "PREFECT_HOME": str(home / "prefect"),
        "PREFECT_API_URL": api,
        "PREFECT_SERVER_API_HOST": host,
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_UI_API_URL": api,
        "PREFECT_SERVER_API_AUTH_STRING": auth,
        "PREFECT_API_AUTH_STRING": auth,
        "PREFECT_FLOWS_HEARTBEAT_FREQUENCY": "30",
        # the runner looks for runs to start every 2 s (default 10): a run made from the UI or
        # the start-up catch-up begins within seconds
        "PREFECT_RUNNER_POLL_FREQUENCY": "2",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        **SQLITE_WRITER_BATCHES,
    }


# The server records task runs from their events, by default one event per write transaction.
# On SQLite each such write could collide with a subflow's POST /task_runs/ (a read-then-write
# transaction: 503 "database is locked", and the client waits 2 s before its retry). Fewer,
# larger writes leave the server's CPU to the runs; the collision itself is gone since the
# server begins its writes IMMEDIATE (flows/prefect_server.py). benchmarks/bench_subflows.py
# measures both; task runs still appear within the recorder's 5 s flush.
SQLITE_WRITER_BATCHES = {
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_READ_BATCH_SIZE": "100",
    "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_BATCH_SIZE": "500",
}


PREFECT_SERVER_MODULE = "flows.prefect_server"  # Prefect's CLI; SQLite writes begin IMMEDIATE


def start_prefect_server(home: Path, port: int, env: Mapping[str, str], host: str = HOST,
                         module: str = PREFECT_SERVER_MODULE) -> Child:
    """`prefect server start` through `module` (benchmarks pass "prefect" for Prefect's own)."""
    argv = [sys.executable, "-m", module, "server", "start", "--host", host,
            "--port", str(port)]
    return start_child("Prefect server", argv, env, home / "logs" / "prefect-server.log")


PIDS_FILE = "run/children.json"


def record_children(home: Path, children: list[Child]) -> None:
    """Write the children's pids (each leads its own process group) under DUBAN_HOME, so a start
    after `duban up` was killed outright can find what it left running."""
    path = home / PIDS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [{"name": c.name, "pid": c.process.pid, "cmdline": _cmdline(c.process.pid)}
            for c in children]
    path.write_text(json.dumps({"parent": os.getpid(), "children": rows}, ensure_ascii=False))


def forget_children(home: Path) -> None:
    (home / PIDS_FILE).unlink(missing_ok=True)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def stop_leftovers(home: Path, timeout: float = STOP_TIMEOUT) -> list[str]:
    """Stop the children a previous `duban up` of this home left behind (it was killed before it
    could stop them): each recorded pid still running the same command line, and not a child of
    a live `duban up`, gets SIGTERM then SIGKILL for its process group. Returns what was stopped."""
    path = home / PIDS_FILE
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return []
    parent = int(record.get("parent", 0))
    if parent and parent != os.getpid() and " up" in _cmdline(parent):
        return []  # its `duban up` is still alive: not leftovers (the port check will refuse)
    stopped = []
    for row in record.get("children", []):
        pid, cmdline = int(row["pid"]), row.get("cmdline", "")
        if not cmdline or _cmdline(pid) != cmdline:
            continue  # gone, or the pid now belongs to something else
        _kill_group(pid, timeout)
        stopped.append(f"{row['name']}（pid {pid}）")
    forget_children(home)
    return stopped


def _kill_group(pid: int, timeout: float) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.2)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def portal_available() -> bool:
    """Whether `python -m portal` exists in this installation."""
    try:
        return importlib.util.find_spec("portal.__main__") is not None
    except ModuleNotFoundError:
        return False


def start_portal(home: Path, port: int, env: Mapping[str, str], host: str = HOST) -> Child:
    argv = [sys.executable, "-m", "portal", "--host", host, "--port", str(port)]
    return start_child("report portal", argv, env, home / "logs" / "portal.log")
