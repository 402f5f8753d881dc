"""prefect.yaml for real: `prefect --no-prompt deploy --all` against the harness server."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from flows import DEPLOYMENT_NAME, deployables
from tests.support.paths import REPO

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("harness")]



def prefect_cli(args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-m", "prefect", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


async def deployments_in_pool(pool: str) -> dict[str, list]:
    from prefect import get_client
    from prefect.client.schemas.filters import WorkPoolFilter, WorkPoolFilterName

    async with get_client() as client:
        found = await client.read_deployments(
            work_pool_filter=WorkPoolFilter(name=WorkPoolFilterName(any_=[pool]))
        )
        names = {d.id: (await client.read_flow(d.flow_id)).name for d in found}
    return {f"{names[d.id]}/{d.name}": d.schedules for d in found}


def test_deploy_all_creates_every_deployment_with_its_schedule(tmp_path: Path) -> None:
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(),
           "PREFECT_HOME": str(tmp_path / "prefect")}
    prefect_cli(["work-pool", "create", "duban", "--type", "process", "--overwrite"], env)
    prefect_cli(["--no-prompt", "deploy", "--all"], env)

    found = asyncio.run(deployments_in_pool("duban"))
    expected = {f"{d.flow.name}/{DEPLOYMENT_NAME}": d.cron for d in deployables()}
    assert set(found) == set(expected) and len(found) == 21
    for name, cron in expected.items():
        schedules = [(s.schedule.cron, s.schedule.timezone) for s in found[name]]
        assert schedules == ([(cron, "Asia/Shanghai")] if cron else []), name
