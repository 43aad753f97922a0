"""The WhatsApp Cloud API webhook: Meta's subscription handshake and message/status POSTs.

The POST signature (``X-Hub-Signature-256``) is checked on the raw body before it is parsed.
A body may carry several entries, changes, messages and statuses; every one is stored before
the 200 goes back (Meta retries anything else), and a retried wamid is stored once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from channels.untrusted import BadJSON, loads
from channels.whatsapp import SIGNATURE_HEADER, parse_webhook, verify_handshake, verify_signature
from server.channel_accounts import ChannelAccounts
from server.web.bodies import bad_json, max_body_bytes
from server.web.errors import error

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/channels/whatsapp"

# (phone-number id, wamid) -> marks the inbound message as read at Meta; set by the area.
MarkRead = Callable[[str, str], Awaitable[None]]


def _accounts(request: Request) -> ChannelAccounts:
    accounts: ChannelAccounts = request.app.state.channel_accounts
    return accounts


async def handshake(request: Request) -> Response:
    params = request.query_params
    for account in _accounts(request).whatsapp:
        challenge = verify_handshake(params, account.verify_token)
        if challenge is not None:
            return PlainTextResponse(challenge)
    return error(403, "forbidden", "hub.verify_token does not match or hub.mode is not subscribe")


async def webhook(request: Request) -> Response:
    accounts = _accounts(request)
    if not accounts.whatsapp:
        return error(404, "not_found", "no WhatsApp Cloud API account is configured")
    raw = await request.body()
    header = request.headers.get(SIGNATURE_HEADER)
    # Several apps may post here; the body is genuine when any configured app secret signed it.
    secrets = {account.app_secret for account in accounts.whatsapp}
    if not any(verify_signature(secret, raw, header) for secret in secrets):
        return error(401, "invalid_signature", f"the {SIGNATURE_HEADER} header is missing or wrong")
    try:
        body = loads(raw, max_length=max_body_bytes(request))
    except BadJSON as problem:
        return bad_json(problem)
    if not isinstance(body, dict):
        return error(400, "bad_json", "the body must be a JSON object")
    runtime = request.app.state.runtime
    batch = parse_webhook(body)
    fresh: list[tuple[str, str]] = []
    for envelope in batch.messages:
        ingested = await runtime.receive(envelope)
        if not ingested.duplicate and envelope.provider_message_id:
            fresh.append((envelope.channel_account, envelope.provider_message_id))
    for update in batch.statuses:
        await runtime.apply_status(
            update.provider_message_id, update.status, update.error_code, update.error
        )
    mark_read: MarkRead | None = getattr(request.app.state, "whatsapp_mark_read", None)
    if mark_read is not None:
        for phone_number_id, wamid in fresh:
            # Blue ticks are a courtesy: after storing, in the background, failures only logged.
            runtime.spawn(mark_read(phone_number_id, wamid))
    return JSONResponse({"received": len(batch.messages), "statuses": len(batch.statuses)})


def routes() -> list[BaseRoute]:
    return [
        Route(WEBHOOK_PATH, handshake, methods=["GET"]),
        Route(WEBHOOK_PATH, webhook, methods=["POST"]),
    ]


_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}

OPENAPI_PATHS: dict[str, Any] = {
    WEBHOOK_PATH: {
        "get": {
            "summary": "WhatsApp Cloud API webhook subscription handshake",
            "security": [],
            "parameters": [
                {"name": name, "in": "query", "required": True, "schema": {"type": "string"}}
                for name in ("hub.mode", "hub.verify_token", "hub.challenge")
            ],
            "responses": {
                "200": {"description": "The hub.challenge", "content": {"text/plain": {}}},
                "403": {"description": "Wrong verify token", "content": _ERROR},
            },
        },
        "post": {
            "summary": "WhatsApp Cloud API messages and statuses",
            "security": [],
            "parameters": [
                {"name": SIGNATURE_HEADER, "in": "header", "required": True, "schema": {}}
            ],
            "requestBody": {"content": {"application/json": {"schema": {"type": "object"}}}},
            "responses": {
                "200": {"description": "Every message and status stored"},
                "400": {"description": "Not a JSON object", "content": _ERROR},
                "401": {"description": "Missing or wrong signature", "content": _ERROR},
                "404": {"description": "No WhatsApp account is configured", "content": _ERROR},
            },
        },
    }
}
