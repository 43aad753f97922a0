"""The app messaging area: REST + WebSocket API for mobile and custom apps (channel ``app``)."""

from __future__ import annotations

import logging

from starlette.routing import BaseRoute, Route, WebSocketRoute

from server.areas import Services
from server.config import Settings
from server.store import app_sessions
from server.web import app_api
from server.web.app_hub import AppHub, AppSender
from server.web.app_openapi import PATHS, add_security_scheme
from server.web.app_state import AppState, load_apps
from server.web.app_ws import app_ws_endpoint
from server.web.openapi import DOCUMENT, add_paths

log = logging.getLogger(__name__)

PREFIX = "/api/app/v1"


def routes(settings: Settings) -> list[BaseRoute]:
    add_paths(PATHS)
    add_security_scheme(DOCUMENT)
    return [
        Route(f"{PREFIX}/sessions", app_api.create_session, methods=["POST"]),
        Route(f"{PREFIX}/messages", app_api.send_message, methods=["POST"]),
        Route(f"{PREFIX}/messages", app_api.list_messages, methods=["GET"]),
        Route(f"{PREFIX}/uploads", app_api.upload, methods=["POST"]),
        Route(f"{PREFIX}/uploads/{{upload_id}}", app_api.get_upload, methods=["GET"]),
        Route(f"{PREFIX}/events", app_api.post_event, methods=["POST"]),
        Route(f"{PREFIX}/read", app_api.post_read, methods=["POST"]),
        WebSocketRoute(f"{PREFIX}/ws", app_ws_endpoint),
        Route("/api/v1/contacts/{contact_id}/events", app_api.contact_events, methods=["GET"]),
    ]


async def setup(services: Services) -> None:
    runtime, store = services.runtime, services.store
    apps = load_apps(services.settings)
    uploads = services.settings.data_dir / "app-uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    hub = AppHub(store)
    services.extras["app_api"] = AppState(apps, hub, uploads)

    async def tokens(app_id: str, user_id: str) -> list[str]:
        return await app_sessions.push_tokens(store, app_id, user_id)

    runtime.senders["app"] = AppSender(hub, tokens)
    runtime.message_listeners.append(hub.on_message)
    runtime.activity_listeners.append(hub.on_activity)
    for app in apps.values():
        if app.flow is not None:
            if runtime.flows.latest(app.flow) is None:
                log.error("app %s: flow %r is not loaded", app.id, app.flow)
            runtime.account_flows[("app", app.id)] = app.flow
    log.info("app API: apps %s", ", ".join(sorted(apps)))
