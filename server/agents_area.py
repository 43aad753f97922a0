"""The agents area: REST for agents, the agent WebSocket, and the routing service in the runtime.

Routing configuration comes from ``THREADLINE_ROUTING_FILE`` (JSON), else ``DATA_DIR/routing.json``
when present, else the router's defaults (docs/routing.md).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from starlette.routing import BaseRoute, WebSocketRoute

from server.agents.auth import jwt_secret
from server.agents.channel_links import link_channels
from server.agents.directory import AgentDirectory
from server.agents.handoff import Handoff
from server.agents.hub import AgentHub
from server.agents.names import AgentNames
from server.agents.notice_texts import load_notices
from server.agents.notices import Notices
from server.agents.service import RoutingService
from server.areas import Services
from server.config import Settings
from server.engine.effects import RouteToAgent
from server.routing import RoutingConfig
from server.web import agents_api
from server.web.agents_ws import agents_endpoint
from server.web.openapi import add_paths


def routing_file(settings: Settings) -> Path | None:
    """The routing file in use; None when the router runs on its defaults."""
    configured = os.environ.get("THREADLINE_ROUTING_FILE")
    path = Path(configured) if configured else settings.data_dir / "routing.json"
    return path if configured or path.exists() else None


def routing_config(settings: Settings) -> RoutingConfig:
    path = routing_file(settings)
    if path is not None:
        return RoutingConfig.from_dict(json.loads(path.read_text(encoding="utf-8")))
    return RoutingConfig.from_dict({})


def routes(settings: Settings) -> list[BaseRoute]:
    add_paths(agents_api.PATHS)
    return [*agents_api.routes, WebSocketRoute("/agents/ws", agents_endpoint)]


async def setup(services: Services) -> None:
    runtime = services.runtime
    hub = AgentHub(services.store)
    service = RoutingService(runtime, hub, routing_config(services.settings))
    handoff = Handoff(service, hub)
    directory = AgentDirectory(services.store, jwt_secret(services.settings.data_dir))
    names = AgentNames(directory)
    notices = Notices(runtime, load_notices(services.settings.data_dir), names)
    service.notices = notices
    services.extras["agent_names"] = names
    runtime.inbound_interceptors.append(notices.take_answer)
    services.extras["agent_directory"] = directory
    services.extras["agent_hub"] = hub
    services.extras["routing_service"] = service
    services.extras["agent_handoff"] = handoff
    runtime.effect_handlers[RouteToAgent] = handoff.route_to_agent
    runtime.agent_inbound = handoff.agent_inbound
    runtime.message_listeners.append(handoff.on_message)
    runtime.revision_listeners.append(handoff.on_revision)
    link_channels(handoff.links, services.store, services.extras)
    await service.start()


async def teardown(services: Services) -> None:
    service: RoutingService = services.extras["routing_service"]
    await service.stop()
