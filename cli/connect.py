"""Where the running service is: `duban up` publishes it, every command that needs Prefect reads it.

`duban up` writes $DUBAN_HOME/service.json (0600: the API, UI and page addresses, the base of its
links, its pid) once it is ready and removes it when it stops; the API credential is
$DUBAN_HOME/prefect-auth (0600, one line `user:password`). `connect()` points this process's
PREFECT_* at that server before Prefect is imported (Prefect reads them once, at import), so
`duban chase` or `duban remind` run their flows against the server the supervisors watch, and the
links in what they send lead to the service's page. Prefect-free on purpose, like
cli/processes.py.
"""

from __future__ import annotations

import json
import os
import secrets
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

SERVICE_FILE = "service.json"
AUTH_FILE = "prefect-auth"
AUTH_USER = "duban"
HEARTBEAT_SECONDS = "30"  # Prefect's minimum; a run without heartbeats for 90 s is Crashed

LOCAL_DEFAULTS = {
    # A loaded 2-core machine needs more than Prefect's 20 s to start its temporary server.
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "120",
    # Nothing leaves the machine: no telemetry attempts (and no errors about them).
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
}


LEDGER_PREPARED = "DUBAN_LEDGER_PREPARED"


class NotRunning(RuntimeError):
    """No `duban up` answers for this DUBAN_HOME; the message says what to do, in Chinese."""


def write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read (created 0600, never world-readable in between)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.chmod(path, 0o600)


def auth_string(home: Path) -> tuple[str, bool]:
    """The server's credential `user:password`, generated on first use; (credential, created)."""
    path = home / AUTH_FILE
    if path.exists():
        return path.read_text(encoding="utf-8").strip(), False
    credential = f"{AUTH_USER}:{secrets.token_urlsafe(24)}"
    write_private(path, credential + "\n")
    return credential, True


def publish(home: Path, info: dict[str, Any]) -> Path:
    path = home / SERVICE_FILE
    write_private(path, json.dumps(info, ensure_ascii=False, indent=2) + "\n")
    return path


def withdraw(home: Path) -> None:
    (home / SERVICE_FILE).unlink(missing_ok=True)


def published(home: Path) -> dict[str, Any] | None:
    try:
        return json.loads((home / SERVICE_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def answers(api_url: str, timeout: float = 3.0) -> bool:
    """Whether a Prefect API answers its (open) health endpoint there."""
    try:
        with urllib.request.urlopen(f"{api_url.rstrip('/')}/health", timeout=timeout):
            return True
    except (OSError, ValueError, urllib.error.HTTPError):
        return False


def running_service(home: Path) -> dict[str, Any]:
    """The published service, checked alive; NotRunning otherwise."""
    info = published(home)
    if info is None:
        raise NotRunning(f"duban up 未在运行（{home / SERVICE_FILE} 不存在）。")
    if not answers(info["api_url"]):
        raise NotRunning(f"duban up 未在运行（{info['api_url']} 无应答；上次启动于 "
                         f"{info.get('started', '?')}）。")
    return info


def connect(home: Path, local: bool) -> str:
    """Set PREFECT_* for this process and say where its runs go (a line for the user).

    An explicit PREFECT_API_URL (a work-pool installation) is kept as given; otherwise the server
    `duban up` published for this DUBAN_HOME, with its credential; `local` asks for a temporary
    Prefect server in this process instead (its runs are not seen in the service's UI)."""
    os.environ.setdefault("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", HEARTBEAT_SECONDS)
    if os.environ.get("PREFECT_API_URL"):
        return f"Prefect 服务：{os.environ['PREFECT_API_URL']}（PREFECT_API_URL）"
    if local:
        for name, value in LOCAL_DEFAULTS.items():
            os.environ.setdefault(name, value)
        return "本地运行：启动 Prefect 临时服务（约 5-10 秒），运行记录不进入 duban up 的界面"
    info = running_service(home)
    os.environ["PREFECT_API_URL"] = info["api_url"]
    if info.get("link_url"):  # links in what this command sends reach the service's page
        os.environ.setdefault("DUBAN_PORTAL_URL", info["link_url"])
    os.environ[LEDGER_PREPARED] = "1"  # the service set the ledger up (tasks/chase.py)
    auth = home / AUTH_FILE
    if auth.exists():
        os.environ["PREFECT_API_AUTH_STRING"] = auth.read_text(encoding="utf-8").strip()
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    return f"Prefect 服务：{info['api_url']}（duban up，界面 {info.get('ui_url', '')}）"


NOT_RUNNING_HINT = ("请先在另一个终端运行 `duban up`（同一个 DUBAN_HOME），"
                    "或加 --local 在本进程临时运行（运行记录不会出现在督查人员的界面中）。")
