"""Delivery of already-composed messages through Apprise (framework-free).

The core composes one digest per recipient tag and calls `Notifier.send_many`; every
configured target of that tag yields one `TargetResult` for the core to record.
"""

from .model import (
    DeliveryStatus,
    NotifyConfigError,
    OutboxSink,
    OutgoingMessage,
    TargetResult,
)
from .notifier import Notifier

__all__ = [
    "DeliveryStatus",
    "Notifier",
    "NotifyConfigError",
    "OutboxSink",
    "OutgoingMessage",
    "TargetResult",
]
