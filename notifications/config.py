"""Load the Apprise YAML routing file, or say precisely what is wrong with it.

Apprise itself skips a broken entry with a log line and carries on, which would silently
cut a department off. We parse the YAML ourselves first, hand the file to apprise, and
if it loaded fewer services than the file declares, find the entry at fault and raise
`NotifyConfigError` naming the file, the entry number and the scheme. Every URL piece
and option value of the file is masked in that message and in apprise's log records
while loading, because a token is exactly what a typo tends to break.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from apprise import Apprise, AppriseAsset, AppriseConfig
from apprise.manager_plugins import NotificationManager
from apprise.plugins import url_to_dict
from apprise.plugins.base import NotifyBase

from . import redact
from .model import NotifyConfigError

_SCHEME = re.compile(r"^\s*([a-z0-9][a-z0-9+.-]*)://", re.IGNORECASE)
_GLOBAL_KEYS = ("version", "tag", "tags", "groups", "asset")
_UNSUPPORTED = {
    "include": "'include:' is not supported; list every URL in this file",
    "template": "'template:' is not supported; write the URLs out in full",
}


def load_services(path: str | os.PathLike[str], asset: AppriseAsset) -> list[NotifyBase]:
    """The services declared in `path`, all of them, or NotifyConfigError."""
    where = os.fspath(path)
    text, data = _read_yaml(where)
    entries = _entries(where, data)
    with redact.loading(_candidate_secrets(entries)):
        _check_schemes(where, entries)
        services = _apprise_load(text, asset)
        if len(services) < sum(_expected_count(e) for e in entries):
            raise _explain(where, data, entries, asset)
    return services


def _read_yaml(where: str) -> tuple[str, Any]:
    try:
        text = Path(where).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise NotifyConfigError(f"{where}: cannot read the notify config: {reason}") from None
    try:
        return text, yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise NotifyConfigError(f"{where}: invalid YAML{_yaml_position(exc)}") from None


def _yaml_position(exc: yaml.YAMLError) -> str:
    """Line, column and problem only: PyYAML's own message quotes the offending line."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or ""
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    return f"{where}: {problem}" if problem else where


def _entries(where: str, data: Any) -> list[Any]:
    if not isinstance(data, dict):
        raise NotifyConfigError(f"{where}: expected a mapping with a 'urls:' list")
    if data.get("version", 1) != 1:
        raise NotifyConfigError(f"{where}: only 'version: 1' Apprise YAML is supported")
    for key, reason in _UNSUPPORTED.items():
        if key in data:
            raise NotifyConfigError(f"{where}: {reason}")
    urls = data.get("urls")
    if not isinstance(urls, list) or not urls:
        raise NotifyConfigError(f"{where}: 'urls:' must be a non-empty list of Apprise URLs")
    for number, entry in enumerate(urls, 1):
        if _scheme(entry) is None:
            raise NotifyConfigError(f"{where}: entry #{number} under 'urls:' has no URL")
    return urls


def _check_schemes(where: str, entries: list[Any]) -> None:
    """Every scheme must be a plugin's, or the URL a vendor's native webhook address."""
    manager = NotificationManager()
    for number, entry in enumerate(entries, 1):
        scheme = _scheme(entry)
        if scheme in manager:
            continue
        if scheme in ("http", "https") and url_to_dict(_url_of(entry)) is not None:
            continue  # e.g. https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=...
        hint = (
            " (a plain web hook is written json://host/path)" if scheme in ("http", "https") else ""
        )
        raise NotifyConfigError(f"{where}: entry #{number}: unknown scheme '{scheme}://'{hint}")


def _url_of(entry: Any) -> str | None:
    if isinstance(entry, str):
        return entry
    if isinstance(entry, dict):
        return next((k for k in entry if isinstance(k, str) and _SCHEME.match(k)), None)
    return None


def _scheme(entry: Any) -> str | None:
    url = _url_of(entry)
    match = _SCHEME.match(url) if url else None
    return match.group(1).lower() if match else None


def _expected_count(entry: Any) -> int:
    """How many services apprise should build from one entry (a list of option sets = N)."""
    if isinstance(entry, dict):
        options = entry.get(_url_of(entry))
        if isinstance(options, list):
            return sum(isinstance(o, dict) for o in options) or 1
    return 1


def _candidate_secrets(entries: list[Any]) -> set[str]:
    """Every URL piece and option value: the loaded services cannot tell us yet."""
    found: set[str] = set()
    for entry in entries:
        url = _url_of(entry) or ""
        found |= redact.url_pieces(_SCHEME.sub("", url))
        found |= {s for s in _scalars(entry) if s != url and len(s) >= 3}
    return found


def _scalars(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _scalars(item)
    elif isinstance(value, list):
        for item in value:
            yield from _scalars(item)
    elif value is not None and not isinstance(value, bool):
        yield str(value)


def _dump(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


def _apprise_load(text: str, asset: AppriseAsset) -> list[NotifyBase]:
    config = AppriseConfig(asset=asset)
    if not config.add_config(text, format="yaml"):
        return []
    return list(config.services())


def _explain(
    where: str, data: dict[str, Any], entries: list[Any], asset: AppriseAsset
) -> Exception:
    """Reload entry by entry to name the first one apprise dropped, and why."""
    shared = {k: data[k] for k in _GLOBAL_KEYS if k in data}
    for number, entry in enumerate(entries, 1):
        with _captured_warnings() as warnings:
            loaded = _apprise_load(_dump({**shared, "urls": [entry]}), asset)
        if len(loaded) < _expected_count(entry):
            reason = _reason(entry, asset) or (warnings[0] if warnings else "")
            detail = f": {redact.REDACTOR.redact(reason)}" if reason else ""
            scheme = _scheme(entry)
            return NotifyConfigError(
                f"{where}: entry #{number} ({scheme}://) could not be loaded{detail}"
            )
    return NotifyConfigError(f"{where}: some URLs could not be loaded")


def _reason(entry: Any, asset: AppriseAsset) -> str | None:
    """The plugin's own complaint about the bare URL, if it has one."""
    url = _url_of(entry)
    try:
        service = Apprise.instantiate(url, asset=asset, suppress_exceptions=False)
    except Exception as exc:
        return str(exc) or type(exc).__name__
    return "the URL could not be parsed" if service is None else None


@contextmanager
def _captured_warnings() -> Iterator[list[str]]:
    """apprise's WARNING+ messages from this thread, already scrubbed by the redactor."""
    messages: list[str] = []
    thread = threading.get_ident()

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.thread == thread:
                messages.append(record.getMessage())

    handler = _Collect(logging.WARNING)
    logger = logging.getLogger("apprise")
    logger.addHandler(handler)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)
