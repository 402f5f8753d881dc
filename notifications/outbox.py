"""The built-in ``outbox://`` channel: hand the message to the Notifier's OutboxSink.

Apprise registers custom schemas process-wide, but each Notifier has its own sink and
each message its own recipient tag. So the plugin function reads both from a ContextVar
that the Notifier sets around the synchronous send in its worker thread: concurrent
messages and Notifiers never see each other's sink, and the tag passed on is the
message's recipient (e.g. "mzj"), not the URL's own tag ("always").
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from apprise.common import NotifyFormat
from apprise.decorators import notify
from apprise.manager_plugins import NotificationManager

from . import probe
from .model import OutboxSink
from .probe import Rejection

SCHEMA = "outbox"
_MAX_REASON = 200


@dataclass(frozen=True)
class _Route:
    tag: str
    sink: OutboxSink | None


_ROUTE: contextvars.ContextVar[_Route | None] = contextvars.ContextVar(
    "duban_outbox_route", default=None
)


class OutboxUnavailable(RuntimeError):
    """outbox:// was routed to but the Notifier was built without a sink."""


@contextmanager
def routed(tag: str, sink: OutboxSink | None) -> Iterator[None]:
    """Within this block (same thread/context), outbox:// stores via `sink` under `tag`."""
    token = _ROUTE.set(_Route(tag, sink))
    try:
        yield
    finally:
        _ROUTE.reset(token)


def _deliver(body: str, title: str, *args: Any, **kwargs: Any) -> bool:
    route = _ROUTE.get()
    seen = probe.current()
    if route is None or route.sink is None:
        if seen is not None:
            seen.rejection = Rejection("no outbox sink configured", permanent=True)
        raise OutboxUnavailable("outbox:// needs a Notifier built with outbox=<sink>")
    try:
        route.sink(route.tag, title, body)
    except Exception as exc:  # the sink's own failure (e.g. database locked): retryable
        if seen is not None:
            reason = f"outbox sink failed: {type(exc).__name__}: {exc}"[:_MAX_REASON]
            seen.rejection = Rejection(reason, permanent=False)
        raise
    return True


_lock = threading.Lock()


def register() -> None:
    """Register outbox:// with apprise once per process."""
    with _lock:
        if SCHEMA not in NotificationManager():
            notify(on=SCHEMA, name="duban outbox", body_format=NotifyFormat.TEXT)(_deliver)
