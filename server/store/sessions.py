"""Web chat sessions: a bearer token the browser keeps, mapped to a visitor and a conversation.

A session is anonymous, or opened for an app user (``Threadline.identify``, verified by the web
layer): such a session carries the user id, and its contact has the identity ``app:<user id>``.
A token of one user never opens another user's conversation.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from server.model import Identity, new_id
from server.store.schema import contacts, conversations, identities, webchat_sessions
from server.store.store import Store
from server.store.webchat_tables import webchat_reads, webchat_users
from server.store.writes import merge_contact_attributes, open_conversation

CHANNEL = "webchat"
APP_IDENTITY = "app"
VISITOR_READER = "visitor"


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
    user_id: str | None = None
    last_seq: int = 0  # the highest seq stored on the conversation when the session opened
    read_seq: int = 0  # the highest seq the visitor has read
    new_conversation: bool = False


async def _insert_identity(conn: AsyncConnection, identity: Identity, contact_id: str) -> None:
    exists = (
        await conn.execute(
            select(identities.c.contact_id).where(
                identities.c.kind == identity.kind, identities.c.value == identity.value
            )
        )
    ).first()
    if exists is None:
        await conn.execute(
            insert(identities).values(
                kind=identity.kind,
                value=identity.value,
                contact_id=contact_id,
                verified=identity.kind == APP_IDENTITY,
                created_at=time.time(),
            )
        )


async def _conversation_numbers(conn: AsyncConnection, conversation_id: str) -> tuple[int, int]:
    """(last stored seq, visitor's read seq) of a conversation."""
    next_seq = (
        await conn.execute(
            select(conversations.c.next_seq).where(conversations.c.id == conversation_id)
        )
    ).scalar_one()
    read = (
        await conn.execute(
            select(webchat_reads.c.seq).where(
                webchat_reads.c.conversation_id == conversation_id,
                webchat_reads.c.reader == VISITOR_READER,
            )
        )
    ).scalar()
    return int(next_seq) - 1, int(read or 0)


async def _create(
    conn: AsyncConnection,
    account: str,
    *,
    contact_id: str | None = None,
    visitor_id: str | None = None,
    user_id: str | None = None,
) -> WebchatSession:
    token = secrets.token_urlsafe(32)
    visitor_id = visitor_id or new_id("WV")
    now = time.time()
    if contact_id is None:
        contact_id = new_id("CT")
        await conn.execute(
            insert(contacts).values(
                id=contact_id, display_name=None, attributes={}, created_at=now, updated_at=now
            )
        )
    await _insert_identity(conn, Identity("webchat", visitor_id), contact_id)
    if user_id is not None:
        await _insert_identity(conn, Identity(APP_IDENTITY, user_id), contact_id)
    conversation, created = await open_conversation(
        conn, contact_id=contact_id, channel=CHANNEL, account=account, address=visitor_id, now=now
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
    if user_id is not None:
        await conn.execute(
            insert(webchat_users).values(
                token_hash=token_hash(token),
                user_id=user_id,
                channel_account=account,
                visitor_id=visitor_id,
                linked_at=now,
            )
        )
    last_seq, read_seq = await _conversation_numbers(conn, conversation["id"])
    return WebchatSession(
        token,
        visitor_id,
        contact_id,
        conversation["id"],
        account,
        0,
        False,
        user_id,
        last_seq,
        read_seq,
        created,
    )


async def create_session(store: Store, account: str) -> WebchatSession:
    async def op(conn: AsyncConnection) -> WebchatSession:
        return await _create(conn, account)

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
        user_id = (
            await conn.execute(
                select(webchat_users.c.user_id).where(webchat_users.c.token_hash == digest)
            )
        ).scalar()
        last_seq, read_seq = await _conversation_numbers(conn, conversation["id"])
        return WebchatSession(
            token,
            row.visitor_id,
            row.contact_id,
            conversation["id"],
            row.channel_account,
            acked,
            True,
            user_id,
            last_seq,
            read_seq,
            created,
        )

    return await store.write(op)


async def open_session(
    store: Store, token: str | None, account: str, user_id: str | None
) -> tuple[WebchatSession, bool]:
    """The session a connecting browser gets, and whether its token was unknown.

    ``user_id`` is the verified app user of the page (None for anonymous pages). A token is
    resumed only when it belongs to the same user; an anonymous token is linked to the user when
    that user has no contact yet (the visitor signed in mid-chat); anything else opens the user's
    own session (their latest visitor, so their conversation follows them between browsers).
    """
    session = await resume_session(store, token) if token else None
    unknown = bool(token) and session is None
    if session is not None and session.user_id == user_id:
        return session, unknown
    if user_id is None:
        return await create_session(store, account), unknown
    assert user_id is not None
    linked = await _link_anonymous(store, session, user_id) if session is not None else None
    if linked is not None:
        return linked, unknown
    return await _session_for_user(store, account, user_id), unknown


async def _link_anonymous(
    store: Store, session: WebchatSession, user_id: str
) -> WebchatSession | None:
    if session.user_id is not None:
        return None

    async def op(conn: AsyncConnection) -> bool:
        owner = (
            await conn.execute(
                select(identities.c.contact_id).where(
                    identities.c.kind == APP_IDENTITY, identities.c.value == user_id
                )
            )
        ).scalar()
        if owner is not None and owner != session.contact_id:
            return False
        await _insert_identity(conn, Identity(APP_IDENTITY, user_id), session.contact_id)
        await conn.execute(
            insert(webchat_users).values(
                token_hash=token_hash(session.token),
                user_id=user_id,
                channel_account=session.account,
                visitor_id=session.visitor_id,
                linked_at=time.time(),
            )
        )
        return True

    return replace(session, user_id=user_id) if await store.write(op) else None


async def _session_for_user(store: Store, account: str, user_id: str) -> WebchatSession:
    async def op(conn: AsyncConnection) -> WebchatSession:
        contact_id = (
            await conn.execute(
                select(identities.c.contact_id).where(
                    identities.c.kind == APP_IDENTITY, identities.c.value == user_id
                )
            )
        ).scalar()
        visitor_id = (
            await conn.execute(
                select(webchat_users.c.visitor_id)
                .where(
                    webchat_users.c.user_id == user_id,
                    webchat_users.c.channel_account == account,
                )
                .order_by(webchat_users.c.linked_at.desc())
                .limit(1)
            )
        ).scalar()
        return await _create(
            conn, account, contact_id=contact_id, visitor_id=visitor_id, user_id=user_id
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


async def mark_read(store: Store, conversation_id: str, reader: str, seq: int) -> int:
    """Move a reader's read mark forward (never back); returns the mark now stored."""
    now = time.time()

    async def op(conn: AsyncConnection) -> int:
        where = (webchat_reads.c.conversation_id == conversation_id) & (
            webchat_reads.c.reader == reader
        )
        current = (await conn.execute(select(webchat_reads.c.seq).where(where))).scalar()
        if current is None:
            await conn.execute(
                insert(webchat_reads).values(
                    conversation_id=conversation_id, reader=reader, seq=seq, read_at=now
                )
            )
            return seq
        if seq > current:
            await conn.execute(update(webchat_reads).where(where).values(seq=seq, read_at=now))
            return seq
        return int(current)

    return await store.write(op)


async def read_marks(store: Store, conversation_id: str) -> dict[str, int]:
    """Every reader's read mark on a conversation (for the API and agents)."""

    async def op(conn: AsyncConnection) -> dict[str, int]:
        rows = await conn.execute(
            select(webchat_reads.c.reader, webchat_reads.c.seq).where(
                webchat_reads.c.conversation_id == conversation_id
            )
        )
        return {row.reader: int(row.seq) for row in rows}

    return await store.write(op)


async def save_prechat(
    store: Store, contact_id: str, attributes: dict[str, Any], display_name: str | None
) -> None:
    """Pre-chat form answers: into the contact's attributes, the name as its display name."""
    now = time.time()

    async def op(conn: AsyncConnection) -> None:
        await merge_contact_attributes(conn, contact_id, attributes, now)
        if display_name:
            await conn.execute(
                update(contacts)
                .where(contacts.c.id == contact_id)
                .values(display_name=display_name, updated_at=now)
            )

    await store.write(op)


@dataclass(frozen=True, slots=True)
class SessionRef:
    """What a bearer token names, read without touching the session (for uploads)."""

    token_hash: str
    visitor_id: str
    contact_id: str
    conversation_id: str
    account: str


async def session_by_token(store: Store, token: str) -> SessionRef | None:
    digest = token_hash(token)

    async def op(conn: AsyncConnection) -> SessionRef | None:
        row = (
            await conn.execute(
                select(webchat_sessions).where(webchat_sessions.c.token_hash == digest)
            )
        ).first()
        if row is None:
            return None
        return SessionRef(
            digest, row.visitor_id, row.contact_id, row.conversation_id, row.channel_account
        )

    return await store.write(op)
