"""Web chat sessions: a bearer token the browser keeps, naming a visitor and, once stored, the
visitor's contact and conversation.

Nothing is stored when a socket opens. A new token is signed (``server.web.webchat_tokens``) and
names its visitor, account and signed-in user, so a socket that never writes leaves no row and
its token still brings the same visitor back. The contact, its identities, the conversation and
the session row are stored together when the visitor first writes (``webchat_visitors``: a
message, a pre-chat answer, opening a greeting account's chat); until then the session's
``conversation_id`` is None. A token whose rows exist (or a random token of an earlier release)
is resumed from its row.

A session is anonymous, or opened for an app user (``Threadline.identify``, verified by the web
layer): such a session carries the user id, and its contact has the verified identity
``app:<user id>``. A token of one user never opens another user's conversation.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, replace
from typing import Any, Protocol

from sqlalchemy import Connection, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from channels.app.identity import SIGNED as SIGNED_APP_USER
from server.model import Identity, new_id
from server.store.schema import contacts, conversations, identities, webchat_sessions
from server.store.store import Store
from server.store.webchat_tables import webchat_reads, webchat_users
from server.store.writes import merge_contact_attributes, open_key

CHANNEL = "webchat"
APP_IDENTITY = SIGNED_APP_USER  # one signed-in user, on the web chat and in signed apps alike
VISITOR_IDENTITY = "webchat"
VISITOR_READER = "visitor"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class SignedVisitor:
    """What a signed token names: enough to store the visitor's rows once they write."""

    visitor_id: str
    account: str
    user_id: str | None


class SessionTokens(Protocol):
    """Issues and reads signed tokens (``server.web.webchat_tokens``)."""

    def issue(self, visitor_id: str, account: str, user_id: str | None) -> str: ...

    def read(self, token: str) -> SignedVisitor | None: ...


@dataclass(frozen=True, slots=True)
class WebchatSession:
    token: str
    visitor_id: str
    contact_id: str | None  # None until the visitor's rows are stored
    conversation_id: str | None  # None until the visitor's first message opens it
    account: str
    acked_seq: int
    resumed: bool  # the token the socket brought was accepted
    user_id: str | None = None
    last_seq: int = 0  # the highest seq stored on the conversation when the session opened
    read_seq: int = 0  # the highest seq the visitor has read
    new_conversation: bool = False  # the conversation is not the one the token knew
    stored: bool = False  # the token has its session row


# The helpers below are plain functions of a connection: the visitor's rows are stored in
# SQLite's writer process (``Store.write_sync``), and async callers run them with
# ``AsyncConnection.run_sync``.


def identity_owner(conn: Connection, kind: str, value: str) -> str | None:
    """The contact that holds an identity."""
    owner = conn.execute(
        select(identities.c.contact_id).where(
            identities.c.kind == kind, identities.c.value == value
        )
    ).scalar()
    return str(owner) if owner is not None else None


def _open_conversation_of(conn: Connection, account: str, visitor_id: str) -> str | None:
    """The id of the visitor's open conversation on the account, if there is one."""
    key = open_key(CHANNEL, account, visitor_id)
    found = conn.execute(select(conversations.c.id).where(conversations.c.open_key == key)).scalar()
    return str(found) if found is not None else None


def insert_identity(conn: Connection, identity: Identity, contact_id: str) -> None:
    if identity_owner(conn, identity.kind, identity.value) is None:
        conn.execute(
            insert(identities).values(
                kind=identity.kind,
                value=identity.value,
                contact_id=contact_id,
                verified=identity.kind == APP_IDENTITY,
                created_at=time.time(),
            )
        )


def conversation_numbers(conn: Connection, conversation_id: str | None) -> tuple[int, int]:
    """(last stored seq, visitor's read seq) of a conversation; (0, 0) without one."""
    if conversation_id is None:
        return 0, 0
    next_seq = conn.execute(
        select(conversations.c.next_seq).where(conversations.c.id == conversation_id)
    ).scalar_one()
    read = conn.execute(
        select(webchat_reads.c.seq).where(
            webchat_reads.c.conversation_id == conversation_id,
            webchat_reads.c.reader == VISITOR_READER,
        )
    ).scalar()
    return int(next_seq) - 1, int(read or 0)


def _new_visitor(tokens: SessionTokens, account: str) -> WebchatSession:
    """A visitor never seen: a token, nothing else (nothing read, nothing stored)."""
    visitor_id = new_id("WV")
    token = tokens.issue(visitor_id, account, None)
    return WebchatSession(token, visitor_id, None, None, account, 0, False)


async def _unstored(
    store: Store, token: str, visitor: SignedVisitor, *, resumed: bool
) -> WebchatSession:
    """A session whose token has no row: what the visitor (or signed-in user) already has, read.

    A signed-in user on a new browser gets their contact and open conversation back this way
    without a row being written; the row comes with their first message.
    """
    async with store.engine.connect() as conn:
        contact_id = (
            await conn.run_sync(identity_owner, APP_IDENTITY, visitor.user_id)
            if visitor.user_id
            else None
        )
        contact_id = contact_id or await conn.run_sync(
            identity_owner, VISITOR_IDENTITY, visitor.visitor_id
        )
        conversation_id = await conn.run_sync(
            _open_conversation_of, visitor.account, visitor.visitor_id
        )
        numbers = await conn.run_sync(conversation_numbers, conversation_id)
    return WebchatSession(
        token,
        visitor.visitor_id,
        contact_id,
        conversation_id,
        visitor.account,
        0,
        resumed,
        visitor.user_id,
        *numbers,
    )


