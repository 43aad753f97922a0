"""Write operations as plain functions of a synchronous connection.

The hot path (inbound messages, engine steps, outbox, delivery statuses) runs these in SQLite's
writer process, a whole batch per round trip (``sync_writer``); on PostgreSQL they run through
the async group committer with ``AsyncConnection.run_sync``. ``writes`` wraps them for async
callers. Statements are few on purpose: rows come back with RETURNING instead of a second
SELECT, and the hot ones run through ``hot``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Connection, bindparam, delete, insert, select, update

from server.engine.execution import ACTIVE, Execution, StepLog
from server.model import (
    ConversationStatus,
    Identity,
    InboundEnvelope,
    advance_status,
    new_id,
    part_to_dict,
    text_of,
)
from server.pickling import pickled_by_constructor
from server.store import hot
from server.store.hot import HotStatement
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

# A stored row: SQLAlchemy's RowMapping, or a plain dict when it comes from the writer process.
Row = Mapping[Any, Any]

# The hot path's statements are built once with bound parameters (building a statement with
# literal values for every call costs more than running it) and run through ``hot``.
_IDENTITY_OWNER = HotStatement(
    select(identities.c.contact_id).where(
        identities.c.kind == bindparam("b_kind"), identities.c.value == bindparam("b_value")
    )
)
_MESSAGE_BY_KEY = HotStatement(
    select(messages).where(messages.c.idempotency_key == bindparam("b_key"))
)
_CONVERSATION_BY_ID = HotStatement(
    select(conversations).where(conversations.c.id == bindparam("b_id"))
)
_CONVERSATION_BY_OPEN_KEY = HotStatement(
    select(conversations).where(conversations.c.open_key == bindparam("b_key"))
)
_INSERT_CONVERSATION = HotStatement(insert(conversations))
_INSERT_MESSAGE = HotStatement(insert(messages))


def _taking_seq(where: ColumnElement[bool], *, inbound: bool) -> HotStatement:
    """Reserve a conversation's next message seq, returning the updated row; for an inbound
    message ``last_inbound_at`` moves too (service windows count from it)."""
    values: dict[str, Any] = {
        "next_seq": conversations.c.next_seq + 1,
        "updated_at": bindparam("b_now"),
    }
    if inbound:
        values["last_inbound_at"] = bindparam("b_now")
    return HotStatement(
        update(conversations).where(where).values(values).returning(*conversations.c)
    )


_BY_ID = conversations.c.id == bindparam("b_id")
_TAKE_SEQ = _taking_seq(_BY_ID, inbound=False)
_TAKE_SEQ_INBOUND = _taking_seq(_BY_ID, inbound=True)
# Found by its open key: one statement for the common case, a message on an open conversation.
_TAKE_SEQ_INBOUND_BY_OPEN_KEY = _taking_seq(
    conversations.c.open_key == bindparam("b_key"), inbound=True
)

_UPDATE_EXECUTION = HotStatement(
    update(executions)
    .where(executions.c.id == bindparam("b_id"), executions.c.revision == bindparam("b_revision"))
    .values(
        revision=bindparam("revision"),
        status=bindparam("status"),
        state=bindparam("state"),
        data=bindparam("data"),
        updated_at=bindparam("updated_at"),
        ended_at=bindparam("ended_at"),
        active_key=bindparam("active_key"),
    )
)
_MARK_HANDLED = HotStatement(
    update(messages).where(messages.c.id == bindparam("b_id")).values(handled=True)
)
_DELETE_TIMER = HotStatement(delete(timers).where(timers.c.id == bindparam("b_id")))
_DELETE_EXECUTION_TIMERS = HotStatement(
    delete(timers).where(timers.c.execution_id == bindparam("b_execution"))
)
_INSERT_CONTACT = HotStatement(insert(contacts))
_INSERT_IDENTITY = HotStatement(insert(identities))
_INSERT_EVENT = HotStatement(insert(events))
_INSERT_EXECUTION = HotStatement(insert(executions))
_INSERT_STEP = HotStatement(insert(execution_steps))
_INSERT_TIMER = HotStatement(insert(timers))


class StaleExecution(Exception):
    """A step was computed from an execution that another writer has moved on since it was read:
    nothing of the step is stored; read the execution again and step that."""

    def __init__(self, execution_id: str) -> None:
        super().__init__(execution_id)  # the only argument, so the error pickles and unpickles
        self.execution_id = execution_id

    def __str__(self) -> str:
        return f"execution {self.execution_id} changed since it was read"


@pickled_by_constructor
@dataclass(frozen=True, slots=True)
class Ingested:
    conversation: Row
    message: Row
    duplicate: bool
    new_conversation: bool


@pickled_by_constructor
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
    author_name: str | None = None  # an agent's display name, shown to the customer


@pickled_by_constructor
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
    # (message id, column values): a provider's answer to a send, stored with the step it feeds.
    message_updates: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def open_key(channel: str, account: str, address: str) -> str:
    return f"{channel}|{account}|{address}"


def find_or_create_contact(
    conn: Connection,
    found_by: tuple[Identity, ...],
    profile_name: str | None,
    now: float,
    verified_kinds: frozenset[str] = frozenset(),
) -> str:
    """The contact that holds the first of ``found_by`` someone holds (a new one if none does);
    the identities nobody holds are added to it (verified: those of ``verified_kinds``)."""
    contact_id: str | None = None
    known: set[tuple[str, str]] = set()
    for identity in found_by:
        owner = hot.scalar(
            conn, _IDENTITY_OWNER, {"b_kind": identity.kind, "b_value": identity.value}
        )
        if owner is not None:
            known.add((identity.kind, identity.value))
            contact_id = contact_id or owner
    if contact_id is None:
        contact_id = new_id("CT")
        hot.execute(
            conn,
            _INSERT_CONTACT,
            {
                "id": contact_id,
                "display_name": profile_name,
                "attributes": {},
                "created_at": now,
                "updated_at": now,
            },
        )
    elif profile_name:
        conn.execute(
            update(contacts)
            .where(contacts.c.id == contact_id, contacts.c.display_name.is_(None))
            .values(display_name=profile_name, updated_at=now)
        )
    missing = [i for i in found_by if (i.kind, i.value) not in known]
    if missing:
        hot.execute_many(
            conn,
            _INSERT_IDENTITY,
            [
                {
                    "kind": i.kind,
                    "value": i.value,
                    "contact_id": contact_id,
                    "verified": i.kind in verified_kinds,
                    "created_at": now,
                }
                for i in missing
            ],
        )
    return contact_id


def open_conversation(
    conn: Connection,
    *,
    contact_id: str,
    channel: str,
    account: str,
    address: str,
    now: float,
    context: dict[str, Any] | None = None,
) -> tuple[Row, bool]:
    """The customer's open conversation on this channel account, made if there is none."""
    key = open_key(channel, account, address)
    row = hot.first(conn, _CONVERSATION_BY_OPEN_KEY, {"b_key": key})
    if row is not None:
        return row, False
    created = hot.insert_row(
        conn,
        _INSERT_CONVERSATION,
        {
            "id": new_id("CV"),
            "contact_id": contact_id,
            "channel": channel,
            "channel_account": account,
            "customer_address": address,
            "status": ConversationStatus.BOT.value,
            "agent_id": None,
            "queue": None,
            "attributes": {},
            "context": context or {},
            "next_seq": 1,
            "last_inbound_at": None,
            "created_at": now,
            "updated_at": now,
            "closed_at": None,
            "open_key": key,
            "satisfaction": None,
            "satisfaction_key": None,
        },
    )
    return created, True


