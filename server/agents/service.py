"""The routing service: one ``Router`` per process, fed events one at a time, its effects performed.

For each event the router decides; then one store write commits the router snapshot, the
routing timers, the conversations' status/agent/queue, the routing history (events table) and
which flow requests are answered. Only after that commit do frames reach agents and results
reach flows, so a crash repeats a notification rather than losing a decision. Frames are
sequenced per agent and replayed on reconnect (``AgentHub``); the ``welcome`` frame also lists
the agent's conversations, which covers a crash between the commit and a frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from server.agents import protocol
from server.agents.context import empty_flow_context, live_context
from server.agents.hub import AgentHub
from server.agents.notices import Notices
from server.engine.events import Result
from server.routing import Router, RoutingConfig
from server.routing import effects as fx
from server.routing import events as ev
from server.runtime.runtime import Runtime
from server.store import agents as tables
from server.store.ops import Row
from server.store.schema import conversations
from server.store.writes import record_event

log = logging.getLogger(__name__)

# Router record actions and the history event types they become.
EVENT_TYPES = {"queued": "conversation.routed", "accepted": "conversation.assigned"}


@dataclass
class _Batch:
    """What one event's effects change, collected before the single write."""

    now: float
    status: dict[str, dict[str, Any]] = field(default_factory=dict)
    records: list[fx.Record] = field(default_factory=list)
    timers_started: list[tuple[str, float]] = field(default_factory=list)
    timers_cancelled: list[str] = field(default_factory=list)
    answered: dict[str, Result] = field(default_factory=dict)  # conversation -> flow result
    frames: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    removed: set[tuple[str, str]] = field(default_factory=set)
    notices: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # task -> kind


