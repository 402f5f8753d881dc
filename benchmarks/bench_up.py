"""`duban up` from nothing to a ready UI: the seconds until the Prefect API and UI answer, every
deployment exists, `duban up` says it is ready (duban 已就绪: its deployments registered) and the
督办总览 board artifact exists (the start-up run of 每日督办 has finished), then how long SIGTERM
takes to stop it all. The API is locked: the bench reads the credential `duban up` wrote.

`duban up` runs as a subprocess, as a user would start it, with a fresh DUBAN_HOME (a temporary
directory: new SQLite ledger, new Prefect database) on free ports. With --restart it is started a
second time on the same home (the warm start of every day after the first). Prints one JSON line;
asserts nothing about timing.

With --commands, once the start-up run of 每日督办 has finished, the office's commands are timed
beside the running service as a user types them (only DUBAN_HOME set): `duban remind mzj --action
2` (target ≤ 5 s), and `duban chase --action 2` against the work itself: the same chase and
dispatch through the core alone (duban.service, no Prefect) in a fresh process, right after. The
start-up run already chased the day, so both find the same (nothing new to record or send): the
difference is what Prefect and the service add (target ≤ 10 s). The load average is recorded.

    .venv/bin/python benchmarks/bench_up.py [--restart] [--commands] [--timeout 240]
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from tests.support.net import free_port

ROOT = Path(__file__).resolve().parents[1]
READY = "duban 已就绪"  # cli.up_cmd.READY (not imported: that would import the CLI)




def expected_deployments() -> int:
    sys.path.insert(0, str(ROOT))
    from duban.service import Context
    from flows.deployments import FIXED

    config = Context.from_env().config
    return 1 + sum(len(plan.actions) for _, plan in config.plans) + len(FIXED)


def _answers(url: str, body: dict | None = None, home: Path | None = None
             ) -> httpx.Response | None:
    try:
        if body is None:
            return httpx.get(url, timeout=2)
        auth_file = home / "prefect-auth" if home else None
        if auth_file is None or not auth_file.exists():
            return None
        user, password = auth_file.read_text().strip().split(":", 1)
        return httpx.post(url, json=body, timeout=5, auth=(user, password))
    except httpx.HTTPError:
        return None


CORE_CHASE = """
from duban.calendar.clock import utcnow
from duban.service import Context, chase, dispatch
from notifications import notifier_for
ctx = Context.from_env()
now = utcnow()
chase(ctx, now, [2])
dispatch(ctx, now, notifier_for(ctx, now))
"""


def _timed(argv: list[str], env: dict[str, str]) -> tuple[float, int]:
    start = time.monotonic()
    done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    if done.returncode not in (0, 1):  # 1: overdue actions reported, still a finished chase
        raise RuntimeError(f"{argv} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return round(time.monotonic() - start, 1), done.returncode


def _daily_busy(base: str, home: Path) -> bool:
    """Whether a run of 每日督办 (the start-up catch-up) is still pending or running."""
    answer = _answers(f"{base}/api/flow_runs/filter", {
        "flows": {"name": {"any_": ["每日督办"]}},
        "flow_runs": {"state": {"type": {"any_": ["PENDING", "RUNNING", "SCHEDULED"]}},
                      "expected_start_time": {"before_": _utc_now()}}}, home)
    return answer is None or answer.status_code != 200 or bool(answer.json())


def _utc_now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat()


def time_commands(base: str, home: Path, env: dict[str, str], timeout: float) -> dict:
    """The office's commands beside the service, once the start-up run has finished."""
    waited = time.monotonic()
    while _daily_busy(base, home):
        if time.monotonic() - waited > timeout:
            raise TimeoutError("the start-up run of 每日督办 did not finish")
        time.sleep(1)
    duban = str(Path(sys.executable).with_name("duban"))
    figures = {"startup_run_done_after_ready_s": round(time.monotonic() - waited, 1),
               "load_before_commands": os.getloadavg()[0]}
    figures["remind_s"], _ = _timed([duban, "remind", "mzj", "--action", "2"], env)
    figures["chase_s"], figures["chase_exit"] = _timed([duban, "chase", "--action", "2"], env)
    figures["chase_core_s"], _ = _timed([sys.executable, "-c", CORE_CHASE], env)
    figures["chase_added_s"] = round(figures["chase_s"] - figures["chase_core_s"], 1)
    figures["load_after_commands"] = os.getloadavg()[0]
    return figures


