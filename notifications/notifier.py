"""Deliver composed messages to the URLs their tag reaches, one result per target.

Threading model: `send_many` runs one job per message in its own ThreadPoolExecutor.
The AppriseAsset has ``async_mode=False`` and ``service_timeout=0``, so apprise sends a
message's targets one after another *in that worker thread* instead of queueing them on
its small shared pool (6 threads here). That keeps throughput proportional to
``max_workers`` and lets ContextVars (outbox route, HTTP probe) reach the plugins. Time
is bounded per target by connect/read timeouts (``timeout`` unless the URL sets cto/rto)
and by the retry budget; the built-in 5.5 s throttle between sends is removed.
"""

from __future__ import annotations

import contextvars
import hashlib
import logging
import os
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from apprise import Apprise, AppriseAsset, AppriseResult, NotifyFormat
from apprise.plugins.base import NotifyBase
from apprise.result import AppriseResultStatus, NotifyResult

from duban.chase.delivery import Route
from duban.chase.faults import checkpoint

from . import checked, outbox, probe, redact
from .config import load_services
from .model import DeliveryStatus, OutboxSink, OutgoingMessage, TargetResult
from .probe import Probe, Rejection

log = logging.getLogger("notifications")

_TAG = re.compile(r"\w[\w.-]*")  # ':' ',' and spaces mean priority/retry/OR to apprise
_RESERVED_TAGS = frozenset({"all", "always"})  # "all" would reach every URL
_FIRST_PAUSE = 0.25  # seconds before the first retry, doubled each round
_MAX_PAUSE = 2.0
_MAX_ERROR = 200
_CHANNEL_ALIASES = {"mailto": "email"}

# Per-message record of the last attempt's probe at each service (keyed by id(service)).
_CALLS: contextvars.ContextVar[dict[int, Probe] | None] = contextvars.ContextVar(
    "duban_notify_calls", default=None
)


def _setup() -> None:
    """Process-wide hooks; each is idempotent."""
    redact.install()
    probe.install_http_hook()
    checked.register()
    outbox.register()


@dataclass(eq=False)
class _Route:
    """One loaded service, with what we show of it and how to recognise its results."""

    service: NotifyBase
    target: str  # masked URL as configured (before our timeout overrides)
    channel: str
    order: int
    id: str = ""  # stable, secret-free: a hash of the full URL
    live_url: str = ""  # masked URL as apprise reports it now
    url_id: str | None = None

    @property
    def person_facing(self) -> bool:
        return self.channel != outbox.SCHEMA

    def matches(self, result: NotifyResult) -> bool:
        return result.url == self.live_url and result.url_id == self.url_id


@dataclass(eq=False)
class _Outcome:
    """Mutable per-target state while a message is being delivered and retried."""

    route: _Route
    status: DeliveryStatus
    error: str | None
    permanent: bool
    elapsed: float
    attempts: int

    def absorb(self, later: _Outcome) -> None:
        self.status, self.error, self.permanent = later.status, later.error, later.permanent
        self.elapsed += later.elapsed
        self.attempts += later.attempts

    def result(self, message: OutgoingMessage) -> TargetResult:
        return TargetResult(
            key=message.key,
            tag=message.tag,
            target=self.route.target,
            channel=self.route.channel,
            status=self.status,
            error=self.error,
            elapsed=round(self.elapsed, 3),
            attempts=self.attempts,
            permanent=self.permanent,
        )


