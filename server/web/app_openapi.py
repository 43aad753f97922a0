"""The app API in the OpenAPI document (added by the app area with ``openapi.add_paths``)."""

from __future__ import annotations

from typing import Any

ERROR_REF = {"$ref": "#/components/schemas/Error"}
SESSION: list[dict[str, list[str]]] = [
    {"appSession": []}
]  # the session token from POST /api/app/v1/sessions, as Bearer


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(ERROR_REF, description)


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


STRING = {"type": "string"}
DEVICE = {
    "type": "object",
    "description": "Shown to flows as conversation.context.device (without push_token).",
    "properties": {
        name: STRING
        for name in (
            "platform",
            "os_version",
            "app_version",
            "device_model",
            "locale",
            "time_zone",
            "push_token",
        )
    },
}
MESSAGE = {
    "type": "object",
    "properties": {
        "id": STRING,
        "seq": {"type": "integer"},
        "direction": {"enum": ["inbound", "outbound"]},
        "author": STRING,
        "text": STRING,
        "parts": {"type": "array", "items": {"type": "object"}},
        "status": STRING,
        "created_at": STRING,
    },
}
ATTACHMENT = {
    "type": "object",
    "description": "Either upload_id (from POST /uploads) or url with content_type.",
    "properties": {
        "upload_id": STRING,
        "url": {"type": "string", "format": "uri"},
        "content_type": STRING,
        "filename": STRING,
        "caption": STRING,
    },
}

PATHS: dict[str, Any] = {
    "/api/app/v1/sessions": {
        "post": {
            "summary": "Create a session for an app user (resumes the user's conversation)",
            "security": [],
            "requestBody": _body(
                {
                    "type": "object",
                    "required": ["app_id", "user_id"],
                    "properties": {
                        "app_id": STRING,
                        "user_id": STRING,
                        "user_hash": {
                            "type": "string",
                            "description": "hex HMAC-SHA256 of user_id with the app's secret; "
                            "required when the app has a secret",
                        },
                        "device": DEVICE,
                    },
                }
            ),
            "responses": {
                "201": _json(
                    {
                        "type": "object",
                        "properties": {
                            "session_token": STRING,
                            "session_id": STRING,
                            "conversation_id": STRING,
                            "contact_id": STRING,
                            "resumed": {"type": "boolean"},
                        },
                    },
                    "The session; send session_token as a Bearer token",
                ),
                "400": _error("A field is missing or invalid"),
                "401": _error("user_hash missing or wrong"),
                "404": _error("Unknown app_id"),
            },
        }
    },
    "/api/app/v1/messages": {
        "post": {
            "summary": "Send a message as the user; the same echo_id is stored once",
            "security": SESSION,
            "requestBody": _body(
                {
                    "type": "object",
                    "required": ["echo_id"],
                    "properties": {
                        "echo_id": STRING,
                        "text": STRING,
                        "choice_id": STRING,
                        "attachments": {"type": "array", "items": ATTACHMENT, "maxItems": 10},
                    },
                }
            ),
            "responses": {
                "201": _json(
                    {
                        "type": "object",
                        "properties": {
                            "message": MESSAGE,
                            "conversation_id": STRING,
                            "duplicate": {"type": "boolean"},
                        },
                    },
                    "Stored",
                ),
                "200": _json({"type": "object"}, "Already stored under this echo_id"),
                "400": _error("A field is missing or invalid"),
                "401": _error("Missing or invalid session token"),
                "415": _error("An attachment's content type is not accepted"),
            },
        },
        "get": {
            "summary": "Page back through the conversation's history, oldest first in a page",
            "security": SESSION,
            "parameters": [
                {
                    "name": "before",
                    "in": "query",
                    "description": "only messages with seq below this (the previous next_before)",
                    "schema": {"type": "integer"},
                },
                {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 200}},
            ],
            "responses": {
                "200": _json(
                    {
                        "type": "object",
                        "properties": {
                            "conversation_id": STRING,
                            "messages": {"type": "array", "items": MESSAGE},
                            "next_before": {"type": ["integer", "null"]},
                        },
                    }
                ),
                "400": _error("Bad before or limit"),
                "401": _error("Missing or invalid session token"),
            },
        },
    },
    "/api/app/v1/uploads": {
        "post": {
            "summary": "Upload a file (raw body, typed by its bytes) for an attachment",
            "security": SESSION,
            "parameters": [{"name": "filename", "in": "query", "schema": STRING}],
            "requestBody": {"required": True, "content": {"*/*": {"schema": {"format": "binary"}}}},
            "responses": {
                "201": _json(
                    {
                        "type": "object",
                        "properties": {
                            "upload_id": STRING,
                            "url": STRING,
                            "content_type": STRING,
                            "size": {"type": "integer"},
                        },
                    }
                ),
                "401": _error("Missing or invalid session token"),
                "413": _error("Larger than max_upload_bytes or THREADLINE_MAX_UPLOAD_BYTES"),
                "415": _error("The file's bytes are not a type in the app's upload_types"),
            },
        }
    },
    "/api/app/v1/uploads/{upload_id}": {
        "get": {
            "summary": "An uploaded file (the unguessable id is the credential)",
            "security": [],
            "parameters": [{"name": "upload_id", "in": "path", "required": True, "schema": STRING}],
            "responses": {"200": {"description": "The file"}, "404": _error("No such upload")},
        }
    },
    "/api/app/v1/events": {
        "post": {
            "summary": "Record an app event (app.event); resumes or starts a flow waiting for it",
            "security": SESSION,
            "requestBody": _body(
                {
                    "type": "object",
                    "required": ["name"],
                    "properties": {"name": STRING, "properties": {"type": "object"}},
                }
            ),
            "responses": {
                "202": _json(
                    {
                        "type": "object",
                        "properties": {
                            "event_id": STRING,
                            "flow": {"enum": ["resumed", "started", None]},
                        },
                    }
                ),
                "400": _error("A field is missing or invalid"),
                "401": _error("Missing or invalid session token"),
            },
        }
    },
    "/api/app/v1/read": {
        "post": {
            "summary": "Read receipt: the user has seen messages up to seq",
            "security": SESSION,
            "requestBody": _body(
                {"type": "object", "required": ["seq"], "properties": {"seq": {"type": "integer"}}}
            ),
            "responses": {
                "200": _json({"type": "object"}),
                "400": _error("Bad seq"),
                "401": _error("Missing or invalid session token"),
            },
        }
    },
    "/api/app/v1/ws": {
        "get": {
            "summary": "WebSocket: message, typing, read frames (see docs/app-api.md)",
            "security": [],
            "parameters": [
                {"name": "token", "in": "query", "required": True, "schema": STRING},
                {"name": "after", "in": "query", "schema": {"type": "integer"}},
            ],
            "responses": {"101": {"description": "Switching to the WebSocket protocol"}},
        }
    },
    "/api/v1/contacts/{contact_id}/events": {
        "get": {
            "summary": "A contact's journey events, oldest first",
            "parameters": [
                {"name": "contact_id", "in": "path", "required": True, "schema": STRING},
                {"name": "type", "in": "query", "schema": STRING},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 1000}},
            ],
            "responses": {
                "200": _json({"type": "object"}),
                "401": _error("Missing or invalid admin token"),
                "404": _error("No such contact"),
            },
        }
    },
}


def add_security_scheme(document: dict[str, Any]) -> None:
    document["components"]["securitySchemes"]["appSession"] = {
        "type": "http",
        "scheme": "bearer",
        "description": "session_token from POST /api/app/v1/sessions",
    }
