"""The web chat WebSocket endpoint (the hub and the sender are in ``webchat_hub``).

A visitor who was not connected gets the conversation's messages replayed on reconnect (after the
``after`` query parameter, else after the session's acknowledged seq); from then on the hub
pushes them as they are stored.

The endpoint is a plain ASGI app, served ahead of Starlette's middleware and router
(``server.web.front``): a process holds tens of thousands of idle sockets, and what an idle socket
keeps alive is every coroutine suspended under its ``receive`` plus the objects they reference.
So an idle socket here is the server's own connection state, this endpoint's coroutine, the
session and a small ``Subscriber``: no Starlette ``WebSocket``, no queue, no second task.

Opening a socket stores nothing (``server.store.sessions``): the visitor's rows are stored when
they first write (a message, a pre-chat answer, opening a greeting account's chat), and their
sockets waiting in the hub join the new conversation. Made-up channel names are refused, and
each client address may open only so many new sessions a minute (``webchat_rate_limit``).
"""

from __future__ import annotations

from typing import Any

from starlette.datastructures import QueryParams
from starlette.types import Message as AsgiMessage
from starlette.types import Receive, Scope, Send

from channels.frames import FrameError, seq_parameter
from channels.webchat import protocol
from server.model import MediaPart
from server.store import Store, sessions, webchat_history, webchat_visitors
from server.web import webchat_identity, webchat_prechat
from server.web.webchat_config import (
    DEFAULT_ACCOUNT,
    MAX_ACCOUNT_CHARS,
    AccountConfig,
    WebchatConfig,
)
from server.web.webchat_hub import Subscriber, WebchatHub, message_frame, send_frame
from server.web.webchat_proactive import start_proactively
from server.web.webchat_rate_limit import RETRY_AFTER_SECONDS, NewSessionLimit, client_address
from server.web.webchat_uploads import UploadStore

SOCKET_PATH = "/channels/webchat/ws"
MAX_FRAME_BYTES = 64 * 1024
CLOSE_POLICY = 4403  # identity, origin or channel refused: the widget must not retry as is
CLOSE_RATE_LIMITED = 4429  # too many new sessions from this address: retry after a while


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
    session, account, after = opened
    del opened  # nothing of the opening outlives it
    hub: WebchatHub = state.webchat_hub
    subscriber = Subscriber(send, session)
    # Joined before the replay, so nothing stored meanwhile is missed; the subscriber holds
    # live frames until the replay is written.
    hub.join(subscriber)
    try:
        replayed = await _replay(state.store, session, after, send)
        if replayed is None:
            return
        subscriber.start(replayed)
        del session  # from now on the subscriber's: the hub moves it when a conversation opens
        while await _on_message(await receive(), state, account, subscriber):
            pass
    finally:
        hub.leave(subscriber)
        await subscriber.close()


async def _open(
    state: Any, scope: Scope, send: Send
) -> tuple[sessions.WebchatSession, AccountConfig, int | None] | None:
    """Check the socket's channel, origin and identity, open its session (storing nothing) and
    send the session frame.

    Returns (session, account, ``after``), or None when the socket was refused. What only the
    opening needs (query, contact row) is freed when it returns.
    """
    store: Store = state.store
    config: WebchatConfig = state.webchat_config
    query = QueryParams(scope["query_string"])
    account_name = query.get("channel") or DEFAULT_ACCOUNT
    account = config.find(account_name) if len(account_name) <= MAX_ACCOUNT_CHARS else None
    if account is None:
        # Every conversation keeps its channel's name: a made-up one is refused, not stored.
        shown = account_name[:MAX_ACCOUNT_CHARS]
        await _refuse(send, "unknown_channel", f"no web chat channel {shown!r}")
        return None
    if not account.origin_allowed(_header(scope, b"origin")):
        await _refuse(send, "origin_not_allowed", "origin not allowed")
        return None
    user_id, refusal = _verified_user(query, account)
    if refusal is not None:
        await _refuse(send, "bad_identity", refusal)
        return None
    token = query.get("token")
    session, unknown = await sessions.open_session(
        store, state.webchat_tokens, token, account_name, user_id
    )
    limit: NewSessionLimit = state.webchat_session_limit
    if session.token != token and not await limit.allow(client_address(scope)):
        await _refuse_new_session(send)
        return None
    if unknown:
        error = protocol.error_frame("invalid_token", "unknown session; starting anew")
        await send_frame(send, error)
    account = config.find(session.account) or account
    prechat = await webchat_prechat.contact_prechat_state(store, account, session.contact_id)
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
    # ``after``: replay after this seq; absent (or refused), after the acknowledged seq.
    after = seq_parameter(query, "after")
    if isinstance(after, FrameError):
        await send_frame(send, protocol.error_frame(after.code, after.message))
        after = None
    return session, account, after


