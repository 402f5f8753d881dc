"""A real uvicorn server for tests: the report page on 127.0.0.1 and an ephemeral port."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn

from portal.server import uvicorn_config

HOST = "127.0.0.1"


class LiveServer:
    """A real uvicorn server on 127.0.0.1 and an ephemeral port, in a background thread::

        with LiveServer(create_app(ctx)) as server:
            httpx.get(server.url("/healthz"))
    """

    def __init__(self, app: Any, host: str = HOST) -> None:
        self._socket = socket.create_server((host, 0), backlog=512)
        self.host, self.port = host, int(self._socket.getsockname()[1])
        self.server = uvicorn.Server(uvicorn_config(app, host, self.port, log_level="warning"))
        self._thread = threading.Thread(target=self.server.run, kwargs={
            "sockets": [self._socket]}, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + path

    def __enter__(self) -> LiveServer:
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the report page server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=20)
        self._socket.close()
