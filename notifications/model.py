"""Plain data exchanged with the core (defined by the core's delivery port), and config errors."""

from __future__ import annotations

from duban.chase.delivery import DeliveryStatus, OutboxSink, OutgoingMessage, TargetResult

__all__ = ["DeliveryStatus", "NotifyConfigError", "OutboxSink", "OutgoingMessage", "TargetResult"]


class NotifyConfigError(ValueError):
    """The routing file cannot be used. The message names the file, never a secret."""
