"""The web chat WebSocket endpoint, the hub that pushes messages to open sockets, and its sender.

A conversation's messages reach every socket open on it (several tabs of one visitor). Messages
are pushed when stored; a visitor who is not connected gets them replayed on reconnect, so the
web chat "send" never fails for lack of a socket.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from sqlalchemy.engine import RowMapping
from starlette.websockets import WebSocket, WebSocketDisconnect

from channels.base import SendOutcome
from channels.webchat import protocol
from server.model import Conversation, Message
from server.runtime import metrics
from server.runtime.rows import message_json
from server.store import sessions

log = logging.getLogger(__name__)

MAX_FRAME_BYTES = 64 * 1024


class WebchatHub:
    def __init__(self) -> None:
        self._sockets: dict[str, set[WebSocket]] = {}

    def join(self, conversation_id: str, socket: WebSocket) -> None:
        self._sockets.setdefault(conversation_id, set()).add(socket)
        metrics.WEBCHAT_SOCKETS.inc()

    def leave(self, conversation_id: str, socket: WebSocket) -> None:
        sockets = self._sockets.get(conversation_id)
        if sockets and socket in sockets:
            sockets.discard(socket)
            metrics.WEBCHAT_SOCKETS.dec()
            if not sockets:
                del self._sockets[conversation_id]

    async def on_message(self, conversation: RowMapping, message: RowMapping) -> None:
        sockets = self._sockets.get(conversation["id"])
        if not sockets:
            return
        text = orjson.dumps(protocol.message_frame(message_json(message))).decode()
        for socket in list(sockets):
            try:
                await socket.send_text(text)
            except Exception:  # a socket that died mid-send; its own handler cleans up
                self.leave(conversation["id"], socket)


class WebchatSender:
    """Outbound on web chat: the hub already pushed the stored message to open sockets."""

    async def send(self, conversation: Conversation, message: Message) -> SendOutcome:
        return SendOutcome(ok=True, provider_message_ids=(message.id,), status="sent")

    async def aclose(self) -> None:
        return None


async def _send(socket: WebSocket, frame: dict[str, Any]) -> None:
    await socket.send_text(orjson.dumps(frame).decode())


async def webchat_endpoint(socket: WebSocket) -> None:
    state = socket.app.state
    store, runtime, hub = state.store, state.runtime, state.webchat_hub
    settings = state.settings
    await socket.accept()
    token = socket.query_params.get("token")
    account = socket.query_params.get("channel") or "default"
    try:
        after = max(int(socket.query_params.get("after", "0")), 0)
    except ValueError:
        after = 0
    session = await sessions.resume_session(store, token) if token else None
    if token and session is None:
        await _send(socket, protocol.error_frame("invalid_token", "unknown session; starting anew"))
    if session is None:
        session = await sessions.create_session(store, account)
    await _send(
        socket, protocol.session_frame(session.token, session.conversation_id, session.resumed)
    )
    hub.join(session.conversation_id, socket)
    try:
        for row in await store.messages(session.conversation_id, after_seq=after):
            await _send(socket, protocol.message_frame(message_json(row)))
        while True:
            raw = await socket.receive_text()
            if len(raw) > MAX_FRAME_BYTES:
                await _send(socket, protocol.error_frame("too_large", "frame is too large"))
                continue
            frame = protocol.parse_frame(raw, max_chars=settings.max_text_chars)
            if isinstance(frame, protocol.FrameError):
                await _send(socket, protocol.error_frame(frame.code, frame.message))
            elif isinstance(frame, protocol.ChatMessage):
                envelope = protocol.envelope(
                    frame, visitor_id=session.visitor_id, account=session.account
                )
                await runtime.receive(envelope)
            elif isinstance(frame, protocol.Ack):
                await sessions.acknowledge(store, session.token, frame.seq)
            elif isinstance(frame, protocol.Ping):
                await _send(socket, {"type": "pong"})
    except WebSocketDisconnect:
        pass
    finally:
        hub.leave(session.conversation_id, socket)
