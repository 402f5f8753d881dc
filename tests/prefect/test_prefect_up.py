"""`duban up` as a subprocess on free ports: ready, served, clean stop, clean restart."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx
import pytest

from cli.processes import port_free
from cli.up_cmd import READY
from flows.serve import INITIAL_TAG
from tests.support.net import free_port
from tests.support.up import (
    READY_TIMEOUT,
    Up,
    api,
    eventually,
    every_schedule_has_runs,
    scheduled_runs,
)

pytestmark = pytest.mark.prefect

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
        # the day, the weekly bulletin, and the hourly re-dispatch of what is not yet delivered
        assert sorted(flows[d["flow_id"]] for d in deployments if d["schedules"]) == [
            "发送督办汇总", "每日督办", "督办通报"]
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
