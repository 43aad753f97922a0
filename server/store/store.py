"""The storage interface the runtime uses: reads on pooled connections, writes group-committed."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import Connection, bindparam, func, insert, select, tuple_
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.engine.execution import ACTIVE, Execution
from server.model import Identity, InboundEnvelope
from server.store import ops
from server.store import sync_reader as reads
from server.store.database import (
    create_engine,
    create_sqlite_reader_engine,
    is_sqlite,
)
from server.store.group_commit import GroupCommitter
from server.store.migrate import upgrade
from server.store.ops import Row
from server.store.schema import (
    contacts,
    conversations,
    execution_steps,
    executions,
    flows,
    identities,
    messages,
    timers,
)
from server.store.sync_reader import SyncReader
from server.store.sync_writer import SyncWriter

T = TypeVar("T")
READER_THREADS = 4
# Rows per read when recovery walks what a crash left unfinished.
RECOVERY_PAGE = 1000


_TOP_ACTIVE = select(executions.c.id, executions.c.data).where(
    executions.c.active_key == bindparam("b_conversation")
)
_ACTIVE_CHILD = select(executions.c.id, executions.c.data).where(
    executions.c.parent_id == bindparam("b_parent"), executions.c.status == ACTIVE
)


def deepest_active(conn: Connection, conversation_id: str) -> Execution | None:
    row = conn.execute(_TOP_ACTIVE, {"b_conversation": conversation_id}).first()
    while row is not None:
        child = conn.execute(_ACTIVE_CHILD, {"b_parent": row.id}).first()
        if child is None:
            return Execution.from_dict(row.data)
        row = child
    return None


class Store:
    def __init__(
        self,
        engine: AsyncEngine,
        sync_writer: SyncWriter | None = None,
        sync_reader: SyncReader | None = None,
    ) -> None:
        self.engine = engine
        self.committer = GroupCommitter(engine)
        self.sync_writer = sync_writer
        self.sync_reader = sync_reader

    @classmethod
    async def open(cls, url: str, *, migrate: bool = True) -> Store:
        engine = create_engine(url)
        writer = reader = None
        if is_sqlite(engine):
            writer = SyncWriter(url)
            reader = SyncReader(create_sqlite_reader_engine(url, READER_THREADS), READER_THREADS)
        store = cls(engine, writer, reader)
        if migrate:
            await upgrade(store.engine)
        store.committer.start()
        if writer is not None:
            await writer.open()
        return store

    async def close(self) -> None:
        if self.sync_writer is not None:
            await self.sync_writer.close()
        if self.sync_reader is not None:
            self.sync_reader.close()
        await self.committer.close()
        await self.engine.dispose()

    async def write(self, operation: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run an async operation in the group commit (see group_commit)."""
        return await self.committer.run(operation)

    async def write_sync(self, operation: Callable[[Connection], T], *, urgent: bool = False) -> T:
        """Run a plain operation in the group commit: in SQLite's writer process, a batch per
        round trip (the operation must pickle: a ``partial`` of an ``ops`` function), through
        the async committer elsewhere (see sync_writer). ``urgent``: an acknowledgement waits
        for it (see batching)."""
        if self.sync_writer is not None:
            return await self.sync_writer.run(operation, urgent=urgent)
        return await self.committer.run(lambda conn: conn.run_sync(operation), urgent=urgent)

    async def read(self, query: Callable[[Connection], T]) -> T:
        """Run a plain query function: one hop on SQLite's reader threads (see sync_reader)."""
        if self.sync_reader is not None:
            return await self.sync_reader.run(query)
        async with self.engine.connect() as conn:
            return await conn.run_sync(query)

    async def _one(self, statement: Any) -> Row | None:
        result: Row | None = await self.read(reads.first(statement))
        return result

    async def _scalar(self, statement: Any) -> Any:
        return await self.read(reads.scalar(statement))

    async def _all(self, statement: Any) -> list[Row]:
        result: list[Row] = await self.read(reads.every(statement))
        return result

    # --- messages and conversations -------------------------------------------------------

    async def ingest(self, envelope: InboundEnvelope) -> ops.Ingested:
        now = time.time()
        operation = partial(ops.ingest_inbound, env=envelope, now=now)
        return await self.write_sync(operation, urgent=True)

    async def write_step(self, step: ops.StepWrite) -> list[ops.Row]:
        now = time.time()
        return await self.write_sync(partial(ops.write_step, write=step, now=now))

    async def add_outbound(self, draft: ops.OutboundDraft) -> ops.Row:
        now = time.time()
        return await self.write_sync(partial(ops.insert_outbound, draft=draft, now=now))

    async def mark_sent(self, message_id: str, values: dict[str, Any]) -> None:
        """Store a provider's answer to a send (see ``ops.sent_values``)."""
        await self.write_sync(partial(ops.mark_sent, message_id=message_id, values=values))

    async def apply_status(
        self, provider_message_id: str, status: str, error_code: str | None, error: str | None
    ) -> tuple[ops.Row | None, bool]:
        """Move a message's delivery status forward; returns (message, whether it changed)."""
        now = time.time()
        return await self.write_sync(
            partial(
                ops.apply_status,
                provider_message_id=provider_message_id,
                status=status,
                error_code=error_code,
                error=error,
                now=now,
            )
        )

    async def conversation(self, conversation_id: str) -> Row | None:
        return await self._one(select(conversations).where(conversations.c.id == conversation_id))

    async def contact(self, contact_id: str) -> Row | None:
        return await self._one(select(contacts).where(contacts.c.id == contact_id))

    async def contact_identities(self, contact_id: str) -> list[Row]:
        return await self._all(select(identities).where(identities.c.contact_id == contact_id))

    async def list_conversations(
        self, *, limit: int, offset: int, status: str | None = None
    ) -> tuple[list[Row], int]:
        query = select(conversations)
        count = select(func.count()).select_from(conversations)
        if status:
            query = query.where(conversations.c.status == status)
            count = count.where(conversations.c.status == status)
        rows = await self._all(
            query.order_by(conversations.c.updated_at.desc()).limit(limit).offset(offset)
        )
        return rows, int(await self._scalar(count) or 0)

    async def messages(
        self, conversation_id: str, *, after_seq: int = 0, limit: int = 500
    ) -> list[Row]:
        return await self._all(
            select(messages)
            .where(messages.c.conversation_id == conversation_id, messages.c.seq > after_seq)
            .order_by(messages.c.seq)
            .limit(limit)
        )

    async def message(self, message_id: str) -> Row | None:
        return await self._one(select(messages).where(messages.c.id == message_id))

    async def mark_handled(self, message_id: str) -> None:
        await self.write_sync(partial(ops.mark_handled, message_id=message_id))

    async def unhandled_inbound(self) -> AsyncIterator[list[Row]]:
        """Inbound messages no flow or agent has taken yet, oldest first (by conversation and
        seq within a moment), in pages: after a crash under load there may be many."""
        last: tuple[float, str, int] = (-1.0, "", 0)
        key = (messages.c.created_at, messages.c.conversation_id, messages.c.seq)
        while True:
            page = await self._all(
                select(messages.c.id, messages.c.conversation_id, *key)
                .where(messages.c.handled.is_(False), tuple_(*key) > tuple_(*last))
                .order_by(*key)
                .limit(RECOVERY_PAGE)
            )
            if not page:
                return
            yield page
            tail = page[-1]
            last = (tail["created_at"], tail["conversation_id"], tail["seq"])

    async def unsent_outbound(self) -> AsyncIterator[list[Row]]:
        """Outbox rows stored with no provider's answer recorded (the process died before or
        during the send), oldest first, in pages. The status alone cannot tell: "accepted" is
        also what Meta answers a send it took (and Twilio's "scheduled"), so a row whose
        provider id is recorded was answered and must not be sent again."""
        last: tuple[float, str] = (-1.0, "")
        key = (messages.c.created_at, messages.c.id)
        while True:
            page = await self._all(
                select(messages)
                .where(
                    messages.c.direction == "outbound",
                    messages.c.status == "accepted",
                    messages.c.provider_message_id.is_(None),
                    tuple_(*key) > tuple_(*last),
                )
                .order_by(*key)
                .limit(RECOVERY_PAGE)
            )
            if not page:
                return
            yield page
            last = (page[-1]["created_at"], page[-1]["id"])

    async def provider_ids_since(self, conversation_id: str, since: float) -> frozenset[str]:
        """Provider ids recorded on a conversation's outbound messages created since ``since``."""
        rows = await self._all(
            select(messages.c.provider_message_id).where(
                messages.c.conversation_id == conversation_id,
                messages.c.direction == "outbound",
                messages.c.created_at >= since,
                messages.c.provider_message_id.is_not(None),
            )
        )
        return frozenset(str(row["provider_message_id"]) for row in rows)

    async def message_by_request(self, request_id: str) -> Row | None:
        return await self._one(select(messages).where(messages.c.request_id == request_id))

    # --- executions and timers ------------------------------------------------------------

    async def active_execution(self, conversation_id: str) -> Execution | None:
        """The deepest active execution: a running subflow rather than its waiting parent."""
        return await self.read(lambda conn: deepest_active(conn, conversation_id))

    async def execution(self, execution_id: str) -> Execution | None:
        row = await self._one(select(executions.c.data).where(executions.c.id == execution_id))
        return Execution.from_dict(row["data"]) if row else None

    async def open_for_address(
        self, *, channel: str, account: str, address: str, identities: tuple[Identity, ...]
    ) -> Row:
        now = time.time()
        return await self.write_sync(
            partial(
                ops.open_for_address,
                channel=channel,
                account=account,
                address=address,
                identities=identities,
                now=now,
            )
        )

    async def execution_row(self, execution_id: str) -> Row | None:
        return await self._one(select(executions).where(executions.c.id == execution_id))

    async def execution_steps(self, execution_id: str) -> list[Row]:
        return await self._all(
            select(execution_steps)
            .where(execution_steps.c.execution_id == execution_id)
            .order_by(execution_steps.c.id)
        )

    async def conversation_executions(self, conversation_id: str) -> list[Row]:
        return await self._all(
            select(
                executions.c.id,
                executions.c.flow_sid,
                executions.c.flow_version,
                executions.c.status,
                executions.c.state,
                executions.c.created_at,
                executions.c.ended_at,
            )
            .where(executions.c.conversation_id == conversation_id)
            .order_by(executions.c.created_at)
        )

    async def due_timers(self, now: float, limit: int = 500) -> list[Row]:
        return await self._all(
            select(timers).where(timers.c.due_at <= now).order_by(timers.c.due_at).limit(limit)
        )

    async def delete_timer(self, timer_id: str) -> None:
        await self.write_sync(partial(ops.delete_timer, timer_id=timer_id))

    async def next_timer_due(self) -> float | None:
        due = await self._scalar(select(func.min(timers.c.due_at)))
        return float(due) if due is not None else None

    # --- flows ----------------------------------------------------------------------------

    async def publish_flow(
        self, sid: str, name: str, digest: str, definition: dict[str, Any]
    ) -> int:
        """Store a flow definition as a new version unless it equals the newest; return it."""

        async def op(conn: AsyncConnection) -> int:
            row = (
                await conn.execute(
                    select(flows.c.version, flows.c.hash)
                    .where(flows.c.sid == sid)
                    .order_by(flows.c.version.desc())
                    .limit(1)
                )
            ).first()
            if row is not None and row.hash == digest:
                return int(row.version)
            version = (int(row.version) + 1) if row is not None else 1
            await conn.execute(
                insert(flows).values(
                    sid=sid,
                    version=version,
                    name=name,
                    hash=digest,
                    definition=definition,
                    created_at=time.time(),
                )
            )
            return version

        return await self.write(op)

    async def latest_flow(self, sid: str) -> Row | None:
        return await self._one(
            select(flows).where(flows.c.sid == sid).order_by(flows.c.version.desc()).limit(1)
        )

    async def flow_version(self, sid: str, version: int) -> Row | None:
        return await self._one(select(flows).where(flows.c.sid == sid, flows.c.version == version))
