"""The web chat area: its WebSocket route, the hub and the sender."""

from __future__ import annotations

from starlette.routing import BaseRoute, WebSocketRoute

from server.areas import Services
from server.config import Settings
from server.web.webchat import WebchatHub, WebchatSender, webchat_endpoint


def routes(settings: Settings) -> list[BaseRoute]:
    return [WebSocketRoute("/channels/webchat/ws", webchat_endpoint)]


async def setup(services: Services) -> None:
    hub = WebchatHub()
    services.extras["webchat_hub"] = hub
    services.runtime.senders["webchat"] = WebchatSender()
    services.runtime.message_listeners.append(hub.on_message)
