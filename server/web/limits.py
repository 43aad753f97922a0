"""A bound on request bodies, enforced while reading, before any handler buffers the body."""

from __future__ import annotations

from collections.abc import Mapping

import anyio
import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# After refusing a body that is still arriving, the server reads and throws away this much more
# of it (for at most DISCARD_SECONDS) before closing the connection. Clients mostly read the
# answer only once they have sent everything, and closing on unread data resets the connection,
# which loses the 413 they were about to read; past this bound they lose it all the same.
DISCARD_BYTES = 8 * 1024 * 1024
DISCARD_SECONDS = 10.0


class BodyTooLarge(Exception):
    """``more``: the refused body has not ended, the client is still sending it."""

    def __init__(self, more: bool = True) -> None:
        super().__init__()
        self.more = more


def declared_length(scope: Scope) -> int | None:
    """The request's Content-Length, or None when it has none (a chunked body) or a bad one."""
    for name, value in scope.get("headers") or ():
        if name == b"content-length":
            return content_length(value)
    return None


# More digits than any length a body can have (2**63 has 19), fewer than int()'s limit (4,300).
_LENGTH_DIGITS = 30


def content_length(value: bytes) -> int | None:
    """A Content-Length header value as a number, or None when it is not one. Leading zeros are
    legal and the HTTP parser lets any number of them through: ``int()`` refused 5,001 digits
    with a ValueError, a 500 (found by tests/fuzz). A longer value than any body is read as
    one byte past the longest."""
    if not value.isdigit():
        return None
    significant = value.lstrip(b"0") or b"0"
    return int(significant) if len(significant) <= _LENGTH_DIGITS else 10**_LENGTH_DIGITS


def limited_receive(receive: Receive, max_bytes: int) -> Receive:
    """``receive`` counting body bytes as they arrive; raises BodyTooLarge past ``max_bytes``."""
    received = 0

    async def counting() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > max_bytes:
                raise BodyTooLarge(more=bool(message.get("more_body", False)))
        return message

    return counting


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The whole body, or BodyTooLarge as soon as it is known to be longer than ``max_bytes``:
    at once for a declared length, else when the count of what arrived passes it."""
    declared = declared_length(request.scope)
    if declared is not None and declared > max_bytes:
        raise BodyTooLarge
    receive = limited_receive(request.receive, max_bytes)
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


class TooLarge(JSONResponse):
    """The 413 for a refused body. When the client is still sending, the answer goes out at once
    and the rest is read and discarded (within DISCARD_BYTES and DISCARD_SECONDS), so that the
    client can read the answer once it has sent; then the connection is closed."""

    def __init__(
        self,
        refused: BodyTooLarge,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.more = refused.more
        extra = {"Connection": "close"} if self.more else {}
        body = {"error": {"code": code, "message": message}}
        super().__init__(body, status_code=413, headers={**(headers or {}), **extra})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.more:
            await super().__call__(scope, receive, send)
            return
        start = {"type": "http.response.start", "status": 413, "headers": self.raw_headers}
        await send(start)
        await send({"type": "http.response.body", "body": self.body, "more_body": True})
        with anyio.move_on_after(DISCARD_SECONDS):
            await _discard(receive, DISCARD_BYTES)
        await send({"type": "http.response.body", "body": b""})


async def _discard(receive: Receive, max_bytes: int) -> None:
    discarded = 0
    while discarded <= max_bytes:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return
        discarded += len(message.get("body", b""))


class BodySizeLimit:
    """``exempt`` path prefixes are upload routes that enforce their own, larger, limits."""

    def __init__(self, app: ASGIApp, max_bytes: int, exempt: tuple[str, ...] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.exempt):
            await self.app(scope, receive, send)
            return
        declared = declared_length(scope)
        if declared is not None:
            if declared > self.max_bytes:
                await self._reject(send)
                return
            # The HTTP server delivers no more body than the declared length, so a request
            # within the bound needs no counting (most requests: it saves two wrappers a call).
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive(receive, self.max_bytes), tracking_send)
        except BodyTooLarge:
            if not started:
                await self._reject(send)

    async def _reject(self, send: Send) -> None:
        body = orjson.dumps(
            {
                "error": {
                    "code": "body_too_large",
                    "message": f"request body is larger than {self.max_bytes} bytes",
                }
            }
        )
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})
