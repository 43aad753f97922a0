"""CRM look-ups cached in the store, so every node and every restart shares them.

A row per (connector, look-up key); a row older than the connector's cache time is a miss.
Failures are never cached: the next look-up tries the CRM again.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, Column, Float, String, Table, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from server.store import Store
from server.store.schema import metadata

crm_cache = Table(
    "crm_cache",
    metadata,
    Column("connector", String(64), primary_key=True),
    Column("lookup_key", String(320), primary_key=True),  # by:value, e.g. phone:+14155550100
    Column("found", Boolean, nullable=False),
    Column("fields", JSON, nullable=False, default=dict),
    Column("fetched_at", Float, nullable=False),
)


async def cached(
    store: Store, connector: str, key: str, max_age: float, now: float
) -> tuple[bool, dict[str, Any]] | None:
    """(found, fields) when a fresh enough entry exists, else None."""
    if max_age <= 0:
        return None
    async with store.engine.connect() as conn:
        row = (
            await conn.execute(
                select(crm_cache.c.found, crm_cache.c.fields, crm_cache.c.fetched_at).where(
                    crm_cache.c.connector == connector, crm_cache.c.lookup_key == key
                )
            )
        ).first()
    if row is None or now - row.fetched_at > max_age:
        return None
    return bool(row.found), dict(row.fields or {})


async def remember(
    store: Store, connector: str, key: str, found: bool, fields: dict[str, Any], now: float
) -> None:
    async def op(conn: AsyncConnection) -> None:
        await conn.execute(
            delete(crm_cache).where(
                crm_cache.c.connector == connector, crm_cache.c.lookup_key == key
            )
        )
        await conn.execute(
            insert(crm_cache).values(
                connector=connector, lookup_key=key, found=found, fields=fields, fetched_at=now
            )
        )

    await store.write(op)
