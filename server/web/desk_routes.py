"""HTTP side of the agent desk: its static files and ``GET /api/v1/desk/config``.

The desk itself talks to the agent WebSocket (docs/agent-protocol.md); this module only serves
the page and what the page needs to draw its controls: canned responses, disposition codes,
availability activities, and the queues and agents a conversation can be transferred to.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from server.agents.directory import AgentDirectory
from server.agents.service import RoutingService
from server.web.auth import bearer
from server.web.errors import error
from server.web.openapi import _json

DESK_DIR = Path(__file__).resolve().parent.parent / "static" / "desk"
ASSETS = {
    "index.html": "text/html; charset=utf-8",
    "desk.js": "text/javascript; charset=utf-8",
    "desk.css": "text/css; charset=utf-8",
}
# The page loads only its own files and talks only to its own server.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}

DEFAULT_CANNED = (
    {"title": "Greeting", "text": "Hi, thanks for waiting. How can I help you today?"},
    {"title": "Checking", "text": "Let me check that for you, one moment please."},
    {"title": "Anything else", "text": "Is there anything else I can help you with?"},
    {"title": "Goodbye", "text": "Thanks for contacting us. Have a great day!"},
)
DEFAULT_DISPOSITIONS = ("resolved", "follow-up", "escalated", "no-response", "spam")


class DeskSettingsError(ValueError):
    pass


@dataclass(frozen=True)
class DeskSettings:
    canned_responses: tuple[dict[str, str], ...] = DEFAULT_CANNED
    dispositions: tuple[str, ...] = DEFAULT_DISPOSITIONS


def _canned(items: Any) -> tuple[dict[str, str], ...]:
    if not isinstance(items, list):
        raise DeskSettingsError("canned responses must be a list")
    canned: list[dict[str, str]] = []
    for item in items:
        if isinstance(item, str):
            canned.append({"title": item[:40], "text": item})
        elif isinstance(item, dict) and isinstance(item.get("text"), str):
            title = item.get("title")
            canned.append({"title": str(title or item["text"][:40]), "text": item["text"]})
        else:
            raise DeskSettingsError(f"a canned response is a string or {{title, text}}: {item!r}")
    return tuple(canned)


def parse_desk_settings(data: Any) -> DeskSettings:
    """A list of responses, or ``{"responses": [...], "dispositions": [...]}``."""
    if isinstance(data, list):
        return DeskSettings(canned_responses=_canned(data))
    if not isinstance(data, dict):
        raise DeskSettingsError("the canned responses file holds a list or an object")
    dispositions = data.get("dispositions", list(DEFAULT_DISPOSITIONS))
    if not isinstance(dispositions, list) or not all(
        isinstance(d, str) and d for d in dispositions
    ):
        raise DeskSettingsError("dispositions must be a list of non-empty strings")
    return DeskSettings(
        canned_responses=_canned(data.get("responses", list(DEFAULT_CANNED))),
        dispositions=tuple(dispositions),
    )


def load_desk_settings(data_dir: Path) -> DeskSettings:
    configured = os.environ.get("THREADLINE_CANNED_RESPONSES")
    path = Path(configured) if configured else data_dir / "canned-responses.json"
    if not configured and not path.exists():
        return DeskSettings()
    return parse_desk_settings(json.loads(path.read_text(encoding="utf-8")))


async def desk_redirect(request: Request) -> Response:
    return RedirectResponse("/desk/", status_code=308)


async def desk_asset(request: Request) -> Response:
    name = request.path_params.get("name") or "index.html"
    media_type = ASSETS.get(name)
    if media_type is None:
        return error(404, "not_found", "no such desk file")
    return FileResponse(DESK_DIR / name, media_type=media_type, headers=SECURITY_HEADERS)


async def desk_config(request: Request) -> Response:
    """What the signed-in agent's desk draws its controls from (any role may read it)."""
    directory: AgentDirectory = request.app.state.agent_directory
    token = bearer(request)
    identity = await directory.authenticate(token) if token else None
    if identity is None:
        return error(401, "unauthenticated", "send an agent token as 'Authorization: Bearer ...'")
    settings: DeskSettings = request.app.state.desk_settings
    service: RoutingService = request.app.state.routing_service
    config = service.config
    agents = [
        {"id": row["id"], "name": row["name"]}
        for row in await directory.all()
        if row["id"] != identity.agent_id
    ]
    body = {
        "agent_id": identity.agent_id,
        "roles": list(identity.roles),
        "supervisor": identity.supervisor,
        "canned_responses": list(settings.canned_responses),
        "dispositions": list(settings.dispositions),
        "activities": [
            {"name": name, "routable": routable} for name, routable in config.activities.items()
        ],
        "queues": sorted(config.queues),
        "agents": agents,
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


routes = [
    Route("/desk", desk_redirect, methods=["GET"]),
    Route("/desk/", desk_asset, methods=["GET"]),
    Route("/desk/{name}", desk_asset, methods=["GET"]),
    Route("/api/v1/desk/config", desk_config, methods=["GET"]),
]

PATHS: dict[str, Any] = {
    "/api/v1/desk/config": {
        "get": {
            "summary": "The agent desk's settings: canned responses, dispositions, activities, "
            "transfer targets (any agent token)",
            "responses": {
                "200": _json({"type": "object"}),
                "401": _json({"$ref": "#/components/schemas/Error"}, "Missing or invalid token"),
            },
        }
    }
}
