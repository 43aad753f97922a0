"""Storing a web chat visitor when they first write: contact, identities, conversation, row.

Opening a session stores nothing (``server.store.sessions``); the first message, pre-chat answer
or opened greeting chat calls ``store_session``, which stores what the session's token names.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import TypeVar

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from server.model import Identity, InboundEnvelope
from server.store import hot
from server.store.hot import HotStatement
from server.store.ops import Ingested, find_or_create_contact, ingest_inbound, open_conversation
from server.store.schema import webchat_sessions
from server.store.sessions import (
    APP_IDENTITY,
    CHANNEL,
    VISITOR_IDENTITY,
    WebchatSession,
    conversation_numbers,
    token_hash,
)
from server.store.store import Store
from server.store.webchat_tables import webchat_users

T = TypeVar("T")


async def store_session(store: Store, session: WebchatSession) -> WebchatSession:
    """The session with its rows stored and its conversation open (a no-op when they are).

    Called when the visitor first writes something other than a message (a pre-chat answer,
    opening a greeting account's chat); a first message goes with its rows
    (``store_session_with_message``).
    """
    if session.stored and session.conversation_id is not None:
        return session
    return await _write(store, partial(_store, session=session, now=time.time()))


async def store_session_with_message(
    store: Store, session: WebchatSession, envelope: InboundEnvelope
) -> tuple[WebchatSession, Ingested]:
    """The visitor's rows and their first message, stored in one transaction: the message is
    acknowledged after one commit, as every later one is."""
    operation = partial(_store_with_message, session=session, env=envelope, now=time.time())
    return await _write(store, operation, urgent=True)


async def _write(store: Store, operation: Callable[[Connection], T], urgent: bool = False) -> T:
    """Run where the message path's writes run (on SQLite, the writer process): a second writer
    beside that one would wait on SQLite's lock, and every first message with it. Two tabs (or
    nodes) storing one token's rows at once is safe: whichever comes second finds the rows (or,
    across nodes, fails on the unique keys and reads them on a second try)."""
    try:
        return await store.write_sync(operation, urgent=urgent)
    except IntegrityError:
        return await store.write_sync(operation, urgent=urgent)


def _store_with_message(
    conn: Connection, *, session: WebchatSession, env: InboundEnvelope, now: float
) -> tuple[WebchatSession, Ingested]:
    stored = _store(conn, session=session, now=now)
    return stored, ingest_inbound(conn, env, now, stored.contact_id)


# The first write of every visitor runs these: compiled once, run on SQLite's cursor (``hot``).
_SESSION_BY_TOKEN = HotStatement(
    select(webchat_sessions).where(webchat_sessions.c.token_hash == bindparam("b_hash"))
)
_INSERT_SESSION = HotStatement(insert(webchat_sessions))
_INSERT_USER = HotStatement(insert(webchat_users))


def _store(conn: Connection, *, session: WebchatSession, now: float) -> WebchatSession:
    digest = token_hash(session.token)
    row = hot.first(conn, _SESSION_BY_TOKEN, {"b_hash": digest})
    visitor, user_id = session.visitor_id, session.user_id
    contact_id = str(row["contact_id"]) if row is not None else _contact(conn, session, now)
    conversation, created = open_conversation(
        conn,
        contact_id=contact_id,
        channel=CHANNEL,
        account=session.account,
        address=visitor,
        now=now,
    )
    acked = 0
    if row is None:
        hot.execute(
            conn,
            _INSERT_SESSION,
            {
                "token_hash": digest,
                "visitor_id": visitor,
                "contact_id": contact_id,
                "conversation_id": conversation["id"],
                "channel_account": session.account,
                "acked_seq": 0,
                "created_at": now,
                "last_seen_at": now,
            },
        )
        if user_id is not None:
            user = {
                "token_hash": digest,
                "user_id": user_id,
                "channel_account": session.account,
                "visitor_id": visitor,
                "linked_at": now,
            }
            hot.execute(conn, _INSERT_USER, user)
    elif row["conversation_id"] != conversation["id"]:
        conn.execute(
            update(webchat_sessions)
            .where(webchat_sessions.c.token_hash == digest)
            .values(conversation_id=conversation["id"], acked_seq=0, last_seen_at=now)
        )
    else:
        acked = int(row["acked_seq"])
    if created:  # nothing in it yet, nothing read
        last_seq, read_seq = int(conversation["next_seq"]) - 1, 0
    else:
        last_seq, read_seq = conversation_numbers(conn, conversation["id"])
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


def _contact(conn: Connection, session: WebchatSession, now: float) -> str:
    """The visitor's contact, with its identities: the signed-in user's if they have one (so
    their conversation follows them between browsers), the visitor's, or a new one."""
    visitor = Identity(VISITOR_IDENTITY, session.visitor_id)
    if session.user_id is None:
        return find_or_create_contact(conn, (visitor,), None, now)
    user = Identity(APP_IDENTITY, session.user_id)
    return find_or_create_contact(conn, (user, visitor), None, now, frozenset({APP_IDENTITY}))
