"""Twilio Programmable Messaging adapter: SMS/MMS and WhatsApp through Twilio.

Inbound (mount under ``/channels/twilio/``; Twilio POSTs form-encoded bodies):

- ``verify_signature(auth_token, url, form, signature) -> bool``: check ``X-Twilio-Signature``
  (``SIGNATURE_HEADER``). ``url`` is the URL Twilio called; behind a proxy build it with
  ``public_request_url(THREADLINE_PUBLIC_URL, request.url.path, request.url.query)``.
- ``parse_inbound(form) -> InboundEnvelope``: the message webhook (``POST .../inbound``).
  channel "whatsapp" for ``whatsapp:`` senders, else "sms"; idempotency key = MessageSid;
  ``fields`` is what Studio flows see as ``trigger.message``.
- ``parse_status(form) -> StatusUpdate``: the status callback (``POST .../status``).
  Answer both webhooks with 204 (or empty TwiML) once stored; replies go out through the sender.

Outbound:

- ``render(parts, channel) -> list[TwilioSend]``: pure rendering (numbered choices, 1,600-char
  splitting, media URLs, Content-SID templates).
- ``match_choice(answer, choices) -> Choice | None``: map "2", "2." or a label back to a choice.
- ``TwilioSender(account_sid, auth_token, api_base=None, public_url=None)`` (or
  ``TwilioSender.from_env()``): ``channels.base.Sender`` over the official ``twilio`` package's
  async client. From = ``conversation.channel_account``, To = ``conversation.customer_address``.

A WhatsApp conversation belongs to this adapter when its ``channel_account`` starts with
``whatsapp:``; WhatsApp Cloud API conversations carry a bare phone-number id instead.
"""

from channels.twilio.inbound import normalise_address, parse_inbound, parse_status
from channels.twilio.phone import to_e164
from channels.twilio.render import MAX_BODY, TwilioSend, render
from channels.twilio.sender import TwilioSender
from channels.twilio.signature import (
    SIGNATURE_HEADER,
    public_request_url,
    status_callback_url,
    verify_signature,
)
from channels.twilio.text import match_choice, numbered_list, split_text

__all__ = [
    "MAX_BODY",
    "SIGNATURE_HEADER",
    "TwilioSend",
    "TwilioSender",
    "match_choice",
    "normalise_address",
    "numbered_list",
    "parse_inbound",
    "parse_status",
    "public_request_url",
    "render",
    "split_text",
    "status_callback_url",
    "to_e164",
    "verify_signature",
]