async def _refuse_new_session(send: Send) -> None:
    """Too many new sessions from this address: say when to come back, close (not 4403: the
    widget retries, after ``retry_after`` seconds)."""
    frame = protocol.error_frame(
        "rate_limited", "too many new chats from this network; try again in a minute"
    )
    await send_frame(send, {**frame, "retry_after": RETRY_AFTER_SECONDS})
    await send({"type": "websocket.close", "code": CLOSE_RATE_LIMITED})


async def _replay(
    store: Store, session: sessions.WebchatSession, after: int | None, send: Send
) -> int | None:
    """Send the stored messages this socket is owed; the last seq sent, None if the client left."""
    if session.conversation_id is None:
        return 0  # the visitor has not written: nothing is owed
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
    message: AsgiMessage, state: Any, account: AccountConfig, subscriber: Subscriber
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
        reply = await _handle(frame, account, subscriber, state)
        if reply is not None:
            subscriber.push(reply)
    return True


async def _handle(
    frame: protocol.ClientFrame | protocol.FrameError,
    account: AccountConfig,
    subscriber: Subscriber,
    state: Any,
) -> dict[str, Any] | None:
    """One client frame; returns the frame to answer with, if any.

    Only a message, a pre-chat answer or opening a greeting account's chat store anything for a
    visitor who has not written yet; the other frames need a conversation and wait for one.
    """
    store, hub = state.store, state.webchat_hub
    session = subscriber.session
    conversation_id = session.conversation_id
    if isinstance(frame, protocol.FrameError):
        return protocol.error_frame(frame.code, frame.message)
    if isinstance(frame, protocol.ChatMessage):
        return await _chat_message(frame, subscriber, state)
    if isinstance(frame, protocol.Prechat):
        return await _prechat(frame, account, subscriber, state)
    if isinstance(frame, protocol.Opened):
        await _chat_opened(account, subscriber, state)
    elif isinstance(frame, protocol.Ping):
        return {"type": "pong"}
    elif isinstance(frame, protocol.History):
        return await _history(frame, session, store)
    elif conversation_id is None:
        return None  # acks, reads and typing of a visitor who has not written: nothing to tell
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
    return None


async def _history(
    frame: protocol.History, session: sessions.WebchatSession, store: Store
) -> dict[str, Any]:
    """A page of the current conversation, or of one of the visitor's earlier ones. The first
    page of a conversation names the one before it, so the widget can show that one above it."""
    conversation_id = frame.conversation_id or session.conversation_id
    if frame.conversation_id is not None and not await webchat_history.owns(
        store, session, frame.conversation_id
    ):
        return protocol.error_frame("bad_field", "field 'conversation_id': no such conversation")
    rows: list[Any] = []
    more = False
    if conversation_id is not None:
        rows, more = await webchat_history.page(store, conversation_id, frame.before, frame.limit)
    previous = (
        None
        if more
        else await webchat_history.previous_conversation(store, session, conversation_id)
    )
    return protocol.history_frame(
        [message_frame(row) for row in rows],
        frame.before,
        more=more,
        conversation_id=conversation_id,
        previous_conversation_id=previous,
    )