class Notifier:
    """Sends OutgoingMessages through the Apprise routes of one YAML config file.

    - `outbox`: called for ``outbox://`` routes with (message tag, title, body).
    - `timeout`: connect and read timeout of every URL that sets no cto=/rto= itself.
    - `retries` / `retry_budget`: transient failures are resent up to `retries` times,
      and no retry starts later than `retry_budget` seconds after the message's first
      attempt (one already running may overrun by its own timeouts).

    Thread-safe: `send_many` may be called concurrently; the loaded services are shared
    and only read. Construction fails with NotifyConfigError on a bad config file.
    """

    def __init__(
        self,
        config_path: str | os.PathLike[str],
        *,
        outbox: OutboxSink | None = None,
        timeout: float = 10.0,
        max_workers: int = 32,
        retries: int = 2,
        retry_budget: float = 15.0,
    ) -> None:
        if timeout <= 0 or max_workers < 1 or retries < 0 or retry_budget < 0:
            raise ValueError("need timeout > 0, max_workers >= 1, retries >= 0, retry_budget >= 0")
        _setup()
        self._outbox = outbox
        self._timeout = float(timeout)
        self._max_workers = max_workers
        self._retries = retries
        self._retry_budget = float(retry_budget)
        self._asset = AppriseAsset(async_mode=False, service_timeout=0, allow_templates=False)
        services = load_services(config_path, self._asset)
        # A YAML 'asset:' section may have flipped these on the shared asset.
        self._asset.async_mode, self._asset.secure_logging = False, True
        self._routes = [self._prepare(s, n) for n, s in enumerate(services)]
        self._index, self._always = _index(self._routes)

    @property
    def concurrency(self) -> int:
        """Messages on the wire at once (the dispatch's in-flight bound)."""
        return self._max_workers

    def routes(self, tag: str) -> list[str]:
        """Masked URLs that `tag` reaches, including the ones tagged 'always'."""
        return [r.target for r in self._match(tag)]

    def routes_for(self, tag: str) -> list[Route]:
        """The channels `tag` reaches, as the core records them (ids, masked URLs)."""
        return [Route(r.id, r.target, r.channel, r.person_facing) for r in self._match(tag)]

    def send_many(self, messages: Sequence[OutgoingMessage]) -> list[TargetResult]:
        """Deliver every message; results come back grouped in message order."""
        messages = list(messages)
        if not messages:
            return []
        started = time.monotonic()
        workers = min(self._max_workers, len(messages))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="notify") as pool:
            batches = list(pool.map(self._deliver_safely, messages))
        results = [r for batch in batches for r in batch]
        _log_summary(results, time.monotonic() - started)
        return results

    # -- loading ---------------------------------------------------------------------

    def _prepare(self, service: NotifyBase, order: int) -> _Route:
        route = _Route(service, service.url(privacy=True), _channel(service), order,
                       id=_route_id(service))
        redact.REDACTOR.add(redact.service_secrets(service))
        service.request_rate_per_sec = 0  # the built-in 5.5 s pause between sends
        own = vars(service)
        if "socket_connect_timeout" not in own:  # URL without ?cto=
            service.socket_connect_timeout = self._timeout
        if "socket_read_timeout" not in own:  # URL without ?rto=
            service.socket_read_timeout = self._timeout
        _observe(service)
        route.live_url, route.url_id = service.url(privacy=True), service.url_id()
        return route

    def _match(self, tag: str) -> list[_Route]:
        if not _valid_tag(tag):
            return []
        found = {id(r): r for r in (*self._index.get(tag.lower(), ()), *self._always)}
        return sorted(found.values(), key=lambda r: r.order)

    def _routes_of(self, message: OutgoingMessage) -> list[_Route]:
        routes = self._match(message.tag)
        if message.route is not None:
            routes = [r for r in routes if r.id == message.route]
        return routes

    # -- delivering ------------------------------------------------------------------

    def _deliver_safely(self, message: OutgoingMessage) -> list[TargetResult]:
        try:
            return self._deliver(message)
        except Exception as exc:  # a bug must not sink the other messages
            log.exception("delivering %s to %s failed unexpectedly", message.key, message.tag)
            reason = f"internal error: {type(exc).__name__}"
            routes = self._routes_of(message)
            return [_unknown(r, reason).result(message) for r in routes] or [_unroutable(message)]

    def _deliver(self, message: OutgoingMessage) -> list[TargetResult]:
        routes = self._routes_of(message)
        if not routes:
            return [_unroutable(message)]
        deadline = time.monotonic() + self._retry_budget
        with outbox.routed(message.tag, self._outbox):
            outcomes = self._send(message, routes)
            self._retry(message, outcomes, deadline)
        return [o.result(message) for o in outcomes]

    def _send(self, message: OutgoingMessage, routes: list[_Route]) -> list[_Outcome]:
        """One apprise notify() to exactly these routes, always with the message's tag."""
        apobj = Apprise(asset=self._asset)
        for route in routes:
            apobj.add(route.service)
        calls: dict[int, Probe] = {}
        token = _CALLS.set(calls)
        checkpoint("send.target")
        try:
            result = apobj.notify(
                body=message.body,
                title=message.title,
                tag=message.tag,
                body_format=NotifyFormat.TEXT,
            )
        finally:
            _CALLS.reset(token)
        checkpoint("send.target_done")
        with result:
            return _pair(result, routes, calls)

    def _retry(self, message: OutgoingMessage, outcomes: list[_Outcome], deadline: float) -> None:
        """Resend to transient failures only, one target at a time, within the budget."""
        for round_ in range(self._retries):
            pending = [o for o in outcomes if o.status == "failed" and not o.permanent]
            pause = min(_FIRST_PAUSE * 2**round_, _MAX_PAUSE)
            if not pending or time.monotonic() + pause >= deadline:
                return
            time.sleep(pause)
            for outcome in pending:
                if time.monotonic() >= deadline:
                    return
                again = self._send(message, [outcome.route])
                if again:
                    outcome.absorb(again[0])


# -- helpers ---------------------------------------------------------------------------


def _valid_tag(tag: str) -> bool:
    return bool(_TAG.fullmatch(tag or "")) and tag.lower() not in _RESERVED_TAGS


