"""The report page's protections: a server secret, CSRF tokens, form nonces, a failure limiter
keyed on the real client address, and a log filter that keeps link tokens out of every log line.

CSRF: the form carries HMAC-SHA256(secret, purpose|link token); only a page rendered by this
server for that link has it. The secret lives in $DUBAN_HOME/portal.secret (created 0600 on first
start), so every worker process of one installation agrees on it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import threading
import time
from collections import deque
from ipaddress import IPv4Network, IPv6Network, ip_address
from pathlib import Path

SECRET_FILE = "portal.secret"
_NONCE = re.compile(r"[0-9a-f]{32}")
_TOKEN_IN_PATH = re.compile(r"/([rd])/[A-Za-z0-9_\-]{8,}")


def load_secret(home: Path) -> bytes:
    """The installation's secret, created atomically on first use (O_EXCL: one writer wins)."""
    path = home / SECRET_FILE
    home.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # a concurrent creator may not have written it yet
            text = path.read_text(encoding="ascii").strip()
            if text:
                return bytes.fromhex(text)
            time.sleep(0.01)
        raise RuntimeError(f"{path} is empty: delete it and restart") from None
    with os.fdopen(fd, "w", encoding="ascii") as stream:
        stream.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text(encoding="ascii").strip())


def csrf_token(secret: bytes, purpose: str, token: str) -> str:
    return hmac.new(secret, f"{purpose}|{token}".encode(), hashlib.sha256).hexdigest()


def csrf_ok(secret: bytes, purpose: str, token: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(csrf_token(secret, purpose, token), given or "")


def new_nonce() -> str:
    return secrets.token_hex(16)


def nonce_ok(nonce: str | None) -> bool:
    return bool(nonce) and _NONCE.fullmatch(nonce or "") is not None


def web_key(token_hash: str, nonce: str) -> str:
    """The idempotency key of a page submission: the link (by hash) and the form's nonce."""
    return "web:" + hashlib.sha256(f"{token_hash}:{nonce}".encode()).hexdigest()[:64]


class FailureLimiter:
    """At most `limit` failed token checks per client address per `window` seconds; past that
    the address gets 'too many attempts' instead of the failure page until the window slides on.
    Only failed token checks count (not a browser's /favicon.ico), and a request carrying a valid
    token is never asked: one person guessing behind a shared NAT locks out no one."""

    def __init__(self, limit: int = 30, window: float = 60.0) -> None:
        self.limit, self.window = limit, window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float]:
        times = self._failures.setdefault(client, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def blocked(self, client: str) -> bool:
        with self._lock:
            return len(self._recent(client, time.monotonic())) >= self.limit

    def failed(self, client: str) -> None:
        with self._lock:
            self._recent(client, time.monotonic()).append(time.monotonic())
            if len(self._failures) > 10_000:  # forget quiet addresses, keep memory bounded
                for key in [k for k, v in self._failures.items() if not v]:
                    del self._failures[key]


Networks = tuple[IPv4Network | IPv6Network, ...]


def client_address(peer: str | None, forwarded_for: str | None, trusted: Networks) -> str:
    """Who is asking: the socket's peer, unless that peer is a trusted proxy; then the nearest
    address in X-Forwarded-For that is not itself a trusted proxy (anyone can write the left of
    that header, so it is read from the right)."""
    if not peer:
        return "unknown"
    if not trusted or not _within(peer, trusted):
        return peer
    hops = [hop.strip() for hop in (forwarded_for or "").split(",") if hop.strip()]
    for hop in reversed(hops):
        try:
            ip_address(hop)
        except ValueError:
            return peer  # a malformed header: the proxy itself is all we know
        if not _within(hop, trusted):
            return hop
    return peer


def _within(address: str, networks: Networks) -> bool:
    try:
        ip = ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def redact(text: str) -> str:
    """'/r/AbC...' -> '/r/<redacted>'."""
    return _TOKEN_IN_PATH.sub(r"/\1/<redacted>", text)


class RedactTokens(logging.Filter):
    """Rewrites a record so no /r/ or /d/ token reaches any handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:  # formatters reuse exc_text when set
            record.exc_text = redact(_FORMATTER.formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_FORMATTER = logging.Formatter()


LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "fastapi", "starlette", "duban",
           "duban.portal")


def install_log_redaction() -> None:
    """Attach the filter to the loggers the server writes to (idempotent)."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactTokens) for f in logger.filters):
            logger.addFilter(RedactTokens())
