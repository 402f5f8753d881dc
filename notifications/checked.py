"""DingTalk, WeCom bot, Feishu and Lark: judge a delivery by the vendor's code, not HTTP 200.

These robots answer HTTP 200 with ``{"errcode": 310000, "errmsg": "..."}`` when they
reject a message (wrong token, sign or keyword mismatch, IP not allowed), and apprise's
plugins never read the body, so they report success.

Design: subclass each built-in plugin and override only ``send()``. It runs the original
``send()`` (URL parsing, payload, DingTalk signing all stay apprise's) while a `Probe`
captures the HTTP response, then reads the vendor code from the JSON body. The
subclasses are registered in apprise's plugin manager under the built-in schemas, so
people keep writing the standard ``dingtalk://TOKEN``, ``wecombot://KEY``,
``feishu://TOKEN`` and ``lark://TOKEN`` URLs, and a rejection becomes an ordinary apprise
FAILURE with the vendor's message in the result. Rejected alternatives: rewriting
``send()`` would copy apprise's payload and signing code and drift from it; wrapping
only the HTTP call cannot change the plugin's True; a custom schema would force
non-standard URLs on every office.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, ClassVar

from apprise.manager_plugins import NotificationManager
from apprise.plugins.dingtalk import NotifyDingTalk
from apprise.plugins.feishu import NotifyFeishu
from apprise.plugins.lark import NotifyLark
from apprise.plugins.wecombot import NotifyWeComBot

from . import probe
from .probe import Rejection

_MAX_MESSAGE = 200


@dataclass(frozen=True)
class Vendor:
    """Where a vendor puts its result code and message, and which codes are worth a retry."""

    name: str
    code_keys: tuple[str, ...]
    message_keys: tuple[str, ...]
    transient: frozenset[int]  # busy / rate-limited: the same message may pass later

    def verdict(self, payload: Any) -> Rejection | None:
        """None when the vendor accepted the message, else why not."""
        if not isinstance(payload, dict):
            return Rejection(f"{self.name}: response is not the vendor's JSON", permanent=False)
        codes = [_as_int(payload[k]) for k in self.code_keys if k in payload]
        if not codes:
            keys = "/".join(self.code_keys)
            return Rejection(f"{self.name}: response has no {keys}", permanent=False)
        if 0 in codes:
            return None
        code = codes[0]
        message = next((str(payload[k]) for k in self.message_keys if payload.get(k)), "")
        reason = f"{self.name} errcode {code}: {message}"[:_MAX_MESSAGE].rstrip(": ")
        return Rejection(reason, permanent=code not in self.transient)


def _as_int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# -1: system busy; 130101: DingTalk "send too fast"; 45009: WeCom "api freq out of limit";
# 11232/11233/230020: Feishu flow control; 2200: Feishu internal error.
DINGTALK = Vendor("DingTalk", ("errcode",), ("errmsg",), frozenset({-1, 130101}))
WECOM = Vendor("WeCom", ("errcode",), ("errmsg",), frozenset({-1, 45009}))
FEISHU = Vendor(
    "Feishu",
    ("code", "StatusCode"),
    ("msg", "StatusMessage"),
    frozenset({2200, 11232, 11233, 230020}),
)


class _VendorChecked:
    """Mixin placed before the built-in plugin class; see the module docstring."""

    vendor: ClassVar[Vendor]
    logger: Any

    def send(self, *args: Any, **kwargs: Any) -> bool:
        with probe.observe() as seen:
            seen.status, seen.content = None, None  # judge only this send's response
            ok = super().send(*args, **kwargs)  # type: ignore[misc]
            return self._judge(ok, seen)

    def _judge(self, ok: bool, seen: probe.Probe) -> bool:
        if seen.status is None:
            return ok  # no response at all: the HTTP probe already says why
        payload = seen.payload
        if not ok and not _has_code(self.vendor, payload):
            return False  # a plain HTTP error: its status code classifies it
        rejection = self.vendor.verdict(payload)
        if rejection is None:
            return ok
        if not ok:  # e.g. Feishu rate limits arrive as HTTP 400 with a code
            rejection = Rejection(f"{rejection.reason} (HTTP {seen.status})", rejection.permanent)
        seen.rejection = rejection
        self.logger.warning("Vendor rejected the message: %s", rejection.reason)
        return False


def _has_code(vendor: Vendor, payload: Any) -> bool:
    return isinstance(payload, dict) and any(k in payload for k in vendor.code_keys)


class CheckedDingTalk(_VendorChecked, NotifyDingTalk):
    vendor = DINGTALK


class CheckedWeComBot(_VendorChecked, NotifyWeComBot):
    vendor = WECOM


class CheckedFeishu(_VendorChecked, NotifyFeishu):
    vendor = FEISHU


class CheckedLark(_VendorChecked, NotifyLark):
    vendor = FEISHU


CHECKED: dict[str, type] = {
    "dingtalk": CheckedDingTalk,
    "wecombot": CheckedWeComBot,
    "feishu": CheckedFeishu,
    "lark": CheckedLark,
}

_lock = threading.Lock()


def register() -> None:
    """Map the built-in schemas to the checked classes (idempotent, process-wide)."""
    manager = NotificationManager()
    with _lock:
        for schema, cls in CHECKED.items():
            if manager[schema] is not cls:
                manager.add(plugin=cls, schemas=(schema,), force=True)
