"""The web chat WebSocket endpoint, the hub that pushes frames to open sockets, and its sender.

A conversation's messages reach every socket open on it (several tabs of one visitor). Messages
are pushed when stored; a visitor who is not connected gets them replayed on reconnect (after the
``after`` query parameter, else after the session's acknowledged seq), so the web chat "send"
never fails for lack of a socket. Each socket has one writer at a time (a flush task that exists
only while frames are waiting), so replayed and live frames never interleave and a message
replayed is not pushed again.

The endpoint is a plain ASGI app, served ahead of Starlette's middleware and router
(``server.web.front``): a process holds tens of thousands of idle sockets, and what an idle socket
keeps alive is every coroutine suspended under its ``receive`` plus the objects they reference.
So an idle socket here is the server's own connection state, this endpoint's coroutine, the
session and a small ``Subscriber``: no Starlette ``WebSocket``, no queue, no second task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import orjson
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.datastructures import QueryParams
from starlette.types import Message as AsgiMessage
from starlette.types import Receive, Scope, Send

from channels.base import SendOutcome
from channels.webchat import protocol
from server.model import Conversation, MediaPart, Message
from server.runtime import metrics
from server.runtime.rows import message_json
from server.store import Store, sessions
from server.store.schema import conversations
from server.web import webchat_identity
from server.web.webchat_config import AccountConfig, WebchatConfig
from server.web.webchat_proactive import start_proactively
from server.web.webchat_uploads import UploadStore

log = logging.getLogger(__name__)

SOCKET_PATH = "/channels/webchat/ws"
MAX_FRAME_BYTES = 64 * 1024
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
CLOSE_POLICY = 4403  # identity refused or origin not allowed: the widget must not retry as is

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

    __slots__ = ("_closed", "_flusher", "_outbox", "_send", "_started", "replayed_upto")

    def __init__(self, send: Send) -> None:
        self._send = send
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
        self.typing_listeners: list[VisitorTypingListener] = []
        self.read_listeners: list[VisitorReadListener] = []

    def join(self, conversation_id: str, subscriber: Subscriber) -> None:
        self._subscribers[conversation_id] = (
            *self._subscribers.get(conversation_id, ()),
            subscriber,
        )
        metrics.WEBCHAT_SOCKETS.inc()

    def leave(self, conversation_id: str, subscriber: Subscriber) -> None:
        subscribers = self._subscribers.get(conversation_id, ())
        if subscriber not in subscribers:
            return
        remaining = tuple(s for s in subscribers if s is not subscriber)
        if remaining:
            self._subscribers[conversation_id] = remaining
        else:
            del self._subscribers[conversation_id]
        metrics.WEBCHAT_SOCKETS.dec()

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


async def _refuse(send: Send, code: str, message: str) -> None:
    """Tell the widget why, then close with the code it does not retry on."""
    await send_frame(send, protocol.error_frame(code, message))
    await send({"type": "websocket.close", "code": CLOSE_POLICY})


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _verified_user(query: QueryParams, account: AccountConfig) -> tuple[str | None, str | None]:
    """(user id, refusal reason): the signed-in app user the page claims, checked."""
    user_id = query.get("user_id")
    given = query.get("user_hash", "")
    if not user_id:
        if account.require_identity:
            return None, "this chat requires a signed-in user (Threadline.identify)"
        return None, None
    if account.identity_secret is None:
        return None, "identity signing is not configured for this channel"
    if not webchat_identity.verify(user_id, given, account.identity_secret):
        return None, "user_hash does not match user_id"
    return user_id, None


def _after(query: QueryParams) -> int | None:
    """The ``after`` query parameter: replay after this seq (None: after the acked seq)."""
    try:
        value = query.get("after")
        return max(int(value), 0) if value is not None else None
    except ValueError:
        return None


def prechat_state(account: AccountConfig, contact: Mapping[Any, Any] | None) -> str:
    if not account.prechat:
        return "none"
    attributes = dict(contact["attributes"] or {}) if contact is not None else {}
    return "done" if any(f.name in attributes for f in account.prechat) else "required"


def validate_prechat(
    account: AccountConfig, given: dict[str, str]
) -> tuple[dict[str, str], str | None]:
    """(attributes to store, problem): only configured fields, required ones present."""
    values: dict[str, str] = {}
    for spec in account.prechat:
        value = given.get(spec.name, "").strip()
        if not value:
            if spec.required:
                return {}, f"field '{spec.name}' is required"
            continue
        if spec.type == "email" and not EMAIL.match(value):
            return {}, f"field '{spec.name}' must be an email address"
        if spec.options and value not in spec.options:
            return {}, f"field '{spec.name}' must be one of {', '.join(spec.options)}"
        values[spec.name] = value
    return values, None


async def remember_prechat(store: Store, conversation_id: str, values: dict[str, str]) -> None:
    """This conversation's pre-chat answers, in its context, for the agent who takes it."""

    async def op(conn: AsyncConnection) -> None:
        where = conversations.c.id == conversation_id
        current = (await conn.execute(select(conversations.c.context).where(where))).scalar()
        context = {**(current or {}), "prechat": values}
        await conn.execute(update(conversations).where(where).values(context=context))

    await store.write(op)


