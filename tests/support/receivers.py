"""Real local servers for notification tests: HTTP, SMTP and a silent TCP port.

Every server binds 127.0.0.1 on an ephemeral port, runs in background threads and is a
context manager, so a test never reaches a public host and never collides on ports::

    with HttpReceiver() as http:
        http.reply("/robot/send", Reply(json={"errcode": 0, "errmsg": "ok"}))
        ...  # point a client at http.url("/robot/send")
        assert http.requests[0].json["msgtype"] == "text"

    with SmtpReceiver() as smtp:
        ...  # send to mailto://127.0.0.1:{smtp.port}?from=a@x.org&to=b@x.org
        mail = smtp.wait_for(1)[0]
        assert mail.message["Subject"] == "督办提醒"

    with SilentServer() as silent:  # accepts TCP connections, never answers
        ...  # a client with a 1 s read timeout gives up after ~1 s

`refused_port()` gives a port where connections are refused (a dead peer), and
`local_network_only()` makes any lookup of a non-local host fail, as a guard against a
vendor URL that was not redirected to a local receiver.
"""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

HOST = "127.0.0.1"


def _wait(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.01)


# -- HTTP ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """How to answer a request: status, JSON body (or raw bytes), after `delay` seconds."""

    status: int = 200
    json: Any = None
    body: bytes | None = None
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> bytes:
        if self.body is not None:
            return self.body
        return json.dumps({} if self.json is None else self.json).encode()


@dataclass(frozen=True)
class RecordedRequest:
    """One request as received. `path` excludes the query; `query` maps name -> first value."""

    method: str
    target: str  # path and query exactly as sent
    headers: dict[str, str]
    body: bytes
    received_at: float  # time.monotonic() on arrival

    @property
    def path(self) -> str:
        return urlsplit(self.target).path

    @property
    def query(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.target).query).items()}

    @property
    def json(self) -> Any:
        """The body decoded as JSON, or None if it is not JSON."""
        try:
            return json.loads(self.body)
        except ValueError:
            return None


class HttpReceiver:
    """A threaded HTTP server that records every request and answers per path.

    `reply(path, *replies)` sets the answers for a path (query ignored): they are used
    in order and the last one repeats, so `reply(p, Reply(500), Reply(200))` fails once
    then succeeds. Unconfigured paths get `default`. Requests are recorded *before* the
    reply's delay, so a slow reply is still visible to the test.
    """

    def __init__(self, default: Reply | None = None) -> None:
        self.default = default or Reply(json={"ok": True})
        self._replies: dict[str, list[Reply]] = {}
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._server = _HttpServer((HOST, 0), _make_handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str = "/") -> str:
        """http://127.0.0.1:PORT/path"""
        return f"http://{HOST}:{self.port}{path}"

    def reply(self, path: str, *replies: Reply) -> None:
        with self._lock:
            self._replies[path] = list(replies)

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of everything received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path]

    def wait_for(
        self, count: int, timeout: float = 5.0, path: str | None = None
    ) -> list[RecordedRequest]:
        """Block until at least `count` requests (to `path`, if given) have arrived."""

        def seen() -> list[RecordedRequest]:
            return self.requests_to(path) if path else self.requests

        _wait(lambda: len(seen()) >= count, timeout, f"{count} HTTP request(s)")
        return seen()

    def _record(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self._requests.append(request)
            queue = self._replies.get(request.path)
            if not queue:
                return self.default
            return queue.pop(0) if len(queue) > 1 else queue[0]

    def __enter__(self) -> HttpReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the default 5 drops SYNs under a 32-thread benchmark


def _make_handler(receiver: HttpReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            reply = receiver._record(
                RecordedRequest(
                    self.command, self.path, dict(self.headers.items()), body, time.monotonic()
                )
            )
            if reply.delay:
                time.sleep(reply.delay)
            payload = reply.encoded()
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = _handle

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            """Silence: the default writes request lines (tokens included) to stderr."""

    return Handler


# -- SMTP ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedMail:
    """One accepted message. `raw` is exactly what came over the wire (CRLF line ends)."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes

    @property
    def message(self) -> EmailMessage:
        """Parsed with email.policy.default after CRLF -> LF, as a Unix mail store keeps it,
        so decoded text bodies read "line1\nline2" rather than "line1\r\nline2"."""
        unix = self.raw.replace(b"\r\n", b"\n")
        parsed = email.message_from_bytes(unix, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


class _Recorder:
    def __init__(self, sink: list[RecordedMail], lock: threading.Lock) -> None:
        self._sink, self._lock = sink, lock

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        mail = RecordedMail(str(envelope.mail_from), list(envelope.rcpt_tos), raw)
        with self._lock:
            self._sink.append(mail)
        return "250 Message accepted for delivery"


class _EphemeralController(Controller):
    """aiosmtpd's Controller cannot self-test a port-0 server; learn the port first."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpReceiver:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that records every accepted message.

    With `login=(user, password)` it advertises AUTH without TLS and accepts only that
    pair, so tests can exercise URLs that carry a password.
    """

    def __init__(self, login: tuple[str, str] | None = None) -> None:
        self._mails: list[RecordedMail] = []
        self._lock = threading.Lock()
        options: dict[str, Any] = {}
        if login is not None:
            options = {"authenticator": _Authenticator(*login), "auth_require_tls": False}
        self._controller = _EphemeralController(
            _Recorder(self._mails, self._lock), hostname=HOST, port=0, **options
        )
        self.port = 0

    @property
    def messages(self) -> list[RecordedMail]:
        with self._lock:
            return list(self._mails)

    def wait_for(self, count: int, timeout: float = 5.0) -> list[RecordedMail]:
        _wait(lambda: len(self.messages) >= count, timeout, f"{count} mail(s)")
        return self.messages

    def __enter__(self) -> SmtpReceiver:
        self._controller.start()
        self.port = self._controller.port
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()


class _Authenticator:
    def __init__(self, user: str, password: str) -> None:
        self._expected = (user.encode(), password.encode())

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and (auth_data.login, auth_data.password) == self._expected
        )
        return AuthResult(success=ok)


# -- TCP -------------------------------------------------------------------------------


class SilentServer:
    """Accepts TCP connections and never sends a byte: a hung peer.

    Clients connect instantly and then wait for their read timeout.
    """

    def __init__(self) -> None:
        self._socket = socket.create_server((HOST, 0), backlog=64)
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def port(self) -> int:
        return int(self._socket.getsockname()[1])

    @property
    def connections(self) -> int:
        return len(self._held)

    def _accept(self) -> None:
        self._socket.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = self._socket.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._held.append(conn)

    def __enter__(self) -> SilentServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in self._held:
            conn.close()
        self._socket.close()


@contextmanager
def local_network_only() -> Iterator[None]:
    """Fail any name lookup other than 127.0.0.1/localhost: a test must never go public.

    Every client (requests/urllib3, smtplib) resolves through socket.getaddrinfo first,
    so a vendor host that was not patched to the local receiver fails loudly.
    """
    real = socket.getaddrinfo
    allowed = {"127.0.0.1", "localhost", "::1", b"127.0.0.1", b"localhost"}

    def guarded(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in allowed:
            raise socket.gaierror(f"test tried to resolve a non-local host: {host!r}")
        return real(host, *args, **kwargs)

    socket.getaddrinfo = guarded
    try:
        yield
    finally:
        socket.getaddrinfo = real


def refused_port() -> int:
    """A local port with nothing listening (bound then released): connections are refused."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])
