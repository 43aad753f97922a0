"""Cloud API messages that are notices, not customer turns: revokes, edits, system messages.

Shapes (Meta's webhook reference, messages field):

- ``{"type": "revoke", "revoke": {"original_message_id": "wamid..."}}``: the customer deleted a
  message they had sent.
- ``{"type": "edit", "edit": {"original_message_id": "wamid...", "message": {...}}}``: the
  customer edited a message; ``edit.message`` is the new content as a message object (text, or
  media with its new caption).
- ``{"type": "system", "system": {"type": "user_changed_number", "body": "...", "new_wa_id":
  "..."}}`` (``customer_changed_number`` in older API versions): the customer moved to a new
  number. ``{"type": "system", "system": {"type": "customer_identity_changed" |
  "user_identity_changed", "identity": "<hash>", "body": "..."}}``, with a message-level
  ``identity`` block (``hash``, ``acknowledged``, ``created_timestamp``) in older versions: the
  customer's security key changed (a reinstall or a new phone).

A system message of another type is still a notice (recorded, never answered).
"""

from __future__ import annotations

from typing import Any

from channels.notices import CustomerNotice, NoticeKind
from channels.twilio.phone import to_e164
from server.model import Identity, InboundEnvelope, Part

NOTICE_TYPES = frozenset({"revoke", "edit", "system"})
_NUMBER_CHANGES = frozenset({"user_changed_number", "customer_changed_number"})
_IDENTITY_CHANGES = frozenset({"customer_identity_changed", "user_identity_changed"})


def notice_of(
    envelope: InboundEnvelope, message: dict[str, Any], edited_parts: tuple[Part, ...]
) -> CustomerNotice:
    """The notice a revoke/edit/system message carries; ``envelope`` is the message as parsed
    for its sender, ``edited_parts`` the new content of an edit."""
    kind = _string(message.get("type"))
    content = _mapping(message.get(kind))
    common: dict[str, Any] = {
        "channel": envelope.channel,
        "channel_account": envelope.channel_account,
        "customer_address": envelope.customer_address,
        "identities": envelope.identities,
        "notice_id": envelope.provider_message_id,
        "raw": message,
        "received_at": envelope.received_at,
    }
    if kind == "revoke":
        original = _string(content.get("original_message_id")) or None
        return CustomerNotice(NoticeKind.REVOKE, original_message_id=original, **common)
    if kind == "edit":
        original = _string(content.get("original_message_id")) or None
        return CustomerNotice(
            NoticeKind.EDIT, original_message_id=original, parts=edited_parts, **common
        )
    return _system_notice(content, _mapping(message.get("identity")), common)


def _system_notice(
    system: dict[str, Any], identity: dict[str, Any], common: dict[str, Any]
) -> CustomerNotice:
    system_type = _string(system.get("type"))
    properties: dict[str, Any] = {"system_type": system_type, "body": _string(system.get("body"))}
    if system_type in _NUMBER_CHANGES:
        new_wa_id = _string(system.get("new_wa_id")) or _string(system.get("wa_id"))
        new_number = to_e164(new_wa_id) if new_wa_id else None
        properties["new_number"] = new_number
        return CustomerNotice(
            NoticeKind.NUMBER_CHANGED,
            new_identity=Identity("whatsapp", new_number) if new_number else None,
            properties=properties,
            **common,
        )
    if system_type not in _IDENTITY_CHANGES:
        return CustomerNotice(NoticeKind.SYSTEM, properties=properties, **common)
    properties["identity_hash"] = (
        _string(system.get("identity")) or _string(identity.get("hash")) or None
    )
    if _string(system.get("user")):
        properties["user_id"] = _string(system.get("user"))
    return CustomerNotice(NoticeKind.IDENTITY_CHANGED, properties=properties, **common)


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return ""