async def _stored(state: Any, subscriber: Subscriber) -> sessions.WebchatSession:
    """The socket's session with the visitor's rows stored and a conversation open: made when
    the visitor first writes; the visitor's other tabs on this node join the conversation too."""
    session = subscriber.session
    if session.stored and session.conversation_id is not None:
        return session
    stored = await webchat_visitors.store_session(state.store, session)
    _adopt(state, subscriber, stored)
    return stored


def _adopt(state: Any, subscriber: Subscriber, stored: sessions.WebchatSession) -> None:
    """Give the socket (and the visitor's other tabs) the session as just stored."""
    hub: WebchatHub = state.webchat_hub
    if subscriber.session.conversation_id is None:
        hub.conversation_opened(stored)  # this socket included
    elif subscriber.session.conversation_id != stored.conversation_id:
        hub.move(subscriber, stored)  # the one it showed closed meanwhile
    subscriber.session = stored


async def _chat_message(
    frame: protocol.ChatMessage, subscriber: Subscriber, state: Any
) -> dict[str, Any] | None:
    uploads: UploadStore = state.webchat_uploads
    session = subscriber.session
    media: list[MediaPart] = []
    for upload_id in frame.attachments:
        upload = uploads.get(upload_id)
        if upload is None or upload.token_hash != sessions.token_hash(session.token):
            return protocol.error_frame("bad_attachment", f"unknown upload {upload_id!r}")
        media.append(upload.media_part())
    envelope = protocol.envelope(
        frame, visitor_id=session.visitor_id, account=session.account, media=tuple(media)
    )
    if session.stored and session.conversation_id is not None:
        ingested = await state.runtime.receive(envelope)
    else:
        # The visitor's first write: their rows and the message in one commit, then the socket
        # joins the conversation before the message is shown (its echo reaches this socket).
        with state.runtime.acknowledging():
            session, ingested = await webchat_visitors.store_session_with_message(
                state.store, session, envelope
            )
            _adopt(state, subscriber, session)
            await state.runtime.accept(ingested)
    shown, opened = session.conversation_id, ingested.conversation["id"]
    if shown is not None and opened != shown and not ingested.duplicate:
        # The conversation this socket shows was closed (an agent closed it) and the message
        # opened a new one. Its echo went to the new conversation's sockets, none yet: the
        # ``conversation`` frame's last_seq has the widget fetch it with ``history``. (A resend
        # found stored is left alone: its conversation may be an older, closed one.)
        state.webchat_hub.conversation_replaced(shown, opened, int(ingested.message["seq"]))
    return None


async def _prechat(
    frame: protocol.Prechat, account: AccountConfig, subscriber: Subscriber, state: Any
) -> dict[str, Any]:
    values, problem = webchat_prechat.validate_prechat(account, frame.fields)
    if problem is not None:
        return protocol.error_frame("bad_prechat", problem)
    display_name = values.get("name") or (
        " ".join(v for k in ("first_name", "last_name") if (v := values.get(k))) or None
    )
    session = await _stored(state, subscriber)
    assert session.contact_id is not None and session.conversation_id is not None
    await sessions.save_prechat(state.store, session.contact_id, values, display_name)
    await webchat_prechat.remember_prechat(state.store, session.conversation_id, values)
    if account.greeting:
        start_proactively(state.runtime, session.conversation_id)
    return {"type": "prechat_saved", "fields": sorted(values)}


async def _chat_opened(account: AccountConfig, subscriber: Subscriber, state: Any) -> None:
    """The visitor opened the chat window: a greeting account's flow speaks first (once: it
    does nothing on a conversation that has a message or a flow running)."""
    if not account.greeting:
        return  # nothing to say first, nothing to store
    contact_id = subscriber.session.contact_id
    prechat = await webchat_prechat.contact_prechat_state(state.store, account, contact_id)
    if prechat == webchat_prechat.REQUIRED:
        return  # the greeting follows the form's answers
    session = await _stored(state, subscriber)
    assert session.conversation_id is not None
    start_proactively(state.runtime, session.conversation_id)