def open_for_address(
    conn: Connection,
    *,
    channel: str,
    account: str,
    address: str,
    identities: tuple[Identity, ...],
    now: float,
) -> Row:
    """The open conversation with an address, made (with its contact) if there is none.

    Used when a flow starts without an inbound message (the REST trigger): the contact is found
    by its identities exactly as an inbound message from that address would find it.
    """
    contact_id = find_or_create_contact(conn, identities, None, now)
    row, _ = open_conversation(
        conn, contact_id=contact_id, channel=channel, account=account, address=address, now=now
    )
    return row


def take_seq(conn: Connection, conversation_id: str, now: float, inbound: bool = False) -> Row:
    """Reserve the conversation's next message sequence number; returns the updated row.

    For an inbound message ``last_inbound_at`` moves too (service windows count from it).
    """
    statement = _TAKE_SEQ_INBOUND if inbound else _TAKE_SEQ
    return hot.one(conn, statement, {"b_id": conversation_id, "b_now": now})


def ingest_inbound(
    conn: Connection, env: InboundEnvelope, now: float, contact_id: str | None = None
) -> Ingested:
    """Store one inbound message (once per idempotency key) on the customer's open conversation.

    ``contact_id``: the sender's contact when the caller has just found it (a web chat visitor's
    first message); otherwise it is found by the envelope's identities."""
    key = f"{env.channel}:{env.idempotency_key}" if env.idempotency_key else None
    if key is not None:
        existing = hot.first(conn, _MESSAGE_BY_KEY, {"b_key": key})
        if existing is not None:
            owner = hot.one(conn, _CONVERSATION_BY_ID, {"b_id": existing["conversation_id"]})
            return Ingested(owner, existing, True, False)
    if contact_id is None:
        contact_id = find_or_create_contact(conn, env.identities, env.profile_name, now)
    key_of_open = open_key(env.channel, env.channel_account, env.customer_address)
    row = hot.first(conn, _TAKE_SEQ_INBOUND_BY_OPEN_KEY, {"b_key": key_of_open, "b_now": now})
    created = False
    if row is not None:
        fresh = row
    else:
        conv, created = open_conversation(
            conn,
            contact_id=contact_id,
            channel=env.channel,
            account=env.channel_account,
            address=env.customer_address,
            now=now,
        )
        fresh = take_seq(conn, conv["id"], now, inbound=True)
    values = {
        "id": new_id("MS"),
        "conversation_id": fresh["id"],
        "seq": fresh["next_seq"] - 1,
        "direction": "inbound",
        "author": "contact",
        "parts": [part_to_dict(p) for p in env.parts],
        "text": text_of(env.parts),
        "status": "received",
        "error_code": None,
        "error_message": None,
        "provider_message_id": env.provider_message_id,
        "idempotency_key": key,
        "request_id": None,
        "fields": env.fields,
        "handled": False,
        "created_at": env.received_at.timestamp() if env.received_at else now,
        "updated_at": now,
        "raw": env.raw,
        "author_name": None,
        "deleted_at": None,
        "edits": None,
    }
    message = hot.insert_row(conn, _INSERT_MESSAGE, values)
    record_event(
        conn,
        contact_id=contact_id,
        conversation_id=fresh["id"],
        type="message.inbound",
        channel=env.channel,
        time=now,
        properties={"message_id": values["id"], "text": values["text"][:500]},
    )
    return Ingested(fresh, message, False, created)


