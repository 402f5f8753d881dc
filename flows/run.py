"""Run the flows in this process for the CLI (`duban chase`, `duban remind`) and return plain dicts.

The CLI in duban/ imports this lazily, so duban/ itself never imports Prefect. Flows run one after
another: measured here, 17 async action flows in sequence beat running them concurrently on one
event loop (the Prefect client and the ledger's SQLite writer serialise them anyway).
"""

from __future__ import annotations

import asyncio
from typing import Any

from prefect.settings import get_current_settings
from prefect.states import State

from flows import ACTION_FLOWS, dispatch_flow, remind_flow
from flows.states import is_error


def api_url() -> str | None:
    """The Prefect API this process talks to; None means a temporary local server (5-10 s)."""
    return get_current_settings().api.url


async def _outcome(state: State) -> dict[str, Any]:
    """A finished run as data: its state name and message, and what the flow returned.
    有逾期 is a red state but a run that did its work: ok; 运行出错 and refusals are not."""
    data = await state.aresult(raise_on_failure=False)
    ok = not is_error(state)
    return {
        "ok": ok,
        "state": state.name,
        "message": state.message or (str(data) if not ok else ""),
        "data": data if ok else None,
    }


async def _chase(as_of: str, actions: list[int], dry_run: bool) -> dict[str, Any]:
    runs = []
    for no in actions:
        flow = ACTION_FLOWS[no - 1]
        state = await flow(as_of=as_of, dry_run=dry_run, return_state=True)
        runs.append({"action": no, "title": flow.name, **await _outcome(state)})
    dispatch = None
    if not dry_run:
        dispatch = await _outcome(await dispatch_flow(as_of=as_of, return_state=True))
    return {"runs": runs, "dispatch": dispatch}


def run_chase(as_of: str, actions: list[int], dry_run: bool = False) -> dict[str, Any]:
    """Run the given action flows, then (unless dry_run) 发送督办汇总, all at the same instant."""
    return asyncio.run(_chase(as_of, actions, dry_run))


async def _remind(**params: Any) -> dict[str, Any]:
    return await _outcome(await remind_flow(**params, return_state=True))


def run_remind(
    department: str, action: int | None, occurrence: int | None, note: str
) -> dict[str, Any]:
    """Run 手动催办 once; a department or occurrence that does not match gives ok=False."""
    return asyncio.run(
        _remind(department=department, action=action, occurrence=occurrence, note=note)
    )
