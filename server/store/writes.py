"""Write operations for async callers: awaitable wrappers around the functions in ``ops``.

Use them inside an operation given to ``Store.write`` (the async group committer). The hot path
calls ``ops`` directly through ``Store.write_sync``, which on SQLite runs whole batches in the
writer process.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from server.store import ops
from server.store.ops import Ingested, OutboundDraft, Row, StepWrite, open_key

__all__ = [
    "Ingested",
    "OutboundDraft",
    "StepWrite",
    "merge_contact_attributes",
    "open_conversation",
    "open_key",
    "record_event",
]


async def open_conversation(
    conn: AsyncConnection,
    *,
    contact_id: str,
    channel: str,
    account: str,
    address: str,
    now: float,
    context: dict[str, Any] | None = None,
) -> tuple[Row, bool]:
    return await conn.run_sync(
        lambda sync: ops.open_conversation(
            sync,
            contact_id=contact_id,
            channel=channel,
            account=account,
            address=address,
            now=now,
            context=context,
        )
    )


async def record_event(
    conn: AsyncConnection,
    *,
    contact_id: str,
    type: str,
    time: float,
    properties: dict[str, Any],
    conversation_id: str | None = None,
    channel: str | None = None,
    session: str | None = None,
) -> str:
    return await conn.run_sync(
        lambda sync: ops.record_event(
            sync,
            contact_id=contact_id,
            type=type,
            time=time,
            properties=properties,
            conversation_id=conversation_id,
            channel=channel,
            session=session,
        )
    )


async def merge_contact_attributes(
    conn: AsyncConnection, contact_id: str, attributes: dict[str, Any], now: float
) -> None:
    await conn.run_sync(
        lambda sync: ops.merge_contact_attributes(sync, contact_id, attributes, now)
    )
