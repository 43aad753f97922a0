"""The store operation that records a message's fetched media (parts and trigger fields).

A plain function of a sync connection, run through ``Store.write_sync``: on SQLite it runs in
the writer process with the message path's other writes, instead of contending with it for the
database lock from a second writer.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, update

from server.store.schema import messages


def record_fetched_media(conn: Connection, message_id: str, values: dict[str, Any]) -> None:
    conn.execute(update(messages).where(messages.c.id == message_id).values(values))
