"""Twilio's webhooks: inbound messages and delivery status callbacks (form-encoded POSTs).

Both are checked against ``X-Twilio-Signature`` with the auth token of the account named by the
form's ``AccountSid``, on the URL Twilio called (rebuilt from ``THREADLINE_PUBLIC_URL`` behind a
proxy). Nothing is stored for a request that fails the check.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from twilio.twiml.messaging_response import MessagingResponse

from channels.twilio import SIGNATURE_HEADER, parse_inbound, parse_status, public_request_url
from channels.twilio import verify_signature as twilio_signature_ok
from server.channel_accounts import ChannelAccounts, TwilioAccount
from server.web.errors import error

MESSAGES_PATH = "/channels/twilio/messages"
STATUS_PATH = "/channels/twilio/status"

# Replies go out through the REST API, so the webhook answer carries no messages.
EMPTY_TWIML = str(MessagingResponse())


async def _verified_form(request: Request) -> dict[str, str] | Response:
    """The POSTed form when the request comes from a configured Twilio account, else an error."""
    accounts: ChannelAccounts = request.app.state.channel_accounts
    if not accounts.twilio:
        return error(404, "not_found", "no Twilio account is configured")
    body = (await request.body()).decode("utf-8", errors="replace")
    # Twilio posts each field once; a repeated field keeps its last value, as Twilio signs it.
    form = dict(parse_qsl(body, keep_blank_values=True))
    account = accounts.twilio_by_sid(form.get("AccountSid", ""))
    if account is None and len(accounts.twilio) == 1:
        account = accounts.twilio[0]
    if account is None or not _signed(request, account, accounts.public_url, form):
        return error(403, "invalid_signature", f"the {SIGNATURE_HEADER} header is missing or wrong")
    return form


def _signed(
    request: Request, account: TwilioAccount, public_url: str | None, form: dict[str, str]
) -> bool:
    if public_url:
        url = public_request_url(public_url, request.url.path, request.url.query)
    else:
        url = str(request.url)
    return twilio_signature_ok(account.auth_token, url, form, request.headers.get(SIGNATURE_HEADER))


async def inbound_message(request: Request) -> Response:
    form = await _verified_form(request)
    if isinstance(form, Response):
        return form
    if not (form.get("MessageSid") or form.get("SmsMessageSid")):
        return error(400, "missing_field", "the form has no 'MessageSid'")
    if not form.get("From"):
        return error(400, "missing_field", "the form has no 'From'")
    # Stored (and deduplicated on MessageSid) before we answer; the flow runs afterwards, so a
    # slow step never holds Twilio's request.
    await request.app.state.runtime.receive(parse_inbound(form))
    return Response(EMPTY_TWIML, media_type="text/xml")


async def status_callback(request: Request) -> Response:
    form = await _verified_form(request)
    if isinstance(form, Response):
        return form
    update = parse_status(form)
    if not update.provider_message_id or not update.status:
        return error(400, "missing_field", "the form needs 'MessageSid' and 'MessageStatus'")
    await request.app.state.runtime.apply_status(
        update.provider_message_id, update.status, update.error_code, update.error
    )
    return Response(status_code=204)


def routes() -> list[BaseRoute]:
    return [
        Route(MESSAGES_PATH, inbound_message, methods=["POST"]),
        Route(STATUS_PATH, status_callback, methods=["POST"]),
    ]


def _webhook(summary: str, ok: dict[str, Any]) -> dict[str, Any]:
    error_body = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    return {
        "post": {
            "summary": summary,
            "security": [],
            "parameters": [
                {"name": SIGNATURE_HEADER, "in": "header", "required": True, "schema": {}}
            ],
            "requestBody": {
                "content": {"application/x-www-form-urlencoded": {"schema": {"type": "object"}}}
            },
            "responses": {
                **ok,
                "400": {"description": "A required field is missing", "content": error_body},
                "403": {"description": "Missing or wrong signature", "content": error_body},
                "404": {"description": "No Twilio account is configured", "content": error_body},
            },
        }
    }


OPENAPI_PATHS: dict[str, Any] = {
    MESSAGES_PATH: _webhook(
        "Twilio inbound message webhook (SMS, MMS, WhatsApp)",
        {"200": {"description": "Stored; empty TwiML", "content": {"text/xml": {}}}},
    ),
    STATUS_PATH: _webhook(
        "Twilio delivery status callback", {"204": {"description": "Status recorded"}}
    ),
}
