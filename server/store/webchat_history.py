"""A web chat visitor's conversations, for the widget's ``history`` frame.

After an agent closes a conversation, the visitor's next message opens a new one; the widget
keeps the earlier one visible above it, and after a reload asks for it again. A visitor may read
only their own conversations: the ones on the same account opened for the same visitor (the
conversation's customer address is the visitor id the signed token names).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from server.store import sync_reader as reads
from server.store.schema import conversations, messages
from server.store.sessions import CHANNEL, WebchatSession
from server.store.store import Store


def _visitors_conversations(session: WebchatSession) -> Any:
    assert session.contact_id is not None
    return select(conversations.c.id, conversations.c.created_at).where(
        conversations.c.contact_id == session.contact_id,  # indexed; the rest narrows it
        conversations.c.channel == CHANNEL,
        conversations.c.channel_account == session.account,
        conversations.c.customer_address == session.visitor_id,
    )


async def owns(store: Store, session: WebchatSession, conversation_id: str) -> bool:
    """Whether ``conversation_id`` is one of the session's visitor's conversations."""
    if session.contact_id is None:
        return False  # nothing stored for this visitor: no conversation is theirs
    query = _visitors_conversations(session).where(conversations.c.id == conversation_id)
    return await store.read(reads.first(query)) is not None


async def previous_conversation(
    store: Store, session: WebchatSession, conversation_id: str | None
) -> str | None:
    """The visitor's conversation opened before ``conversation_id`` (before none: their latest,
    for a visitor whose conversation was closed and who has not written since)."""
    if session.contact_id is None:
        return None
    query = _visitors_conversations(session)
    if conversation_id is not None:
        opened = await store.read(
            reads.scalar(
                select(conversations.c.created_at).where(conversations.c.id == conversation_id)
            )
        )
        if opened is None:
            return None
        query = query.where(
            conversations.c.created_at <= opened, conversations.c.id != conversation_id
        )
    query = query.order_by(conversations.c.created_at.desc(), conversations.c.id.desc())
    found = await store.read(reads.first(query.limit(1)))
    return str(found["id"]) if found is not None else None


async def page(
    store: Store, conversation_id: str, before: int, limit: int
) -> tuple[list[Any], bool]:
    """The latest ``limit`` messages with seq < ``before``, oldest first, and whether there are
    older ones."""
    query = (
        select(messages)
        .where(messages.c.conversation_id == conversation_id, messages.c.seq < before)
        .order_by(messages.c.seq.desc())
        .limit(limit + 1)
    )
    rows: list[Any] = await store.read(reads.every(query))
    return rows[:limit][::-1], len(rows) > limit
