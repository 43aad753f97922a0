"""App sessions and uploads: tables and the operations the app API needs.

A session is a bearer token an app keeps for one user on one device; only its sha256 is stored.
The same user id always maps to the same contact and to its open conversation on that app,
whichever device it comes from. The contact is found by the user's identity
(``channels.app.identity``): ``app:<user id>``, verified and shared with other signed apps, when
the app signed the user id; ``app_unsigned:<app id>:<user id>``, this app's alone, when it did not.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Float,
    Integer,
    String,
    Table,
    insert,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from channels.app.identity import SIGNED, user_identity
from server.model import Identity, new_id
from server.store.ops import Row
from server.store.schema import ID, contacts, conversations, events, identities, messages, metadata
from server.store.store import Store
from server.store.writes import open_conversation, record_event

CHANNEL = "app"

app_sessions = Table(
    "app_sessions",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("app_id", String(64), nullable=False),
    Column("user_id", String(128), nullable=False),
    Column("contact_id", String(ID), nullable=False, index=True),
    Column("conversation_id", String(ID), nullable=False),
    Column("device", JSON, nullable=False, default=dict),
    Column("push_token", String(256)),
    Column("read_seq", Integer, nullable=False, default=0),
    Column("created_at", Float, nullable=False),
    Column("last_seen_at", Float, nullable=False),
)

app_uploads = Table(
    "app_uploads",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("app_id", String(64), nullable=False),
    Column("user_id", String(128), nullable=False),
    Column("content_type", String(128), nullable=False),
    Column("filename", String(255)),
    Column("size", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class AppSession:
    id: str
    app_id: str
    user_id: str
    contact_id: str
    conversation_id: str
    resumed: bool = True  # whether the user's conversation existed before this session
    # Whether the user id was signed when the session was made: its contact then holds the
    # verified ``app:<user id>``. A session is never more verified than the request that made it.
    signed: bool = False


async def _contact_for(
    conn: AsyncConnection, identity: Identity, now: float, verified: bool
) -> str:
    row = (
        await conn.execute(
            select(identities.c.contact_id).where(
                identities.c.kind == identity.kind, identities.c.value == identity.value
            )
        )
    ).first()
    if row is not None:
        return str(row.contact_id)
    contact_id = new_id("CT")
    await conn.execute(
        insert(contacts).values(
            id=contact_id, display_name=None, attributes={}, created_at=now, updated_at=now
        )
    )
    await conn.execute(
        insert(identities).values(
            kind=identity.kind,
            value=identity.value,
            contact_id=contact_id,
            verified=verified,  # only when the app signed the user id
            created_at=now,
        )
    )
    return contact_id


async def create_session(
    store: Store,
    *,
    app_id: str,
    user_id: str,
    device: dict[str, str],
    push_token: str | None,
    verified: bool,
) -> tuple[str, AppSession]:
    """A new token for the user, on the user's open conversation; the device becomes context."""
    token = secrets.token_urlsafe(32)
    now = time.time()

    async def op(conn: AsyncConnection) -> AppSession:
        identity = user_identity(app_id, user_id, signed=verified)
        contact_id = await _contact_for(conn, identity, now, verified)
        conversation, created = await open_conversation(
            conn,
            contact_id=contact_id,
            channel=CHANNEL,
            account=app_id,
            address=user_id,
            now=now,
            context={"device": device},
        )
        if not created:
            context = {**(conversation["context"] or {}), "device": device}
            await conn.execute(
                update(conversations)
                .where(conversations.c.id == conversation["id"])
                .values(context=context, updated_at=now)
            )
        session_id = new_id("AS")
        await conn.execute(
            insert(app_sessions).values(
                id=session_id,
                token_hash=token_hash(token),
                app_id=app_id,
                user_id=user_id,
                contact_id=contact_id,
                conversation_id=conversation["id"],
                device=device,
                push_token=push_token,
                read_seq=0,
                created_at=now,
                last_seen_at=now,
            )
        )
        return AppSession(
            session_id, app_id, user_id, contact_id, conversation["id"], not created, verified
        )

    return token, await store.write(op)


# A session is signed when its contact holds the verified ``app:<user id>`` of its user.
_SIGNED_USER = (
    (identities.c.kind == SIGNED)
    & (identities.c.value == app_sessions.c.user_id)
    & (identities.c.contact_id == app_sessions.c.contact_id)
    & identities.c.verified.is_(True)
)


