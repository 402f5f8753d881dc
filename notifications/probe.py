"""What happened on the wire during one attempt at one target.

Apprise plugins swallow HTTP errors and exceptions and just return False; the only trace
is a log line. To decide whether a failure is worth retrying, and to read the vendor's
JSON body, we watch the HTTP layer instead: ``requests.Session.send`` is wrapped once
and records into the `Probe` active in the current context. The active probe lives in a
ContextVar, so concurrent worker threads never mix their observations; with no active
probe the wrapper is a plain pass-through and other users of requests are unaffected.
"""

from __future__ import annotations

import contextvars
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import requests
from requests import exceptions as rex

_MAX_JSON_BYTES = 64 * 1024
_TRANSIENT_HTTP = frozenset({408, 425, 429})

_ACTIVE: contextvars.ContextVar[Probe | None] = contextvars.ContextVar(
    "duban_http_probe", default=None
)


@dataclass(frozen=True)
class Rejection:
    """Why an attempt failed (secret-free) and whether retrying could help."""

    reason: str
    permanent: bool
    ambiguous: bool = False  # the request left and no answer came: it may have arrived


@dataclass
class Probe:
    """Observations of one attempt; the last request wins (redirects, multi-part sends)."""

    status: int | None = None
    content: bytes | None = None  # body of the last response, if small and not streamed
    exception: BaseException | None = None
    read_timeout: float | None = None
    rejection: Rejection | None = None  # set by vendor checks and the outbox

    @property
    def payload(self) -> Any:
        """The last response body decoded as JSON (on demand), or None."""
        if not self.content:
            return None
        try:
            return json.loads(self.content)
        except ValueError:
            return None

    def note_response(self, response: requests.Response, streamed: bool) -> None:
        self.status, self.exception, self.content = response.status_code, None, None
        if not streamed and len(response.content or b"") <= _MAX_JSON_BYTES:
            self.content = response.content

    def note_exception(self, exc: BaseException, timeout: Any) -> None:
        self.status, self.content, self.exception = None, None, exc
        self.read_timeout = timeout[1] if isinstance(timeout, tuple) else timeout


def current() -> Probe | None:
    return _ACTIVE.get()


@contextmanager
def attempt() -> Iterator[Probe]:
    """A fresh probe for one attempt at one target."""
    probe = Probe()
    token = _ACTIVE.set(probe)
    try:
        yield probe
    finally:
        _ACTIVE.reset(token)


@contextmanager
def observe() -> Iterator[Probe]:
    """The active probe, or a private one when a plugin is used outside a Notifier."""
    probe = _ACTIVE.get()
    if probe is not None:
        yield probe
        return
    with attempt() as probe:
        yield probe


def diagnose(probe: Probe | None) -> Rejection | None:
    """Turn what the probe saw into a reason and a retry verdict; None if it saw nothing."""
    if probe is None:
        return None
    if probe.rejection is not None:
        return probe.rejection
    if probe.exception is not None:
        return _from_exception(probe.exception, probe.read_timeout)
    if probe.status is not None and not 200 <= probe.status < 300:
        return from_status(probe.status)
    return None


def from_status(status: int) -> Rejection:
    try:
        phrase = f"HTTP {status} {HTTPStatus(status).phrase}"
    except ValueError:
        phrase = f"HTTP {status}"
    transient = status >= 500 or status in _TRANSIENT_HTTP
    return Rejection(phrase, permanent=not transient)


def _from_exception(exc: BaseException, read_timeout: float | None) -> Rejection:
    # Order matters: SSLError and ConnectTimeout are ConnectionErrors too.
    if isinstance(exc, rex.SSLError):
        return Rejection("TLS error (certificate or protocol)", permanent=True)
    if isinstance(exc, rex.ConnectTimeout):
        return Rejection("connect timed out", permanent=False)
    if isinstance(exc, rex.ReadTimeout):
        return Rejection(f"no response within {read_timeout}s", permanent=False, ambiguous=True)
    if isinstance(exc, rex.ConnectionError):
        refused = "refused" in str(exc).lower()
        return Rejection("connection refused" if refused else "connection failed", False)
    if isinstance(exc, rex.InvalidURL | rex.MissingSchema | rex.InvalidSchema | rex.URLRequired):
        return Rejection("invalid URL", permanent=True)
    return Rejection(f"HTTP client error: {type(exc).__name__}", permanent=False)


_hook_lock = threading.Lock()


def install_http_hook() -> None:
    """Wrap requests.Session.send once so an active Probe sees every response/exception."""
    with _hook_lock:
        original = requests.Session.send
        if getattr(original, "_duban_probe", False):
            return

        def send(self: requests.Session, request: Any, **kwargs: Any) -> requests.Response:
            probe = _ACTIVE.get()
            if probe is None:
                return original(self, request, **kwargs)
            try:
                response = original(self, request, **kwargs)
            except rex.RequestException as exc:
                probe.note_exception(exc, kwargs.get("timeout"))
                raise
            probe.note_response(response, streamed=bool(kwargs.get("stream")))
            return response

        send._duban_probe = True  # type: ignore[attr-defined]
        requests.Session.send = send  # type: ignore[method-assign]
