"""Run the flows in this process for the CLI (`duban chase`, `duban remind`) and return plain dicts.

The CLI imports this lazily, after cli/service.py has pointed PREFECT_API_URL at the server
`duban up` started (or chosen a temporary local one with --local), so the runs, their events and
artifacts land where supervisors look. `duban chase` is one run of 每日督办 (each action as a
subflow, then the digest), exactly as the daily schedule runs it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from prefect.settings import get_current_settings

from flows.daily import daily_flow, outcome
from flows.remind import remind_flow


def api_url() -> str | None:
    """The Prefect API this process talks to; None means a temporary local server (5-10 s)."""
    return get_current_settings().api.url


async def _chase(as_of: str, actions: list[int] | None, dry_run: bool,
                 plan: str | None) -> dict[str, Any]:
    state = await daily_flow(as_of=as_of, actions=actions, dry_run=dry_run, plan=plan,
                             return_state=True)
    data = await state.aresult(raise_on_failure=False)
    if isinstance(data, BaseException) or data is None:
        return {"runs": [], "dispatch": None, "error": str(data or state.message)}
    return data


def run_chase(as_of: str, actions: list[int] | None, dry_run: bool = False,
              plan: str | None = None) -> dict[str, Any]:
    """每日督办 once at `as_of`: the actions (of `plan`, numbers `actions`; default all active),
    then (unless dry_run) 发送督办汇总. {"runs": [...], "dispatch": {...} | None}."""
    return asyncio.run(_chase(as_of, actions, dry_run, plan))


async def _remind(**params: Any) -> dict[str, Any]:
    return await outcome(await remind_flow(**params, return_state=True))


def run_remind(
    department: str, action: int | None, occurrence: int | None, note: str
) -> dict[str, Any]:
    """Run 手动催办 once; a department or occurrence that does not match gives ok=False."""
    return asyncio.run(
        _remind(单位代码=department, 行动序号=action, 事项编号=occurrence, 附言=note)
    )
