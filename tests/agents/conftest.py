"""Agents over real WebSockets against a real server, with every server frame schema-checked."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from server.agents.protocol import validator
from tests.server.conftest import ADMIN_TOKEN, ServerProcess, server_factory  # noqa: F401

HANDOFF_FLOW = {
    "description": "hand off to an agent with billing skills",
    "initial_state": "Trigger",
    "flags": {},
    "states": [
        {
            "name": "Trigger",
            "type": "trigger",
            "transitions": [{"event": "incomingMessage", "next": "remember"}],
            "properties": {},
        },
        {
            "name": "remember",
            "type": "set-variables",
            "transitions": [{"event": "next", "next": "handoff"}],
            "properties": {"variables": [{"key": "topic", "value": "billing"}]},
        },
        {
            "name": "handoff",
            "type": "send-to-agent",
            "transitions": [
                {"event": "assigned"},
                {"event": "timeout", "next": "no_agents_msg"},
                {"event": "no_agents", "next": "no_agents_msg"},
                {"event": "failed", "next": "no_agents_msg"},
            ],
            "properties": {"skills": {"billing": 2}, "timeout": 60, "context": {"plan": "gold"}},
        },
        {
            "name": "no_agents_msg",
            "type": "send-message",
            "transitions": [{"event": "sent"}, {"event": "failed"}],
            "properties": {"body": "No agents are online"},
        },
    ],
}

ROUTING = {"disconnect_grace": 1, "offer_timeout": 20}


def start_handoff_server(
    tmp_path: Path,
    make_server: Any,
    flow: dict[str, Any],
    routing: dict[str, Any],
    env: dict[str, str] | None = None,
) -> ServerProcess:
    """A server whose default flow is ``flow`` and whose routing configuration is ``routing``."""
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "greeting.json").write_text(json.dumps(flow))
    routing_file = tmp_path / "routing.json"
    routing_file.write_text(json.dumps(routing))
    server: ServerProcess = make_server(
        flows, env={"THREADLINE_ROUTING_FILE": str(routing_file), **(env or {})}
    )
    return server


@pytest.fixture
def agent_server(tmp_path: Path, server_factory: Any) -> ServerProcess:  # noqa: F811
    return start_handoff_server(tmp_path, server_factory, HANDOFF_FLOW, ROUTING)


def create_agent(server: ServerProcess, login: str, **fields: Any) -> dict[str, Any]:
    body = {"name": login.title(), "login": login, "issue_token": True, **fields}
    response = httpx.post(
        server.base + "/api/v1/agents",
        json=body,
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def check_frame(frame: dict[str, Any]) -> None:
    check = validator("server", frame["type"])
    assert check is not None, f"no schema for server frame {frame['type']}"
    check.validate(frame)


class AgentClient:
    """A desk: a real WebSocket; every frame it receives must match the server schemas."""

    def __init__(self, ws: Any, welcome: dict[str, Any]) -> None:
        self.ws = ws
        self.welcome = welcome
        self.seen: list[dict[str, Any]] = []

    @classmethod
    async def connect(cls, server: ServerProcess, token: str, last_seq: int = 0) -> AgentClient:
        ws = await websockets.connect(f"ws://127.0.0.1:{server.port}/agents/ws")
        await ws.send(json.dumps({"v": 1, "type": "hello", "token": token, "last_seq": last_seq}))
        first = json.loads(await asyncio.wait_for(ws.recv(), 10))
        check_frame(first)
        return cls(ws, first)

    async def send(self, kind: str, **fields: Any) -> None:
        await self.ws.send(json.dumps({"v": 1, "type": kind, **fields}))

    async def frame(self, kind: str | None = None, timeout: float = 10) -> dict[str, Any]:
        while True:
            data = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            check_frame(data)
            self.seen.append(data)
            if data.get("seq"):
                await self.send("ack", seq=data["seq"])
            if kind is None or data["type"] == kind:
                return data  # type: ignore[no-any-return]

    async def nothing(self, kind: str, wait: float = 0.5) -> None:
        """No frame of ``kind`` arrives within ``wait`` seconds."""
        try:
            while True:
                data = await self.frame(timeout=wait)
                assert data["type"] != kind, data
        except TimeoutError:
            return

    def abort(self) -> None:
        """Kill the connection without a closing handshake, as a crashed browser would."""
        self.ws.transport.abort()

    async def close(self) -> None:
        await self.ws.close()
