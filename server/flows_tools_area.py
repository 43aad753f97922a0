"""Tools for flow designers: the flows REST API and the watcher that hot-reloads ``flows/``.

``THREADLINE_FLOWS_WATCH_SECONDS`` sets how often the flows directory is polled (default 1
second); ``0`` turns hot reload off.
"""

from __future__ import annotations

import os

from starlette.routing import BaseRoute

from server.areas import Services
from server.config import Settings
from server.runtime.flow_watch import DEFAULT_INTERVAL, FlowWatcher
from server.web import flows_api
from server.web.openapi import add_paths

WATCHER = "flow_watcher"


def routes(settings: Settings) -> list[BaseRoute]:
    add_paths(flows_api.OPENAPI_PATHS)
    return list(flows_api.routes)


def watch_interval() -> float:
    return float(os.environ.get("THREADLINE_FLOWS_WATCH_SECONDS", DEFAULT_INTERVAL))


async def setup(services: Services) -> None:
    interval = watch_interval()
    if interval <= 0:
        return
    watcher = FlowWatcher(services.runtime.flows, services.settings.flows_dir, interval)
    watcher.start()
    services.extras[WATCHER] = watcher


async def teardown(services: Services) -> None:
    watcher = services.extras.get(WATCHER)
    if isinstance(watcher, FlowWatcher):
        await watcher.stop()
