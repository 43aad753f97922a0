"""The web chat WebSocket endpoint, the hub that pushes frames to open sockets, and its sender.

A conversation's messages reach every socket open on it (several tabs of one visitor). Messages
are pushed when stored; a visitor who is not connected gets them replayed on reconnect (after the
``after`` query parameter, else after the session's acknowledged seq), so the web chat "send"
never fails for lack of a socket. Each socket has one writer task draining a queue, so replayed
and live frames never interleave and a message replayed is not pushed again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection
from starlette.websockets import WebSocket, WebSocketDisconnect

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

MAX_FRAME_BYTES = 64 * 1024
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
CLOSE_POLICY = 4403  # identity refused or origin not allowed: the widget must not retry as is

# Told (conversation id, visitor typing) and (conversation id, seq) for agents' consoles.
VisitorTypingListener = Callable[[str, bool], Awaitable[None]]
VisitorReadListener = Callable[[str, int], Awaitable[None]]


@dataclass(eq=False)
class Subscriber:
    """One open socket: frames queue here and its writer task sends them in order."""

    queue: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    # Messages up to this seq were replayed directly: live pushes of them are skipped.
    replayed_upto: int = 0


def client_id_of(row: RowMapping) -> str | None:
    """The browser's ``client_id`` of an inbound message (its idempotency key's last part)."""
    key = row["idempotency_key"]
    if row["direction"] != "inbound" or not key or key.count(":") < 2:
        return None
    return str(key.split(":", 2)[2])


def message_frame(row: RowMapping) -> dict[str, Any]:
    return protocol.message_frame(message_json(row), client_id_of(row))


class WebchatHub:
    def __init__(self) -> None:
        self._subscribers: dict[str, set[Subscriber]] = {}
        self.typing_listeners: list[VisitorTypingListener] = []
        self.read_listeners: list[VisitorReadListener] = []

    def join(self, conversation_id: str, subscriber: Subscriber) -> None:
        self._subscribers.setdefault(conversation_id, set()).add(subscriber)
        metrics.WEBCHAT_SOCKETS.inc()

    def leave(self, conversation_id: str, subscriber: Subscriber) -> None:
        subscribers = self._subscribers.get(conversation_id)
        if subscribers and subscriber in subscribers:
            subscribers.discard(subscriber)
            metrics.WEBCHAT_SOCKETS.dec()
            if not subscribers:
                del self._subscribers[conversation_id]

    def publish(
        self, conversation_id: str, frame: dict[str, Any], skip: Subscriber | None = None
    ) -> None:
        for subscriber in self._subscribers.get(conversation_id, ()):
            if subscriber is not skip:
                subscriber.queue.put_nowait(frame)

    async def on_message(self, conversation: RowMapping, message: RowMapping) -> None:
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


async def _send(socket: WebSocket, frame: dict[str, Any]) -> None:
    await socket.send_text(orjson.dumps(frame).decode())


async def _writer(socket: WebSocket, subscriber: Subscriber) -> None:
    while True:
        frame = await subscriber.queue.get()
        if frame["type"] == "message" and frame["seq"] <= subscriber.replayed_upto:
            continue
        await _send(socket, frame)


def _verified_user(socket: WebSocket, account: AccountConfig) -> tuple[str | None, str | None]:
    """(user id, refusal reason): the signed-in app user the page claims, checked."""
    user_id = socket.query_params.get("user_id")
    given = socket.query_params.get("user_hash", "")
    if not user_id:
        if account.require_identity:
            return None, "this chat requires a signed-in user (Threadline.identify)"
        return None, None
    if account.identity_secret is None:
        return None, "identity signing is not configured for this channel"
    if not webchat_identity.verify(user_id, given, account.identity_secret):
        return None, "user_hash does not match user_id"
    return user_id, None


def prechat_state(account: AccountConfig, contact: RowMapping | None) -> str:
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


async def webchat_endpoint(socket: WebSocket) -> None:
    state = socket.app.state
    store, runtime, hub = state.store, state.runtime, state.webchat_hub
    config: WebchatConfig = state.webchat_config
    uploads: UploadStore = state.webchat_uploads
    settings = state.settings
    await socket.accept()
    token = socket.query_params.get("token")
    account_name = socket.query_params.get("channel") or "default"
    account = config.account(account_name)
    if not account.origin_allowed(socket.headers.get("origin")):
        await _send(socket, protocol.error_frame("origin_not_allowed", "origin not allowed"))
        await socket.close(CLOSE_POLICY)
        return
    user_id, refusal = _verified_user(socket, account)
    if refusal is not None:
        await _send(socket, protocol.error_frame("bad_identity", refusal))
        await socket.close(CLOSE_POLICY)
        return
    try:
        after_param = socket.query_params.get("after")
        after = max(int(after_param), 0) if after_param is not None else None
    except ValueError:
        after = None
    session, unknown = await sessions.open_session(store, token, account_name, user_id)
    if unknown:
        await _send(socket, protocol.error_frame("invalid_token", "unknown session; starting anew"))
    account = config.account(session.account)
    contact = await store.contact(session.contact_id)
    prechat = prechat_state(account, contact)
    await _send(
        socket,
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
    subscriber = Subscriber()
    hub.join(session.conversation_id, subscriber)
    writer: asyncio.Task[None] | None = None
    try:
        # A conversation new to this socket owes it everything, whatever the browser had seen.
        fresh = session.new_conversation or not session.resumed
        replay_from = 0 if fresh else session.acked_seq if after is None else after
        replayed = replay_from
        for row in await store.messages(session.conversation_id, after_seq=replay_from):
            await _send(socket, message_frame(row))
            replayed = row["seq"]
        subscriber.replayed_upto = replayed
        writer = asyncio.create_task(_writer(socket, subscriber))
        if session.new_conversation and account.greeting and prechat != "required":
            start_proactively(runtime, session.conversation_id)
        while True:
            raw = await socket.receive_text()
            if len(raw) > MAX_FRAME_BYTES:
                subscriber.queue.put_nowait(protocol.error_frame("too_large", "frame is too large"))
                continue
            frame = protocol.parse_frame(raw, max_chars=settings.max_text_chars)
            reply = await _handle(frame, session, account, uploads, subscriber, state)
            if reply is not None:
                subscriber.queue.put_nowait(reply)
    except WebSocketDisconnect:
        pass
    finally:
        hub.leave(session.conversation_id, subscriber)
        if writer is not None:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer


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