def start_once(home: Path, expected: int, timeout: float, commands: bool = False) -> dict:
    """Start `duban up`, time the milestones, SIGTERM it; returns the figures."""
    prefect_port, portal_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "DUBAN_"))}
    env.update(DUBAN_HOME=str(home), PYTHONUNBUFFERED="1")
    argv = [str(Path(sys.executable).with_name("duban")), "up", "--prefect-port",
            str(prefect_port), "--portal-port", str(portal_port)]
    started = time.monotonic()
    up = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in up.stdout], daemon=True).start()
    base = f"http://127.0.0.1:{prefect_port}"
    marks: dict[str, float] = {}
    output: list[str] = []
    try:
        while len(marks) < 6:
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"not ready within {timeout} s: {sorted(marks)}\n"
                                   + "".join(output[-20:]))
            if up.poll() is not None:
                raise RuntimeError(f"duban up exited with {up.returncode}:\n"
                                   + "".join(output[-20:]))
            while not lines.empty():
                line = lines.get()
                output.append(line)
                if READY in line:
                    marks.setdefault("ready_line", time.monotonic() - started)
            checks = {
                "api": lambda: _answers(f"{base}/api/health"),
                "ui": lambda: _answers(f"{base}/"),
                "portal": lambda: _answers(f"http://127.0.0.1:{portal_port}/healthz"),
                "deployments": lambda: _answers(f"{base}/api/deployments/filter", {"limit": 200},
                                                home),
                "board": lambda: _answers(f"{base}/api/artifacts/latest/filter", {
                    "artifacts": {"key": {"any_": ["00-duban-board"]}}}, home),
            }
            for name, check in checks.items():
                if name in marks:
                    continue
                answer = check()
                if answer is None or answer.status_code != 200:
                    continue
                if name == "deployments" and len(answer.json()) < expected:
                    continue
                if name == "board" and not answer.json():
                    continue
                marks[name] = time.monotonic() - started
            time.sleep(0.2)
        timed = time_commands(base, home, env, timeout) if commands else {}
        stop_started = time.monotonic()
        up.send_signal(signal.SIGTERM)
        code = up.wait(90)
        stopped = time.monotonic() - stop_started
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
            up.wait(10)
    return {
        "ready_s": round(max(marks["api"], marks["ui"], marks["deployments"],
                             marks["ready_line"]), 1),
        "api_s": round(marks["api"], 1), "ui_s": round(marks["ui"], 1),
        "deployments_s": round(marks["deployments"], 1), "portal_s": round(marks["portal"], 1),
        "ready_line_s": round(marks["ready_line"], 1), "board_s": round(marks["board"], 1),
        "stop_s": round(stopped, 1),
        "exit_code": code, "deployments": expected, **timed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--restart", action="store_true", help="also time a second start")
    parser.add_argument("--commands", action="store_true",
                        help="time duban remind / duban chase beside the service (cold start)")
    parser.add_argument("--timeout", type=float, default=240.0)
    args = parser.parse_args()
    expected = expected_deployments()
    with tempfile.TemporaryDirectory(prefix="bench-up-") as tmp:
        load = [round(x, 2) for x in os.getloadavg()]
        figures = {"cold": {"load_average_at_start": load,
                            **start_once(Path(tmp), expected, args.timeout, args.commands)}}
        if args.restart:
            figures["warm"] = start_once(Path(tmp), expected, args.timeout)
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
