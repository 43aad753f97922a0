"""The agent desk area: the browser desk at ``/desk/`` and the settings it reads from the server.

Canned responses and disposition codes come from ``THREADLINE_CANNED_RESPONSES`` (a JSON file),
else ``DATA_DIR/canned-responses.json`` when present, else a small default set (docs/desk.md).
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from server.areas import Services
from server.config import Settings
from server.web import desk_routes
from server.web.openapi import add_paths


def routes(settings: Settings) -> list[BaseRoute]:
    add_paths(desk_routes.PATHS)
    return list(desk_routes.routes)


async def setup(services: Services) -> None:
    services.extras["desk_settings"] = desk_routes.load_desk_settings(services.settings.data_dir)
