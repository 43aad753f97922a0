"""WhatsApp Cloud API webhooks (``object: whatsapp_business_account``) turned into model values.

One POST may carry several entries, each with several changes, and each change several
messages and statuses. Every message type maps to a part: text, media (by provider media id,
with the URL when Meta includes one), location, contacts/reaction/order/referral/unsupported as
``DataPart``, and button/list/template-button replies as ``ChoiceReplyPart``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from channels.base import StatusUpdate
from channels.twilio.phone import to_e164
from server.model import (
    Channel,
    ChoiceReplyPart,
    DataPart,
    Identity,
    InboundEnvelope,
    LocationPart,
    MediaPart,
    Part,
    TextPart,
    text_of,
)

_MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")
# "played" is reported for voice messages; it implies the message was read.
_STATUS_ALIASES = {"played": "read"}


@dataclass(frozen=True, slots=True)
class WebhookBatch:
    messages: list[InboundEnvelope] = field(default_factory=list)
    statuses: list[StatusUpdate] = field(default_factory=list)


def parse_webhook(body: dict[str, Any]) -> WebhookBatch:
    """All messages and statuses in one webhook POST body, in the order Meta sent them."""
    batch = WebhookBatch()
    for entry in body.get("entry") or []:
        for change in entry.get("changes") or []:
            if change.get("field", "messages") != "messages":
                continue  # account, template and quality updates carry no conversation traffic
            value = change.get("value") or {}
            for message in value.get("messages") or []:
                batch.messages.append(_envelope(value, message))
            for status in value.get("statuses") or []:
                batch.statuses.append(_status(status))
    return batch


def _envelope(value: dict[str, Any], message: dict[str, Any]) -> InboundEnvelope:
    metadata = value.get("metadata") or {}
    contact = _contact_of(value.get("contacts") or [], message)
    wa_id = message.get("from") or contact.get("wa_id")
    user_id = message.get("from_user_id") or contact.get("user_id")
    number = to_e164(str(wa_id)) if wa_id else None
    profile_name = (contact.get("profile") or {}).get("name")
    parts = _parts(message, value.get("errors") or [])
    wamid = message.get("id")
    identities = []
    if number:
        identities.append(Identity("whatsapp", number))
    if user_id:
        identities.append(Identity("whatsapp_bsuid", str(user_id)))
    return InboundEnvelope(
        channel=Channel.WHATSAPP.value,
        channel_account=str(metadata.get("phone_number_id", "")),
        # Without a phone number (a username user), the business-scoped id is the address.
        customer_address=number or str(user_id or ""),
        identities=tuple(identities),
        parts=parts,
        idempotency_key=wamid,
        provider_message_id=wamid,
        profile_name=profile_name,
        fields=_fields(message, metadata, parts, number, user_id, profile_name),
        raw=message,
        received_at=_timestamp(message.get("timestamp")),
    )


def _contact_of(contacts: list[dict[str, Any]], message: dict[str, Any]) -> dict[str, Any]:
    for contact in contacts:
        if message.get("from") and contact.get("wa_id") == message.get("from"):
            return contact
        if message.get("from_user_id") and contact.get("user_id") == message.get("from_user_id"):
            return contact
    return contacts[0] if len(contacts) == 1 else {}


def _parts(message: dict[str, Any], change_errors: list[dict[str, Any]]) -> tuple[Part, ...]:
    kind = message.get("type", "")
    content = message.get(kind)
    parts: list[Part] = []
    if kind == "text" and content:
        parts.append(TextPart(content.get("body", "")))
    elif kind in _MEDIA_TYPES and content:
        parts.append(_media(kind, content))
    elif kind == "location" and content:
        parts.append(_location(content))
    elif kind == "interactive" and content:
        parts.append(_interactive(content))
    elif kind == "button" and content:
        # A quick-reply button of a template message.
        text = content.get("text", "")
        parts.append(ChoiceReplyPart(choice_id=content.get("payload") or text, label=text))
    elif kind == "reaction" and content is not None:
        emoji = content.get("emoji") or None
        data = {"message_id": content.get("message_id"), "emoji": emoji, "removed": emoji is None}
        parts.append(DataPart("reaction", data))
    elif kind in ("contacts", "order", "system", "request_welcome") and content is not None:
        parts.append(DataPart(kind, content if isinstance(content, dict) else {kind: content}))
    else:
        # "unsupported", or a known type whose content Meta could not deliver.
        errors = (message.get("errors") or []) + change_errors
        unsupported = {"type": (content or {}).get("type", kind), "errors": errors}
        parts.append(DataPart("unsupported", unsupported))
    if message.get("referral"):
        parts.append(DataPart("referral", message["referral"]))
    return tuple(parts)


def _media(kind: str, content: dict[str, Any]) -> MediaPart:
    media_kind = "voice" if kind == "audio" and content.get("voice") else kind
    return MediaPart(
        url=content.get("url"),
        content_type=content.get("mime_type"),
        media_id=content.get("id"),
        caption=content.get("caption"),
        filename=content.get("filename"),
        media_kind=media_kind,
    )


def _location(content: dict[str, Any]) -> LocationPart:
    return LocationPart(
        latitude=float(content["latitude"]),
        longitude=float(content["longitude"]),
        name=content.get("name"),
        address=content.get("address"),
    )


def _interactive(content: dict[str, Any]) -> Part:
    reply = content.get("button_reply") or content.get("list_reply")
    if reply:
        return ChoiceReplyPart(choice_id=str(reply.get("id", "")), label=reply.get("title", ""))
    # nfm_reply (WhatsApp Flows) and future interactive replies keep their raw content.
    return DataPart(content.get("type", "interactive"), content)


def _fields(
    message: dict[str, Any],
    metadata: dict[str, Any],
    parts: tuple[Part, ...],
    number: str | None,
    user_id: Any,
    profile_name: str | None,
) -> dict[str, Any]:
    """Twilio's field names for the same facts, so flows written for Twilio WhatsApp run here."""
    business = metadata.get("display_phone_number")
    fields: dict[str, Any] = {
        "Body": text_of(parts),
        "From": f"whatsapp:{number}" if number else str(user_id or ""),
        "To": f"whatsapp:{to_e164(str(business))}" if business else "",
        "MessageSid": message.get("id", ""),
        "ProfileName": profile_name or "",
        "WaId": str(message.get("from") or ""),
        "MessageType": message.get("type", ""),
        "NumMedia": str(sum(1 for p in parts if isinstance(p, MediaPart))),
    }
    if user_id:
        fields["BusinessScopedUserId"] = str(user_id)
    for part in parts:
        if isinstance(part, ChoiceReplyPart):
            fields["ButtonPayload"], fields["ButtonText"] = part.choice_id, part.label
        elif isinstance(part, LocationPart):
            fields["Latitude"], fields["Longitude"] = str(part.latitude), str(part.longitude)
            if part.name:
                fields["Label"] = part.name
            if part.address:
                fields["Address"] = part.address
        elif isinstance(part, DataPart) and part.data_kind == "referral":
            fields["Referral"] = part.data
    context = message.get("context") or {}
    if context.get("id"):
        fields["OriginalRepliedMessageSid"] = context["id"]
    if context.get("forwarded"):
        fields["Forwarded"] = "true"
    if context.get("frequently_forwarded"):
        fields["FrequentlyForwarded"] = "true"
    return fields


def _timestamp(raw: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(raw), tz=UTC)
    except (TypeError, ValueError):
        return None


def _status(status: dict[str, Any]) -> StatusUpdate:
    errors = status.get("errors") or []
    first = errors[0] if errors else {}
    state = str(status.get("status", "")).lower()
    return StatusUpdate(
        provider_message_id=str(status.get("id", "")),
        status=_STATUS_ALIASES.get(state, state),
        error_code=str(first["code"]) if "code" in first else None,
        error=first.get("title") or first.get("message"),
        raw=status,
    )
