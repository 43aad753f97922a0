"""Write operations. Each is an async function of a connection, run by the group committer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from server.engine.execution import ACTIVE, Execution, StepLog
from server.model import (
    ConversationStatus,
    Identity,
    InboundEnvelope,
    new_id,
    part_to_dict,
    text_of,
)
from server.store.schema import (
    contacts,
    conversations,
    events,
    execution_steps,
    executions,
    identities,
    messages,
    timers,
)


@dataclass(frozen=True, slots=True)
class Ingested:
    conversation: RowMapping
    message: RowMapping
    duplicate: bool
    new_conversation: bool


@dataclass(slots=True)
class OutboundDraft:
    """An outbound message to store (the outbox) before any provider sees it."""

    conversation_id: str
    author: str
    parts: list[dict[str, Any]]
    text: str
    request_id: str | None = None
    idempotency_key: str | None = None
    status: str = "accepted"
    id: str = field(default_factory=lambda: new_id("MS"))


@dataclass(slots=True)
class StepWrite:
    """Everything one engine step changes, committed together so a crash loses none of it."""

    execution: Execution
    created: bool
    steps: tuple[StepLog, ...] = ()
    outbound: list[OutboundDraft] = field(default_factory=list)
    timers_started: list[tuple[str, float]] = field(default_factory=list)
    timers_cancelled: list[str] = field(default_factory=list)
    conversation_attributes: dict[str, Any] = field(default_factory=dict)
    contact_attributes: dict[str, Any] = field(default_factory=dict)
    handled_message_ids: list[str] = field(default_factory=list)


def open_key(channel: str, account: str, address: str) -> str:
    return f"{channel}|{account}|{address}"


async def _find_or_create_contact(conn: AsyncConnection, env: InboundEnvelope, now: float) -> str:
    contact_id: str | None = None
    known: set[tuple[str, str]] = set()
    for identity in env.identities:
        row = (
            await conn.execute(
                select(identities.c.contact_id).where(
                    identities.c.kind == identity.kind, identities.c.value == identity.value
                )
            )
        ).first()
        if row is not None:
            known.add((identity.kind, identity.value))
            contact_id = contact_id or row.contact_id
    if contact_id is None:
        contact_id = new_id("CT")
        await conn.execute(
            insert(contacts).values(
                id=contact_id,
                display_name=env.profile_name,
                attributes={},
                created_at=now,
                updated_at=now,
            )
        )
    elif env.profile_name:
        await conn.execute(
            update(contacts)
            .where(contacts.c.id == contact_id, contacts.c.display_name.is_(None))
            .values(display_name=env.profile_name, updated_at=now)
        )
    for identity in env.identities:
        if (identity.kind, identity.value) not in known:
            await conn.execute(
                insert(identities).values(
                    kind=identity.kind,
                    value=identity.value,
                    contact_id=contact_id,
                    verified=False,
                    created_at=now,
                )
            )
    return contact_id


async def open_conversation(
    conn: AsyncConnection,
    *,
    contact_id: str,
    channel: str,
    account: str,
    address: str,
    now: float,
    context: dict[str, Any] | None = None,
) -> tuple[RowMapping, bool]:
    key = open_key(channel, account, address)
    row = (await conn.execute(select(conversations).where(conversations.c.open_key == key))).first()
    if row is not None:
        return row._mapping, False
    values = {
        "id": new_id("CV"),
        "contact_id": contact_id,
        "channel": channel,
        "channel_account": account,
        "customer_address": address,
        "status": ConversationStatus.BOT.value,
        "attributes": {},
        "context": context or {},
        "next_seq": 1,
        "created_at": now,
        "updated_at": now,
        "open_key": key,
    }
    await conn.execute(insert(conversations).values(**values))
    row = (
        await conn.execute(select(conversations).where(conversations.c.id == values["id"]))
    ).one()
    return row._mapping, True


async def open_for_address(
    conn: AsyncConnection,
    *,
    channel: str,
    account: str,
    address: str,
    identities: tuple[Identity, ...],
    now: float,
) -> RowMapping:
    """The open conversation with a customer address, made (with its contact) if there is none.

    Used when a flow starts without an inbound message (the REST trigger): the contact is found
    by its identities exactly as an inbound message from that address would find it.
    """
    envelope = InboundEnvelope(channel, account, address, identities, ())
    contact_id = await _find_or_create_contact(conn, envelope, now)
    row, _ = await open_conversation(
        conn, contact_id=contact_id, channel=channel, account=account, address=address, now=now
    )
    return row


async def next_seq(conn: AsyncConnection, conversation_id: str, now: float) -> int:
    result = await conn.execute(
        update(conversations)
        .where(conversations.c.id == conversation_id)
        .values(next_seq=conversations.c.next_seq + 1, updated_at=now)
        .returning(conversations.c.next_seq)
    )
    return int(result.scalar_one()) - 1


async def ingest_inbound(conn: AsyncConnection, env: InboundEnvelope, now: float) -> Ingested:
    """Store one inbound message (once per idempotency key) on the customer's open conversation."""
    key = f"{env.channel}:{env.idempotency_key}" if env.idempotency_key else None
    if key is not None:
        existing = (
            await conn.execute(select(messages).where(messages.c.idempotency_key == key))
        ).first()
        if existing is not None:
            owner = (
                await conn.execute(
                    select(conversations).where(conversations.c.id == existing.conversation_id)
                )
            ).one()
            return Ingested(owner._mapping, existing._mapping, True, False)
    contact_id = await _find_or_create_contact(conn, env, now)
    conv, created = await open_conversation(
        conn,
        contact_id=contact_id,
        channel=env.channel,
        account=env.channel_account,
        address=env.customer_address,
        now=now,
    )
    seq = await next_seq(conn, conv["id"], now)
    at = env.received_at.timestamp() if env.received_at else now
    values = {
        "id": new_id("MS"),
        "conversation_id": conv["id"],
        "seq": seq,
        "direction": "inbound",
        "author": "contact",
        "parts": [part_to_dict(p) for p in env.parts],
        "text": text_of(env.parts),
        "status": "received",
        "provider_message_id": env.provider_message_id,
        "idempotency_key": key,
        "created_at": at,
        "updated_at": now,
        "raw": env.raw,
        "fields": env.fields,
        "handled": False,
    }
    await conn.execute(insert(messages).values(**values))
    await conn.execute(
        update(conversations).where(conversations.c.id == conv["id"]).values(last_inbound_at=now)
    )
    await record_event(
        conn,
        contact_id=contact_id,
        conversation_id=conv["id"],
        type="message.inbound",
        channel=env.channel,
        time=now,
        properties={"message_id": values["id"], "text": values["text"][:500]},
    )
    fresh = (
        await conn.execute(select(conversations).where(conversations.c.id == conv["id"]))
    ).one()
    msg = (await conn.execute(select(messages).where(messages.c.id == values["id"]))).one()
    return Ingested(fresh._mapping, msg._mapping, False, created)


