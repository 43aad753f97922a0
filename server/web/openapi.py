"""The OpenAPI document at /api/v1/openapi.json, written as data next to the routes it describes.

Areas add their paths with ``add_paths`` when their routes are mounted.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

ERROR = {
    "type": "object",
    "properties": {
        "error": {
            "type": "object",
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            "required": ["code", "message"],
        }
    },
}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


UNAUTHORIZED = _json({"$ref": "#/components/schemas/Error"}, "Missing or invalid admin token")
NOT_FOUND = _json({"$ref": "#/components/schemas/Error"}, "Not found")

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "Threadline API", "version": "1"},
    "components": {
        "securitySchemes": {"admin": {"type": "http", "scheme": "bearer"}},
        "schemas": {"Error": ERROR},
    },
    "security": [{"admin": []}],
    "paths": {
        "/api/v1/conversations": {
            "get": {
                "summary": "List conversations, newest activity first",
                "parameters": [
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 200}},
                    {"name": "offset", "in": "query", "schema": {"type": "integer"}},
                    {"name": "status", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {"200": _json({"type": "object"}), "401": UNAUTHORIZED},
            }
        },
        "/api/v1/conversations/{conversation_id}": {
            "get": {
                "summary": "A conversation with its messages and executions",
                "parameters": [
                    {
                        "name": "conversation_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {
                    "200": _json({"type": "object"}),
                    "401": UNAUTHORIZED,
                    "404": NOT_FOUND,
                },
            }
        },
        "/api/v1/executions/{execution_id}": {
            "get": {
                "summary": "An execution with its step log",
                "parameters": [
                    {
                        "name": "execution_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {
                    "200": _json({"type": "object"}),
                    "401": UNAUTHORIZED,
                    "404": NOT_FOUND,
                },
            }
        },
    },
}


def add_paths(paths: dict[str, Any]) -> None:
    DOCUMENT["paths"].update(paths)


async def openapi(request: Request) -> JSONResponse:
    return JSONResponse(DOCUMENT)
