"""Storing customer notices (``channels.notices``): deleted and edited messages, number changes.

Like ``ops``, plain functions of a synchronous connection, run in the group commit. A notice is
never a message of its own: a revoke marks the message it names deleted, an edit replaces the
message's content and keeps the earlier version in ``edits``, a number change adds the new
number to the contact. Each is recorded as one journey event. A notice delivered twice (Meta
retries) is recognised by its id among the contact's events of that type and changes nothing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, update

from channels.notices import CustomerNotice, NoticeKind
from server.model import MediaPart, Part, part_from_dict, part_to_dict, text_of
from server.pickling import pickled_by_constructor
from server.store.ops import Row, find_or_create_contact, open_key, record_event
from server.store.schema import conversations, events, identities, messages

EVENT_TYPES = {
    NoticeKind.REVOKE: "message.deleted",
    NoticeKind.EDIT: "message.edited",
    NoticeKind.NUMBER_CHANGED: "contact.number_changed",
    NoticeKind.IDENTITY_CHANGED: "contact.identity_changed",
    NoticeKind.SYSTEM: "contact.system_notice",
}


@pickled_by_constructor
@dataclass(frozen=True, slots=True)
class NoticeApplied:
    """What storing a notice did. ``message``: the deleted or edited message as now stored
    (None when the notice names no stored message of this customer); ``duplicate``: the notice
    was stored before."""

    contact_id: str
    conversation: Row | None
    message: Row | None
    duplicate: bool
    event_id: str | None


def apply_notice(conn: Connection, notice: CustomerNotice, now: float) -> NoticeApplied:
    contact_id = find_or_create_contact(conn, notice.identities, None, now)
    event_type = EVENT_TYPES[notice.kind]
    conversation = _open_conversation(conn, notice)
    if notice.notice_id and _seen(conn, contact_id, event_type, notice.notice_id):
        return NoticeApplied(contact_id, conversation, None, True, None)
    properties: dict[str, Any] = {"notice_id": notice.notice_id, **notice.properties}
    message: Row | None = None
    if notice.kind in (NoticeKind.REVOKE, NoticeKind.EDIT):
        original = _customer_message(conn, notice)
        properties["original_message_id"] = notice.original_message_id
        properties["message_id"] = original["id"] if original else None
        if original is not None:
            conversation = _conversation(conn, original["conversation_id"])
            if notice.kind is NoticeKind.REVOKE:
                message = _mark_deleted(conn, original, now)
            else:
                message = _replace_content(conn, original, notice, now)
                properties["text"] = message["text"][:500]
    elif notice.kind is NoticeKind.NUMBER_CHANGED and notice.new_identity is not None:
        properties["added"] = _add_identity(conn, contact_id, notice, now, properties)
    event_id = record_event(
        conn,
        contact_id=contact_id,
        conversation_id=conversation["id"] if conversation else None,
        type=event_type,
        channel=notice.channel,
        time=notice.received_at.timestamp() if notice.received_at else now,
        properties=properties,
    )
    return NoticeApplied(contact_id, conversation, message, False, event_id)


def _seen(conn: Connection, contact_id: str, event_type: str, notice_id: str) -> bool:
    # Few events of these types exist per contact: filtering them here is portable, where a
    # JSON path query would differ between SQLite and PostgreSQL.
    rows = conn.execute(
        select(events.c.properties).where(
            events.c.contact_id == contact_id, events.c.type == event_type
        )
    )
    return any((row.properties or {}).get("notice_id") == notice_id for row in rows)


def _open_conversation(conn: Connection, notice: CustomerNotice) -> Row | None:
    key = open_key(notice.channel, notice.channel_account, notice.customer_address)
    row = conn.execute(select(conversations).where(conversations.c.open_key == key)).first()
    return dict(row._mapping) if row is not None else None


def _conversation(conn: Connection, conversation_id: str) -> Row | None:
    row = conn.execute(select(conversations).where(conversations.c.id == conversation_id)).first()
    return dict(row._mapping) if row is not None else None


def _customer_message(conn: Connection, notice: CustomerNotice) -> Row | None:
    """The inbound message the notice names, when this customer sent it on this account:
    a notice never touches another customer's message, whatever id it names."""
    if not notice.original_message_id:
        return None
    key = f"{notice.channel}:{notice.original_message_id}"
    row = conn.execute(
        select(messages)
        .join(conversations, conversations.c.id == messages.c.conversation_id)
        .where(
            messages.c.idempotency_key == key,
            messages.c.direction == "inbound",
            conversations.c.channel_account == notice.channel_account,
            conversations.c.customer_address == notice.customer_address,
        )
    ).first()
    return dict(row._mapping) if row is not None else None


def _updated(conn: Connection, message_id: str, values: dict[str, Any]) -> Row:
    row = conn.execute(
        update(messages).where(messages.c.id == message_id).values(**values).returning(*messages.c)
    ).one()
    return dict(row._mapping)


def _mark_deleted(conn: Connection, message: Row, now: float) -> Row:
    if message["deleted_at"] is not None:
        return message
    return _updated(conn, message["id"], {"deleted_at": now, "updated_at": now})


def _replace_content(conn: Connection, message: Row, notice: CustomerNotice, now: float) -> Row:
    old_parts = tuple(part_from_dict(p) for p in message["parts"] or [])
    new_parts = _keep_media(old_parts, notice.parts)
    earlier = {
        "text": message["text"],
        "parts": message["parts"],
        "until": now,
        "notice_id": notice.notice_id,
    }
    fields = dict(message["fields"] or {})
    if fields:
        fields["Body"] = text_of(new_parts)
    return _updated(
        conn,
        message["id"],
        {
            "parts": [part_to_dict(p) for p in new_parts],
            "text": text_of(new_parts),
            "edits": [*(message["edits"] or []), earlier],
            "fields": fields or message["fields"],
            "updated_at": now,
        },
    )


def _keep_media(old: tuple[Part, ...], new: tuple[Part, ...]) -> tuple[Part, ...]:
    """The edited content; media the edit names without its file (a caption edit) keeps the
    file of the original, so editing a caption never loses the picture."""
    if not new:
        return old
    old_media = [p for p in old if isinstance(p, MediaPart)]
    kept: list[Part] = []
    for part in new:
        if isinstance(part, MediaPart) and not (part.media_id or part.url) and old_media:
            part = dataclasses.replace(old_media.pop(0), caption=part.caption)
        kept.append(part)
    return tuple(kept)


def _add_identity(
    conn: Connection,
    contact_id: str,
    notice: CustomerNotice,
    now: float,
    properties: dict[str, Any],
) -> bool:
    """Give the contact its new number; False (and the holder named) when another contact
    already has it: merging contacts is a decision for people, not for a webhook."""
    identity = notice.new_identity
    assert identity is not None
    owner = conn.execute(
        select(identities.c.contact_id).where(
            identities.c.kind == identity.kind, identities.c.value == identity.value
        )
    ).scalar()
    if owner is not None:
        if owner != contact_id:
            properties["held_by_contact"] = owner
        return False
    conn.execute(
        identities.insert().values(
            kind=identity.kind,
            value=identity.value,
            contact_id=contact_id,
            verified=False,
            created_at=now,
        )
    )
    return True