def record_event(
    conn: Connection,
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
    hot.execute(
        conn,
        _INSERT_EVENT,
        {
            "id": event_id,
            "contact_id": contact_id,
            "conversation_id": conversation_id,
            "type": type,
            "channel": channel,
            "session": session,
            "time": time,
            "properties": properties,
        },
    )
    return event_id


def insert_outbound(conn: Connection, draft: OutboundDraft, now: float) -> Row:
    seq = take_seq(conn, draft.conversation_id, now)["next_seq"] - 1
    values = {
        "id": draft.id,
        "conversation_id": draft.conversation_id,
        "seq": seq,
        "direction": "outbound",
        "author": draft.author,
        "parts": draft.parts,
        "text": draft.text,
        "status": draft.status,
        "error_code": None,
        "error_message": None,
        "provider_message_id": None,
        "request_id": draft.request_id,
        "idempotency_key": draft.idempotency_key,
        "fields": None,
        "handled": True,
        "created_at": now,
        "updated_at": now,
        "raw": None,
        "author_name": draft.author_name,
        "deleted_at": None,
        "edits": None,
    }
    return hot.insert_row(conn, _INSERT_MESSAGE, values)


def write_step(conn: Connection, write: StepWrite, now: float) -> list[Row]:
    """Persist an engine step: execution, step log, outbox, timers and attached context.

    The execution is stored with its revision bumped (``write.execution.revision`` is the one the
    step was computed from); if the stored row has moved on, ``StaleExecution`` undoes it all.
    """
    ex = write.execution
    active = ex.status == ACTIVE
    data = ex.to_dict()
    data["revision"] = ex.revision + 1
    values = {
        "revision": ex.revision + 1,
        "status": ex.status,
        "state": ex.state,
        "data": data,
        "updated_at": now,
        "ended_at": None if active else now,
        # Only the top-level execution holds the conversation's active key: a subflow runs
        # beside its waiting parent, and the deepest active execution gets the messages.
        "active_key": ex.conversation_id if active and ex.parent_id is None else None,
    }
    if write.created:
        hot.execute(
            conn,
            _INSERT_EXECUTION,
            {
                "id": ex.id,
                "flow_sid": ex.flow_sid,
                "flow_version": ex.flow_version,
                "conversation_id": ex.conversation_id,
                "contact_id": ex.contact_id,
                "parent_id": ex.parent_id,
                "created_at": now,
                **values,
            },
        )
    elif (
        hot.execute(conn, _UPDATE_EXECUTION, {"b_id": ex.id, "b_revision": ex.revision, **values})
        != 1
    ):
        raise StaleExecution(ex.id)
    if write.steps:
        hot.execute_many(
            conn,
            _INSERT_STEP,
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
        hot.execute_many(conn, _DELETE_TIMER, [{"b_id": t} for t in write.timers_cancelled])
    if write.timers_started:
        hot.execute_many(
            conn,
            _INSERT_TIMER,
            [
                {
                    "id": timer_id,
                    "execution_id": ex.id,
                    "conversation_id": ex.conversation_id or "",
                    "due_at": due_at,
                    "created_at": now,
                }
                for timer_id, due_at in write.timers_started
            ],
        )
    if not active:
        hot.execute(conn, _DELETE_EXECUTION_TIMERS, {"b_execution": ex.id})
    if write.handled_message_ids:
        hot.execute_many(conn, _MARK_HANDLED, [{"b_id": m} for m in write.handled_message_ids])
    for message_id, message_values in write.message_updates:
        mark_sent(conn, message_id, message_values)
    if ex.conversation_id and write.conversation_attributes:
        merge_attributes(conn, ex.conversation_id, write.conversation_attributes, now)
    if ex.contact_id and write.contact_attributes:
        merge_contact_attributes(conn, ex.contact_id, write.contact_attributes, now)
    return [insert_outbound(conn, draft, now) for draft in write.outbound]


def merge_attributes(
    conn: Connection, conversation_id: str, attributes: dict[str, Any], now: float
) -> None:
    current = conn.execute(
        select(conversations.c.attributes).where(conversations.c.id == conversation_id)
    ).first()
    if current is not None:
        conn.execute(
            update(conversations)
            .where(conversations.c.id == conversation_id)
            .values(attributes={**(current.attributes or {}), **attributes}, updated_at=now)
        )


def merge_contact_attributes(
    conn: Connection, contact_id: str, attributes: dict[str, Any], now: float
) -> None:
    current = conn.execute(select(contacts.c.attributes).where(contacts.c.id == contact_id)).first()
    if current is not None:
        conn.execute(
            update(contacts)
            .where(contacts.c.id == contact_id)
            .values(attributes={**(current.attributes or {}), **attributes}, updated_at=now)
        )


def sent_values(
    status: str,
    provider_ids: tuple[str, ...] = (),
    error: str | None = None,
    error_code: str | None = None,
) -> dict[str, Any]:
    """The columns a provider's answer to a send changes."""
    values: dict[str, Any] = {"status": status, "updated_at": time.time()}
    if provider_ids:
        values["provider_message_id"] = provider_ids[0]
    if error is not None:
        values["error_message"] = error
        values["error_code"] = error_code
    return values


_MARK_SENT: dict[tuple[str, ...], HotStatement] = {}


def mark_sent(conn: Connection, message_id: str, values: dict[str, Any]) -> None:
    columns = tuple(sorted(values))
    statement = _MARK_SENT.get(columns)
    if statement is None:  # a handful of column sets exist: build each statement once
        statement = _MARK_SENT[columns] = HotStatement(
            update(messages)
            .where(messages.c.id == bindparam("b_id"))
            .values({name: bindparam(name) for name in columns})
        )
    hot.execute(conn, statement, {"b_id": message_id, **values})


def mark_handled(conn: Connection, message_id: str) -> None:
    hot.execute(conn, _MARK_HANDLED, {"b_id": message_id})


def delete_timer(conn: Connection, timer_id: str) -> None:
    hot.execute(conn, _DELETE_TIMER, {"b_id": timer_id})


def apply_status(
    conn: Connection,
    provider_message_id: str,
    status: str,
    error_code: str | None,
    error: str | None,
    now: float,
) -> tuple[Row | None, bool]:
    """Move a message's delivery status forward; returns (message, whether it changed)."""
    row = conn.execute(
        select(messages).where(messages.c.provider_message_id == provider_message_id)
    ).first()
    if row is None:
        return None, False
    new = advance_status(row.status, status)
    if new == row.status:
        return row._mapping, False
    values: dict[str, Any] = {"status": new, "updated_at": now}
    if error_code or error:
        values.update(error_code=error_code, error_message=error)
    changed = conn.execute(
        update(messages).where(messages.c.id == row.id).values(**values).returning(*messages.c)
    ).one()
    return changed._mapping, True