class WebchatRoute:
    """The endpoint as a Starlette route (an ASGI app, so Starlette adds no ``WebSocket``)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await serve_socket(scope["app"].state, scope, receive, send)


async def serve_socket(state: Any, scope: Scope, receive: Receive, send: Send) -> None:
    """One web chat WebSocket: handshake, session, replay, then client frames until it closes.

    One coroutine for the socket's whole life (its frame is what an idle socket keeps), so the
    opening is a call of its own and each client frame is handled in a call of its own.
    """
    if (await receive())["type"] != "websocket.connect":
        return
    try:
        await send({"type": "websocket.accept"})
        opened = await _open(state, scope, send)
    except OSError:
        return  # ASGI servers raise an OSError from ``send`` once the client has gone
    if opened is None:
        return
    session, account, after, greet = opened
    del opened  # nothing of the opening outlives it
    hub: WebchatHub = state.webchat_hub
    subscriber = Subscriber(send)
    # Joined before the replay, so nothing stored meanwhile is missed; the subscriber holds
    # live frames until the replay is written.
    hub.join(session.conversation_id, subscriber)
    try:
        replayed = await _replay(state.store, session, after, send)
        if replayed is None:
            return
        subscriber.start(replayed)
        if greet:
            start_proactively(state.runtime, session.conversation_id)
        while await _on_message(await receive(), state, session, account, subscriber):
            pass
    finally:
        hub.leave(session.conversation_id, subscriber)
        await subscriber.close()


async def _open(
    state: Any, scope: Scope, send: Send
) -> tuple[sessions.WebchatSession, AccountConfig, int | None, bool] | None:
    """Check the socket's origin and identity, open its session and send the session frame.

    Returns (session, account, ``after``, whether the flow greets now), or None when the socket
    was refused. What only the opening needs (query, contact row) is freed when it returns.
    """
    store: Store = state.store
    config: WebchatConfig = state.webchat_config
    query = QueryParams(scope["query_string"])
    account_name = query.get("channel") or "default"
    account = config.account(account_name)
    if not account.origin_allowed(_header(scope, b"origin")):
        await _refuse(send, "origin_not_allowed", "origin not allowed")
        return None
    user_id, refusal = _verified_user(query, account)
    if refusal is not None:
        await _refuse(send, "bad_identity", refusal)
        return None
    session, unknown = await sessions.open_session(store, query.get("token"), account_name, user_id)
    if unknown:
        error = protocol.error_frame("invalid_token", "unknown session; starting anew")
        await send_frame(send, error)
    account = config.account(session.account)
    # The contact is read only when a pre-chat form is configured: nothing else needs it.
    contact = await store.contact(session.contact_id) if account.prechat else None
    prechat = prechat_state(account, contact)
    await send_frame(
        send,
        protocol.session_frame(
            session.token,
            session.conversation_id,
            session.resumed,
            channel=session.account,
            user_id=session.user_id,
            last_seq=session.last_seq,
            acked_seq=session.acked_seq,
            read_seq=session.read_seq,
            prechat=prechat,
        ),
    )
    greet = session.new_conversation and account.greeting and prechat != "required"
    return session, account, _after(query), greet


async def _replay(
    store: Store, session: sessions.WebchatSession, after: int | None, send: Send
) -> int | None:
    """Send the stored messages this socket is owed; the last seq sent, None if the client left."""
    # A conversation new to this socket owes it everything, whatever the browser had seen.
    fresh = session.new_conversation or not session.resumed
    replayed = 0 if fresh else session.acked_seq if after is None else after
    try:
        for row in await store.messages(session.conversation_id, after_seq=replayed):
            await send_frame(send, message_frame(row))
            replayed = row["seq"]
    except OSError:
        return None
    return replayed


async def _on_message(
    message: AsgiMessage,
    state: Any,
    session: sessions.WebchatSession,
    account: AccountConfig,
    subscriber: Subscriber,
) -> bool:
    """One ASGI message from the socket; False once the socket is closed."""
    if message["type"] != "websocket.receive":
        return False
    raw: str | None = message.get("text")
    if raw is None:
        subscriber.push(protocol.error_frame("bad_frame", "frames must be JSON text frames"))
    elif len(raw) > MAX_FRAME_BYTES:
        subscriber.push(protocol.error_frame("too_large", "frame is too large"))
    else:
        frame = protocol.parse_frame(raw, max_chars=state.settings.max_text_chars)
        reply = await _handle(frame, session, account, state.webchat_uploads, subscriber, state)
        if reply is not None:
            subscriber.push(reply)
    return True


async def _handle(
    frame: protocol.ClientFrame | protocol.FrameError,
    session: sessions.WebchatSession,
    account: AccountConfig,
    uploads: UploadStore,
    subscriber: Subscriber,
    state: Any,
) -> dict[str, Any] | None:
    """One client frame; returns the frame to answer with, if any."""
    store, runtime, hub = state.store, state.runtime, state.webchat_hub
    conversation_id = session.conversation_id
    if isinstance(frame, protocol.FrameError):
        return protocol.error_frame(frame.code, frame.message)
    if isinstance(frame, protocol.ChatMessage):
        media: list[MediaPart] = []
        for upload_id in frame.attachments:
            stored = uploads.get(upload_id)
            if stored is None or stored.token_hash != sessions.token_hash(session.token):
                return protocol.error_frame("bad_attachment", f"unknown upload {upload_id!r}")
            media.append(stored.media_part())
        envelope = protocol.envelope(
            frame, visitor_id=session.visitor_id, account=session.account, media=tuple(media)
        )
        await runtime.receive(envelope)
    elif isinstance(frame, protocol.Ack):
        await sessions.acknowledge(store, session.token, frame.seq)
    elif isinstance(frame, protocol.Read):
        seq = await sessions.mark_read(store, conversation_id, sessions.VISITOR_READER, frame.seq)
        # Other tabs of the same visitor clear their unread count too.
        hub.publish(conversation_id, protocol.read_frame("visitor", seq), skip=subscriber)
        for read_listener in hub.read_listeners:
            await read_listener(conversation_id, seq)
    elif isinstance(frame, protocol.Typing):
        for typing_listener in hub.typing_listeners:
            await typing_listener(conversation_id, frame.typing)
    elif isinstance(frame, protocol.History):
        start = max(frame.before - frame.limit - 1, 0)
        rows = await store.messages(conversation_id, after_seq=start, limit=frame.limit)
        page = [message_frame(row) for row in rows if row["seq"] < frame.before]
        return protocol.history_frame(page, frame.before, more=start > 0)
    elif isinstance(frame, protocol.Prechat):
        values, problem = validate_prechat(account, frame.fields)
        if problem is not None:
            return protocol.error_frame("bad_prechat", problem)
        display_name = values.get("name") or (
            " ".join(v for k in ("first_name", "last_name") if (v := values.get(k))) or None
        )
        await sessions.save_prechat(store, session.contact_id, values, display_name)
        await remember_prechat(store, conversation_id, values)
        if account.greeting:
            start_proactively(runtime, conversation_id)
        return {"type": "prechat_saved", "fields": sorted(values)}
    elif isinstance(frame, protocol.Ping):
        return {"type": "pong"}
    return None