async def record_event(
    conn: AsyncConnection,
    *,
    contact_id: str,
    type: str,
    time: float,
    properties: dict[str, Any],
    conversation_id: str | None = None,
    channel: str | None = None,
    session: str | None = None,
) -> str:
    event_id = new_id("EV")
    await conn.execute(
        insert(events).values(
            id=event_id,
            contact_id=contact_id,
            conversation_id=conversation_id,
            type=type,
            channel=channel,
            session=session,
            time=time,
            properties=properties,
        )
    )
    return event_id


async def insert_outbound(conn: AsyncConnection, draft: OutboundDraft, now: float) -> RowMapping:
    seq = await next_seq(conn, draft.conversation_id, now)
    values = {
        "id": draft.id,
        "conversation_id": draft.conversation_id,
        "seq": seq,
        "direction": "outbound",
        "author": draft.author,
        "parts": draft.parts,
        "text": draft.text,
        "status": draft.status,
        "request_id": draft.request_id,
        "idempotency_key": draft.idempotency_key,
        "created_at": now,
        "updated_at": now,
    }
    await conn.execute(insert(messages).values(**values))
    row = (await conn.execute(select(messages).where(messages.c.id == draft.id))).one()
    return row._mapping


async def write_step(conn: AsyncConnection, write: StepWrite, now: float) -> list[RowMapping]:
    """Persist an engine step: execution, step log, outbox, timers and attached context."""
    ex = write.execution
    active = ex.status == ACTIVE
    values = {
        "status": ex.status,
        "state": ex.state,
        "data": ex.to_dict(),
        "updated_at": now,
        "ended_at": None if active else now,
        # Only the top-level execution holds the conversation's active key: a subflow runs
        # beside its waiting parent, and the deepest active execution gets the messages.
        "active_key": ex.conversation_id if active and ex.parent_id is None else None,
    }
    if write.created:
        await conn.execute(
            insert(executions).values(
                id=ex.id,
                flow_sid=ex.flow_sid,
                flow_version=ex.flow_version,
                conversation_id=ex.conversation_id,
                contact_id=ex.contact_id,
                parent_id=ex.parent_id,
                created_at=now,
                **values,
            )
        )
    else:
        await conn.execute(update(executions).where(executions.c.id == ex.id).values(**values))
    if write.steps:
        await conn.execute(
            insert(execution_steps),
            [
                {
                    "execution_id": ex.id,
                    "seq": s.seq,
                    "from_state": s.from_state,
                    "event": s.event,
                    "to_state": s.to_state,
                    "at": s.at,
                    "outputs": s.outputs,
                }
                for s in write.steps
            ],
        )
    if write.timers_cancelled:
        await conn.execute(delete(timers).where(timers.c.id.in_(write.timers_cancelled)))
    for timer_id, due_at in write.timers_started:
        await conn.execute(
            insert(timers).values(
                id=timer_id,
                execution_id=ex.id,
                conversation_id=ex.conversation_id or "",
                due_at=due_at,
                created_at=now,
            )
        )
    if not active:
        await conn.execute(delete(timers).where(timers.c.execution_id == ex.id))
    if write.handled_message_ids:
        await conn.execute(
            update(messages)
            .where(messages.c.id.in_(write.handled_message_ids))
            .values(handled=True)
        )
    if ex.conversation_id and write.conversation_attributes:
        await merge_attributes(conn, ex.conversation_id, write.conversation_attributes, now)
    if ex.contact_id and write.contact_attributes:
        await merge_contact_attributes(conn, ex.contact_id, write.contact_attributes, now)
    return [await insert_outbound(conn, draft, now) for draft in write.outbound]


async def merge_attributes(
    conn: AsyncConnection, conversation_id: str, attributes: dict[str, Any], now: float
) -> None:
    row = (
        await conn.execute(
            select(conversations.c.attributes).where(conversations.c.id == conversation_id)
        )
    ).first()
    if row is not None:
        await conn.execute(
            update(conversations)
            .where(conversations.c.id == conversation_id)
            .values(attributes={**(row.attributes or {}), **attributes}, updated_at=now)
        )


async def merge_contact_attributes(
    conn: AsyncConnection, contact_id: str, attributes: dict[str, Any], now: float
) -> None:
    row = (
        await conn.execute(select(contacts.c.attributes).where(contacts.c.id == contact_id))
    ).first()
    if row is not None:
        await conn.execute(
            update(contacts)
            .where(contacts.c.id == contact_id)
            .values(attributes={**(row.attributes or {}), **attributes}, updated_at=now)
        )
