"""Delivery of already-composed messages through Apprise (framework-free).

The core composes one digest per recipient tag and calls `Notifier.send_many`; every
configured target of that tag yields one `TargetResult` for the core to record.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .model import (
    DeliveryStatus,
    NotifyConfigError,
    OutboxSink,
    OutgoingMessage,
    TargetResult,
)
from .notifier import Notifier

if TYPE_CHECKING:
    from datetime import datetime

    from duban.service import Context


def notifier_for(ctx: Context, now: datetime) -> Notifier:
    """The Apprise notifier of this context's routes; its built-in outbox writes into the ledger."""
    from duban.chase.dispatch import outbox_sink

    return Notifier(ctx.settings.notify_config,
                    outbox=outbox_sink(ctx.settings.database_url, lambda: now))


__all__ = [
    "DeliveryStatus",
    "Notifier",
    "NotifyConfigError",
    "OutboxSink",
    "OutgoingMessage",
    "TargetResult",
    "notifier_for",
]
