"""Open agent sockets and at-least-once delivery of sequenced frames.

A sequenced frame is stored (with the agent's next sequence number) before it is pushed; the
agent acknowledges cumulatively and a reconnect replays what is still stored. One lock per agent
keeps store order and push order the same, so seq numbers arrive in order on a live socket.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from starlette.websockets import WebSocket

from server.store import Store
from server.store import agents as tables

log = logging.getLogger(__name__)


class AgentHub:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.sockets: dict[str, set[WebSocket]] = {}
        self.monitors: dict[str, set[WebSocket]] = {}  # conversation id -> supervisor sockets
        self._locks: dict[str, asyncio.Lock] = {}

    def _lock(self, agent_id: str) -> asyncio.Lock:
        return self._locks.setdefault(agent_id, asyncio.Lock())

    def online(self, agent_id: str) -> bool:
        return bool(self.sockets.get(agent_id))

    async def join(self, agent_id: str, socket: WebSocket, last_seq: int) -> None:
        """Register a socket after replaying every stored frame after ``last_seq``."""
        async with self._lock(agent_id):
            if last_seq:
                await self.store.write(lambda c: tables.acknowledge(c, agent_id, last_seq))
            async with self.store.engine.connect() as conn:
                pending = await tables.unacknowledged(conn, agent_id)
            for frame in pending:
                await push(socket, frame)
            self.sockets.setdefault(agent_id, set()).add(socket)

    def leave(self, agent_id: str, socket: WebSocket) -> bool:
        """Forget a socket; True when the agent has no socket left."""
        sockets = self.sockets.get(agent_id, set())
        sockets.discard(socket)
        for watchers in self.monitors.values():
            watchers.discard(socket)
        if not sockets:
            self.sockets.pop(agent_id, None)
            return True
        return False

    async def send(self, agent_id: str, frame: dict[str, Any]) -> int:
        """Store ``frame`` with the agent's next seq, then push it to the agent's open sockets."""
        async with self._lock(agent_id):
            seq = await self.store.write(lambda c: tables.next_frame(c, agent_id, frame))
            for socket in list(self.sockets.get(agent_id, ())):
                await self._push_or_drop(agent_id, socket, {**frame, "seq": seq})
            return seq

    async def tell(self, agent_id: str, frame: dict[str, Any]) -> None:
        """Push a live-only frame (no seq, never stored) to the agent's open sockets."""
        for socket in list(self.sockets.get(agent_id, ())):
            try:
                await push(socket, frame)
            except Exception:  # the socket died; its handler cleans up
                self.sockets.get(agent_id, set()).discard(socket)

    async def acknowledge(self, agent_id: str, seq: int) -> None:
        await self.store.write(lambda c: tables.acknowledge(c, agent_id, seq))

    async def tell_monitors(self, conversation_id: str, frame: dict[str, Any]) -> None:
        for socket in list(self.monitors.get(conversation_id, ())):
            try:
                await push(socket, frame)
            except Exception:
                self.monitors[conversation_id].discard(socket)

    async def _push_or_drop(self, agent_id: str, socket: WebSocket, frame: dict[str, Any]) -> None:
        try:
            await push(socket, frame)
        except Exception:  # the socket died; the frame stays stored for the replay
            self.sockets.get(agent_id, set()).discard(socket)


async def push(socket: WebSocket, frame: dict[str, Any]) -> None:
    await socket.send_text(orjson.dumps(frame).decode())
