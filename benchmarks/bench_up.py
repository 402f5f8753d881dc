"""`duban up` from nothing to a ready UI: the seconds until the Prefect API and UI answer, every
deployment exists, `duban up` says it is ready (duban 已就绪: its deployments registered) and the
督办总览 board artifact exists (the start-up run of 每日督办 has finished), then how long SIGTERM
takes to stop it all. The API is locked: the bench reads the credential `duban up` wrote.

`duban up` runs as a subprocess, as a user would start it, with a fresh DUBAN_HOME (a temporary
directory: new SQLite ledger, new Prefect database) on free ports. With --restart it is started a
second time on the same home (the warm start of every day after the first). Prints one JSON line;
asserts nothing about timing.

    .venv/bin/python benchmarks/bench_up.py [--restart] [--timeout 240]
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


def start_once(home: Path, expected: int, timeout: float) -> dict:
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
        "exit_code": code, "deployments": expected,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--restart", action="store_true", help="also time a second start")
    parser.add_argument("--timeout", type=float, default=240.0)
    args = parser.parse_args()
    expected = expected_deployments()
    with tempfile.TemporaryDirectory(prefix="bench-up-") as tmp:
        figures = {"cold": start_once(Path(tmp), expected, args.timeout)}
        if args.restart:
            figures["warm"] = start_once(Path(tmp), expected, args.timeout)
    print(json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()
