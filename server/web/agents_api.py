"""REST for agents: admins manage them (``/api/v1/agents``), agents log in (``/api/v1/login``)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from server.agents.auth import ROLES
from server.agents.directory import AgentDirectory, LoginTaken
from server.store.agents import agent_json
from server.web.auth import bearer, check_admin
from server.web.bodies import json_body
from server.web.errors import error
from server.web.openapi import _json

FIELDS = ("name", "login", "password", "roles", "attributes", "capacity", "issue_token")


async def _body(request: Request) -> dict[str, Any] | JSONResponse:
    body = await json_body(request)
    if isinstance(body, JSONResponse):
        return body
    if not isinstance(body, dict):
        return error(400, "invalid_body", "the body must be a JSON object")
    return body


def _problem(body: dict[str, Any], *, creating: bool) -> JSONResponse | None:
    for key in body:
        if key not in FIELDS:
            return error(400, "unknown_field", f"unknown field {key!r}")
    # A patch may leave the names out, not set them to anything but a name (found by
    # tests/fuzz: "name": null reached the database's NOT NULL column, a 500).
    required = ("name", "login") if creating else tuple(k for k in ("name", "login") if k in body)
    for key in required:
        if not isinstance(body.get(key), str) or not body[key].strip():
            return error(400, "invalid_field", f"{key} is required (a non-empty string)")
    roles = body.get("roles", ["agent"])
    if not isinstance(roles, list) or not roles or any(r not in ROLES for r in roles):
        return error(400, "invalid_field", f"roles must be a non-empty list of {', '.join(ROLES)}")
    if "attributes" in body and not isinstance(body["attributes"], dict):
        return error(400, "invalid_field", "attributes must be an object")
    capacity = body.get("capacity")
    if capacity is not None and (
        not isinstance(capacity, dict)
        or any(not isinstance(v, int) or v < 0 for v in capacity.values())
    ):
        return error(400, "invalid_field", "capacity maps channel kinds to non-negative integers")
    if "password" in body and not isinstance(body["password"], str):
        return error(400, "invalid_field", "password must be a string")
    return None


def _directory(request: Request) -> AgentDirectory:
    directory: AgentDirectory = request.app.state.agent_directory
    return directory


async def create_agent(request: Request) -> Response:
    denied = check_admin(request)
    if denied:
        return denied
    body = await _body(request)
    if isinstance(body, JSONResponse):
        return body
    problem = _problem(body, creating=True)
    if problem:
        return problem
    try:
        row, token = await _directory(request).create(
            body, with_token=bool(body.get("issue_token"))
        )
    except LoginTaken:
        return error(409, "login_taken", f"login {body['login']!r} is taken")
    data = agent_json(row)
    if token:
        data["token"] = token
    return JSONResponse(data, status_code=201)


async def list_agents(request: Request) -> Response:
    if not _is_admin(request):
        denied = await check_supervisor(request)
        if denied:
            return denied
    return JSONResponse({"agents": [agent_json(r) for r in await _directory(request).all()]})


async def patch_agent(request: Request) -> Response:
    denied = check_admin(request)
    if denied:
        return denied
    body = await _body(request)
    if isinstance(body, JSONResponse):
        return body
    problem = _problem(body, creating=False)
    if problem:
        return problem
    if "login" in body:
        return error(400, "invalid_field", "login cannot change")
    row, token = await _directory(request).patch(
        request.path_params["agent_id"], body, new_token=bool(body.get("issue_token"))
    )
    if row is None:
        return error(404, "not_found", "no such agent")
    data = agent_json(row)
    if token:
        data["token"] = token
    return JSONResponse(data)


async def login(request: Request) -> Response:
    body = await _body(request)
    if isinstance(body, JSONResponse):
        return body
    if not isinstance(body.get("login"), str) or not isinstance(body.get("password"), str):
        return error(400, "invalid_field", "login and password are required strings")
    found = await _directory(request).login(body["login"], body["password"])
    if found is None:
        return error(401, "invalid_credentials", "unknown login or wrong password")
    row, token = found
    return JSONResponse({"token": token, "agent_id": row["id"], "roles": list(row["roles"])})


def _is_admin(request: Request) -> bool:
    return check_admin(request) is None


async def check_supervisor(request: Request) -> JSONResponse | None:
    """Supervisors may read the agent list with their own JWT or agent token."""
    token = bearer(request)
    if token is None:
        return error(401, "unauthenticated", "send a token as 'Authorization: Bearer ...'")
    identity = await _directory(request).authenticate(token)
    if identity is None:
        return error(401, "invalid_token", "the token is not valid")
    if not identity.supervisor:
        return error(403, "forbidden", "listing agents needs the supervisor role")
    return None


routes = [
    Route("/api/v1/agents", create_agent, methods=["POST"]),
    Route("/api/v1/agents", list_agents, methods=["GET"]),
    Route("/api/v1/agents/{agent_id}", patch_agent, methods=["PATCH"]),
    Route("/api/v1/login", login, methods=["POST"]),
]

AGENT_SCHEMA = {"type": "object", "properties": {"id": {"type": "string"}}}
ERROR_REF = {"$ref": "#/components/schemas/Error"}
PATHS: dict[str, Any] = {
    "/api/v1/agents": {
        "post": {
            "summary": "Create an agent (admin); issue_token: true returns a long-lived token",
            "requestBody": _json({"type": "object", "required": ["name", "login"]}),
            "responses": {
                "201": _json(AGENT_SCHEMA),
                "400": _json(ERROR_REF, "Invalid field"),
                "401": _json(ERROR_REF, "Missing or invalid token"),
                "409": _json(ERROR_REF, "Login taken"),
            },
        },
        "get": {
            "summary": "List agents (admin token, or a supervisor's token)",
            "responses": {
                "200": _json({"type": "object"}),
                "401": _json(ERROR_REF, "Missing or invalid token"),
                "403": _json(ERROR_REF, "Not a supervisor"),
            },
        },
    },
    "/api/v1/agents/{agent_id}": {
        "patch": {
            "summary": "Change an agent's name, password, roles, attributes or capacity (admin)",
            "parameters": [
                {"name": "agent_id", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "requestBody": _json({"type": "object"}),
            "responses": {
                "200": _json(AGENT_SCHEMA),
                "400": _json(ERROR_REF, "Invalid field"),
                "401": _json(ERROR_REF, "Missing or invalid token"),
                "404": _json(ERROR_REF, "Not found"),
            },
        }
    },
    "/api/v1/login": {
        "post": {
            "summary": "Log an agent in: a short-lived JWT with the agent id and roles",
            "security": [],
            "requestBody": _json(
                {
                    "type": "object",
                    "properties": {"login": {"type": "string"}, "password": {"type": "string"}},
                    "required": ["login", "password"],
                }
            ),
            "responses": {
                "200": _json({"type": "object"}),
                "400": _json(ERROR_REF, "Missing field or malformed body"),
                "401": _json(ERROR_REF, "Invalid credentials"),
            },
        }
    },
}
