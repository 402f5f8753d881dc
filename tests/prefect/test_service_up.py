"""One running service: a real `duban up` on a fresh home, and the duban commands beside it.

Measured in one long test (starting the service dominates the cost): the board within a minute of
the start, the API refusing a caller without the credential, `duban chase`/`duban remind` running
on that server (no temporary server), a report made with the CLI in the event feed within seconds,
a run whose process was killed marked Crashed by the server (its ~90 s wait overlaps the other
checks), and a SIGKILLed `duban up` whose Prefect server and page stop by themselves. (A next
start stopping what a killed one left: tests/unit/test_processes.py.)
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from cli.processes import port_free
from cli.up_cmd import READY
from tests.support.net import free_port
from tests.support.up import READY_TIMEOUT, Up

pytestmark = pytest.mark.prefect

DUBAN = str(Path(sys.executable).with_name("duban"))
BOARD_WITHIN = 60.0  # seconds from the start (after install), on an idle machine
EVENT_WITHIN = 10.0
CRASHED_WITHIN = 240.0  # 90 s without heartbeats + the heartbeat period + the trigger's sweep
CHILDREN_GONE_WITHIN = 30.0  # the server's graceful stop on SIGTERM


class Api:
    def __init__(self, port: int, auth: str) -> None:
        self.base = f"http://127.0.0.1:{port}/api"
        self.auth = tuple(auth.split(":", 1))

    def post(self, path: str, body: dict | None = None, auth: bool = True) -> httpx.Response:
        return httpx.post(self.base + path, json=body or {}, timeout=30,
                          auth=self.auth if auth else None)

    def ok(self, path: str, body: dict | None = None):
        response = self.post(path, body)
        response.raise_for_status()
        return response.json()

    def get(self, path: str) -> dict:
        response = httpx.get(self.base + path, timeout=30, auth=self.auth)
        response.raise_for_status()
        return response.json()

    def runs(self, flow: str) -> list[dict]:
        """The flow runs of the flow named `flow`."""
        return self.ok("/flow_runs/filter", {"flows": {"name": {"any_": [flow]}}, "limit": 200})


def duban(home: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """A duban command as the office types it: only DUBAN_HOME set, nothing about Prefect."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "DUBAN_"))}
    env["DUBAN_HOME"] = str(home)
    return subprocess.run([DUBAN, *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def wait(check, timeout: float, step: float = 0.5):
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        value = check()
        if value:
            return value, time.monotonic() - start
        time.sleep(step)
    return None, time.monotonic() - start


def test_one_running_service(tmp_path: Path) -> None:
    home, prefect_port, portal_port = tmp_path / "home", free_port(), free_port()
    started = time.monotonic()
    service = Up(home, prefect_port, portal_port, "--startup-timeout", "500")
    try:
        ready = service.wait_for(READY, READY_TIMEOUT)
        print(f"duban up ready in {ready:.1f} s")
        auth = (home / "prefect-auth").read_text().strip()
        assert (home / "prefect-auth").stat().st_mode & 0o777 == 0o600
        info = json.loads((home / "service.json").read_text())
        assert (home / "service.json").stat().st_mode & 0o777 == 0o600
        assert info["api_url"] == f"http://127.0.0.1:{prefect_port}/api"
        api = Api(prefect_port, auth)

        # locked: no credential, no API; the right one works; health stays open
        assert api.post("/flows/filter", auth=False).status_code == 401
        assert api.post("/flows/filter").status_code == 200
        assert httpx.get(f"{api.base}/health", timeout=10).status_code == 200

        board, _ = wait(lambda: api.ok("/artifacts/latest/filter", {
            "artifacts": {"key": {"any_": ["00-duban-board"]}}}), READY_TIMEOUT, 2)
        board_at = time.monotonic() - started
        print(f"board artifact {board_at:.1f} s after duban up started")
        assert board, "no duban-board artifact"

        # deployments from the plan, named by what they do
        names = {d["name"] for d in api.ok("/deployments/filter", {"limit": 200})}
        assert "02 社区养老服务行动" in names and "每天巡查并发送汇总" in names
        assert "daily" not in names

        daily = "每日督办"
        # the commands use this server: their runs appear here, no temporary server starts
        before = len(api.runs(daily))
        t = time.monotonic()
        done = duban(home, "chase", "--action", "2")
        print(f"duban chase --action 2 took {time.monotonic() - t:.1f} s")
        assert done.returncode == 0, done.stdout + done.stderr
        assert "临时" not in done.stderr and f":{prefect_port}/api" in done.stderr
        assert len(api.runs(daily)) == before + 1  # this run, in this server
        t = time.monotonic()
        reminded = duban(home, "remind", "mzj", "--action", "2")
        print(f"duban remind took {time.monotonic() - t:.1f} s")
        assert reminded.returncode == 0, reminded.stdout + reminded.stderr
        assert api.runs("手动催办")
        # its digest's links lead to this service's page (the outbox keeps the base of each
        # link, the token redacted), not to the default port 8000
        assert info["link_url"] == f"http://127.0.0.1:{portal_port}"
        sent = duban(home, "outbox", "--recipient", "mzj", "--last", "1").stdout
        assert f"http://127.0.0.1:{portal_port}/d/" in sent, sent[-500:]
        assert "127.0.0.1:8000" not in sent

        # a run whose process dies is marked Crashed by the server, not left Running; the wait
        # (heartbeats stop for 90 s) runs while the event checks below go on
        crashed_id, killed_at = kill_a_running_chase(home, api, daily)

        # a report from the CLI reaches the event feed within seconds (the relay in duban up)
        occurrence = open_occurrence(home, "mzj")
        token = duban(home, "token", "issue", "mzj").stdout.strip().splitlines()[-1]
        acked = duban(home, "confirm", str(occurrence), "--ack", "--token", token)
        reported_at = time.monotonic()  # the acknowledgement is in the ledger
        assert acked.returncode == 0, acked.stdout + acked.stderr
        resource = f"duban.occurrence.{occurrence}"
        events, took = wait(lambda: api.ok("/events/filter", {"filter": {
            "event": {"name": ["duban.item.acknowledged"]},
            "any_resource": {"id": [resource]}}})["events"], 60)
        latency = time.monotonic() - reported_at
        print(f"acknowledgement in the event feed {latency:.1f} s after `duban confirm` returned"
              f" ({took:.1f} s of polling)")
        assert events and len(events) == 1
        assert latency <= EVENT_WITHIN

        final, _ = wait(lambda: api.get(f"/flow_runs/{crashed_id}")["state_type"] == "CRASHED",
                        max(5.0, CRASHED_WITHIN - (time.monotonic() - killed_at)), 5)
        print(f"killed run marked Crashed {time.monotonic() - killed_at:.1f} s after the kill")
        assert final, api.get(f"/flow_runs/{crashed_id}")["state"]
        # the action subflow that was running in the killed process goes the same way (each
        # flow run sends its own heartbeats; one killed before its first is never marked)
        beating = [k for k in api.ok("/flow_runs/filter", {"flow_runs": {
            "parent_flow_run_id": {"any_": [crashed_id]}}, "limit": 200}) if api.ok(
            "/events/filter", {"filter": {"event": {"name": ["prefect.flow-run.heartbeat"]},
                                          "any_resource": {"id": [f"prefect.flow-run.{k['id']}"]}}
                               })["events"]]
        left, _ = wait(lambda: not [k for k in beating if api.get(
            f"/flow_runs/{k['id']}")["state_type"] in ("RUNNING", "PENDING")],
            max(5.0, CRASHED_WITHIN - (time.monotonic() - killed_at)), 5)
        print(f"{len(beating)} subflow run(s) of the killed chase had sent heartbeats; "
              f"none left running {time.monotonic() - killed_at:.1f} s after the kill")
        assert left, [api.get(f"/flow_runs/{k['id']}")["state"] for k in beating]

        # SIGKILL of duban up: its Prefect server and page stop by themselves (the kernel's
        # death signal), nothing is left listening, and the commands say the service is down
        children = json.loads((home / "run" / "children.json").read_text())["children"]
        assert {c["name"] for c in children} == {"Prefect server", "report portal"}
        service.process.kill()
        service.process.wait(10)
        for child in children:
            assert _gone(child["pid"], CHILDREN_GONE_WITHIN), f"{child} outlived duban up"
        assert port_free(prefect_port) and port_free(portal_port)
    finally:
        service.kill()
    # without the service, a command says so and stops
    gone = duban(home, "remind", "mzj")
    assert gone.returncode == 1 and "duban up 未在运行" in gone.stderr


def _gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if _zombie(pid):
            return True
        time.sleep(0.2)
    return False


def _zombie(pid: int) -> bool:
    try:
        return " Z " in Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True


def open_occurrence(home: Path, department: str) -> int:
    done = duban(home, "status", "--department", department, "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    rows = rows["occurrences"] if isinstance(rows, dict) else rows
    return next(r["id"] for r in rows if r["state"] in ("overdue", "due_soon", "upcoming"))


def kill_a_running_chase(home: Path, api: Api, daily: str) -> tuple[str, float]:
    """Start `duban chase` (every action), SIGKILL it once its 每日督办 run is Running and has
    sent a heartbeat. Returns the run's id and the monotonic time of the kill."""
    known = {r["id"] for r in api.runs(daily)}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "DUBAN_"))}
    env["DUBAN_HOME"] = str(home)
    chase = subprocess.Popen([DUBAN, "chase", "--dry-run"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        running, _ = wait(lambda: [r for r in api.runs(daily)
                                   if r["id"] not in known and r["state_type"] == "RUNNING"],
                          180, 0.5)
        assert running, "the chase never ran"
        run_id = running[0]["id"]
        # Prefect's zombie detection starts from a heartbeat: kill once the first one is stored
        # (a run that dies before its first heartbeat is never marked; see the report)
        beat, _ = wait(lambda: api.ok("/events/filter", {"filter": {
            "event": {"name": ["prefect.flow-run.heartbeat"]},
            "any_resource": {"id": [f"prefect.flow-run.{run_id}"]}}})["events"], 120, 1)
        assert beat, "no heartbeat from the running chase"
        chase.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        chase.wait(10)
    finally:
        if chase.poll() is None:
            chase.kill()
    return run_id, killed_at
