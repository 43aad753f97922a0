"""The web chat area: WebSocket, widget script and config, uploads; the hub and the sender."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route, WebSocketRoute

from server.agents.auth import jwt_secret
from server.areas import Services
from server.config import Settings
from server.web.webchat import SOCKET_PATH, WebchatRoute
from server.web.webchat_admin import webchat_visitor
from server.web.webchat_assets import widget_config, widget_script
from server.web.webchat_config import load_config
from server.web.webchat_hub import WebchatHub, WebchatSender
from server.web.webchat_rate_limit import NewSessionLimit
from server.web.webchat_tokens import SessionTokens
from server.web.webchat_uploads import (
    UploadStore,
    serve_upload,
    upload_endpoint,
    upload_preflight,
)


def routes(settings: Settings) -> list[BaseRoute]:
    return [
        # ``threadline serve`` answers this path ahead of the router (server.web.front).
        WebSocketRoute(SOCKET_PATH, WebchatRoute()),
        Route("/channels/webchat/uploads", upload_endpoint, methods=["POST"]),
        Route("/channels/webchat/uploads", upload_preflight, methods=["OPTIONS"]),
        Route("/webchat/uploads/{upload_id}", serve_upload, methods=["GET", "HEAD"]),
        Route("/webchat/widget.js", widget_script, methods=["GET", "HEAD"]),
        Route("/webchat/config", widget_config, methods=["GET"]),
        Route("/api/v1/webchat/conversations/{conversation_id}", webchat_visitor, methods=["GET"]),
    ]


async def setup(services: Services) -> None:
    hub = WebchatHub()
    services.extras["webchat_hub"] = hub
    config = load_config(services.settings.data_dir)
    services.extras["webchat_config"] = config
    for name, account in config.accounts.items():
        if account.flow:
            services.runtime.account_flows[("webchat", name)] = account.flow
    services.extras["webchat_uploads"] = UploadStore(services.settings.data_dir / "uploads")
    # Session tokens are signed with the server's secret, so opening a session stores nothing.
    services.extras["webchat_tokens"] = SessionTokens(jwt_secret(services.settings.data_dir))
    per_minute = services.settings.webchat_sessions_per_minute
    services.extras["webchat_session_limit"] = NewSessionLimit(per_minute)
    services.runtime.senders["webchat"] = WebchatSender()
    services.runtime.message_listeners.append(hub.on_message)
    services.runtime.activity_listeners.append(hub.on_activity)
