"""The ASGI application: wires settings, store, runtime and the areas' routes together."""

from __future__ import annotations

import contextlib
import gc
import importlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from server import startup
from server.areas import Services
from server.config import Settings
from server.runtime import metrics
from server.runtime.flows import FlowRegistry
from server.runtime.http_client import FlowHttpClient, HttpGuard
from server.runtime.runtime import Runtime
from server.store import Store
from server.web import admin_api, errors
from server.web.limits import BodySizeLimit
from server.web.openapi import openapi

log = logging.getLogger("threadline")

STATIC = Path(__file__).parent / "static"

# Each area contributes routes and wires itself into the runtime (see server/areas.py).
AREAS: tuple[str, ...] = (
    "server.web.webchat_area",
    "server.nlu_area",
    "server.channels_area",
    "server.media_area",
    "server.app_area",
    "server.flows_area",
    "server.flows_tools_area",
    "server.agents_area",
    "server.desk_area",
)


# Upload endpoints check size (declared and counted as it arrives) and type themselves, under
# THREADLINE_MAX_UPLOAD_BYTES and each app's or web chat account's own limit.
UPLOAD_ROUTES = ("/channels/webchat/uploads", "/api/app/v1/uploads")


class FlowLoadError(RuntimeError):
    pass


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def metrics_endpoint(request: Request) -> Response:
    return Response(generate_latest(metrics.REGISTRY), media_type=CONTENT_TYPE_LATEST)


async def demo_page(request: Request) -> Response:
    return FileResponse(STATIC / "index.html")


async def favicon(request: Request) -> Response:
    # Browsers ask every page's origin for /favicon.ico; an SVG under that name is understood by
    # all current ones, and answering spares each page load a 404 in the logs.
    return FileResponse(
        STATIC / "favicon.svg",
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400"},
    )


async def _start(settings: Settings) -> Services:
    store = await Store.open(settings.database_url)
    flows = FlowRegistry(store)
    for problem in await flows.load_dir(settings.flows_dir):
        log.error("flow problem: %s", problem)
    if flows.latest(settings.default_flow) is None:
        await store.close()
        raise FlowLoadError(
            f"the default flow {settings.default_flow!r} is not in {settings.flows_dir} "
            "or is invalid (see the errors above)"
        )
    http = FlowHttpClient(HttpGuard(settings.http_allow_private, settings.http_allowed_hosts))
    runtime = Runtime(
        store,
        flows,
        http,
        default_flow=settings.default_flow,
        flow_concurrency=settings.flow_concurrency,
    )
    return Services(settings, store, runtime)


def create_app(settings: Settings) -> Starlette:
    areas: list[ModuleType] = [importlib.import_module(name) for name in AREAS]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        services = await _start(settings)
        app.state.services = services
        app.state.store = services.store
        app.state.runtime = services.runtime
        for area in areas:
            await area.setup(services)
        for name, value in services.extras.items():
            setattr(app.state, name, value)
        await services.runtime.start()
        # What start-up allocated (modules, compiled flows and statements) lives as long as the
        # process: move it out of the collector's view, so full collections under load scan
        # only what requests allocate (they showed as latency spikes of tens of milliseconds).
        gc.collect()
        gc.freeze()
        names = ", ".join(services.runtime.flows.names())
        log.info("serving flows %s from %s", names, settings.flows_dir)
        for line in startup.summary(services):
            log.info("%s", line)
        try:
            yield
        finally:
            for area in reversed(areas):
                teardown = getattr(area, "teardown", None)
                if teardown is not None:
                    await teardown(services)
            await services.runtime.stop()
            await services.store.close()

    routes: list[BaseRoute] = [
        Route("/", demo_page, methods=["GET"]),
        Route("/favicon.ico", favicon, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        Route("/api/v1/openapi.json", openapi, methods=["GET"]),
        *admin_api.routes,
    ]
    for area in areas:
        routes.extend(area.routes(settings))
    app = Starlette(
        routes=routes, lifespan=lifespan, exception_handlers={HTTPException: errors.http_error}
    )
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes, exempt=UPLOAD_ROUTES)
    app.state.settings = settings
    return app