class RoutingService:
    def __init__(self, runtime: Runtime, hub: AgentHub, config: RoutingConfig) -> None:
        self.runtime = runtime
        self.store = runtime.store
        self.hub = hub
        self.config = config
        self.router = Router(config)
        self._lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._timer_task: asyncio.Task[None] | None = None
        self._stopping = False
        # What the customer is told (hand-off notices); None: nothing (tests of routing alone).
        self.notices: Notices | None = None

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        async with self.store.engine.connect() as conn:
            snapshot = await tables.load_state(conn)
        if snapshot is not None:
            self.router = Router.from_dict(snapshot, self.config)
        # Nobody is connected to a process that just started: agents the snapshot shows as
        # connected get their grace period to come back before their work is re-queued.
        now = time.time()
        for agent in list(self.router.state.agents.values()):
            if agent.connected:
                await self.handle(ev.AgentDisconnected(agent.agent_id, now))
        self._timer_task = asyncio.create_task(self._run_timers(), name="routing-timers")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._timer_task is not None:
            await self._timer_task

    # --- events ---------------------------------------------------------------------------

    async def handle(self, event: ev.RoutingEvent) -> list[fx.RoutingEffect]:
        """Apply one event; returns the router's effects (already performed)."""
        async with self._lock:
            task_id = getattr(event, "task_id", None)
            holder = self._holder(task_id)
            effects = self.router.handle(event)
            batch = _Batch(time.time())
            await self._plan(effects, batch)
            if holder and holder != self._holder(task_id) and task_id in self.router.state.tasks:
                # Transferred or reassigned away: the previous agent's desk drops it.
                self._removed(batch, holder, task_id, "transferred")
                if isinstance(event, ev.Transfer) and task_id:
                    batch.notices.setdefault(task_id, ("transferred", None))
            consumed = event.timer_id if isinstance(event, ev.TimerFired) else None
            snapshot = self.router.to_dict()
            await self.store.write(lambda conn: self._commit(conn, batch, snapshot, consumed))
            if batch.timers_started:
                self._wake.set()
        for agent_id, frame in batch.frames:
            await self.hub.send(agent_id, frame)
        await self._tell_customers(batch)
        for conversation_id, result in batch.answered.items():
            execution_id = result.request_id.split(":", 1)[0]
            self.runtime.feed(conversation_id, execution_id, result)
        return effects

    async def _plan(self, effects: Iterable[fx.RoutingEffect], batch: _Batch) -> None:
        for effect in effects:
            if isinstance(effect, fx.StartTimer):
                batch.timers_started.append((effect.timer_id, effect.due_at))
            elif isinstance(effect, fx.CancelTimer):
                batch.timers_cancelled.append(effect.timer_id)
            elif isinstance(effect, fx.Record):
                batch.records.append(effect)
            elif isinstance(effect, fx.Offer):
                self._status(batch, effect.task_id, status="offered")
                context = await self.context(effect.task_id)
                # The conversation row learns its queue only when the offer is accepted; the
                # agent deciding whether to take it needs it now, from the routing task.
                task = self.router.state.tasks.get(effect.task_id)
                queue = task.queue if task is not None else context.get("queue")
                if context and not context.get("queue"):
                    context["queue"] = queue
                frame = protocol.out(
                    "offer",
                    conversation_id=effect.task_id,
                    expires_at=effect.expires_at,
                    reason=effect.reason,
                    queue=queue,
                    context=context,
                )
                batch.frames.append((effect.agent_id, frame))
            elif isinstance(effect, fx.RescindOffer):
                if self._still_waiting(effect.task_id):
                    self._status(batch, effect.task_id, status="queued", agent_id=None)
                frame = protocol.out(
                    "offer_rescinded", conversation_id=effect.task_id, reason=effect.reason
                )
                batch.frames.append((effect.agent_id, frame))
            elif isinstance(effect, fx.Assigned):
                self._status(
                    batch,
                    effect.task_id,
                    status="assigned",
                    agent_id=effect.agent_id,
                    queue=effect.queue,
                )
                context = await self.context(effect.task_id)
                frame = protocol.out(
                    "assigned", conversation_id=effect.task_id, queue=effect.queue, context=context
                )
                batch.frames.append((effect.agent_id, frame))
                await self._answer(batch, effect.task_id, True, "assigned", agent=effect.agent_id)
                batch.notices[effect.task_id] = ("assigned", effect.agent_id)
            elif isinstance(effect, fx.Requeued):
                self._status(
                    batch, effect.task_id, status="queued", agent_id=None, queue=effect.queue
                )
                if effect.from_agent:
                    self._removed(batch, effect.from_agent, effect.task_id, effect.reason)
                    batch.notices.setdefault(effect.task_id, ("transferred", None))
            elif isinstance(effect, fx.TaskTimedOut):
                self._status(batch, effect.task_id, status="bot", agent_id=None, queue=None)
                await self._answer(batch, effect.task_id, False, "timeout")
            elif isinstance(effect, fx.NoAgents):
                self._status(batch, effect.task_id, status="bot", agent_id=None, queue=None)
                await self._answer(batch, effect.task_id, False, "no_agents")
            elif isinstance(effect, fx.WrapUpStarted):
                self._status(batch, effect.task_id, status="wrapup")
                frame = protocol.out(
                    "wrapup_started",
                    conversation_id=effect.task_id,
                    disposition=effect.disposition,
                )
                batch.frames.append((effect.agent_id, frame))
            elif isinstance(effect, fx.TaskClosed):
                self._status(
                    batch, effect.task_id, status="closed", closed_at=batch.now, open_key=None
                )
                if effect.agent_id:
                    frame = protocol.out(
                        "closed",
                        conversation_id=effect.task_id,
                        disposition=effect.disposition,
                        by=effect.by,
                    )
                    batch.frames.append((effect.agent_id, frame))
                    batch.notices[effect.task_id] = ("closed", None)
                await self._answer(batch, effect.task_id, False, "failed")
            elif isinstance(effect, fx.AgentStateChanged):
                frame = protocol.out("agent_state", activity=effect.activity, reason=effect.reason)
                batch.frames.append((effect.agent_id, frame))
            # TransferFailed goes back to the caller through the returned effects.

    async def _tell_customers(self, batch: _Batch) -> None:
        """Hand-off notices, after the commit and the agents' frames (never undo a decision)."""
        if self.notices is None:
            return
        for task_id, (kind, agent_id) in batch.notices.items():
            if kind == "assigned" and agent_id:
                await self.notices.assigned(task_id, agent_id)
            elif kind == "transferred":
                await self.notices.transferred(task_id)
            elif kind == "closed":
                await self.notices.closed(task_id)

    def _holder(self, task_id: str | None) -> str | None:
        task = self.router.state.tasks.get(task_id) if task_id else None
        # Wrap-up still belongs to the agent: going from assigned to wrapup is not a hand-over.
        return task.agent_id if task is not None and task.status in ("assigned", "wrapup") else None

    @staticmethod
    def _removed(batch: _Batch, agent_id: str, task_id: str, reason: str) -> None:
        if (agent_id, task_id) not in batch.removed:
            batch.removed.add((agent_id, task_id))
            frame = protocol.out("removed", conversation_id=task_id, reason=reason)
            batch.frames.append((agent_id, frame))

    def _still_waiting(self, task_id: str) -> bool:
        task = self.router.state.tasks.get(task_id)
        return task is not None and task.status in ("waiting", "sticky")

    @staticmethod
    def _status(batch: _Batch, conversation_id: str, **values: Any) -> None:
        batch.status.setdefault(conversation_id, {}).update(values)

    async def _answer(
        self, batch: _Batch, conversation_id: str, ok: bool, outcome: str, agent: str | None = None
    ) -> None:
        """Tell the waiting ``send-to-agent`` how routing ended (once per routing request)."""
        row = await self.task_row(conversation_id)
        if row is None or not row["request_id"] or conversation_id in batch.answered:
            return
        data: dict[str, Any] = {"outcome": outcome}
        if agent:
            data["agent_id"] = agent
        batch.answered[conversation_id] = Result(
            row["request_id"], batch.now, ok, data, None if ok else outcome
        )

    async def _commit(
        self,
        conn: AsyncConnection,
        batch: _Batch,
        snapshot: dict[str, Any],
        consumed_timer: str | None,
    ) -> None:
        await tables.save_state(conn, snapshot, batch.now)
        if consumed_timer:
            await tables.cancel_timer(conn, consumed_timer)
        for timer_id in batch.timers_cancelled:
            await tables.cancel_timer(conn, timer_id)
        for timer_id, due_at in batch.timers_started:
            await tables.start_timer(conn, timer_id, due_at, batch.now)
        for conversation_id, values in batch.status.items():
            await conn.execute(
                update(conversations)
                .where(conversations.c.id == conversation_id)
                .values(**values, updated_at=batch.now)
            )
            if "status" in values:
                await conn.execute(
                    update(tables.routing_tasks)
                    .where(tables.routing_tasks.c.conversation_id == conversation_id)
                    .values(status=values["status"], updated_at=batch.now)
                )
        for conversation_id in batch.answered:
            await conn.execute(
                update(tables.routing_tasks)
                .where(tables.routing_tasks.c.conversation_id == conversation_id)
                .values(request_id=None)
            )
        contacts = await self._contacts(conn, {r.task_id for r in batch.records})
        for record in batch.records:
            if record.task_id not in contacts:
                continue
            contact_id, channel = contacts[record.task_id]
            await record_event(
                conn,
                contact_id=contact_id,
                conversation_id=record.task_id,
                type=EVENT_TYPES.get(record.action, f"conversation.{record.action}"),
                channel=channel,
                time=record.at,
                properties={
                    "action": record.action,
                    "reason": record.reason,
                    "agent_id": record.agent_id,
                    "queue": record.queue,
                },
            )

    @staticmethod
    async def _contacts(conn: AsyncConnection, ids: set[str]) -> dict[str, tuple[str, str]]:
        if not ids:
            return {}
        rows = await conn.execute(
            select(conversations.c.id, conversations.c.contact_id, conversations.c.channel).where(
                conversations.c.id.in_(ids)
            )
        )
        return {row.id: (row.contact_id, row.channel) for row in rows}

    # --- reads ----------------------------------------------------------------------------

    async def task_row(self, conversation_id: str) -> Row | None:
        async with self.store.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(tables.routing_tasks).where(
                        tables.routing_tasks.c.conversation_id == conversation_id
                    )
                )
            ).first()
            return row._mapping if row is not None else None

    async def context(self, conversation_id: str) -> dict[str, Any]:
        conversation = await self.store.conversation(conversation_id)
        row = await self.task_row(conversation_id)
        if conversation is None:
            return {}
        # A conversation never routed (still with the bot) has no stored flow context; its
        # ``context`` frame must still carry every part the schema requires.
        stored = dict(row["context"]) if row is not None else empty_flow_context()
        notes = list(row["notes"]) if row is not None else []
        return await live_context(self.store, conversation, stored, notes)

    def stats(self) -> dict[str, Any]:
        """Queue and agent snapshot for the supervisor view."""
        state = self.router.state
        queues: dict[str, dict[str, Any]] = {
            name: {"queue": name, "waiting": 0, "offered": 0, "assigned": 0}
            for name in self.config.queues
        }
        for task in state.tasks.values():
            entry = queues.setdefault(
                task.queue, {"queue": task.queue, "waiting": 0, "offered": 0, "assigned": 0}
            )
            key = {"offered": "offered", "assigned": "assigned", "wrapup": "assigned"}
            entry[key.get(task.status, "waiting")] += 1
        now = time.time()
        for name, entry in queues.items():
            entry["agents_online"] = self.router.pools.online_count(name)
            # Longest wait of a task not yet with an agent: what a supervisor watches first.
            waits = [
                now - task.queued_at
                for task in state.tasks.values()
                if task.queue == name and task.status in ("waiting", "sticky", "offered")
            ]
            entry["longest_wait"] = max(max(waits), 0.0) if waits else None
        agents = [
            {
                "agent_id": agent.agent_id,
                "activity": agent.activity,
                "connected": agent.connected,
                "tasks": list(agent.tasks),
                "offers": list(agent.offers),
                "used": dict(agent.used),
            }
            for agent in state.agents.values()
        ]
        return protocol.out("stats", at=now, queues=list(queues.values()), agents=agents)

    # --- timers ---------------------------------------------------------------------------

    async def _run_timers(self) -> None:
        while not self._stopping:
            delay = 0.5
            try:
                delay = await self._fire_due()
            except Exception:
                log.exception("routing timer scan failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)

    async def _fire_due(self) -> float:
        now = time.time()
        timers = tables.routing_timers
        async with self.store.engine.connect() as conn:
            due = [
                row.id
                for row in await conn.execute(
                    select(timers.c.id).where(timers.c.due_at <= now).order_by(timers.c.due_at)
                )
            ]
        for timer_id in due:
            await self.handle(ev.TimerFired(timer_id, time.time()))
        async with self.store.engine.connect() as conn:
            next_due = (
                await conn.execute(select(timers.c.due_at).order_by(timers.c.due_at))
            ).first()
        if next_due is None:
            return 0.5
        return min(max(next_due.due_at - time.time(), 0.01), 0.5)
