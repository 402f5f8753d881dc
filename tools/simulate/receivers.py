"""The simulated departments' inboxes: a DingTalk-like JSON robot and an SMTP server, on 127.0.0.1.

Every message is recorded with the simulated day it arrived on (the simulation sets `day` before
each run), so the checks can ask "what did this recipient receive on that day". The JSON robot
answers {"errcode": 0} like DingTalk; while a path is set failing it answers HTTP 503 with
{"errcode": 130101}, which apprise's json:// plugin reports as a failure.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from dataclasses import dataclass
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

HOST = "127.0.0.1"
MAIL_DOMAIN = "sim.duban.local"


@dataclass(frozen=True)
class Message:
    """One message as a recipient received it."""

    channel: str  # robot | mail
    tag: str  # the routing tag it was addressed to
    day: date  # the simulated day it arrived on
    title: str
    body: str


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


class Inbox:
    """Everything both receivers got, in arrival order; thread-safe."""

    def __init__(self) -> None:
        self.day = date.min
        self._messages: list[Message] = []
        self._lock = threading.Lock()

    def add(self, channel: str, tag: str, title: str, body: str) -> None:
        with self._lock:
            self._messages.append(Message(channel, tag, self.day, title, body))

    def since(self, index: int) -> list[Message]:
        with self._lock:
            return self._messages[index:]

    def __len__(self) -> int:
        with self._lock:
            return len(self._messages)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A sender killed mid-request resets its connection: expected on the kill day."""


class RobotReceiver:
    """json://127.0.0.1:PORT/TAG: a DingTalk-like robot per tag; `failing` tags are refused."""

    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox
        self.failing: set[str] = set()
        self.refused = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, answer = receiver.handle(self.path.strip("/"), raw)
                payload = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                """Silent: request lines are nobody's business."""

        self.server = _Server((HOST, 0), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def handle(self, tag: str, raw: bytes) -> tuple[int, dict]:
        if tag in self.failing:
            self.refused += 1
            return 503, {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}
        try:
            payload = json.loads(raw or b"{}")
        except ValueError:
            return 400, {"errcode": 40035, "errmsg": "invalid json"}
        self.inbox.add("robot", tag, str(payload.get("title", "")), str(payload.get("message", "")))
        return 200, {"errcode": 0, "errmsg": "ok"}

    def url(self, tag: str) -> str:
        return f"json://{HOST}:{self.port}/{tag}"

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _MailHandler:
    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        message = email.message_from_bytes(envelope.original_content or envelope.content,
                                           policy=email.policy.default)
        body = message.get_body(("plain", "html"))
        text = body.get_content() if body is not None else ""
        for rcpt in envelope.rcpt_tos:
            self.inbox.add("mail", rcpt.split("@", 1)[0], str(message["Subject"] or ""), text)
        return "250 OK"


class MailReceiver:
    """mailto://127.0.0.1:PORT?to=TAG@sim.duban.local: aiosmtpd as the departments' mail server."""

    def __init__(self, inbox: Inbox) -> None:
        self.port = free_port()
        self.controller = Controller(_MailHandler(inbox), hostname=HOST, port=self.port)

    def url(self, tag: str) -> str:
        return (f"mailto://{HOST}:{self.port}?from=duban@{MAIL_DOMAIN}&to={tag}@{MAIL_DOMAIN}"
                "&mode=insecure&format=text")

    def start(self) -> None:
        self.controller.start()

    def close(self) -> None:
        self.controller.stop()
