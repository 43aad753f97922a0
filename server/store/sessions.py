"""Web chat sessions: a bearer token the browser keeps, mapped to a visitor and a conversation."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from server.model import Identity, new_id
from server.store.schema import contacts, identities, webchat_sessions
from server.store.store import Store
from server.store.writes import open_conversation

CHANNEL = "webchat"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class WebchatSession:
    token: str
    visitor_id: str
    contact_id: str
    conversation_id: str
    account: str
    acked_seq: int
    resumed: bool


async def create_session(store: Store, account: str) -> WebchatSession:
    token = secrets.token_urlsafe(32)
    visitor_id = new_id("WV")
    now = time.time()

    async def op(conn: AsyncConnection) -> WebchatSession:
        contact_id = new_id("CT")
        await conn.execute(
            insert(contacts).values(
                id=contact_id, display_name=None, attributes={}, created_at=now, updated_at=now
            )
        )
        identity = Identity("webchat", visitor_id)
        await conn.execute(
            insert(identities).values(
                kind=identity.kind,
                value=identity.value,
                contact_id=contact_id,
                verified=False,
                created_at=now,
            )
        )
        conversation, _ = await open_conversation(
            conn,
            contact_id=contact_id,
            channel=CHANNEL,
            account=account,
            address=visitor_id,
            now=now,
        )
        await conn.execute(
            insert(webchat_sessions).values(
                token_hash=token_hash(token),
                visitor_id=visitor_id,
                contact_id=contact_id,
                conversation_id=conversation["id"],
                channel_account=account,
                acked_seq=0,
                created_at=now,
                last_seen_at=now,
            )
        )
        return WebchatSession(token, visitor_id, contact_id, conversation["id"], account, 0, False)

    return await store.write(op)


async def resume_session(store: Store, token: str) -> WebchatSession | None:
    """The session of ``token``, on the visitor's open conversation (a new one if it was closed)."""
    digest = token_hash(token)
    now = time.time()

    async def op(conn: AsyncConnection) -> WebchatSession | None:
        row = (
            await conn.execute(
                select(webchat_sessions).where(webchat_sessions.c.token_hash == digest)
            )
        ).first()
        if row is None:
            return None
        conversation, created = await open_conversation(
            conn,
            contact_id=row.contact_id,
            channel=CHANNEL,
            account=row.channel_account,
            address=row.visitor_id,
            now=now,
        )
        acked = 0 if created else row.acked_seq
        await conn.execute(
            update(webchat_sessions)
            .where(webchat_sessions.c.token_hash == digest)
            .values(conversation_id=conversation["id"], last_seen_at=now, acked_seq=acked)
        )
        return WebchatSession(
            token,
            row.visitor_id,
            row.contact_id,
            conversation["id"],
            row.channel_account,
            acked,
            True,
        )

    return await store.write(op)


async def acknowledge(store: Store, token: str, seq: int) -> None:
    digest = token_hash(token)

    async def op(conn: AsyncConnection) -> None:
        await conn.execute(
            update(webchat_sessions)
            .where(webchat_sessions.c.token_hash == digest, webchat_sessions.c.acked_seq < seq)
            .values(acked_seq=seq)
        )

    await store.write(op)
