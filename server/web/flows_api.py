"""The flows REST API: list, read, validate and publish flows, and draw them.

Publishing through the API writes the flow file (atomically: a temporary file renamed over the
old one) and publishes the version at once, so the flows directory stays the one source of truth
that ``threadline serve`` and the file watcher read.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from channels.untrusted import MAX_STORED_INT
from server.flows.diagram import flow_graph, render_svg
from server.flows.loader import flow_sid
from server.flows.validation import FlowIssue, validate_flow
from server.runtime.flows import FlowRegistry
from server.runtime.rows import iso
from server.web.auth import check_admin
from server.web.bodies import json_body
from server.web.errors import error

# A flow name becomes a file name: no separators, no dots, so no path traversal.
FLOW_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _registry(request: Request) -> FlowRegistry:
    registry: FlowRegistry = request.app.state.runtime.flows
    return registry


def _name(request: Request) -> str | Response:
    name: str = request.path_params["name"]
    if not FLOW_NAME.fullmatch(name):
        return error(
            400, "bad_flow_name", "a flow name is 1 to 64 letters, digits, '_' or '-' (field: name)"
        )
    return name


def _issues_json(issues: list[FlowIssue]) -> list[dict[str, Any]]:
    return [
        {"state": i.state, "property": i.property, "message": i.message, "severity": i.severity}
        for i in issues
    ]


async def _definition_body(request: Request) -> dict[str, Any] | Response:
    body = await json_body(request)
    if isinstance(body, Response):
        return body
    if not isinstance(body, dict):
        return error(400, "invalid_flow", "the body must be a flow definition (a JSON object)")
    return body


async def list_flows(request: Request) -> Response:
    if (denied := check_admin(request)) is not None:
        return denied
    registry = _registry(request)
    flows = []
    for name in registry.names():
        compiled = registry.latest(name)
        if compiled is not None:
            flows.append({"name": name, "sid": compiled.sid, "version": compiled.version})
    return JSONResponse({"flows": flows})


async def _versions_json(registry: FlowRegistry, name: str) -> list[dict[str, Any]]:
    return [
        {"version": v["version"], "hash": v["hash"], "created_at": iso(v["created_at"])}
        for v in await registry.versions(name)
    ]


async def get_flow(request: Request) -> Response:
    if (denied := check_admin(request)) is not None:
        return denied
    name = _name(request)
    if isinstance(name, Response):
        return name
    registry = _registry(request)
    compiled = registry.latest(name)
    if compiled is None:
        return error(404, "not_found", f"no flow {name}")
    return JSONResponse(
        {
            "name": name,
            "sid": compiled.sid,
            "version": compiled.version,
            "definition": compiled.definition,
            "versions": await _versions_json(registry, name),
        }
    )


async def get_flow_version(request: Request) -> Response:
    if (denied := check_admin(request)) is not None:
        return denied
    name = _name(request)
    if isinstance(name, Response):
        return name
    number: int = request.path_params["version"]
    # A number past what the database stores names no version (and must not reach the query).
    fits = number <= MAX_STORED_INT
    row = await request.app.state.store.flow_version(flow_sid(name), number) if fits else None
    if row is None:
        return error(404, "not_found", f"flow {name} has no version {number}")
    return JSONResponse(
        {
            "name": name,
            "sid": row["sid"],
            "version": row["version"],
            "hash": row["hash"],
            "created_at": iso(row["created_at"]),
            "definition": row["definition"],
        }
    )


async def validate(request: Request) -> Response:
    if (denied := check_admin(request)) is not None:
        return denied
    definition = await _definition_body(request)
    if isinstance(definition, Response):
        return definition
    # Warnings (what Studio publishes and runs) are shown; only errors make a flow invalid.
    issues = validate_flow(definition, file="request", warnings=True)
    valid = not any(issue.is_error for issue in issues)
    return JSONResponse({"valid": valid, "issues": _issues_json(issues)})


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so a reader sees the old file or the new one, never half."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


async def publish(request: Request) -> Response:
    if (denied := check_admin(request)) is not None:
        return denied
    name = _name(request)
    if isinstance(name, Response):
        return name
    definition = await _definition_body(request)
    if isinstance(definition, Response):
        return definition
    issues = validate_flow(definition, file=name)
    if issues:
        body = {
            "error": {"code": "invalid_flow", "message": f"{issues[0]} ({len(issues)} issues)"},
            "valid": False,
            "issues": _issues_json(issues),
        }
        return JSONResponse(body, status_code=422)
    settings = request.app.state.settings
    path = Path(settings.flows_dir) / f"{name}.json"
    text = json.dumps(definition, indent=2, ensure_ascii=False) + "\n"
    write_atomically(path, text)
    registry = _registry(request)
    previous = registry.latest(name)
    compiled = await registry.publish(name, definition)
    watcher = getattr(request.app.state, "flow_watcher", None)
    if watcher is not None:
        watcher.settle(path)
    created = previous is None or previous.version != compiled.version
    return JSONResponse(
        {"name": name, "sid": compiled.sid, "version": compiled.version, "created": created},
        status_code=201 if created else 200,
    )


async def diagram_svg(request: Request) -> Response:
    if (denied := check_admin(request)) is not None:
        return denied
    name = _name(request)
    if isinstance(name, Response):
        return name
    compiled = _registry(request).latest(name)
    if compiled is None:
        return error(404, "not_found", f"no flow {name}")
    svg = render_svg(flow_graph(compiled.definition), title=f"{name} v{compiled.version}")
    return Response(svg, media_type="image/svg+xml")


routes: list[Route] = [
    Route("/api/v1/flows", list_flows, methods=["GET"]),
    Route("/api/v1/flows/validate", validate, methods=["POST"]),
    Route("/api/v1/flows/{name}", get_flow, methods=["GET"]),
    Route("/api/v1/flows/{name}", publish, methods=["PUT"]),
    Route("/api/v1/flows/{name}/versions/{version:int}", get_flow_version, methods=["GET"]),
    Route("/api/v1/flows/{name}/diagram.svg", diagram_svg, methods=["GET"]),
]


# --- OpenAPI -------------------------------------------------------------------------------------


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERROR_REF = {"$ref": "#/components/schemas/Error"}
UNAUTHORIZED = _json(ERROR_REF, "Missing or invalid admin token")
BAD_NAME = _json(ERROR_REF, "The flow name is not 1-64 of [A-Za-z0-9_-]")
NOT_FOUND = _json(ERROR_REF, "No such flow or version")
NAME_PARAMETER = {
    "name": "name",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"},
}
FLOW_DEFINITION = {
    "type": "object",
    "description": "A flow definition in Twilio Studio's format (flows/flow.schema.json)",
    "required": ["initial_state", "states"],
}
ISSUE = {
    "type": "object",
    "properties": {
        "state": {"type": ["string", "null"]},
        "property": {"type": ["string", "null"]},
        "message": {"type": "string"},
        "severity": {
            "enum": ["error", "warning"],
            "description": "error: the flow cannot run; warning: it runs, as Studio runs it",
        },
    },
}
VALIDATION = {
    "type": "object",
    "properties": {"valid": {"type": "boolean"}, "issues": {"type": "array", "items": ISSUE}},
}
VERSION_SUMMARY = {
    "type": "object",
    "properties": {
        "version": {"type": "integer"},
        "hash": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
    },
}
FLOW_BODY = {"required": True, "content": {"application/json": {"schema": FLOW_DEFINITION}}}

OPENAPI_PATHS: dict[str, Any] = {
    "/api/v1/flows": {
        "get": {
            "summary": "The flows being served and their live versions",
            "responses": {"200": _json({"type": "object"}), "401": UNAUTHORIZED},
        }
    },
    "/api/v1/flows/validate": {
        "post": {
            "summary": "Validate a flow definition without publishing it",
            "requestBody": FLOW_BODY,
            "responses": {
                "200": _json(VALIDATION, "Whether the flow is valid, and its issues"),
                "400": _json(ERROR_REF, "The body is not a JSON object"),
                "401": UNAUTHORIZED,
            },
        }
    },
    "/api/v1/flows/{name}": {
        "get": {
            "summary": "A flow's live definition, SID, version and the list of its versions",
            "parameters": [NAME_PARAMETER],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "sid": {"type": "string"},
                            "version": {"type": "integer"},
                            "definition": FLOW_DEFINITION,
                            "versions": {"type": "array", "items": VERSION_SUMMARY},
                        },
                    }
                ),
                "400": BAD_NAME,
                "401": UNAUTHORIZED,
                "404": NOT_FOUND,
            },
        },
        "put": {
            "summary": "Publish a flow: validate it, write flows/NAME.json and serve it as a new "
            "version (running executions keep theirs)",
            "parameters": [NAME_PARAMETER],
            "requestBody": FLOW_BODY,
            "responses": {
                "200": _json({"type": "object"}, "Unchanged: the live version is returned"),
                "201": _json(
                    {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "sid": {"type": "string"},
                            "version": {"type": "integer"},
                            "created": {"type": "boolean"},
                        },
                    },
                    "Published as a new version",
                ),
                "400": BAD_NAME,
                "401": UNAUTHORIZED,
                "422": _json(
                    {
                        "type": "object",
                        "properties": {
                            "error": ERROR_REF,
                            "valid": {"const": False},
                            "issues": {"type": "array", "items": ISSUE},
                        },
                    },
                    "The flow is invalid; nothing was written",
                ),
            },
        },
    },
    "/api/v1/flows/{name}/versions/{version}": {
        "get": {
            "summary": "One stored version of a flow",
            "parameters": [
                NAME_PARAMETER,
                {"name": "version", "in": "path", "required": True, "schema": {"type": "integer"}},
            ],
            "responses": {
                "200": _json({"type": "object"}),
                "400": BAD_NAME,
                "401": UNAUTHORIZED,
                "404": NOT_FOUND,
            },
        }
    },
    "/api/v1/flows/{name}/diagram.svg": {
        "get": {
            "summary": "The live version of a flow drawn as an SVG diagram",
            "parameters": [NAME_PARAMETER],
            "responses": {
                "200": {"description": "OK", "content": {"image/svg+xml": {}}},
                "400": BAD_NAME,
                "401": UNAUTHORIZED,
                "404": NOT_FOUND,
            },
        }
    },
}
