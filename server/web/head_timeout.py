"""uvicorn's HTTP protocol with a deadline for each request head (request line and headers).

uvicorn closes a keep-alive connection that stays idle after a response (``timeout_keep_alive``),
but nothing bounds the wait for a connection's first byte, and once a byte of a head has come it
waits for the rest for ever: clients dripping a header byte a second hold a connection each for
as long as they like. Here a connection whose head is not complete within the timeout of the
connection opening, or of the first byte of a later head, is closed (with a 408 when part of a
head had come).

Cost per connection: one timer, armed when it opens and cancelled when its first head is in (a
request or a WebSocket upgrade; both usually come in one read). A later head that arrives whole
in one read arms none; a timer is armed only for a head that is still incomplete after a read.

It leans on uvicorn's HTTP protocol classes (httptools and h11 alike): the methods in ``HOOKS``,
the ``transport`` attribute, and ``cycle``, the request/response cycle in progress, which is
replaced when a head is complete. ``protocol_class`` falls back to uvicorn's own class if a
release lacks those methods, and a connection without ``cycle`` is left to uvicorn's own
behaviour, each with a warning: only the timeout is lost.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from uvicorn.protocols.http.auto import AutoHTTPProtocol

log = logging.getLogger(__name__)

HOOKS = ("connection_made", "data_received", "connection_lost", "on_response_complete")
_BODY = orjson.dumps(
    {
        "error": {
            "code": "request_timeout",
            "message": "the request line and headers did not arrive in time",
        }
    }
)
REQUEST_TIMEOUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
    b"content-length: " + str(len(_BODY)).encode() + b"\r\n\r\n" + _BODY
)


class HeadDeadline(asyncio.Protocol):
    """Mixed in before uvicorn's HTTP protocol class; ``protocol_class`` sets the timeout."""

    head_timeout: float
    transport: asyncio.Transport
    # Per connection (class values are the defaults until a connection sets its own).
    _awaiting_head = False
    _head_partial = False
    _cycle_before_head: Any = None
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if not hasattr(self, "cycle"):
            _warn_unsupported("its protocol has no 'cycle' attribute")
            return
        self._await_head()
        self._arm()  # nothing else bounds the wait for a connection's first byte

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if not self._awaiting_head:
            return
        # A complete head starts a new request/response cycle, or hands the transport to a
        # WebSocket protocol.
        cycle = getattr(self, "cycle", None)
        if cycle is not self._cycle_before_head or self.transport.get_protocol() is not self:
            self._stop_waiting()
            return
        self._head_partial = True
        if self._head_timer is None:
            self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        cycle = getattr(self, "cycle", None)
        # A pipelined head may already be in: then the cycle in progress is that request's.
        if cycle is not None and cycle.response_complete and not self.transport.is_closing():
            self._await_head()  # the timer is armed by the first read that is not a head

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_waiting()
        super().connection_lost(exc)

    def _await_head(self) -> None:
        self._awaiting_head = True
        self._head_partial = False
        self._cycle_before_head = getattr(self, "cycle", None)

    def _arm(self) -> None:
        loop = asyncio.get_running_loop()
        self._head_timer = loop.call_later(self.head_timeout, self._head_timed_out)

    def _stop_waiting(self) -> None:
        self._awaiting_head = False
        self._cycle_before_head = None
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport.is_closing():
            return
        if self._head_partial:
            self.transport.write(REQUEST_TIMEOUT)
        self.transport.close()


_warned: set[str] = set()


def _warn_unsupported(reason: str) -> None:
    if reason not in _warned:
        _warned.add(reason)
        log.warning("no request head timeout: uvicorn's HTTP protocol changed (%s)", reason)


def protocol_class(head_timeout: float) -> type[asyncio.Protocol]:
    """The HTTP protocol class uvicorn would pick (httptools if installed, else h11), with a
    deadline of ``head_timeout`` seconds for each request head."""
    base: type[asyncio.Protocol] = AutoHTTPProtocol
    missing = [name for name in HOOKS if not callable(getattr(base, name, None))]
    if missing:
        _warn_unsupported(f"{base.__name__} has no {', '.join(missing)}")
        return base
    name = f"{base.__name__}WithHeadTimeout"
    return type(name, (HeadDeadline, base), {"head_timeout": head_timeout})
