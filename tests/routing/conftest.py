"""Helpers for routing tables: build a router from agents, read offers out of effects."""

from __future__ import annotations

from typing import Any

import pytest

from server.routing import effects as fx
from server.routing import events as ev
from server.routing.config import RoutingConfig
from server.routing.router import Router


def make_router(config: dict[str, Any] | None = None, *agents: ev.AgentConnected) -> Router:
    router = Router(RoutingConfig.from_dict(config or {}))
    for agent in agents:
        router.handle(agent)
    return router


def offers(effects: list[fx.RoutingEffect]) -> list[tuple[str, str]]:
    return [(e.task_id, e.agent_id) for e in effects if isinstance(e, fx.Offer)]


def of_type(effects: list[fx.RoutingEffect], kind: type) -> list[Any]:
    return [e for e in effects if isinstance(e, kind)]


def records(effects: list[fx.RoutingEffect]) -> list[tuple[str, str | None]]:
    return [(e.action, e.agent_id) for e in effects if isinstance(e, fx.Record)]


def agent(agent_id: str, at: float = 0, **attributes: Any) -> ev.AgentConnected:
    capacity = attributes.pop("capacity", None)
    return ev.AgentConnected(agent_id, at, attributes, capacity)


@pytest.fixture
def two_agents() -> Router:
    """a1 idle since t=0, a2 idle since t=1, both one webchat slot."""
    return make_router(
        None, agent("a1", 0, capacity={"webchat": 1}), agent("a2", 1, capacity={"webchat": 1})
    )
