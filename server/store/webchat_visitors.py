"""Storing a web chat visitor when they first write: contact, identities, conversation, row.

Opening a session stores nothing (``server.store.sessions``); the first message, pre-chat answer
or opened greeting chat calls ``store_session``, which stores what the session's token names.
"""

from __future__ import annotations

import time
from dataclasses import replace

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from server.model import Identity, new_id
from server.store.schema import contacts, webchat_sessions
from server.store.sessions import (
    APP_IDENTITY,
    CHANNEL,
    VISITOR_IDENTITY,
    WebchatSession,
    conversation_numbers,
    identity_owner,
    insert_identity,
    token_hash,
)
from server.store.store import Store
from server.store.webchat_tables import webchat_users
from server.store.writes import open_conversation


async def store_session(store: Store, session: WebchatSession) -> WebchatSession:
    """The session with its rows stored and its conversation open (a no-op when they are).

    Called when the visitor first writes. Two tabs (or nodes) storing one token's rows at once
    is safe: whichever comes second finds the rows (or, across nodes, fails on the unique keys
    and reads them on a second try).
    """
    if session.stored and session.conversation_id is not None:
        return session

    async def op(conn: AsyncConnection) -> WebchatSession:
        return await _store(conn, session, time.time())

    try:
        return await store.write(op)
    except IntegrityError:
        return await store.write(op)


async def _store(conn: AsyncConnection, session: WebchatSession, now: float) -> WebchatSession:
    digest = token_hash(session.token)
    row = (
        await conn.execute(select(webchat_sessions).where(webchat_sessions.c.token_hash == digest))
    ).first()
    visitor, user_id = session.visitor_id, session.user_id
    contact_id = str(row.contact_id) if row is not None else await _contact(conn, session, now)
    conversation, created = await open_conversation(
        conn,
        contact_id=contact_id,
        channel=CHANNEL,
        account=session.account,
        address=visitor,
        now=now,
    )
    acked = 0
    if row is None:
        await conn.execute(
            insert(webchat_sessions).values(
                token_hash=digest,
                visitor_id=visitor,
                contact_id=contact_id,
                conversation_id=conversation["id"],
                channel_account=session.account,
                acked_seq=0,
                created_at=now,
                last_seen_at=now,
            )
        )
        if user_id is not None:
            await conn.execute(
                insert(webchat_users).values(
                    token_hash=digest,
                    user_id=user_id,
                    channel_account=session.account,
                    visitor_id=visitor,
                    linked_at=now,
                )
            )
    elif row.conversation_id != conversation["id"]:
        await conn.execute(
            update(webchat_sessions)
            .where(webchat_sessions.c.token_hash == digest)
            .values(conversation_id=conversation["id"], acked_seq=0, last_seen_at=now)
        )
    else:
        acked = int(row.acked_seq)
    last_seq, read_seq = await conversation_numbers(conn, conversation["id"])
    return replace(
        session,
        contact_id=contact_id,
        conversation_id=conversation["id"],
        acked_seq=acked,
        last_seq=last_seq,
        read_seq=read_seq,
        new_conversation=created,
        stored=True,
    )


async def _contact(conn: AsyncConnection, session: WebchatSession, now: float) -> str:
    """The visitor's contact, with its identities: the signed-in user's if they have one (so
    their conversation follows them between browsers), the visitor's, or a new one."""
    user_id = session.user_id
    contact_id = await identity_owner(conn, APP_IDENTITY, user_id) if user_id is not None else None
    contact_id = contact_id or await identity_owner(conn, VISITOR_IDENTITY, session.visitor_id)
    if contact_id is None:
        contact_id = new_id("CT")
        await conn.execute(
            insert(contacts).values(
                id=contact_id, display_name=None, attributes={}, created_at=now, updated_at=now
            )
        )
    await insert_identity(conn, Identity(VISITOR_IDENTITY, session.visitor_id), contact_id)
    if user_id is not None:
        await insert_identity(conn, Identity(APP_IDENTITY, user_id), contact_id)
    return contact_id
