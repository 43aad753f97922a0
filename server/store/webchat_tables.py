"""Tables of the web chat channel beside ``webchat_sessions``: signed-in users and read receipts."""

from __future__ import annotations

from sqlalchemy import Column, Float, Integer, String, Table

from server.store.schema import ID, metadata

# The app user a session was opened for (``Threadline.identify``); absent for anonymous visitors.
webchat_users = Table(
    "webchat_users",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", String(255), nullable=False, index=True),
    Column("channel_account", String(255), nullable=False),
    Column("visitor_id", String(ID), nullable=False),
    Column("linked_at", Float, nullable=False),
)

# The highest message ``seq`` a reader has seen on a conversation ("visitor" or an agent id).
webchat_reads = Table(
    "webchat_reads",
    metadata,
    Column("conversation_id", String(ID), primary_key=True),
    Column("reader", String(64), primary_key=True),
    Column("seq", Integer, nullable=False),
    Column("read_at", Float, nullable=False),
)
