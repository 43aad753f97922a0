"""The ASGI application: wires settings, store, runtime, channels and routes together."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route, WebSocketRoute

from server.config import Settings
from server.runtime import metrics
from server.runtime.flows import FlowRegistry
from server.runtime.http_client import FlowHttpClient, HttpGuard
from server.runtime.runtime import Runtime
from server.store import Store
from server.web import admin_api
from server.web.limits import BodySizeLimit
from server.web.openapi import openapi
from server.web.webchat import WebchatHub, WebchatSender, webchat_endpoint

log = logging.getLogger("threadline")

STATIC = Path(__file__).parent / "static"


class FlowLoadError(RuntimeError):
    pass


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def metrics_endpoint(request: Request) -> Response:
    return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)


async def demo_page(request: Request) -> Response:
    return FileResponse(STATIC / "index.html")


def create_app(settings: Settings) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = await Store.open(settings.database_url)
        flows = FlowRegistry(store)
        problems = await flows.load_dir(settings.flows_dir)
        for problem in problems:
            log.error("flow problem: %s", problem)
        if flows.latest(settings.default_flow) is None:
            await store.close()
            raise FlowLoadError(
                f"the default flow {settings.default_flow!r} is not in {settings.flows_dir} "
                "or is invalid (see the errors above)"
            )
        http = FlowHttpClient(HttpGuard(settings.http_allow_private, settings.http_allowed_hosts))
        runtime = Runtime(store, flows, http, default_flow=settings.default_flow)
        hub = WebchatHub()
        runtime.senders["webchat"] = WebchatSender()
        runtime.message_listeners.append(hub.on_message)
        app.state.settings = settings
        app.state.store = store
        app.state.runtime = runtime
        app.state.webchat_hub = hub
        await runtime.start()
        log.info("serving flows %s from %s", ", ".join(flows.names()), settings.flows_dir)
        try:
            yield
        finally:
            await runtime.stop()
            await store.close()

    routes = [
        Route("/", demo_page, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        Route("/api/v1/openapi.json", openapi, methods=["GET"]),
        *admin_api.routes,
        WebSocketRoute("/channels/webchat/ws", webchat_endpoint),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    app.state.settings = settings
    return app