async def resume_session(store: Store, token: str) -> WebchatSession | None:
    """The stored session of ``token``, on the visitor's open conversation (None if it closed:
    the next message opens a new one)."""
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
        conversation_id = await conn.run_sync(
            _open_conversation_of, row.channel_account, row.visitor_id
        )
        # Another tab may have opened a new conversation after the token's one closed.
        moved = conversation_id is not None and conversation_id != row.conversation_id
        values: dict[str, Any] = {"last_seen_at": now}
        if moved:
            values.update(conversation_id=conversation_id, acked_seq=0)
        await conn.execute(
            update(webchat_sessions).where(webchat_sessions.c.token_hash == digest).values(values)
        )
        user_id = (
            await conn.execute(
                select(webchat_users.c.user_id).where(webchat_users.c.token_hash == digest)
            )
        ).scalar()
        numbers = await conn.run_sync(conversation_numbers, conversation_id)
        return WebchatSession(
            token,
            row.visitor_id,
            row.contact_id,
            conversation_id,
            row.channel_account,
            row.acked_seq if conversation_id is not None and not moved else 0,
            True,
            user_id,
            *numbers,
            new_conversation=moved,
            stored=True,
        )

    return await store.write(op)


async def _presented(store: Store, tokens: SessionTokens, token: str) -> WebchatSession | None:
    """The session a token names: from its row, else from its signature; None if neither."""
    stored = await resume_session(store, token)
    if stored is not None:
        return stored
    visitor = tokens.read(token)
    return await _unstored(store, token, visitor, resumed=True) if visitor is not None else None


async def open_session(
    store: Store, tokens: SessionTokens, token: str | None, account: str, user_id: str | None
) -> tuple[WebchatSession, bool]:
    """The session a connecting browser gets, and whether its token was unknown.

    ``user_id`` is the verified app user of the page (None for anonymous pages). A token is
    resumed only when it belongs to the same user; an anonymous token is linked to the user when
    that user has no contact yet (the visitor signed in mid-chat); anything else opens the user's
    own session (their latest visitor, so their conversation follows them between browsers).
    Writes nothing, except to a session that has its row (when it is resumed or linked).
    """
    presented = await _presented(store, tokens, token) if token else None
    unknown = bool(token) and presented is None
    if presented is not None and presented.user_id == user_id:
        return presented, unknown
    if user_id is None:
        return _new_visitor(tokens, account), unknown
    linked = await _link_anonymous(store, tokens, presented, user_id) if presented else None
    if linked is not None:
        return linked, unknown
    return await _session_for_user(store, tokens, account, user_id), unknown


async def _link_anonymous(
    store: Store, tokens: SessionTokens, session: WebchatSession, user_id: str
) -> WebchatSession | None:
    if session.user_id is not None:
        return None
    if not session.stored:
        # Nothing stored yet: the same visitor goes on, signed in, under a token that says so.
        async with store.engine.connect() as conn:
            owner = await conn.run_sync(identity_owner, APP_IDENTITY, user_id)
        if owner is not None and owner != session.contact_id:
            return None
        visitor = SignedVisitor(session.visitor_id, session.account, user_id)
        token = tokens.issue(visitor.visitor_id, visitor.account, user_id)
        return await _unstored(store, token, visitor, resumed=True)

    async def op(conn: AsyncConnection) -> bool:
        owner = await conn.run_sync(identity_owner, APP_IDENTITY, user_id)
        if owner is not None and owner != session.contact_id:
            return False
        assert session.contact_id is not None  # a stored session has its contact
        await conn.run_sync(insert_identity, Identity(APP_IDENTITY, user_id), session.contact_id)
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


async def _session_for_user(
    store: Store, tokens: SessionTokens, account: str, user_id: str
) -> WebchatSession:
    """The signed-in user's own session: their latest visitor on this account, or a new one."""
    async with store.engine.connect() as conn:
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
    visitor = SignedVisitor(visitor_id or new_id("WV"), account, user_id)
    token = tokens.issue(visitor.visitor_id, account, user_id)
    return await _unstored(store, token, visitor, resumed=False)


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
    conversation_id: str | None  # None while the visitor has not written
    account: str


async def session_by_token(store: Store, tokens: SessionTokens, token: str) -> SessionRef | None:
    digest = token_hash(token)
    async with store.engine.connect() as conn:
        row = (
            await conn.execute(
                select(webchat_sessions).where(webchat_sessions.c.token_hash == digest)
            )
        ).first()
    if row is not None:
        return SessionRef(digest, row.visitor_id, row.conversation_id, row.channel_account)
    visitor = tokens.read(token)
    if visitor is None:
        return None
    return SessionRef(digest, visitor.visitor_id, None, visitor.account)
