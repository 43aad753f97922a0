"""The satisfaction question after a close, and its answer stored with the conversation.

Asking marks the closed conversation with ``satisfaction_key`` (channel|account|address, unique:
only the latest question of an address waits). The customer's next message on that address
is looked at before it is stored: a score from 1 to 5 (typed, or a tapped choice) is stored on
the closed conversation as its answer (a message there, ``conversations.satisfaction`` and a
``conversation.satisfaction`` event) and no flow sees it; anything else drops the question and
goes on as a new customer turn, as it would have without the question.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from server.model import ChoiceReplyPart, InboundEnvelope, new_id, part_to_dict, text_of
from server.store import Store
from server.store.ops import Ingested, Row, open_key, take_seq
from server.store.schema import conversations, messages
from server.store.writes import record_event

SCORES = ("1", "2", "3", "4", "5")


def score_of(envelope: InboundEnvelope) -> int | None:
    """The score an answer gives, or None when the message is not an answer."""
    for part in envelope.parts:
        if isinstance(part, ChoiceReplyPart) and part.choice_id in SCORES:
            return int(part.choice_id)
    text = text_of(envelope.parts).strip().rstrip(".!")
    return int(text) if text in SCORES else None


async def mark_asked(store: Store, conversation: Row) -> None:
    key = open_key(
        conversation["channel"], conversation["channel_account"], conversation["customer_address"]
    )
    table = conversations

    async def op(conn: AsyncConnection) -> None:
        # An older unanswered question of the same address gives way to this one.
        await conn.execute(
            update(table).where(table.c.satisfaction_key == key).values(satisfaction_key=None)
        )
        await conn.execute(
            update(table).where(table.c.id == conversation["id"]).values(satisfaction_key=key)
        )

    await store.write(op)


async def take_answer(store: Store, envelope: InboundEnvelope) -> Ingested | None:
    """Store ``envelope`` as the answer to a waiting question; None when none waits for it
    or the message is not an answer (the caller stores it as usual)."""
    key = open_key(envelope.channel, envelope.channel_account, envelope.customer_address)
    score = score_of(envelope)

    async def op(conn: AsyncConnection) -> Ingested | None:
        table = conversations
        found = (await conn.execute(select(table).where(table.c.satisfaction_key == key))).first()
        if found is None:
            return None
        conversation = found._mapping
        if score is None:
            await conn.execute(
                update(table).where(table.c.id == conversation["id"]).values(satisfaction_key=None)
            )
            return None
        now = time.time()
        cid = conversation["id"]
        fresh = await conn.run_sync(lambda sync: take_seq(sync, cid, now, inbound=True))
        values: dict[str, Any] = {column.name: None for column in messages.columns}
        values.update(
            id=new_id("MS"),
            conversation_id=cid,
            seq=fresh["next_seq"] - 1,
            direction="inbound",
            author="contact",
            parts=[part_to_dict(p) for p in envelope.parts],
            text=text_of(envelope.parts),
            status="received",
            provider_message_id=envelope.provider_message_id,
            # As the usual ingest keys it: a resend of the answer is then found stored.
            idempotency_key=(
                f"{envelope.channel}:{envelope.idempotency_key}"
                if envelope.idempotency_key
                else None
            ),
            fields=envelope.fields,
            handled=True,  # an answer, not a turn: no flow or agent takes it
            created_at=now,
            updated_at=now,
            raw=envelope.raw,
        )
        await conn.execute(insert(messages).values(**values))
        await conn.execute(
            update(table)
            .where(table.c.id == cid)
            .values(satisfaction=score, satisfaction_key=None, updated_at=now)
        )
        await record_event(
            conn,
            contact_id=conversation["contact_id"],
            conversation_id=cid,
            type="conversation.satisfaction",
            channel=conversation["channel"],
            time=now,
            properties={"score": score, "message_id": values["id"]},
        )
        updated = {**dict(conversation), **dict(fresh), "satisfaction": score}
        return Ingested(updated, values, duplicate=False, new_conversation=False)

    return await store.write(op)
