"""The Prefect side of duban: 17 action flows, the digest flow, manual urging, office entry and
extension decisions, and their schedules.

Importing this package imports Prefect (~1 s) but does no other work: `prefect deploy` and
`duban up` import it, and the core (duban/) never does.
"""

from __future__ import annotations

from dataclasses import dataclass

from prefect import Flow

from flows.actions import (
    action_01,
    action_02,
    action_03,
    action_04,
    action_05,
    action_06,
    action_07,
    action_08,
    action_09,
    action_10,
    action_11,
    action_12,
    action_13,
    action_14,
    action_15,
    action_16,
    action_17,
)
from flows.dispatch import dispatch_flow
from flows.extension import extension_flow
from flows.office_entry import office_entry
from flows.remind import remind_flow

ACTION_FLOWS: list[Flow] = [
    action_01, action_02, action_03, action_04, action_05, action_06, action_07, action_08,
    action_09, action_10, action_11, action_12, action_13, action_14, action_15, action_16,
    action_17,
]

DEPLOYMENT_NAME = "daily"  # a deployment is flow name + this: re-serving overwrites, never adds
# Every day, not only weekdays: each run skips non-working days itself, and adjusted working
# Saturdays and Sundays (调休) must be covered.
ACTION_CRON = "30 8 * * *"
DISPATCH_CRON = "0 9 * * *"


@dataclass(frozen=True)
class Deployable:
    flow: Flow
    cron: str | None  # None: on demand only, from the UI's run form (they need parameters)

    @property
    def entrypoint(self) -> str:
        """e.g. flows/actions.py:action_02, as prefect.yaml writes it."""
        module = self.flow.fn.__module__.replace(".", "/")
        return f"{module}.py:{self.flow.fn.__name__}"


def deployables() -> list[Deployable]:
    """Everything `duban up` serves and prefect.yaml deploys, in the order the UI should list."""
    return [
        *(Deployable(f, ACTION_CRON) for f in ACTION_FLOWS),
        Deployable(dispatch_flow, DISPATCH_CRON),
        Deployable(remind_flow, None),
        Deployable(office_entry, None),
        Deployable(extension_flow, None),
    ]

