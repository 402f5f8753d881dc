"""Keep channel secrets out of log records and error strings.

Apprise URLs embed credentials. Apprise masks them in its results, but its DEBUG logs and
urllib3's request lines carry them (DingTalk's ``access_token`` and WeCom's ``key`` travel
in the query string). A filter on those loggers rewrites each record in place before any
handler sees it: pytest's caplog, a file handler or Prefect's log shipping alike.

The secrets are learnt from the loaded services: every piece of ``url(privacy=False)``
that ``url(privacy=True)`` hides, plus each plugin token declared private.
"""

from __future__ import annotations

import contextvars
import logging
import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote

MASK = "***"
_MIN_LEN = 3  # shorter pieces would mask ordinary words and protect nothing
_SPLIT = re.compile(r"[/:@?&=#,;+\s]+")

#: Loggers whose records may contain a URL with credentials. A logger filter only sees
#: records logged on that exact logger, hence the explicit urllib3 children.
_LOGGER_NAMES = (
    "apprise",
    "notifications",
    "requests",
    "urllib3",
    "urllib3.connection",
    "urllib3.connectionpool",
    "urllib3.poolmanager",
    "urllib3.response",
    "urllib3.util.retry",
)

# Extra secrets and quiet mode scoped to one config load (see `loading`).
_SCOPE: contextvars.ContextVar[tuple[re.Pattern[str] | None, bool] | None] = contextvars.ContextVar(
    "duban_redact_scope", default=None
)

log = logging.getLogger("notifications")


def _compile(secrets: Iterable[str]) -> re.Pattern[str] | None:
    ordered = sorted(set(secrets), key=len, reverse=True)
    return re.compile("|".join(map(re.escape, ordered))) if ordered else None


def url_pieces(url: str) -> set[str]:
    """Pieces of a URL (raw and percent-decoded) long enough to be worth masking."""
    pieces: set[str] = set()
    for piece in _SPLIT.split(url):
        for form in (piece, unquote(piece)):
            if len(form) >= _MIN_LEN:
                pieces.add(form)
    return pieces


def service_secrets(service: Any) -> set[str]:
    """What `service.url(privacy=True)` hides, and its plugin-declared private tokens."""
    secrets = url_pieces(service.url(privacy=False)) - url_pieces(service.url(privacy=True))
    for name, spec in getattr(service, "template_tokens", {}).items():
        value = getattr(service, name, None) if spec.get("private") else None
        if isinstance(value, str) and len(value) >= _MIN_LEN:
            secrets.update({value, unquote(value)})
    return secrets


class SecretRedactor(logging.Filter):
    """A logging filter that masks known secrets; never drops a record unless quiet."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add(self, secrets: Iterable[str]) -> None:
        new = {s for s in secrets if len(s) >= _MIN_LEN}
        with self._lock:
            if not new - self._secrets:
                return
            self._secrets |= new
            self._pattern = _compile(self._secrets)

    def redact(self, text: str) -> str:
        for pattern in self._patterns():
            text = pattern.sub(MASK, text)
        return text

    def _patterns(self) -> Iterator[re.Pattern[str]]:
        scope = _SCOPE.get()
        if scope is not None and scope[0] is not None:
            yield scope[0]
        if self._pattern is not None:
            yield self._pattern

    def filter(self, record: logging.LogRecord) -> bool:
        scope = _SCOPE.get()
        quiet = scope is not None and scope[1] and record.name.startswith("apprise")
        if quiet and record.levelno < logging.WARNING:
            return False  # config loading: apprise's DEBUG lines may echo raw URLs
        patterns = list(self._patterns())
        if patterns:
            _scrub(record, patterns)
        return True


def _scrub(record: logging.LogRecord, patterns: list[re.Pattern[str]]) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a broken format string: keep only the template
        message = str(record.msg)
    clean = message
    for pattern in patterns:
        clean = pattern.sub(MASK, clean)
    if clean != message:
        record.msg, record.args = clean, None
    if record.exc_info:
        text = logging.Formatter().formatException(record.exc_info)
        scrubbed = text
        for pattern in patterns:
            scrubbed = pattern.sub(MASK, scrubbed)
        if scrubbed != text:
            record.exc_info, record.exc_text = None, scrubbed


REDACTOR = SecretRedactor()
_installed = False
_install_lock = threading.Lock()


def install() -> None:
    """Attach the redactor to every logger that may print a credentialed URL (idempotent)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        for name in _LOGGER_NAMES:
            logging.getLogger(name).addFilter(REDACTOR)
        _installed = True


@contextmanager
def loading(candidates: Iterable[str]) -> Iterator[None]:
    """While a config loads: drop apprise's sub-WARNING records, mask every URL piece.

    The services do not exist yet, so what is secret is unknown; over-masking a
    warning about a broken entry is harmless, leaking its token is not.
    """
    token = _SCOPE.set((_compile(candidates), True))
    try:
        yield
    finally:
        _SCOPE.reset(token)
