"""Twilio's inbound message and status-callback webhooks, turned into model values.

The form fields are the ones Twilio POSTs for Programmable Messaging (SMS/MMS and WhatsApp):
https://www.twilio.com/docs/messaging/guides/webhook-request
"""

from __future__ import annotations

from collections.abc import Mapping

from channels.base import StatusUpdate
from channels.twilio.phone import to_e164
from server.model import (
    Channel,
    ChoiceReplyPart,
    Identity,
    InboundEnvelope,
    LocationPart,
    MediaPart,
    Part,
    TextPart,
)

WHATSAPP_PREFIX = "whatsapp:"

# Twilio reports a few intermediate states that our forward-only status model does not have.
_STATUS_ALIASES = {
    "scheduled": "accepted",
    "sending": "queued",
    "receiving": "received",
    "canceled": "failed",
}


def normalise_address(address: str) -> str:
    """A Twilio address with its number in E.164, keeping the ``whatsapp:`` prefix."""
    if address.startswith(WHATSAPP_PREFIX):
        return WHATSAPP_PREFIX + to_e164(address[len(WHATSAPP_PREFIX) :])
    return to_e164(address)


def parse_inbound(form: Mapping[str, str]) -> InboundEnvelope:
    """The envelope for one inbound Twilio message webhook (form fields as Twilio sends them)."""
    sender = form.get("From", "")
    is_whatsapp = sender.startswith(WHATSAPP_PREFIX)
    customer = normalise_address(sender)
    sid = form.get("MessageSid") or form.get("SmsMessageSid") or form.get("SmsSid") or None
    profile_name = form.get("ProfileName") or None
    return InboundEnvelope(
        channel=Channel.WHATSAPP.value if is_whatsapp else Channel.SMS.value,
        channel_account=normalise_address(form.get("To", "")),
        customer_address=customer,
        identities=_identities(customer, form, is_whatsapp),
        parts=_parts(form),
        idempotency_key=sid,
        provider_message_id=sid,
        profile_name=profile_name,
        fields=_trigger_fields(form, sid),
        raw=dict(form),
    )


def _identities(customer: str, form: Mapping[str, str], is_whatsapp: bool) -> tuple[Identity, ...]:
    if not customer:
        return ()
    if not is_whatsapp:
        return (Identity("phone", customer),)
    number = customer[len(WHATSAPP_PREFIX) :]
    wa_id = form.get("WaId")
    # WaId is the number WhatsApp itself knows; prefer it when the two differ in formatting.
    return (Identity("whatsapp", to_e164(wa_id) if wa_id else number),)


def _parts(form: Mapping[str, str]) -> tuple[Part, ...]:
    parts: list[Part] = []
    body = form.get("Body", "")
    button_payload = form.get("ButtonPayload")
    button_text = form.get("ButtonText")
    if button_payload or button_text:
        # A quick-reply tap: Body repeats the button text, so the reply replaces the text part.
        label = button_text or body or button_payload or ""
        parts.append(ChoiceReplyPart(choice_id=button_payload or label, label=label))
    elif body:
        parts.append(TextPart(body))
    parts.extend(_media(form))
    location = _location(form)
    if location is not None:
        parts.append(location)
    return tuple(parts)


def _media(form: Mapping[str, str]) -> list[MediaPart]:
    try:
        count = int(form.get("NumMedia") or 0)
    except ValueError:
        count = 0
    media: list[MediaPart] = []
    # NumMedia is only a claim: a form never holds more MediaUrlN fields than fields, and
    # counting up to a lie (NumMedia=1000000000000) held the event loop for hours.
    for index in range(min(count, len(form))):
        url = form.get(f"MediaUrl{index}")
        if not url:
            continue
        content_type = form.get(f"MediaContentType{index}") or None
        media.append(MediaPart(url=url, content_type=content_type, media_kind=_kind(content_type)))
    return media


def _kind(content_type: str | None) -> str:
    major = (content_type or "").split("/", 1)[0]
    return major if major in ("image", "video", "audio") else "file"


def _location(form: Mapping[str, str]) -> LocationPart | None:
    try:
        latitude, longitude = float(form["Latitude"]), float(form["Longitude"])
    except (KeyError, ValueError):
        return None
    return LocationPart(
        latitude=latitude,
        longitude=longitude,
        name=form.get("Label") or None,
        address=form.get("Address") or None,
    )


def _trigger_fields(form: Mapping[str, str], sid: str | None) -> dict[str, str]:
    """What Studio shows as ``trigger.message``: every field Twilio posted, as posted, with the
    ones flows rely on always present."""
    fields = {"Body": "", "From": "", "To": "", "MessageSid": sid or ""}
    fields.update({key: str(value) for key, value in form.items()})
    return fields


def parse_status(form: Mapping[str, str]) -> StatusUpdate:
    """A Twilio status callback (MessageSid, MessageStatus, ErrorCode, ErrorMessage)."""
    status = (form.get("MessageStatus") or form.get("SmsStatus") or "").lower()
    return StatusUpdate(
        provider_message_id=form.get("MessageSid") or form.get("SmsSid") or "",
        status=_STATUS_ALIASES.get(status, status),
        error_code=form.get("ErrorCode") or None,
        error=form.get("ErrorMessage") or None,
        raw=dict(form),
    )
