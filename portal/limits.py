"""Limits applied before a request body is read (pure ASGI, ahead of FastAPI's form parsing).

- A body larger than MAX_REQUEST_BYTES is refused with 413 and a Chinese page: at once when
  Content-Length says so, otherwise as soon as the streamed body passes the cap (chunked uploads
  included), so no more than the cap is ever read or spooled.
- A POST to /r/<token> or /d/<token> whose token is not a live credential gets the failure page
  before a single byte of the body is read: nothing is spooled for a guessed link.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from portal.views import MAX_REQUEST_BYTES, Portal

_TOKEN_PATH = re.compile(r"/([rd])/([^/]{1,300})")


class BodyTooLarge(HTTPException):
    """Raised from the capped body stream; FastAPI passes HTTPExceptions through unchanged."""

    def __init__(self) -> None:
        super().__init__(status_code=413)


class RequestGate:
    """Size and token checks before the body; the body streamed through a byte cap."""

    def __init__(self, app: Any, portal: Portal, max_bytes: int = MAX_REQUEST_BYTES) -> None:
        self.app, self.portal, self.max_bytes = app, portal, max_bytes

    async def __call__(self, scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self.portal.too_large()(scope, receive, send)
            return
        match = _TOKEN_PATH.fullmatch(scope["path"])
        if match and scope["method"] == "POST":
            client = self.portal.client_of(scope)
            answer = await run_in_threadpool(self.portal.gate, match[1], match[2], client)
            if answer is not None:
                await answer(scope, receive, send)
                return
        await self.app(scope, _capped(receive, self.max_bytes), send)


def _content_length(scope: MutableMapping[str, Any]) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _capped(receive: Any, limit: int) -> Any:
    seen = 0

    async def capped() -> MutableMapping[str, Any]:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise BodyTooLarge()
        return message

    return capped
