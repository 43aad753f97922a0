"""uvicorn's sans-I/O WebSocket protocol with lighter state per connection.

A process holds tens of thousands of idle web chat sockets, and per socket uvicorn keeps an
``asyncio.Queue`` of ASGI events (three deques and two waiter lists), an ``asyncio.Event`` for
write flow control, and the handshake's request and response (headers included) for the socket's
whole life. tracemalloc put those at about 5 KiB of an idle socket's 20. This subclass, passed as
uvicorn's ``ws`` protocol class, replaces the queue and the event with minimal equivalents and
lets the handshake go once the socket is accepted.

It leans on four attribute names of uvicorn's ``WebSocketsSansIOProtocol`` (``queue``,
``writable``, ``request``, ``response``). Each replacement checks what it replaces first, so if a
uvicorn release changes them the stock behaviour stays: only the saving is lost.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol


class Mailbox:
    """The part of ``asyncio.Queue`` uvicorn uses (one consumer): allocates only when used."""

    __slots__ = ("_items", "_waiter")

    def __init__(self) -> None:
        self._items: deque[Any] | None = None
        self._waiter: asyncio.Future[None] | None = None

    def put_nowait(self, item: Any) -> None:
        if self._items is None:
            self._items = deque()
        self._items.append(item)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def empty(self) -> bool:
        return not self._items

    def qsize(self) -> int:
        return len(self._items) if self._items else 0

    async def get(self) -> Any:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        item = self._items.popleft()
        if not self._items:
            self._items = None
        return item


class Flag:
    """The part of ``asyncio.Event`` uvicorn uses: no waiter list until someone waits."""

    __slots__ = ("_is_set", "_waiters")

    def __init__(self, is_set: bool = False) -> None:
        self._is_set = is_set
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._is_set

    def set(self) -> None:
        self._is_set = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._is_set = False

    async def wait(self) -> None:
        if self._is_set:
            return
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        await waiter


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.failed = False  # the connection failed (see handle_parser_exception)
        if isinstance(getattr(self, "queue", None), asyncio.Queue):
            self.queue = Mailbox()  # type: ignore[assignment]
        writable = getattr(self, "writable", None)
        if isinstance(writable, asyncio.Event):
            self.writable = Flag(writable.is_set())  # type: ignore[assignment]

    async def send(self, message: Any) -> None:
        if self.failed:
            # As when the transport is gone: the app's frames and close have nowhere to go.
            raise ClientDisconnected()
        await super().send(message)
        if message["type"] == "websocket.accept":
            # The handshake is done: its request and response (headers and all) are not needed
            # for the rest of the socket's life.
            for name in ("request", "response"):
                if hasattr(self, name):
                    setattr(self, name, None)

    def handle_parser_exception(self) -> None:
        """Fail the connection (a frame past ``ws_max_size``: 1009, or invalid UTF-8: 1007) with
        the close frame delivered. uvicorn writes the close frame and closes the transport at
        once, while the rest of the refused frame is still unread: the kernel then resets the
        connection and the client may lose the close frame, a socket dropped without one (found
        by tests/fuzz). As websockets' own servers do, this half-closes instead (the close
        frame, then EOF), reads and discards what still comes, and closes when the client has
        closed its side (``eof_received``), or after ``close_timeout``."""
        if self.close_sent:
            return  # more of what follows the refused frame: the protocol discards it
        self.failed = True
        close = self.conn.close_sent
        assert close is not None  # the protocol failed the connection, so it sent a close frame
        self.queue.put_nowait(
            {"type": "websocket.disconnect", "code": close.code, "reason": close.reason}
        )
        output = self.conn.data_to_send()
        self.transport.write(b"".join(output))
        self.close_sent = True
        if output and output[-1] == b"" and self.transport.can_write_eof():
            self.transport.write_eof()  # websockets' sign for "half-close now"
        self.close_timer = self.loop.call_later(self.close_timeout, self.transport.close)