def _index(routes: list[_Route]) -> tuple[dict[str, list[_Route]], list[_Route]]:
    """tag -> routes, plus the 'always' routes (apprise's own matching, precomputed)."""
    index: dict[str, list[_Route]] = {}
    always: list[_Route] = []
    for route in routes:
        names = {str(t) for t in route.service.tags}
        if "always" in names:
            always.append(route)
        for name in names - {"always"}:
            index.setdefault(name, []).append(route)
    return index, always


def _route_id(service: NotifyBase) -> str:
    """sha256 of the full URL, cut to 24 hex digits: stable across reloads, reveals nothing."""
    full = service.url(privacy=False)
    return hashlib.sha256(full.encode("utf-8")).hexdigest()[:24]


def _channel(service: NotifyBase) -> str:
    for names in (service.protocol, service.secure_protocol):
        name = names if isinstance(names, str) else next(iter(names or ()), None)
        if name:
            return _CHANNEL_ALIASES.get(name, name)
    return str(getattr(service, "schema", "") or "unknown")


def _observe(service: NotifyBase) -> None:
    """Give each call of this service its own Probe and record it for the running message.

    Apprise calls ``service.notify()`` once per attempt; the instance attribute shadows
    the class method for this one object, which only this Notifier owns.
    """
    original: Callable[..., bool] = service.notify

    def notify(*args: Any, **kwargs: Any) -> bool:
        calls = _CALLS.get()
        if calls is None:
            return original(*args, **kwargs)
        with probe.attempt() as seen:
            try:
                return original(*args, **kwargs)
            finally:
                calls[id(service)] = seen

    service.notify = notify  # type: ignore[method-assign]


def _pair(result: AppriseResult, routes: list[_Route], calls: dict[int, Probe]) -> list[_Outcome]:
    """Match apprise's per-service results to our routes (masked URL + url_id, in order)."""
    free = list(routes)
    outcomes = []
    for item in result:
        route = next((r for r in free if r.matches(item)), None)
        if route is None:
            log.warning("apprise reported an unknown target %s", item.url)
            continue
        free.remove(route)
        outcomes.append(_outcome(route, item, calls.get(id(route.service))))
    return outcomes


def _outcome(route: _Route, item: NotifyResult, seen: Probe | None) -> _Outcome:
    status = _status(item)
    rejection = None if status == "sent" else _why(item, seen, status)
    if rejection is not None and rejection.ambiguous:
        status = "unknown"  # a read timeout after the request left: never re-sent blindly
    return _Outcome(
        route=route,
        status=status,
        error=rejection.reason if rejection else None,
        permanent=rejection.permanent if rejection else False,
        elapsed=item.elapsed,
        attempts=len(item.attempts),
    )


def _status(item: NotifyResult) -> DeliveryStatus:
    """From the raw attempts: an optional=yes service is 'SUCCESS' even when it failed."""
    statuses = [a.status for a in item.attempts]
    if statuses and statuses[-1] == AppriseResultStatus.SUCCESS:
        return "sent"
    timed_out = bool(statuses) and statuses[-1] == AppriseResultStatus.TIMEOUT
    if timed_out and AppriseResultStatus.FAILURE not in statuses:
        return "unknown"
    return "failed"


def _why(item: NotifyResult, seen: Probe | None, status: DeliveryStatus) -> Rejection:
    if status == "unknown":
        return Rejection("no outcome before apprise stopped waiting", permanent=False)
    found = probe.diagnose(seen)
    if found is None:
        found = Rejection(_first_complaint(item) or "delivery failed", permanent=False)
    return Rejection(redact.REDACTOR.redact(found.reason)[:_MAX_ERROR], found.permanent,
                     found.ambiguous)


def _first_complaint(item: NotifyResult) -> str | None:
    for entry in item.logs():
        if entry.level in ("WARNING", "ERROR", "CRITICAL"):
            return entry.message
    return None


def _unroutable(message: OutgoingMessage) -> TargetResult:
    why = (
        f"invalid routing tag {message.tag!r}"
        if not _valid_tag(message.tag)
        else f"no URL is tagged {message.tag!r} or 'always'"
    )
    if message.route is not None and _valid_tag(message.tag):
        why = f"the channel {message.route} is no longer configured for {message.tag!r}"
    return TargetResult(
        key=message.key,
        tag=message.tag,
        target="",
        channel="",
        status="unroutable",
        error=why,
        elapsed=0.0,
        attempts=0,
        permanent=True,
    )


def _unknown(route: _Route, reason: str) -> _Outcome:
    return _Outcome(route, "unknown", reason, permanent=False, elapsed=0.0, attempts=0)


def _log_summary(results: list[TargetResult], wall: float) -> None:
    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
        if r.status != "sent":
            log.warning("%s -> %s %s: %s (%s)", r.key, r.tag, r.target, r.status, r.error)
    log.info("delivered %d results in %.2fs: %s", len(results), wall, counts)
