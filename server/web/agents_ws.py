"""The agent WebSocket at ``/agents/ws`` (docs/agent-protocol.md).

The first frame is ``hello`` or ``resume``; the token comes in it or in ``?token=``. The server
answers ``welcome``, replays unacknowledged frames, then the agent is connected to the router.
When the agent's last socket closes the router starts the disconnect grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from server.agents import protocol
from server.agents.desk import DeskSession
from server.agents.directory import AgentDirectory
from server.agents.handoff import Handoff
from server.agents.hub import push
from server.agents.service import RoutingService
from server.routing import RoutingError
from server.routing import events as ev
from server.store.agents import agent_json

HELLO_TIMEOUT = 10.0
UNAUTHORIZED = 4401


async def agents_endpoint(socket: WebSocket) -> None:
    state = socket.app.state
    directory: AgentDirectory = state.agent_directory
    service: RoutingService = state.routing_service
    handoff: Handoff = state.agent_handoff
    await socket.accept()
    try:
        hello = await asyncio.wait_for(_receive_frame(socket), HELLO_TIMEOUT)
    except protocol.FrameError as exc:
        await _refuse(socket, protocol.error(exc.code, exc.message, exc.ref))
        return
    except (TimeoutError, WebSocketDisconnect):
        await _refuse(socket, None)
        return
    token = hello.get("token") or socket.query_params.get("token") or ""
    identity = await directory.authenticate(token) if token else None
    if hello["type"] not in ("hello", "resume") or identity is None:
        error = protocol.error("unauthenticated", "send hello with a valid token", hello["type"])
        await _refuse(socket, error)
        return
    agent = await directory.get(identity.agent_id)
    assert agent is not None
    session = DeskSession(identity, socket, service, handoff)
    joined = False
    # The agent may go at any point, the welcome and the replay included: the socket is left
    # (and the agent disconnected) whatever the point (found by tests/fuzz: a disconnect during
    # the replay escaped as an exception, and one after it left the socket registered).
    try:
        await push(socket, welcome(agent_json(agent), service, identity.agent_id))
        await handoff.hub.join(identity.agent_id, socket, int(hello.get("last_seq") or 0))
        joined = True
        try:
            await service.handle(
                ev.AgentConnected(
                    identity.agent_id,
                    time.time(),
                    attributes=dict(agent["attributes"] or {}),
                    capacity=hello.get("capacity") or agent["capacity"] or None,
                    activity=hello.get("activity"),
                )
            )
        except RoutingError as exc:
            await push(socket, protocol.error("routing_error", str(exc), hello["type"]))
        while True:
            try:
                frame = await _receive_frame(socket)
            except protocol.FrameError as exc:
                await push(socket, protocol.error(exc.code, exc.message, exc.ref))
                continue
            for answer in await session.handle(frame):
                await push(socket, answer)
    except WebSocketDisconnect:
        pass
    finally:
        if handoff.hub.leave(identity.agent_id, socket) and joined:
            await service.handle(ev.AgentDisconnected(identity.agent_id, time.time()))


async def _refuse(socket: WebSocket, error: dict[str, Any] | None) -> None:
    """Answer a bad first frame with ``error`` and close 4401, unless the client is gone."""
    with contextlib.suppress(WebSocketDisconnect):
        if error is not None:
            await push(socket, error)
        await socket.close(UNAUTHORIZED)


async def _receive_frame(socket: WebSocket) -> dict[str, Any]:
    """The next frame, parsed; ``FrameError`` for a bad one. A binary frame is a bad frame, not
    a crash (Starlette's ``receive_text`` raises KeyError on one, which dropped the socket)."""
    message = await socket.receive()
    if message["type"] == "websocket.disconnect":
        raise WebSocketDisconnect(message.get("code", 1000), message.get("reason"))
    text = message.get("text")
    if text is None:
        raise protocol.FrameError("invalid_json", "frames are JSON in text frames, not binary")
    return protocol.parse(text)


def welcome(agent: dict[str, Any], service: RoutingService, agent_id: str) -> dict[str, Any]:
    """The agent's conversations right now, so a desk can rebuild itself after any gap."""
    conversations = [
        {
            "conversation_id": task.task_id,
            "status": task.status,
            "queue": task.queue,
            "channel": task.channel,
        }
        for task in service.router.state.tasks.values()
        if task.agent_id == agent_id
    ]
    public = {k: agent[k] for k in ("id", "name", "roles", "attributes", "capacity")}
    return protocol.out("welcome", agent=public, last_seq=0, conversations=conversations)
