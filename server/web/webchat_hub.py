"""The hub that pushes frames to open web chat sockets, and the web chat's sender.

A conversation's messages reach every socket open on it (several tabs of one visitor). Messages
are pushed when stored; a visitor who is not connected gets them replayed on reconnect, so the
web chat "send" never fails for lack of a socket. Each socket has one writer at a time (a flush
task that exists only while frames are waiting), so replayed and live frames never interleave
and a message replayed is not pushed again.

A visitor who has not written has no conversation: their sockets wait in the hub under the
visitor, and join the conversation (with a ``conversation`` frame) once the visitor's first write
stores it (``conversation_opened``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

import orjson
from starlette.types import Send

from channels.base import SendOutcome
from channels.webchat import protocol
from server.model import Conversation, Message
from server.runtime import metrics
from server.runtime.rows import message_json
from server.store import sessions

log = logging.getLogger(__name__)

# Told (conversation id, visitor typing) and (conversation id, seq) for agents' consoles.
VisitorTypingListener = Callable[[str, bool], Awaitable[None]]
VisitorReadListener = Callable[[str, int], Awaitable[None]]


class Subscriber:
    """One open socket's outgoing frames, sent in order by one writer at a time.

    Frames wait in ``_outbox`` and a flush task sends them; both exist only while frames are
    waiting, so an idle socket costs this object alone (a queue and a writer task per socket
    were most of an idle session's memory). Until ``start`` (the replay is done) frames are only
    kept: the endpoint is still writing the replay itself.
    """

    __slots__ = ("_closed", "_flusher", "_outbox", "_send", "_started", "replayed_upto", "session")

    def __init__(self, send: Send, session: sessions.WebchatSession) -> None:
        self._send = send
        # The socket's session; the hub moves it onto the visitor's conversation once it opens.
        self.session = session
        self._outbox: deque[dict[str, Any]] | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._started = False
        self._closed = False
        # Messages up to this seq were replayed directly: live pushes of them are skipped.
        self.replayed_upto = 0

    def push(self, frame: dict[str, Any]) -> None:
        if self._closed:
            return
        if self._outbox is None:
            self._outbox = deque()
        self._outbox.append(frame)
        self._flush_soon()

    def start(self, replayed_upto: int) -> None:
        """The replay is written: from now on frames are sent as they come."""
        self.replayed_upto = replayed_upto
        self._started = True
        self._flush_soon()

    async def close(self) -> None:
        """The socket is done: drop what waits, stop the writer."""
        self._closed = True
        self._outbox = None
        flusher, self._flusher = self._flusher, None
        if flusher is not None:
            flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await flusher

    def _flush_soon(self) -> None:
        if self._started and self._flusher is None and self._outbox:
            self._flusher = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        try:
            while self._outbox:
                frame = self._outbox.popleft()
                if frame["type"] == "message" and frame["seq"] <= self.replayed_upto:
                    continue
                await send_frame(self._send, frame)
        except Exception as exc:
            # Nothing more can be written to this socket; its read loop ends on the disconnect.
            # An OSError is the client gone (ASGI servers raise one); anything else is a bug.
            if not isinstance(exc, OSError):
                log.exception("web chat socket writer failed")
            self._closed = True
            self._outbox = None
        finally:
            self._flusher = None
            if not self._outbox:
                self._outbox = None


def client_id_of(row: Mapping[Any, Any]) -> str | None:
    """The browser's ``client_id`` of an inbound message (its idempotency key's last part)."""
    key = row["idempotency_key"]
    if row["direction"] != "inbound" or not key or key.count(":") < 2:
        return None
    return str(key.split(":", 2)[2])


def message_frame(row: Mapping[Any, Any]) -> dict[str, Any]:
    return protocol.message_frame(message_json(row), client_id_of(row))


class WebchatHub:
    def __init__(self) -> None:
        # A tuple per conversation, not a set: nearly every conversation has one socket (one
        # tab), and a one-item tuple is a quarter of the size of the smallest set.
        self._subscribers: dict[str, tuple[Subscriber, ...]] = {}
        # Sockets of visitors with no conversation yet, by (account, visitor id).
        self._waiting: dict[tuple[str, str], tuple[Subscriber, ...]] = {}
        self.typing_listeners: list[VisitorTypingListener] = []
        self.read_listeners: list[VisitorReadListener] = []

    def join(self, subscriber: Subscriber) -> None:
        """Add a socket on its session's conversation, or waiting for the visitor's first one."""
        table, key = self._place(subscriber.session)
        table[key] = (*table.get(key, ()), subscriber)
        metrics.WEBCHAT_SOCKETS.inc()

    def leave(self, subscriber: Subscriber) -> None:
        table, key = self._place(subscriber.session)
        subscribers = table.get(key, ())
        if subscriber not in subscribers:
            return
        remaining = tuple(s for s in subscribers if s is not subscriber)
        if remaining:
            table[key] = remaining
        else:
            del table[key]
        metrics.WEBCHAT_SOCKETS.dec()

    def _place(self, session: sessions.WebchatSession) -> tuple[dict[Any, Any], Any]:
        if session.conversation_id is None:
            return self._waiting, (session.account, session.visitor_id)
        return self._subscribers, session.conversation_id

    def conversation_opened(self, session: sessions.WebchatSession) -> None:
        """The visitor's conversation is stored: the sockets waiting for it join it, told so."""
        for subscriber in self._waiting.get((session.account, session.visitor_id), ()):
            self.move(
                subscriber,
                replace(
                    subscriber.session,
                    contact_id=session.contact_id,
                    conversation_id=session.conversation_id,
                    last_seq=session.last_seq,
                    read_seq=session.read_seq,
                ),
            )

    def move(self, subscriber: Subscriber, session: sessions.WebchatSession) -> None:
        """Put a socket on its session's new conversation and tell the widget."""
        assert session.conversation_id is not None
        self.leave(subscriber)
        subscriber.session = session
        # What was replayed was the previous conversation's: the new one's seqs start at 1, and
        # keeping the mark would skip its first live messages.
        subscriber.replayed_upto = 0
        self.join(subscriber)
        subscriber.push(protocol.conversation_frame(session.conversation_id, session.last_seq))

    def conversation_replaced(self, closed_id: str, conversation_id: str, last_seq: int) -> None:
        """The visitor wrote after ``closed_id`` was closed and the message opened
        ``conversation_id``: the sockets still on the closed one move to it, told so (they would
        otherwise never see the new conversation's messages until they reconnect)."""
        for subscriber in self._subscribers.get(closed_id, ()):
            self.move(
                subscriber,
                replace(
                    subscriber.session,
                    conversation_id=conversation_id,
                    last_seq=last_seq,
                    acked_seq=0,
                    read_seq=0,
                ),
            )

    def publish(
        self, conversation_id: str, frame: dict[str, Any], skip: Subscriber | None = None
    ) -> None:
        for subscriber in self._subscribers.get(conversation_id, ()):
            if subscriber is not skip:
                subscriber.push(frame)

    async def on_message(self, conversation: Mapping[Any, Any], message: Mapping[Any, Any]) -> None:
        if conversation["id"] in self._subscribers:  # most messages have no socket here
            self.publish(conversation["id"], message_frame(message))

    async def on_activity(self, conversation_id: str, busy: bool) -> None:
        self.publish(conversation_id, protocol.typing_frame("bot", busy))

    def agent_typing(self, conversation_id: str, typing: bool) -> None:
        """For the agents area: show an agent typing in the visitor's widget."""
        self.publish(conversation_id, protocol.typing_frame("agent", typing))

    def agent_read(self, conversation_id: str, seq: int) -> None:
        """For the agents area: an agent read the visitor's messages up to ``seq``."""
        self.publish(conversation_id, protocol.read_frame("agent", seq))


class WebchatSender:
    """Outbound on web chat: the hub already pushed the stored message to open sockets."""

    async def send(self, conversation: Conversation, message: Message) -> SendOutcome:
        return SendOutcome(ok=True, provider_message_ids=(message.id,), status="sent")

    async def aclose(self) -> None:
        return None


async def send_frame(send: Send, frame: dict[str, Any]) -> None:
    await send({"type": "websocket.send", "text": orjson.dumps(frame).decode()})
