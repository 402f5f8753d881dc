"""`duban up` as a subprocess for tests: its output read on a thread, the Prefect API it serves."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

from cli.processes import stop_leftovers

READY_TIMEOUT = 600.0  # a loaded 2-core machine; the figures go to BENCHMARKS.md
STOP_TIMEOUT = 60.0


class Up:
    """One `duban up` process whose output is read line by line on a thread."""

    def __init__(self, home: Path, prefect_port: int, portal_port: int, *extra: str) -> None:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PREFECT_", "DUBAN_"))}
        env.update(DUBAN_HOME=str(home), PYTHONUNBUFFERED="1")
        self.home, self.keep_leftovers = home, False
        argv = [str(Path(sys.executable).with_name("duban")), "up", "--prefect-port",
                str(prefect_port), "--portal-port", str(portal_port), "--limit", "2", *extra]
        # SIGINT as in a terminal, even when pytest itself runs as a background job (SIG_IGN)
        self.process = subprocess.Popen(
            argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float) -> float:
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                assert self.process.poll() is None, "".join(self.output)
                continue
            self.output.append(line)
            if text in line:
                return time.monotonic() - start
        raise AssertionError(f"no {text!r} within {timeout} s:\n" + "".join(self.output))

    def stop(self, signum: int) -> tuple[int, float]:
        start = time.monotonic()
        self.process.send_signal(signum)
        code = self.process.wait(STOP_TIMEOUT)
        return code, time.monotonic() - start

    def kill(self) -> None:
        """Teardown: SIGTERM (duban up stops its children), SIGKILL if it hangs, then stop what a
        killed one left behind, so a failing test leaves no server running."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if not self.keep_leftovers:
            stop_leftovers(self.home)


def api(port: int, path: str, body: dict | None = None, auth: tuple | None = None):
    response = httpx.post(f"http://127.0.0.1:{port}/api{path}", json=body or {}, timeout=30,
                          auth=auth)
    response.raise_for_status()
    return response.json()


def scheduled_runs(port: int, auth: tuple) -> Counter[tuple[str, str]]:
    """The scheduler's upcoming runs, (deployment id, start time) -> how many."""
    runs = api(port, "/flow_runs/filter", {
        "flow_runs": {"state": {"type": {"any_": ["SCHEDULED"]}}}, "limit": 200}, auth)
    return Counter((r["deployment_id"], r["expected_start_time"])
                   for r in runs if r["auto_scheduled"])


def every_schedule_has_runs(port: int, scheduled_ids: set[str], auth: tuple) -> Counter | None:
    runs = scheduled_runs(port, auth)
    return runs if {d for d, _ in runs} >= scheduled_ids else None


def eventually(check, timeout: float = 30.0):
    start = time.monotonic()
    while True:
        value = check()
        if value or time.monotonic() - start > timeout:
            return value
        time.sleep(1)
