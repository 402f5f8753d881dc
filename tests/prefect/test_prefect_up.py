"""`duban up` as a subprocess on free ports: ready, served, clean stop, clean restart."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from cli.processes import port_free
from cli.up_cmd import READY
from flows.serve import INITIAL_TAG

pytestmark = pytest.mark.prefect

READY_TIMEOUT = 600.0  # a loaded 2-core machine; the figures go to BENCHMARKS.md
STOP_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Up:
    """One `duban up` process whose output is read line by line on a thread."""

    def __init__(self, home: Path, prefect_port: int, portal_port: int, *extra: str) -> None:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("PREFECT_", "DUBAN_"))}
        env.update(DUBAN_HOME=str(home), PYTHONUNBUFFERED="1")
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
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


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


def test_up_serves_stops_cleanly_and_restarts_without_duplicates(tmp_path: Path) -> None:
    prefect_port, portal_port = free_port(), free_port()
    first = Up(tmp_path, prefect_port, portal_port, "--startup-timeout", "500")
    try:
        ready = first.wait_for(READY, READY_TIMEOUT)
        print(f"duban up ready in {ready:.1f} s")
        assert httpx.get(f"http://127.0.0.1:{prefect_port}/api/health", timeout=10).json()
        ui = httpx.get(f"http://127.0.0.1:{prefect_port}/ui-settings", timeout=10).json()
        assert f":{prefect_port}/api" in ui["api_url"]  # the UI calls this server, not 4200
        auth = tuple((tmp_path / "prefect-auth").read_text().strip().split(":", 1))
        deployments = api(prefect_port, "/deployments/filter", {"limit": 200}, auth)
        names = [d["name"] for d in deployments]
        assert "02 社区养老服务行动" in names and "每天巡查并发送汇总" in names
        assert len(names) == len(set(names)) and "daily" not in names
        flows = {f["id"]: f["name"] for f in api(prefect_port, "/flows/filter", None, auth)}
        assert {"每日督办", "行动督办", "发送督办汇总", "手动催办", "登记报送",
                "审批延期"} <= set(flows.values())
        scheduled_ids = {d["id"] for d in deployments if d["schedules"]}
        assert [flows[d["flow_id"]] for d in deployments if d["schedules"]] == ["每日督办"]
        for d in deployments:
            for s in d["schedules"]:
                assert s["schedule"]["timezone"] == "Asia/Shanghai"
        initial = eventually(lambda: api(prefect_port, "/flow_runs/filter", {
            "flow_runs": {"tags": {"all_": [INITIAL_TAG]}}}, auth))
        assert initial and len(initial) == 1, "the day was not caught up once at start"
        assert any("报送页面" in line for line in first.output)
        before = {d["id"] for d in deployments}
        upcoming = eventually(lambda: every_schedule_has_runs(prefect_port, scheduled_ids, auth),
                              60)
        assert upcoming and max(upcoming.values()) == 1, upcoming
        code, took = first.stop(signal.SIGTERM)
        print(f"stopped on SIGTERM in {took:.1f} s")
        assert code == 0, "".join(first.output)
        assert port_free(prefect_port) and port_free(portal_port)  # children are gone
    finally:
        first.kill()

    second = Up(tmp_path, prefect_port, portal_port, "--no-initial-runs",
                "--startup-timeout", "500")
    try:
        second.wait_for(READY, READY_TIMEOUT)
        deployments = api(prefect_port, "/deployments/filter", {"limit": 200}, auth)
        assert {d["id"] for d in deployments} == before  # overwritten, not added
        assert not any(d["paused"] for d in deployments)  # pause_on_shutdown=False
        # re-registering deletes the future auto-scheduled runs and the scheduler makes them
        # again within seconds: the same runs, none twice
        again = eventually(lambda: scheduled_runs(prefect_port, auth) == upcoming, 60)
        assert again, (scheduled_runs(prefect_port, auth), upcoming)
        code, _ = second.stop(signal.SIGINT)  # Ctrl-C
        assert code == 0, "".join(second.output)
    finally:
        second.kill()
