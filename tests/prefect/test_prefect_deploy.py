"""The work-pool path: `duban deploy` applies the very set `duban up` serves, and removes what a
closed plan left behind."""

from __future__ import annotations

import asyncio

import pytest
from typer.testing import CliRunner

import flows  # noqa: F401  Prefect sets up logging on first use: not inside CliRunner's streams
from cli import app
from flows.deployments import deployment_specs

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("harness")]


async def deployments_in_pool(pool: str) -> dict[str, object]:
    from prefect import get_client
    from prefect.client.schemas.filters import WorkPoolFilter, WorkPoolFilterName

    async with get_client() as client:
        found = await client.read_deployments(
            work_pool_filter=WorkPoolFilter(name=WorkPoolFilterName(any_=[pool]))
        )
        names = {d.id: (await client.read_flow(d.flow_id)).name for d in found}
    return {f"{names[d.id]}/{d.name}": d for d in found}


def test_deploy_applies_the_plans_deployments_to_a_pool(ledger, monkeypatch) -> None:
    from prefect.settings import PREFECT_API_URL

    monkeypatch.setenv("PREFECT_API_URL", PREFECT_API_URL.value())
    result = CliRunner().invoke(app, ["deploy", "--pool", "duban-test"])
    assert result.exit_code == 0, result.output
    found = asyncio.run(deployments_in_pool("duban-test"))
    expected = {s.path: s for s in deployment_specs(ledger)}
    assert set(found) <= set(expected) and set(expected) <= set(found) | set()
    for path, spec in expected.items():
        deployment = found[path]
        schedules = [(s.schedule.cron, s.schedule.timezone) for s in deployment.schedules]
        assert schedules == ([(spec.cron, "Asia/Shanghai")] if spec.cron else []), path
        assert deployment.parameters == spec.parameters and deployment.description
    assert found["每日督办/每天巡查并发送汇总"].global_concurrency_limit.limit == 1
    assert "02 社区养老服务行动" in " ".join(found)
    assert f"共 {len(expected)} 个部署" in result.output
