"""The delivery port: what the core hands a sender, and what the sender reports per target.

The core composes messages and records results; an adapter (the `notifications` package, over
Apprise) implements `Sender`. Plain data only, so the core never imports the adapter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

DeliveryStatus = Literal["sent", "failed", "unknown", "unroutable"]

#: (tag, title, body) -> store it; raises on failure. Called from worker threads.
OutboxSink = Callable[[str, str, str], None]


@dataclass(frozen=True)
class OutgoingMessage:
    """One composed digest for one recipient tag."""

    key: str  # the digest's id / dedup key, echoed back in results
    tag: str  # routing tag: a department code, "office" or "supervisor"
    title: str  # Chinese subject
    body: str  # Chinese plain text, with line breaks
    route: str | None = None  # send to this one route only (a Route.id); None: every route


@dataclass(frozen=True)
class Route:
    """One configured channel a tag reaches, as the core may know it (no secret in it)."""

    id: str  # stable hash of the channel's full URL: survives reloads and reordering
    target: str  # masked URL
    channel: str
    person_facing: bool  # False for the built-in outbox: a record, not a delivery


@dataclass(frozen=True)
class TargetResult:
    """The outcome of one message at one target (one configured URL)."""

    key: str
    tag: str
    target: str  # masked URL (url(privacy=True)); "" when unroutable
    channel: str  # "outbox", "email", "dingtalk", "wecombot", "feishu", "lark", "json", ...
    status: DeliveryStatus  # "unknown": we stopped waiting, delivery may still happen
    error: str | None  # short, secret-free reason
    elapsed: float  # seconds spent on this target over all attempts
    attempts: int  # calls actually made to the target
    permanent: bool  # retrying cannot fix it (bad URL, HTTP 4xx, vendor rejected the token)


class Sender(Protocol):
    """Sends composed messages; one TargetResult per configured target of each message (or of
    its one `route`). `concurrency`: how many messages may be on the wire at once, which bounds
    how many a crash can leave unrecorded (the dispatch claims no more than that at a time)."""

    concurrency: int

    def routes_for(self, tag: str) -> list[Route]: ...

    def send_many(self, messages: Sequence[OutgoingMessage]) -> list[TargetResult]: ...
