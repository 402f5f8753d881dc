"""Deployments come from the active plans: one per action, numbered and titled, described from the
plan's own identity; no code names a plan, a city, a bureau or a number of actions."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import date

import pytest

from duban.ledger.models import Action, Plan
from flows import action_flow, daily_flow
from flows.deployments import DAILY, DAILY_CRON, FIXED, action_specs, deployment_specs
from tests.support.paths import REPO

pytestmark = pytest.mark.prefect



def plan(key: str, year: int, titles: list[str], issuer: str = "某县民政局") -> Plan:
    found = Plan(key=key, title=f"{year}年测试方案", doc_no=f"测〔{year}〕1号", issuer=issuer,
                 issued=date(year, 1, 1), year=year, timezone="Asia/Shanghai",
                 starts=date(year, 1, 1), ends=date(year, 12, 31))
    found.actions = [Action(no=no, title=t, clause="…") for no, t in enumerate(titles, start=1)]
    return found


def test_a_plan_with_four_actions_gets_exactly_four_numbered_deployments() -> None:
    four = plan("county-2026", 2026, ["甲行动", "乙行动", "丙行动", "丁行动"], issuer="某县卫健局")
    specs = action_specs([four])
    assert [s.name for s in specs] == ["01 甲行动", "02 乙行动", "03 丙行动", "04 丁行动"]
    assert all(s.flow is action_flow and s.cron is None for s in specs)
    assert specs[1].parameters == {"plan": "county-2026", "action": 2}
    assert "测〔2026〕1号" in specs[1].description and "某县卫健局" in specs[1].description
    assert "2026年测试方案" in specs[1].description and "乙行动" in specs[1].description
    assert "plan:county-2026" in specs[1].tags


def test_forty_actions_sort_by_number_and_two_plans_never_share_a_name() -> None:
    forty = plan("big", 2025, [f"第{n}项" for n in range(1, 41)])
    assert [s.name for s in action_specs([forty])] == sorted(s.name for s in action_specs([forty]))
    old, new = plan("a", 2023, ["养老行动"]), plan("b", 2026, ["养老行动", "新行动"])
    names = [s.name for s in action_specs([old, new])]
    assert names == ["01 养老行动（2023年）", "01 养老行动（2026年）", "02 新行动"]


def test_the_shipped_plan_gives_its_actions_plus_the_day_and_the_forms(ledger) -> None:
    with ledger.db.read() as session:
        titles = [a.title for a in session.query(Action).order_by(Action.no)]
    specs = deployment_specs(ledger)
    assert specs[0] is DAILY and DAILY.flow is daily_flow and DAILY.cron == DAILY_CRON
    assert DAILY.concurrency_limit == 1
    actions = specs[1:1 + len(titles)]
    assert [s.name for s in actions] == [f"{n:02d} {t}" for n, t in enumerate(titles, start=1)]
    rest = specs[1 + len(titles):]
    assert rest[1:] == list(FIXED[1:]) and rest[0].flow is FIXED[0].flow
    assert rest[0].cron == "0 10-17 * * *"  # re-dispatch: retries the same day (hourly)
    assert [s.flow.name for s in FIXED] == ["发送督办汇总", "手动催办", "登记报送", "审批延期",
                                            "审核销号", "督办通报"]
    assert [s.cron for s in FIXED] == [None] * 5 + ["30 16 * * 5"]
    assert FIXED[0].concurrency_limit == 1
    names = [s.name for s in specs]
    assert len(set(names)) == len(names) and "daily" not in names
    assert all(re.search(r"[\u4e00-\u9fff]", s.name + s.description) for s in specs)


def test_no_code_names_a_plan_a_city_or_a_count_of_actions() -> None:
    """The Prefect layer and the service commands know no plan: the ledger does."""
    code = [*(REPO / "flows").rglob("*.py"), *(REPO / "tasks").rglob("*.py"),
            *(REPO / "cli" / name for name in ("up_cmd.py", "chase_cmd.py", "processes.py",
                                                "connect.py", "deploy_cmd.py"))]
    for path in code:
        text = path.read_text("utf-8")
        for word in ("泰民", "泰安", "taimin"):
            assert word not in text, (path, word)
        assert not re.search(r"\b17\b", text), path


def test_importing_the_flows_does_no_work_and_the_core_never_imports_prefect(tmp_path) -> None:
    """`duban up` and `duban deploy` import flows/ and tasks/; duban/ must stay Prefect-free."""
    code = (
        "import sys\n"
        "import cli, duban.service, cli.processes, cli.connect\n"
        "assert not any(m == 'prefect' or m.startswith('prefect.') for m in sys.modules)\n"
        "import flows, flows.serve, flows.run, flows.deployments, tasks.chase, tasks.events\n"
    )
    env = {**os.environ, "DUBAN_HOME": str(tmp_path / "home"),
           "PREFECT_HOME": str(tmp_path / "prefect")}
    env.pop("DUBAN_DATABASE_URL", None)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "home").exists()  # no ledger created at import


@pytest.mark.parametrize("flow_fn", [DAILY.flow, action_flow, *(s.flow for s in FIXED)],
                         ids=lambda f: f.name)
def test_every_run_form_is_in_chinese(flow_fn) -> None:
    """"Custom run" on any deployment (the office's forms, 每日督办, an action) shows Chinese
    titles with a Chinese explanation under each field, never a raw parameter name."""
    from prefect.utilities.callables import parameter_schema

    cjk = re.compile(r"[\u4e00-\u9fff]")
    fields = parameter_schema(flow_fn).model_dump()["properties"]
    assert fields, flow_fn.name
    for name, field in fields.items():
        assert cjk.search(field.get("title", "")), (flow_fn.name, name, field)
        assert cjk.search(field.get("description") or ""), (flow_fn.name, name, field)
