"""17 actions = 17 flows = 17 deployments, named as the plan; prefect.yaml says the same."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from prefect import Flow

import flows
import flows.actions
from flows import ACTION_CRON, ACTION_FLOWS, DISPATCH_CRON, deployables
from tests.support.paths import CONFIG_DIR

pytestmark = pytest.mark.prefect

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def titles() -> list[str]:
    plan = yaml.safe_load((CONFIG_DIR / "plans" / "2023.yaml").read_text("utf-8"))
    return [a["title"] for a in sorted(plan["actions"], key=lambda a: a["no"])]


@pytest.fixture(scope="module")
def prefect_yaml() -> dict:
    return yaml.safe_load((REPO / "prefect.yaml").read_text("utf-8"))


def test_one_explicit_flow_per_action_named_by_its_title(titles) -> None:
    assert [f.name for f in ACTION_FLOWS] == titles and len(titles) == 17
    for no, flow in enumerate(ACTION_FLOWS, start=1):
        assert getattr(flows.actions, f"action_{no:02d}") is flow
        assert flow.fn.__name__ == f"action_{no:02d}"
        assert set(flow.parameters.properties) == {"as_of", "dry_run"}


def test_deployables_are_the_actions_the_digest_and_the_on_demand_flows() -> None:
    items = deployables()
    assert [d.flow.name for d in items[17:]] == ["发送督办汇总", "手动催办", "登记报送", "审批延期"]
    assert [d.cron for d in items] == [ACTION_CRON] * 17 + [DISPATCH_CRON, None, None, None]
    assert ACTION_CRON == "30 8 * * *" and DISPATCH_CRON == "0 9 * * *"  # every day, 调休 too
    assert items[1].entrypoint == "flows/actions.py:action_02"


def test_prefect_yaml_deploys_exactly_the_registry(prefect_yaml) -> None:
    deployments = prefect_yaml["deployments"]
    expected = deployables()
    assert len(deployments) == len(expected) == 21
    assert {d["name"] for d in deployments} == {"daily"}
    for spec, item in zip(deployments, expected, strict=True):
        assert spec["entrypoint"] == item.entrypoint
        path, attr = spec["entrypoint"].split(":")
        flow = getattr(importlib.import_module(path.removesuffix(".py").replace("/", ".")), attr)
        assert isinstance(flow, Flow) and flow.name == item.flow.name
        assert spec["work_pool"]["name"] == "duban"
        crons = [(s["cron"], s["timezone"]) for s in spec["schedules"]]
        assert crons == ([(item.cron, "Asia/Shanghai")] if item.cron else [])


def test_prefect_yaml_shares_its_settings_through_definitions(prefect_yaml) -> None:
    definitions = prefect_yaml["definitions"]
    assert definitions["work_pools"]["duban"]["name"] == "duban"
    assert all(s["timezone"] == "Asia/Shanghai"
               for group in definitions["schedules"].values() for s in group)


def test_importing_the_flows_does_no_work_and_the_core_never_imports_prefect(tmp_path) -> None:
    """deploy and `duban up` import flows/ and tasks/; duban/ must stay Prefect-free."""
    code = (
        "import sys\n"
        "import cli, duban.service, cli.processes\n"
        "assert not any(m == 'prefect' or m.startswith('prefect.') for m in sys.modules)\n"
        "import flows, flows.serve, flows.run, tasks.chase, tasks.publish, tasks.events\n"
    )
    env = {**os.environ, "DUBAN_HOME": str(tmp_path / "home"),
           "PREFECT_HOME": str(tmp_path / "prefect")}
    env.pop("DUBAN_DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "home").exists()  # no ledger created at import
