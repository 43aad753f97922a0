"""WhatsApp Cloud API webhooks (``object: whatsapp_business_account``) turned into model values.

One POST may carry several entries, each with several changes, and each change several
messages and statuses. Every message type maps to a part: text, media (by provider media id,
with the URL when Meta includes one), location, contacts/reaction/order/referral/unsupported as
``DataPart``, and button/list/template-button replies as ``ChoiceReplyPart``.

Revokes, edits and system messages (number and identity changes) are not customer turns: they
become ``CustomerNotice`` values (``WebhookBatch.notices``), never envelopes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from channels.base import StatusUpdate
from channels.notices import CustomerNotice
from channels.twilio.phone import to_e164
from channels.whatsapp.notices import NOTICE_TYPES, notice_of
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
    notices: list[CustomerNotice] = field(default_factory=list)


def parse_webhook(body: dict[str, Any]) -> WebhookBatch:
    """All messages and statuses in one webhook POST body, in the order Meta sent them.

    The body is signed, but its shape is still not to be trusted (a bug at Meta, a replayed
    body): a field of the wrong type reads as absent, never as an exception.
    """
    batch = WebhookBatch()
    for entry in _objects(body.get("entry")):
        for change in _objects(entry.get("changes")):
            if change.get("field", "messages") != "messages":
                continue  # account, template and quality updates carry no conversation traffic
            value = _object(change.get("value"))
            for message in _objects(value.get("messages")):
                if _text(message.get("type")) in NOTICE_TYPES:
                    envelope = _envelope(value, message)
                    batch.notices.append(notice_of(envelope, message, _edited_parts(message)))
                else:
                    batch.messages.append(_envelope(value, message))
            for status in _objects(value.get("statuses")):
                batch.statuses.append(_status(status))
    return batch


def _object(value: Any) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def _objects(value: Any) -> list[dict[str, Any]]:
    """The objects in ``value`` if it is a list; anything else in it is skipped."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _text(value: Any) -> str:
    """A string field: a number as its digits (ids sometimes come unquoted), anything else ''."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def _envelope(value: dict[str, Any], message: dict[str, Any]) -> InboundEnvelope:
    metadata = _object(value.get("metadata"))
    contact = _contact_of(_objects(value.get("contacts")), message)
    wa_id = _text(message.get("from")) or _text(contact.get("wa_id"))
    user_id = _text(message.get("from_user_id")) or _text(contact.get("user_id"))
    number = to_e164(wa_id) if wa_id else None
    profile_name = _text(_object(contact.get("profile")).get("name")) or None
    parts = parts_of(message, _objects(value.get("errors")))
    wamid = _text(message.get("id")) or None
    identities = []
    if number:
        identities.append(Identity("whatsapp", number))
    if user_id:
        identities.append(Identity("whatsapp_bsuid", user_id))
    return InboundEnvelope(
        channel=Channel.WHATSAPP.value,
        channel_account=_text(metadata.get("phone_number_id")),
        # Without a phone number (a username user), the business-scoped id is the address.
        customer_address=number or user_id,
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


def _edited_parts(message: dict[str, Any]) -> tuple[Part, ...]:
    """An edit's new content: ``edit.message`` is a message object of its own (text, or media
    with its caption); its ``type`` is taken from its content when Meta leaves it out."""
    edited = dict(_object(_object(message.get("edit")).get("message")))
    if not edited:
        return ()
    if not _text(edited.get("type")):
        known = ("text", "interactive", "location", *_MEDIA_TYPES)
        edited["type"] = next((kind for kind in known if kind in edited), "")
    return parts_of(edited, [])


def parts_of(message: dict[str, Any], change_errors: list[dict[str, Any]]) -> tuple[Part, ...]:
    kind = _text(message.get("type"))
    raw = message.get(kind) if kind else None
    content = _object(raw)
    parts: list[Part] = []
    location = _location(content) if kind == "location" else None
    if kind == "text" and content:
        parts.append(TextPart(_text(content.get("body"))))
    elif kind in _MEDIA_TYPES and content:
        parts.append(_media(kind, content))
    elif location is not None:
        parts.append(location)
    elif kind == "interactive" and content:
        parts.append(_interactive(content))
    elif kind == "button" and content:
        # A quick-reply button of a template message.
        text = _text(content.get("text"))
        parts.append(ChoiceReplyPart(choice_id=_text(content.get("payload")) or text, label=text))
    elif kind == "reaction" and raw is not None:
        emoji = _text(content.get("emoji")) or None
        data = {
            "message_id": _text(content.get("message_id")) or None,
            "emoji": emoji,
            "removed": emoji is None,
        }
        parts.append(DataPart("reaction", data))
    elif kind in ("contacts", "order", "system", "request_welcome") and raw is not None:
        parts.append(DataPart(kind, raw if isinstance(raw, dict) else {kind: raw}))
    else:
        # "unsupported", or a known type whose content Meta could not deliver (or that does not
        # read: a location without numbers).
        errors = _objects(message.get("errors")) + change_errors
        unsupported = {"type": content.get("type", kind), "errors": errors}
        parts.append(DataPart("unsupported", unsupported))
    referral = message.get("referral")
    if referral:
        data = referral if isinstance(referral, dict) else {"referral": referral}
        parts.append(DataPart("referral", data))
    return tuple(parts)


def _media(kind: str, content: dict[str, Any]) -> MediaPart:
    media_kind = "voice" if kind == "audio" and content.get("voice") else kind
    return MediaPart(
        url=_text(content.get("url")) or None,
        content_type=_text(content.get("mime_type")) or None,
        media_id=_text(content.get("id")) or None,
        caption=_text(content.get("caption")) or None,
        filename=_text(content.get("filename")) or None,
        media_kind=media_kind,
    )


def _location(content: dict[str, Any]) -> LocationPart | None:
    """The location, or None when its coordinates are not finite numbers."""
    try:
        latitude, longitude = float(content["latitude"]), float(content["longitude"])
    except (KeyError, TypeError, ValueError):
        return None
    if not (math.isfinite(latitude) and math.isfinite(longitude)):
        return None
    return LocationPart(
        latitude=latitude,
        longitude=longitude,
        name=_text(content.get("name")) or None,
        address=_text(content.get("address")) or None,
    )


def _interactive(content: dict[str, Any]) -> Part:
    reply = _object(content.get("button_reply")) or _object(content.get("list_reply"))
    if reply:
        return ChoiceReplyPart(choice_id=_text(reply.get("id")), label=_text(reply.get("title")))
    # nfm_reply (WhatsApp Flows) and future interactive replies keep their raw content.
    return DataPart(_text(content.get("type")) or "interactive", content)


def _fields(
    message: dict[str, Any],
    metadata: dict[str, Any],
    parts: tuple[Part, ...],
    number: str | None,
    user_id: Any,
    profile_name: str | None,
) -> dict[str, Any]:
    """Twilio's field names for the same facts, so flows written for Twilio WhatsApp run here."""
    business = _text(metadata.get("display_phone_number"))
    fields: dict[str, Any] = {
        "Body": text_of(parts),
        "From": f"whatsapp:{number}" if number else str(user_id or ""),
        "To": f"whatsapp:{to_e164(business)}" if business else "",
        "MessageSid": _text(message.get("id")),
        "ProfileName": profile_name or "",
        "WaId": _text(message.get("from")),
        "MessageType": _text(message.get("type")),
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
    context = _object(message.get("context"))
    if _text(context.get("id")):
        fields["OriginalRepliedMessageSid"] = _text(context["id"])
    if context.get("forwarded"):
        fields["Forwarded"] = "true"
    if context.get("frequently_forwarded"):
        fields["FrequentlyForwarded"] = "true"
    return fields


def _timestamp(raw: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(raw), tz=UTC)
    except (TypeError, ValueError, OverflowError, OSError):  # OverflowError, OSError: far years
        return None


def _status(status: dict[str, Any]) -> StatusUpdate:
    errors = _objects(status.get("errors"))
    first = errors[0] if errors else {}
    state = _text(status.get("status")).lower()
    return StatusUpdate(
        provider_message_id=_text(status.get("id")),
        status=_STATUS_ALIASES.get(state, state),
        error_code=_text(first.get("code")) or None,
        error=_text(first.get("title")) or _text(first.get("message")) or None,
        raw=status,
    )
