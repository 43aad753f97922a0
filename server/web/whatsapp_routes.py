"""The WhatsApp Cloud API webhook: Meta's subscription handshake and message/status POSTs.

The POST signature (``X-Hub-Signature-256``) is checked on the raw body before it is parsed.
A body may carry several entries, changes, messages and statuses; every one is stored before
the 200 goes back (Meta retries anything else), and a retried wamid is stored once.

Changes for a phone-number id that no account configures are answered 200 too (so Meta does not
retry them) but dropped whole: nothing stored, nothing sent, one warning per id per minute.
Revokes, edits and system messages are recorded as notices (server.runtime.notices), never run
as customer turns.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from channels.untrusted import BadJSON, loads
from channels.whatsapp import SIGNATURE_HEADER, parse_webhook, verify_handshake, verify_signature
from server.channel_accounts import ChannelAccounts
from server.runtime.notices import record_notice
from server.web.bodies import bad_json, max_body_bytes
from server.web.errors import error

log = logging.getLogger(__name__)

WEBHOOK_PATH = "/channels/whatsapp"

# (phone-number id, wamid) -> marks the inbound message as read at Meta; set by the area.
MarkRead = Callable[[str, str], Awaitable[None]]

# A phone-number id nobody configured is logged at most once per this many seconds.
UNKNOWN_ID_LOG_SECONDS = 60.0
_unknown_id_logged: dict[str, float] = {}


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
    ignored = _drop_unconfigured(body, accounts)
    batch = parse_webhook(body)
    fresh: list[tuple[str, str]] = []
    for envelope in batch.messages:
        ingested = await runtime.receive(envelope)
        if not ingested.duplicate and envelope.provider_message_id:
            fresh.append((envelope.channel_account, envelope.provider_message_id))
    # After the messages: an edit or revoke in the same POST names a message stored above.
    for notice in batch.notices:
        await record_notice(runtime, notice)
    for update in batch.statuses:
        await runtime.apply_status(
            update.provider_message_id, update.status, update.error_code, update.error
        )
    mark_read: MarkRead | None = getattr(request.app.state, "whatsapp_mark_read", None)
    if mark_read is not None:
        for phone_number_id, wamid in fresh:
            # Blue ticks are a courtesy: after storing, in the background, failures only logged.
            runtime.spawn(mark_read(phone_number_id, wamid))
    return JSONResponse(
        {
            "received": len(batch.messages),
            "statuses": len(batch.statuses),
            "notices": len(batch.notices),
            "ignored": ignored,
        }
    )


def _drop_unconfigured(body: dict[str, Any], accounts: ChannelAccounts) -> int:
    """Take out of ``body`` the changes addressed to phone-number ids no account configures;
    returns how many were taken out. A change names its id in ``value.metadata``."""
    ignored = 0
    entries = body.get("entry")
    for entry in entries if isinstance(entries, list) else []:
        changes = entry.get("changes") if isinstance(entry, dict) else None
        if not isinstance(changes, list):
            continue
        kept = []
        for change in changes:
            phone_number_id = _phone_number_id(change)
            if phone_number_id is not None and accounts.whatsapp_for(phone_number_id) is None:
                ignored += 1
                _log_unknown_id(phone_number_id)
            else:
                kept.append(change)
        entry["changes"] = kept
    return ignored


def _phone_number_id(change: Any) -> str | None:
    value = change.get("value") if isinstance(change, dict) else None
    metadata = value.get("metadata") if isinstance(value, dict) else None
    found = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
    return None if found is None else str(found)


def _log_unknown_id(phone_number_id: str) -> None:
    now = time.monotonic()
    last = _unknown_id_logged.get(phone_number_id)
    if last is not None and now - last < UNKNOWN_ID_LOG_SECONDS:
        return
    if len(_unknown_id_logged) > 1000:  # ids come from outside: keep the memory bounded
        _unknown_id_logged.clear()
    _unknown_id_logged[phone_number_id] = now
    log.warning(
        "WhatsApp webhook for phone-number id %s, which no account configures: ignored "
        "(answered 200 so Meta does not retry; add it to the channels file to serve it)",
        phone_number_id[:64],
    )


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
                "200": {
                    "description": "Every message, status and notice stored; changes for "
                    "phone-number ids no account configures ignored"
                },
                "400": {"description": "Not a JSON object", "content": _ERROR},
                "401": {"description": "Missing or wrong signature", "content": _ERROR},
                "404": {"description": "No WhatsApp account is configured", "content": _ERROR},
            },
        },
    }
}
