"""The app WebSocket: ``/api/app/v1/ws?token=SESSION_TOKEN[&after=SEQ]``.

The server pushes messages as they are stored, the bot's and agents' typing, and agents' read
receipts; the client sends ``read`` receipts, ``typing`` (for the agent's desk) and ``ping``.
Messages after ``after`` are replayed first so a reconnecting app misses nothing.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect

from channels.app import frames
from channels.frames import seq_parameter
from server.runtime.rows import message_json
from server.store import app_sessions
from server.web.app_api import mark_read
from server.web.app_hub import user_key
from server.web.app_state import AppState

MAX_FRAME_BYTES = 16 * 1024
UNAUTHORIZED_CLOSE = 4401  # 4000-4999 are the application's; 4401 reads as HTTP's 401


async def _send(socket: WebSocket, frame: dict[str, Any]) -> None:
    await socket.send_text(orjson.dumps(frame).decode())


async def app_ws_endpoint(socket: WebSocket) -> None:
    state = socket.app.state
    app_state: AppState = state.app_api
    await socket.accept()
    token = socket.query_params.get("token", "")
    session = await app_sessions.session_for_token(state.store, token) if token else None
    app = app_state.apps.get(session.app_id) if session is not None else None
    # A session made before its app had a secret was never vouched for (as in the REST API).
    if session is None or app is None or (app.secret is not None and not session.signed):
        await _send(socket, frames.error_frame("invalid_token", "the session token is not valid"))
        await socket.close(UNAUTHORIZED_CLOSE)
        return
    after = seq_parameter(socket.query_params, "after")
    key = user_key(session.app_id, session.user_id)
    hub = app_state.hub
    hub.join(key, session.conversation_id, socket)
    try:
        await _send(socket, frames.ready_frame(session.conversation_id, session.contact_id))
        if isinstance(after, frames.FrameError):
            await _send(socket, frames.error_frame(after.code, after.message))
        elif after is not None:
            for row in await state.store.messages(session.conversation_id, after_seq=after):
                await _send(socket, frames.message_frame(message_json(row)))
        while True:
            message = await socket.receive()
            if message["type"] == "websocket.disconnect":
                break
            raw = message.get("text")
            if raw is None:  # binary: Starlette's receive_text raised on it and dropped the socket
                await _send(socket, frames.error_frame("bad_frame", "frames are JSON text frames"))
                continue
            if len(raw) > MAX_FRAME_BYTES:
                await _send(socket, frames.error_frame("too_large", "frame is too large"))
                continue
            frame = frames.parse_frame(raw)
            if isinstance(frame, frames.FrameError):
                await _send(socket, frames.error_frame(frame.code, frame.message))
            elif isinstance(frame, frames.Read):
                await mark_read(state, session, frame.seq)
            elif isinstance(frame, frames.Typing):
                await hub.user_typing(session.conversation_id, frame.busy)
            elif isinstance(frame, frames.Ping):
                await _send(socket, {"type": "pong"})
    except WebSocketDisconnect:
        pass
    finally:
        hub.leave(key, socket)
