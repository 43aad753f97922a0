"""Model values from stored rows, for channel adapters and API responses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from server.model import Conversation, Message, part_from_dict
from server.store.ops import Row


def when(epoch: float | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, UTC) if epoch is not None else None


def iso(epoch: float | None) -> str | None:
    moment = when(epoch)
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def conversation_model(row: Row) -> Conversation:
    return Conversation(
        id=row["id"],
        contact_id=row["contact_id"],
        channel=row["channel"],
        channel_account=row["channel_account"],
        customer_address=row["customer_address"],
        status=row["status"],
        agent_id=row["agent_id"],
        queue=row["queue"],
        attributes=dict(row["attributes"] or {}),
        created_at=when(row["created_at"]),  # type: ignore[arg-type]
        updated_at=when(row["updated_at"]),  # type: ignore[arg-type]
        last_inbound_at=when(row["last_inbound_at"]),
        closed_at=when(row["closed_at"]),
    )


def message_model(row: Row) -> Message:
    return Message(
        id=row["id"],
        conversation_id=row["conversation_id"],
        direction=row["direction"],
        author=row["author"],
        parts=tuple(part_from_dict(p) for p in row["parts"] or []),
        status=row["status"],
        created_at=when(row["created_at"]),  # type: ignore[arg-type]
        updated_at=when(row["updated_at"]),  # type: ignore[arg-type]
        seq=row["seq"],
        provider_message_id=row["provider_message_id"],
        idempotency_key=row["idempotency_key"],
        error_code=row["error_code"],
    )


def message_json(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "seq": row["seq"],
        "direction": row["direction"],
        "author": row["author"],
        # An agent's display name as the customer saw it (None for everyone else).
        "author_name": row.get("author_name"),
        "text": row["text"],
        "parts": row["parts"],
        "status": row["status"],
        "error_code": row["error_code"],
        "error_message": row["error_message"],
        "provider_message_id": row["provider_message_id"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
        # A customer's deleted or edited message (rows read before the columns existed lack
        # them): when it was deleted, and its earlier versions.
        "deleted_at": iso(row.get("deleted_at")),
        "edits": row.get("edits") or [],
    }


def conversation_json(row: Row) -> dict[str, Any]:
    return {
        "id": row["id"],
        "contact_id": row["contact_id"],
        "channel": row["channel"],
        "channel_account": row["channel_account"],
        "customer_address": row["customer_address"],
        "status": row["status"],
        "agent_id": row["agent_id"],
        "queue": row["queue"],
        "attributes": row["attributes"],
        "context": row["context"],
        "last_inbound_at": iso(row["last_inbound_at"]),
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
        "closed_at": iso(row["closed_at"]),
        # The customer's answer (1-5) to the satisfaction question after the close, if any.
        "satisfaction": row.get("satisfaction"),
    }
