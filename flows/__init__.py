"""The Prefect side of duban: one action flow (parameterised by plan and action), the daily parent
flow that runs every action then the digest, the digest flow, manual urging, office entry and
extension decisions. Which deployments exist is computed from the ledger's active plans
(flows/deployments.py).

Importing this package imports Prefect (~1 s) but does no other work: `duban up` and
`duban deploy` import it, and the core (duban/) never does.
"""

from __future__ import annotations

from flows.actions import action_flow
from flows.daily import daily_flow
from flows.dispatch import dispatch_flow
from flows.extension import extension_flow
from flows.office_entry import office_entry
from flows.remind import remind_flow

__all__ = ["action_flow", "daily_flow", "dispatch_flow", "extension_flow", "office_entry",
           "remind_flow"]
