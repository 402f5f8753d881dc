"""What a run's final state tells supervisors: the one mapping every duban flow ends through.

Prefect's Dashboard and run lists colour a run by its state *type* alone: FAILED and CRASHED are
red, everything else green, whatever the state's name. So a day with overdue items must end in a
FAILED-type state to be seen, and a genuine error must stay distinguishable from it by name:

- 有逾期 (FAILED): the run did its work and the day has overdue items; the message counts them.
- 正常 (COMPLETED): the run did its work and nothing is overdue.
- 非工作日 (COMPLETED): a day off; nothing was chased.
- 运行出错 (FAILED): the run itself broke (database unreachable, bad configuration, a bug); the
  message says what, the log has the traceback. Prefect emits `prefect.flow-run.运行出错` for it,
  which an automation can send to whoever runs the service, apart from `prefect.flow-run.有逾期`.

`is_error` is how callers (the CLI, a parent flow) tell the two red states apart.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import suppress

from prefect.exceptions import MissingContextError
from prefect.logging import get_run_logger
from prefect.states import Completed, Failed, State

OVERDUE = "有逾期"
NORMAL = "正常"
NON_WORKDAY = "非工作日"
ERROR = "运行出错"


def day_state(overdue: int, message: str, data: object = None) -> State:
    """有逾期 (red) when `overdue` items are late, else 正常; the count leads the message."""
    if overdue:
        return Failed(name=OVERDUE, message=f"逾期 {overdue} 项；{message}", data=data)
    return Completed(name=NORMAL, message=message, data=data)


def non_workday(message: str, data: object = None) -> State:
    return Completed(name=NON_WORKDAY, message=message, data=data)


def error_state(exc: BaseException) -> State:
    """运行出错, saying what broke; the traceback goes to the run's log."""
    with suppress(MissingContextError):  # outside a run there is no run log to write to
        get_run_logger().exception("运行出错")
    return Failed(name=ERROR, message=f"运行出错：{type(exc).__name__}: {exc}")


def is_error(state: State) -> bool:
    """A run that did not do its work (运行出错, a refusal, a crash), as opposed to 有逾期."""
    return (state.is_failed() or state.is_crashed()) and state.name != OVERDUE


def overdue_count(state: State) -> int:
    """The overdue items an 有逾期 state reports (0 for any other state)."""
    if state.name != OVERDUE or not state.message:
        return 0
    head = state.message.removeprefix("逾期 ").split(" ", 1)[0]
    return int(head) if head.isdigit() else 0


def combined_state(children: Iterable[State], what: str) -> State:
    """A parent run's state from its children's: 运行出错 if any broke, else 有逾期 with the
    sum of their counts if any is late, else 正常 (非工作日 when every child skipped)."""
    states = list(children)
    broken = [s for s in states if is_error(s)]
    if broken:
        return Failed(name=ERROR, message=f"运行出错：{what} {len(broken)} 个运行出错："
                      + "；".join(s.message or s.name for s in broken[:3]))
    if states and all(s.name == NON_WORKDAY for s in states):
        return non_workday(states[0].message or NON_WORKDAY)
    late = sum(overdue_count(s) for s in states)
    flagged = sum(1 for s in states if s.name == OVERDUE)
    return day_state(late, f"{what}共 {len(states)} 项，其中 {flagged} 项有逾期")