async def session_for_token(store: Store, token: str) -> AppSession | None:
    query = (
        select(app_sessions, identities.c.verified.label("signed"))
        .outerjoin(identities, _SIGNED_USER)
        .where(app_sessions.c.token_hash == token_hash(token))
    )
    async with store.engine.connect() as conn:
        row = (await conn.execute(query)).first()
    if row is None:
        return None
    return AppSession(
        row.id, row.app_id, row.user_id, row.contact_id, row.conversation_id, True, bool(row.signed)
    )


async def follow_conversation(store: Store, session_id: str, conversation_id: str) -> None:
    """Point a session at the conversation its user's messages now land on (after a close)."""

    async def op(conn: AsyncConnection) -> None:
        await conn.execute(
            update(app_sessions)
            .where(app_sessions.c.id == session_id)
            .values(conversation_id=conversation_id, last_seen_at=time.time())
        )

    await store.write(op)


async def mark_read(store: Store, session_id: str, seq: int) -> bool:
    """Record the highest seq the user has read; False when it was already at or past it."""

    async def op(conn: AsyncConnection) -> bool:
        result = await conn.execute(
            update(app_sessions)
            .where(app_sessions.c.id == session_id, app_sessions.c.read_seq < seq)
            .values(read_seq=seq, last_seen_at=time.time())
        )
        return bool(result.rowcount)

    return await store.write(op)


async def unread_outbound(store: Store, conversation_id: str, up_to_seq: int) -> list[Row]:
    return await _all(
        store,
        select(messages).where(
            messages.c.conversation_id == conversation_id,
            messages.c.direction == "outbound",
            messages.c.seq <= up_to_seq,
            messages.c.status.in_(("accepted", "queued", "sent", "delivered")),
        ),
    )


async def push_tokens(store: Store, app_id: str, user_id: str) -> list[str]:
    rows = await _all(
        store,
        select(app_sessions.c.push_token).where(
            app_sessions.c.app_id == app_id,
            app_sessions.c.user_id == user_id,
            app_sessions.c.push_token.is_not(None),
        ),
    )
    return sorted({row["push_token"] for row in rows})


async def history(
    store: Store, conversation_id: str, *, before: int | None, limit: int
) -> list[Row]:
    """Up to ``limit`` messages before ``before`` (newest page when None), oldest first."""
    query = select(messages).where(messages.c.conversation_id == conversation_id)
    if before is not None:
        query = query.where(messages.c.seq < before)
    rows = await _all(store, query.order_by(messages.c.seq.desc()).limit(limit))
    return rows[::-1]


async def record_app_event(
    store: Store, session: AppSession, name: str, properties: dict[str, Any]
) -> str:
    now = time.time()

    async def op(conn: AsyncConnection) -> str:
        return await record_event(
            conn,
            contact_id=session.contact_id,
            conversation_id=session.conversation_id,
            type="app.event",
            channel=CHANNEL,
            session=session.id,
            time=now,
            properties={"name": name, "app_id": session.app_id, "properties": properties},
        )

    return await store.write(op)


async def contact_events(
    store: Store, contact_id: str, *, type: str | None, limit: int
) -> list[Row]:
    query = select(events).where(events.c.contact_id == contact_id)
    if type:
        query = query.where(events.c.type == type)
    return await _all(store, query.order_by(events.c.time, events.c.id).limit(limit))


async def add_upload(
    store: Store,
    *,
    upload_id: str,
    app_id: str,
    user_id: str,
    content_type: str,
    filename: str | None,
    size: int,
) -> None:
    async def op(conn: AsyncConnection) -> None:
        await conn.execute(
            insert(app_uploads).values(
                id=upload_id,
                app_id=app_id,
                user_id=user_id,
                content_type=content_type,
                filename=filename,
                size=size,
                created_at=time.time(),
            )
        )

    await store.write(op)


async def upload(store: Store, upload_id: str) -> Row | None:
    rows = await _all(store, select(app_uploads).where(app_uploads.c.id == upload_id))
    return rows[0] if rows else None


async def _all(store: Store, query: Any) -> list[Row]:
    async with store.engine.connect() as conn:
        return [row._mapping for row in (await conn.execute(query)).all()]
