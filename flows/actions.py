"""The 17 actions of 泰民〔2023〕12号, one flow each, named by the action's title.

Explicit module-level flow objects, not a loop: `prefect deploy` finds flows by reading this source
(entrypoints like flows/actions.py:action_02), and each flow keeps its own function name in logs.
tests/prefect/test_prefect_registry.py checks the names against config/plans/2023.yaml.
"""

from __future__ import annotations

from prefect import flow
from prefect.states import State

from flows.common import ACTION_DESCRIPTION, run_action, run_name


@flow(name="社区固本强基行动", flow_run_name=run_name, description=ACTION_DESCRIPTION)
async def action_01(as_of: str | None = None, dry_run: bool = False) -> State:
    return run_action(1, as_of, dry_run)


@flow(name="社区养老服务行动", flow_run_name=run_name, description=ACTION_DESCRIPTION)
async def action_02(as_of: str | None = None, dry_run: bool = False) -> State:
    return run_action(2, as_of, dry_run)


@flow(name="社区未成年人关爱行动", flow_run_name=run_name, description=ACTION_DESCRIPTION)
async def action_03(as_of: str | None = None, dry_run: bool = False) -> State:
    return run_action(3, as_of, dry_run)


@flow(name="社区助残服务行动", flow_run_name=run_name, description=ACTION_DESCRIPTION)
async def action_04(as_of: str | None = None, dry_run: bool = False) -> State:
    return run_action(4, as_of, dry_run)


@flow(name="社区就业服务行动", flow_run_name=run_name, description=ACTION_DESCRIPTION)
async def action_05(as_of: str | None = None, dry_run: bool = False) -> State:
    return run_action(5, as_of, dry_run)


@flow(name="社区卫生服务行动", flow_run_name=run_name, description=ACTION_DESCRIPTION)
async def action_06(as_of: str | None = None, dry_run: bool = False) -> State:
    return run_action(6, as_of, dry_run)


@flow(name="社区教育行动", flow_run_name=run_name, description=ACTION_DESCRIPTION)
async def action_07(as_of: str | None = None, dry_run: bool = False) -> State:
    return run_action(7, as_of, dry_run)


@flow(name="社区文化服务行动", flow_run_name=run_name, description=ACTION_DESCRIPTION)
async def action_08(as_of: str | None = None, dry_run: bool = False) -> State:
    return run_action(8, as_of, dry_run)


@flow(name="社区体育服务行动", flow_run_name=run_name, description=ACTION_DESCRIPTION)
async def action_09(as_of: str | None = None, dry_run: bool = False) -> State:
    return run_action(9, as_of, dry_run)


@flow(name="社区科普服务行动", flow_run_name=run_name, description=ACTION_DESCRIPTION)
async def action_10(as_of: str | None = None, dry_run: bool = False) -> State:
    return run_action(10, as_of, dry_run)


@flow(name="平安社区建设行动", flow_run_name=run_name, description=ACTION_DESCRIPTION)
async def action_11(as_of: str | None = None, dry_run: bool = False) -> State:
    return run_action(11, as_of, dry_run)


@flow(name="法律服务社区行动", flow_run_name=run_name, description=ACTION_DESCRIPTION)
async def action_12(as_of: str | None = None, dry_run: bool = False) -> State:
    return run_action(12, as_of, dry_run)


@flow(name="社区应急服务行动", flow_run_name=run_name, description=ACTION_DESCRIPTION)
async def action_13(as_of: str | None = None, dry_run: bool = False) -> State:
    return run_action(13, as_of, dry_run)


@flow(name="社区共建共治共享行动", flow_run_name=run_name, description=ACTION_DESCRIPTION)
async def action_14(as_of: str | None = None, dry_run: bool = False) -> State:
    return run_action(14, as_of, dry_run)


@flow(name="社区社会救助提升行动", flow_run_name=run_name, description=ACTION_DESCRIPTION)
async def action_15(as_of: str | None = None, dry_run: bool = False) -> State:
    return run_action(15, as_of, dry_run)


@flow(name="智慧社区建设突破行动", flow_run_name=run_name, description=ACTION_DESCRIPTION)
async def action_16(as_of: str | None = None, dry_run: bool = False) -> State:
    return run_action(16, as_of, dry_run)


@flow(name="社区减负增效行动", flow_run_name=run_name, description=ACTION_DESCRIPTION)
async def action_17(as_of: str | None = None, dry_run: bool = False) -> State:
    return run_action(17, as_of, dry_run)
