"""Meta WhatsApp Cloud API adapter.

Inbound (mount under ``/channels/whatsapp/``):

- ``GET .../webhook``: ``verify_handshake(query_params, verify_token) -> str | None``; answer the
  returned challenge as text/plain with 200, or 403 when None.
- ``POST .../webhook``: ``verify_signature(app_secret, raw_body, header) -> bool`` on the raw
  bytes with the ``X-Hub-Signature-256`` header (``SIGNATURE_HEADER``), 401/403 when False; then
  ``parse_webhook(json_body) -> WebhookBatch`` with ``.messages`` (InboundEnvelope, idempotency
  key = wamid, channel_account = phone_number_id) and ``.statuses`` (StatusUpdate). Answer 200
  once stored: Meta retries anything else.

Outbound:

- ``render(parts) -> list[dict]``: pure rendering to Cloud API message objects (text, reply
  buttons, list, numbered fallback, media, location, template, reaction).
- ``window_open(last_inbound_at, now) -> bool``: the 24-hour customer-service window.
- ``WhatsAppSender(access_token, graph_base=DEFAULT_GRAPH_BASE)`` (or ``from_env()``):
  ``channels.base.Sender`` over httpx; refuses free-form sends outside the window with
  ``error_code="window_closed"`` before any HTTP call, sending a message's templates instead
  when it has any. ``mark_read(phone_number_id, wamid)``.
"""

from channels.whatsapp.inbound import WebhookBatch, parse_webhook
from channels.whatsapp.render import render, render_choices, render_templates
from channels.whatsapp.sender import DEFAULT_GRAPH_BASE, WhatsAppSender
from channels.whatsapp.signature import SIGNATURE_HEADER, verify_handshake, verify_signature
from channels.whatsapp.window import (
    SERVICE_WINDOW,
    WINDOW_CLOSED_CODE,
    WINDOW_CLOSED_REASON,
    window_open,
)

__all__ = [
    "DEFAULT_GRAPH_BASE",
    "SERVICE_WINDOW",
    "SIGNATURE_HEADER",
    "WINDOW_CLOSED_CODE",
    "WINDOW_CLOSED_REASON",
    "WebhookBatch",
    "WhatsAppSender",
    "parse_webhook",
    "render",
    "render_choices",
    "render_templates",
    "verify_handshake",
    "verify_signature",
    "window_open",
]
