"""The runtime core: inbound messages and effect results in, engine steps, effects performed.

Per conversation, everything that touches an execution runs through ``SerialExecutor`` so events
apply one at a time and in order. Every step is committed (execution, step log, outbox, timers)
before any of its effects leaves the process: a crash can repeat an effect, never lose one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any

from channels.base import SendCheckFailed, Sender, SendOutcome
from server.engine import CompiledFlow, Execution, new_context, step
from server.engine import effects as fx
from server.engine.events import DeliveryFailed, Event, InboundMessage, Result, Start, TimerFired
from server.engine.execution import ACTIVE, ENDED
from server.model import InboundEnvelope, new_id, part_to_dict, text_of
from server.runtime import metrics
from server.runtime.active_cache import ActiveExecutions
from server.runtime.flows import FlowRegistry
from server.runtime.http_client import FlowHttpClient
from server.runtime.rows import conversation_model, message_model
from server.runtime.serial import SerialExecutor
from server.runtime.timers import TimerScheduler
from server.runtime.trigger_fields import message_start
from server.runtime.work_gate import DEFAULT_FLOW_CONCURRENCY, WorkGate
from server.store import Store, ops
from server.store.ops import Row, StaleExecution
from server.store.writes import Ingested, OutboundDraft, StepWrite

# Recorded provider ids of a conversation's messages this long before an in-doubt send's intent
# are not taken for it when the provider is asked whether it went out.
SEND_CHECK_WINDOW_SECONDS = 120.0
# Asking a provider that is unreachable again: first after this long, doubling up to the max.
SEND_CHECK_RETRY_SECONDS = 1.0
SEND_CHECK_MAX_RETRY_SECONDS = 60.0

# How often, and how far apart, a status callback looks for a message it may have overtaken.
STATUS_LOOKUPS = 5
STATUS_RETRY_SECONDS = 0.2

log = logging.getLogger(__name__)

# How many times an event is stepped again after the store refused a step computed from an
# execution another writer had moved on (each retry reads the execution afresh).
STALE_RETRIES = 3

# Subflows may call subflows; a flow that calls itself would otherwise nest until the disk fills.
MAX_SUBFLOW_DEPTH = 10

# A handler performs one kind of effect and returns the Result the execution waits for.
EffectHandler = Callable[[Row, fx.Effect], Awaitable[Result]]
# Called with (conversation, message) for every stored message, inbound and outbound.
MessageListener = Callable[[Row, Row], Awaitable[None]]
# Rewrites the trigger fields of an inbound message before its flow sees them (for example a
# numbered answer on SMS matched back to the choice it picks).
InboundRewriter = Callable[[Row, Row, dict[str, Any]], Awaitable[dict[str, Any]]]
# Completes a stored inbound message before its flow or agent sees it, returning the message as
# now stored (provider media downloaded into the media store, see server.media). Runs in the
# conversation's queue each time the message is offered, so it must be idempotent.
InboundPreparer = Callable[[Row, Row], Awaitable[Row]]
# Told (conversation id, busy) when the bot starts and stops working on a conversation, for
# typing indicators.
ActivityListener = Callable[[str, bool], Awaitable[None]]
# Takes an inbound message that is no customer turn (the answer to the satisfaction question
# asked after a close) and stores it itself; None leaves it to be stored as usual.
InboundInterceptor = Callable[[InboundEnvelope], Awaitable[Ingested | None]]


class Runtime:
    def __init__(
        self,
        store: Store,
        flows: FlowRegistry,
        http: FlowHttpClient,
        *,
        default_flow: str = "greeting",
        flow_concurrency: int = DEFAULT_FLOW_CONCURRENCY,
    ) -> None:
        self.store = store
        self.flows = flows
        self.http = http
        self.default_flow = default_flow
        self.gate = WorkGate(flow_concurrency)
        self.serial = SerialExecutor(self.gate)
        self.active = ActiveExecutions()
        self.timers = TimerScheduler(store, self._fire_timer)
        self.senders: dict[str, Sender] = {}
        self.account_flows: dict[tuple[str, str], str] = {}  # (channel, account) -> flow name
        self.effect_handlers: dict[type, EffectHandler] = {fx.HttpRequest: self._perform_http}
        self.custom_handlers: dict[str, Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]] = {}
        self.message_listeners: list[MessageListener] = []
        self.inbound_interceptors: list[InboundInterceptor] = []
        # Called with (conversation, message) when a stored message changes after the fact:
        # the customer deleted or edited it (see server.runtime.notices).
        self.revision_listeners: list[MessageListener] = []
        self.inbound_rewriters: list[InboundRewriter] = []
        self.inbound_preparers: list[InboundPreparer] = []
        self.activity_listeners: list[ActivityListener] = []
        self._busy: dict[str, int] = {}
        # Inbound messages that arrived while their conversation's flow was between widgets
        # that read messages (sending its last reply, waiting on an HTTP call): oldest first per
        # conversation. They stay unhandled in the store and are offered again after every step
        # of that conversation, so each is consumed by a later widget or starts the next
        # execution, never dropped.
        self._deferred: dict[str, list[str]] = {}
        self._replaying: set[str] = set()
        # Conversations handed to agents get their inbound messages here instead of the flow.
        self.agent_inbound: MessageListener | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self.timers.start()
        await self._recover()

    async def stop(self) -> None:
        await self.timers.stop()
        await self.serial.drain()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)
        for sender in self.senders.values():
            await sender.aclose()
        await self.http.aclose()

    def spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _recover(self) -> None:
        """Resume what a crash interrupted: unhandled inbound messages and outbox rows with no
        recorded answer. Those may have reached the provider before the crash: they are
        delivered ``in_doubt`` (looked up at the provider first where it can be asked)."""
        async for page in self.store.unhandled_inbound():
            for row in page:
                self.dispatch_inbound(row["conversation_id"], row["id"])
        async for page in self.store.unsent_outbound():
            for row in page:
                conversation = await self.store.conversation(row["conversation_id"])
                if conversation is not None:
                    self.spawn(self._deliver(conversation, row, in_doubt=True))

    # --- inbound --------------------------------------------------------------------------

    async def receive(self, envelope: InboundEnvelope) -> Ingested:
        """Store an inbound message (committed before this returns) and queue it for its flow."""
        with self.acknowledging():
            for intercept in self.inbound_interceptors:
                taken = await intercept(envelope)
                if taken is not None:
                    return await self.accept(taken)
            return await self.accept(await self.store.ingest(envelope))

    def acknowledging(self) -> contextlib.AbstractContextManager[None]:
        """Hold around storing an inbound message: flow work yields to acknowledgements."""
        return self.gate.acknowledging()

    async def accept(self, ingested: Ingested) -> Ingested:
        """Show and queue an inbound message its channel has just stored (committed)."""
        channel = ingested.conversation["channel"]
        if ingested.duplicate:
            metrics.DUPLICATES.labels(channel).inc()
            return ingested
        metrics.INBOUND.labels(channel).inc()
        # Shown (the customer's own echo, an agent watching) as soon as it is stored, not when
        # its flow gets to it: under load the flow work waits its turn behind the gate.
        await self._notify(ingested.conversation, ingested.message)
        self.dispatch_inbound(
            ingested.conversation["id"],
            ingested.message["id"],
            rows=(ingested.conversation, ingested.message),
            new_conversation=ingested.new_conversation,
        )
        return ingested

    def dispatch_inbound(
        self,
        conversation_id: str,
        message_id: str,
        *,
        rows: tuple[Row, Row] | None = None,
        new_conversation: bool = False,
    ) -> asyncio.Future[Any]:
        """Queue a stored inbound message for its conversation's flow. ``rows`` are the
        conversation and message as stored with it, when the caller has them (no reads then);
        ``new_conversation``: the message opened the conversation, so no flow runs on it yet."""

        async def job() -> None:
            metrics.INBOUND_BACKLOG.dec()
            async with self.working(conversation_id):
                await self._handle_inbound(conversation_id, message_id, rows, new_conversation)

        metrics.INBOUND_BACKLOG.inc()
        return self.serial.submit(conversation_id, job)

    @contextlib.asynccontextmanager
    async def working(self, conversation_id: str) -> AsyncIterator[None]:
        """Mark the bot busy on a conversation while the block runs (nested uses count)."""
        count = self._busy.get(conversation_id, 0)
        self._busy[conversation_id] = count + 1
        if count == 0:
            await self._tell_activity(conversation_id, True)
        try:
            yield
        finally:
            count = self._busy.pop(conversation_id, 1) - 1
            if count:
                self._busy[conversation_id] = count
            else:
                await self._tell_activity(conversation_id, False)

    async def _tell_activity(self, conversation_id: str, busy: bool) -> None:
        for listener in self.activity_listeners:
            try:
                await listener(conversation_id, busy)
            except Exception:
                log.exception("activity listener failed")

    async def _handle_inbound(
        self,
        conversation_id: str,
        message_id: str,
        rows: tuple[Row, Row] | None,
        new_conversation: bool = False,
    ) -> None:
        if rows is None:
            conversation = await self.store.conversation(conversation_id)
            message = await self.store.message(message_id)
            if conversation is None or message is None:
                return
            await self._notify(conversation, message)  # recovered: shown again after a restart
        else:
            conversation, message = rows
            if not self._row_still_current(conversation, new_conversation):
                conversation = await self.store.conversation(conversation_id) or conversation
        waiting = self._deferred.get(conversation_id)
        if waiting:
            # Earlier messages still wait for the flow: this one queues behind them, in order.
            waiting.append(message_id)
            return
        if not await self._consume_inbound(conversation, message, new_conversation):
            self._deferred.setdefault(conversation_id, []).append(message_id)

    async def _consume_inbound(
        self, conversation: Row, message: Row, new_conversation: bool = False
    ) -> bool:
        """Give a stored inbound message to whoever handles the conversation now: an agent, its
        flow's deepest active execution, or a new execution. False when the active execution
        is at a widget that takes no message (the message waits for its next step)."""
        conversation_id, message_id = conversation["id"], message["id"]
        for prepare in self.inbound_preparers:
            message = await prepare(conversation, message)
        if await self._to_agent(conversation, message):
            return True
        fields = dict(message["fields"] or {"Body": message["text"]})
        for rewrite in self.inbound_rewriters:
            fields = await rewrite(conversation, message, fields)
        for attempt in range(STALE_RETRIES):
            if attempt:  # another node moved the conversation on: it may be an agent's now
                conversation = await self.store.conversation(conversation_id) or conversation
                if await self._to_agent(conversation, message):
                    return True
            try:
                return await self._step_inbound(
                    conversation,
                    message_id,
                    fields,
                    fresh=attempt > 0,
                    empty=new_conversation and attempt == 0,
                    message=message,
                )
            except StaleExecution:
                self.active.forget(conversation_id)
                if attempt == STALE_RETRIES - 1:
                    raise
        return True  # not reached: the last attempt returns or raises

    async def _replay_deferred(self, conversation_id: str) -> None:
        """Offer a conversation's waiting messages again, oldest first, after one of its steps;
        stop at the first one the flow still does not take."""
        if conversation_id in self._replaying:
            return  # a step taken by the replay itself: the replay's loop goes on
        self._replaying.add(conversation_id)
        try:
            while waiting := self._deferred.get(conversation_id):
                conversation = await self.store.conversation(conversation_id)
                message = await self.store.message(waiting[0])
                if conversation is not None and message is not None:
                    try:
                        if not await self._consume_inbound(conversation, message):
                            return
                    except Exception:
                        # It stays unhandled in the store (offered again after a restart);
                        # the messages behind it must not wait on it.
                        log.exception("waiting message %s failed", waiting[0])
                waiting.pop(0)
                if not waiting:
                    self._deferred.pop(conversation_id, None)
        finally:
            self._replaying.discard(conversation_id)

    async def _to_agent(self, conversation: Row, message: Row) -> bool:
        """Hand the message to the agents area if an agent has the conversation."""
        if conversation["status"] == "bot" or self.agent_inbound is None:
            return False
        await self.agent_inbound(conversation, message)
        await self.store.mark_handled(message["id"])
        return True

    def _row_still_current(self, conversation: Row, new_conversation: bool) -> bool:
        """Whether the conversation row stored with a message still says who handles it (the
        bot or an agent) when the message's turn comes, so it need not be read again.

        A conversation passes from the bot to an agent only while its flow waits in a hand-off
        widget (``WidgetType.hands_off``). So the row holds if the bot had it and either the
        message opened it, or this node's copy of its active execution waits elsewhere. Anything
        else (an agent's conversation, no copy here, a hand-off under way) is read afresh.
        """
        if conversation["status"] != "bot":
            return False
        if new_conversation:
            return True
        execution = self.active.get(conversation["id"])
        if execution is None or execution.state is None:
            return False
        flow = self.flows.loaded(execution.flow_sid, execution.flow_version)
        state = flow.states.get(execution.state) if flow is not None else None
        return state is not None and not state.widget.hands_off

    async def _step_inbound(
        self,
        conversation: Row,
        message_id: str,
        fields: dict[str, Any],
        *,
        fresh: bool,
        empty: bool = False,
        message: Row | None = None,
    ) -> bool:
        """Step the conversation's deepest active execution with a message, or start its flow;
        False when the execution's current widget takes no message (nothing is stored then).

        ``empty``: the conversation was opened by this message, so it has no execution to read.
        ``message``: the stored row, for what only it holds (``trigger.conversation``'s Index,
        Media and DateCreated).
        """
        conversation_id = conversation["id"]
        execution = None if fresh else self.active.get(conversation_id)
        if execution is None and not empty:
            execution = await self.store.active_execution(conversation_id)
        now = time.time()
        if execution is None:
            flow = self.flow_for(conversation)
            if flow is None:
                log.error(
                    "no flow for %s/%s", conversation["channel"], conversation["channel_account"]
                )
                await self.store.mark_handled(message_id)
                return True
            execution = self.new_execution(flow, conversation, now)
            event: Event = message_start(flow, conversation, message_id, fields, now, message)
            await self.apply(flow, execution, event, conversation, created=True, handled=message_id)
            return True
        flow = await self.flows.version(execution.flow_sid, execution.flow_version)
        if flow is None:
            log.error(
                "flow %s v%s of %s is gone",
                execution.flow_sid,
                execution.flow_version,
                execution.id,
            )
            await self.store.mark_handled(message_id)
            return True
        return await self.apply(
            flow,
            execution,
            InboundMessage(fields, now),
            conversation,
            handled=message_id,
            deepest=True,
        )

    def flow_for(self, conversation: Row) -> CompiledFlow | None:
        name = self.account_flows.get(
            (conversation["channel"], conversation["channel_account"]), self.default_flow
        )
        return self.flows.latest(name)

    def new_execution(
        self,
        flow: CompiledFlow,
        conversation: Row,
        now: float,
        contact: dict[str, Any] | None = None,
    ) -> Execution:
        execution_id = new_id("FN")
        context = new_context(
            flow_sid=flow.sid,
            execution_id=execution_id,
            customer_address=conversation["customer_address"],
            flow_address=conversation["channel_account"],
            contact={"id": conversation["contact_id"], **(contact or {})},
            conversation={
                "id": conversation["id"],
                "channel": conversation["channel"],
                "attributes": dict(conversation["attributes"] or {}),
                "context": dict(conversation["context"] or {}),
            },
        )
        return Execution(
            id=execution_id,
            flow_sid=flow.sid,
            flow_version=flow.version,
            conversation_id=conversation["id"],
            contact_id=conversation["contact_id"],
            started_at=now,
            context=context,
        )

    # --- applying events ------------------------------------------------------------------

    async def apply(
        self,
        flow: CompiledFlow,
        execution: Execution,
        event: Event,
        conversation: Row,
        *,
        created: bool = False,
        handled: str | None = None,
        sent: tuple[str, dict[str, Any]] | None = None,
        deepest: bool = False,
    ) -> bool:
        """Step the engine, commit everything the step changed, then perform its effects.

        ``deepest``: ``execution`` is the conversation's deepest active one (new executions are).
        ``handled``: the inbound message the event carries; stored as handled with the step. A
        message the execution does not take is left unhandled for the caller to keep.
        Raises ``StaleExecution`` when another writer moved the execution on since it was read.
        """
        started = time.perf_counter()
        result = step(flow, execution, event)
        metrics.FLOW_STEP_SECONDS.observe(time.perf_counter() - started)
        consumed_timer = event.timer_id if isinstance(event, TimerFired) else None
        if not result.handled and not created:
            if consumed_timer:
                await self.store.delete_timer(consumed_timer)
            if sent is not None:
                await self.store.mark_sent(*sent)
            return False
        write = StepWrite(result.execution, created, steps=result.steps)
        if sent is not None:
            write.message_updates.append(sent)
        if handled:
            write.handled_message_ids.append(handled)
        if consumed_timer:
            write.timers_cancelled.append(consumed_timer)
        later: list[fx.Effect] = []
        subflows: list[fx.StartSubflow] = []
        for effect in result.effects:
            if isinstance(effect, fx.SendMessage):
                write.outbound.append(
                    OutboundDraft(
                        conversation_id=conversation["id"],
                        author="bot",
                        parts=[part_to_dict(p) for p in effect.parts],
                        text=text_of(effect.parts),
                        request_id=effect.request_id,
                    )
                )
            elif isinstance(effect, fx.StartTimer):
                write.timers_started.append((effect.timer_id, effect.due_at))
            elif isinstance(effect, fx.CancelTimer):
                write.timers_cancelled.append(effect.timer_id)
            elif isinstance(effect, fx.SetConversationAttributes):
                target = (
                    write.contact_attributes if effect.contact else write.conversation_attributes
                )
                target.update(effect.attributes)
            elif isinstance(effect, fx.EndExecution):
                metrics.EXECUTIONS_ENDED.labels(effect.status).inc()
            elif isinstance(effect, fx.StartSubflow):
                subflows.append(effect)
            else:
                later.append(effect)
        outbound = await self.store.write_step(write)
        stored = replace(result.execution, revision=result.execution.revision + 1)
        self.active.committed(stored, deepest=deepest or created)
        if write.timers_started:
            self.timers.added(min(due_at for _, due_at in write.timers_started))
        for row in outbound:
            self.spawn(self._deliver(conversation, row))
        for effect in later:
            self.spawn(self._perform(conversation, execution.id, effect))
        # Subflows start inside this conversation's serial job: the child is the conversation's
        # active execution before the next inbound message is looked at.
        for subflow in subflows:
            await self._start_subflow(stored, subflow, conversation)
        if stored.status != ACTIVE and stored.parent_id:
            self._return_to_parent(stored)
        if conversation["id"] in self._deferred:
            await self._replay_deferred(conversation["id"])
        return True

    async def _start_subflow(
        self, parent: Execution, effect: fx.StartSubflow, conversation: Row
    ) -> None:
        now = time.time()
        flow = self.flows.latest(effect.flow)
        problem = None
        if flow is None:
            problem = f"no flow {effect.flow!r} (name, SID or configured Studio SID alias)"
        elif parent.depth + 1 >= MAX_SUBFLOW_DEPTH:
            problem = f"subflows nested deeper than {MAX_SUBFLOW_DEPTH}"
        if flow is None or problem:
            self.feed(
                conversation["id"], parent.id, Result(effect.request_id, now, False, error=problem)
            )
            return
        child = replace(
            self.new_execution(flow, conversation, now),
            parent_id=parent.id,
            parent_request_id=effect.request_id,
            depth=parent.depth + 1,
        )
        start = Start("incomingParent", now, parameters=dict(effect.parameters))
        await self.apply(flow, child, start, conversation, created=True)

    def _return_to_parent(self, child: Execution) -> None:
        """A subflow ended: its flow variables become the parent's ``widgets.NAME.*``."""
        assert child.parent_id and child.conversation_id
        variables = dict(child.context.get("flow", {}).get("variables", {}))
        ok = child.status == ENDED
        result = Result(
            child.parent_request_id or "",
            time.time(),
            ok,
            variables,
            None if ok else child.ended_reason,
        )
        self.feed(child.conversation_id, child.parent_id, result)

    def feed(
        self,
        conversation_id: str,
        execution_id: str,
        event: Event,
        *,
        sent: tuple[str, dict[str, Any]] | None = None,
        conversation: Row | None = None,
    ) -> asyncio.Future[Any]:
        """Queue an event for an execution; it is dropped if that execution is no longer active.

        ``sent`` is a provider's answer to a send, (message id, columns): it is stored with the
        step, or alone when there is no step to take. ``conversation``: the caller's row of the
        conversation, when it has one (saves a read).
        """

        async def job() -> None:
            for attempt in range(STALE_RETRIES):
                try:
                    await self._step_execution(
                        conversation_id, execution_id, event, sent, conversation, attempt > 0
                    )
                    return
                except StaleExecution:
                    self.active.forget(conversation_id)
                    if attempt == STALE_RETRIES - 1:
                        raise

        return self.serial.submit(conversation_id, job)

    async def _step_execution(
        self,
        conversation_id: str,
        execution_id: str,
        event: Event,
        sent: tuple[str, dict[str, Any]] | None,
        conversation: Row | None,
        fresh: bool,
    ) -> None:
        execution = None if fresh else self.active.get_by_id(conversation_id, execution_id)
        deepest = execution is not None
        if execution is None:
            execution = await self.store.execution(execution_id)
        flow = None
        if (
            execution is not None
            and execution.status == ACTIVE
            and execution.conversation_id == conversation_id
        ):
            flow = await self.flows.version(execution.flow_sid, execution.flow_version)
            if conversation is None:
                conversation = await self.store.conversation(conversation_id)
        if execution is None or flow is None or conversation is None:
            if sent is not None:
                await self.store.mark_sent(*sent)
            return
        await self.apply(flow, execution, event, conversation, sent=sent, deepest=deepest)

    async def _fire_timer(self, timer: Row) -> None:
        execution_id = timer["execution_id"]
        done = self.feed(
            timer["conversation_id"], execution_id, TimerFired(timer["id"], time.time())
        )
        await done
        # A timer whose execution ended or moved on is stale: remove it so it never fires again.
        await self.store.delete_timer(timer["id"])

    # --- effects --------------------------------------------------------------------------

    async def _perform(self, conversation: Row, execution_id: str, effect: fx.Effect) -> None:
        async with self.working(conversation["id"]):
            await self._perform_effect(conversation, execution_id, effect)

    async def _perform_effect(
        self, conversation: Row, execution_id: str, effect: fx.Effect
    ) -> None:
        handler = self.effect_handlers.get(type(effect))
        request_id = getattr(effect, "request_id", "")
        if isinstance(effect, fx.Custom):
            handler = self._perform_custom
        if handler is None:
            result = Result(
                request_id, time.time(), False, error=f"{type(effect).__name__} is not supported"
            )
        else:
            try:
                result = await handler(conversation, effect)
            except Exception as exc:
                log.exception("effect %s failed", type(effect).__name__)
                result = Result(
                    request_id, time.time(), False, error=str(exc) or type(exc).__name__
                )
        if request_id:
            self.feed(conversation["id"], execution_id, result)

    async def _perform_http(self, conversation: Row, effect: fx.Effect) -> Result:
        assert isinstance(effect, fx.HttpRequest)
        outcome = await self.http.perform(effect)
        data = {
            "status_code": outcome.status_code,
            "content_type": outcome.content_type,
            "body": outcome.body,
            "truncated": outcome.truncated,
        }
        return Result(effect.request_id, time.time(), outcome.ok, data, outcome.error)

    async def _perform_custom(self, conversation: Row, effect: fx.Effect) -> Result:
        assert isinstance(effect, fx.Custom)
        handler = self.custom_handlers.get(effect.kind)
        if handler is None:
            return Result(
                effect.request_id, time.time(), False, error=f"no handler for {effect.kind}"
            )
        data = await handler(dict(effect.payload))
        return Result(effect.request_id, time.time(), True, data)

    async def _deliver(self, conversation: Row, message: Row, *, in_doubt: bool = False) -> None:
        """Hand an outbox row to its channel, record the outcome, tell the waiting widget.

        The row was committed before this runs: it is the send's recorded intent. ``in_doubt``:
        the row is from before a crash, so the provider may already have it.
        """
        await self._notify(conversation, message)
        sender = self.senders.get(conversation["channel"])
        if sender is None:
            outcome = SendOutcome(False, error=f"no sender for channel {conversation['channel']}")
        else:
            try:
                if in_doubt:
                    outcome = await self._send_unless_sent(sender, conversation, message)
                else:
                    outcome = await sender.send(
                        conversation_model(conversation), message_model(message)
                    )
            except Exception as exc:
                log.exception("send on %s failed", conversation["channel"])
                outcome = SendOutcome(False, error=str(exc) or type(exc).__name__)
        values = ops.sent_values(
            outcome.status if outcome.ok else "failed",
            outcome.provider_message_ids,
            outcome.error,
            outcome.error_code,
        )
        metrics.OUTBOUND.labels(conversation["channel"], "ok" if outcome.ok else "failed").inc()
        request_id = message["request_id"]
        if not request_id or outcome.store_at_once:
            await self.store.mark_sent(message["id"], values)
            if not request_id:
                return
            sent = None
        else:
            # The provider's answer is stored with the step it feeds: one commit, not two.
            sent = (message["id"], values)
        result = Result(
            request_id, time.time(), outcome.ok, {"message_id": message["id"]}, outcome.error
        )
        self.feed(
            conversation["id"],
            execution_of(request_id),
            result,
            sent=sent,
            conversation=conversation,
        )

    async def _send_unless_sent(
        self, sender: Sender, conversation: Row, message: Row
    ) -> SendOutcome:
        """Send a message from before a crash, unless the provider says it already has it. A
        provider that cannot be asked right now is asked again, backing off, until it answers:
        sending without asking could send twice."""
        check = getattr(sender, "send_unless_sent", None)
        if check is None:  # a push to our own sockets (web chat, app): repeating it is harmless
            return await sender.send(conversation_model(conversation), message_model(message))
        intended_at = float(message["created_at"])
        known = await self.store.provider_ids_since(
            conversation["id"], intended_at - SEND_CHECK_WINDOW_SECONDS
        )
        delay = SEND_CHECK_RETRY_SECONDS
        while True:
            try:
                outcome: SendOutcome = await check(
                    conversation_model(conversation), message_model(message), intended_at, known
                )
                return outcome
            except SendCheckFailed as exc:
                log.warning(
                    "cannot check whether %s was sent (%s); asking again in %g s",
                    message["id"],
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, SEND_CHECK_MAX_RETRY_SECONDS)

    async def apply_status(
        self, provider_message_id: str, status: str, error_code: str | None, error: str | None
    ) -> Row | None:
        """A delivery status callback: move the status forward; a failure reaches the flow.

        A callback can overtake the provider's answer to the send that it is about (Twilio sends
        ``queued``/``sent`` while its API response is still on the way), so an unknown message id
        is looked up again a few times before the callback is dropped.
        """
        for attempt in range(STATUS_LOOKUPS):
            message, changed = await self.store.apply_status(
                provider_message_id, status, error_code, error
            )
            if message is not None or attempt == STATUS_LOOKUPS - 1:
                break
            await asyncio.sleep(STATUS_RETRY_SECONDS)
        if message is None or not changed:
            return message
        if message["status"] in ("failed", "undelivered") and message["request_id"]:
            event = DeliveryFailed(message["request_id"], time.time(), error_code, error)
            self.feed(message["conversation_id"], execution_of(message["request_id"]), event)
        conversation = await self.store.conversation(message["conversation_id"])
        if conversation is not None:
            await self._notify(conversation, message)
        return message

    async def show_revision(self, conversation: Row, message: Row) -> None:
        """Tell whoever shows the conversation that one of its messages was deleted or edited."""
        for listener in self.revision_listeners:
            try:
                await listener(conversation, message)
            except Exception:
                log.exception("revision listener failed")

    async def _notify(self, conversation: Row, message: Row) -> None:
        for listener in self.message_listeners:
            try:
                await listener(conversation, message)
            except Exception:
                log.exception("message listener failed")

    async def send_agent_message(
        self,
        conversation_id: str,
        agent_id: str,
        parts: tuple[Any, ...],
        author_name: str | None = None,
    ) -> Row | None:
        """Store an agent's reply and deliver it on the customer's channel; returns the stored
        message with its delivery outcome (None when the conversation does not exist)."""
        return await self._send_outside_flow(
            conversation_id, f"agent:{agent_id}", parts, author_name
        )

    async def send_system_message(self, conversation_id: str, parts: tuple[Any, ...]) -> Row | None:
        """Store and deliver a notice from Threadline itself (author ``system``), such as
        "connecting you to an agent": no flow waits for it."""
        return await self._send_outside_flow(conversation_id, "system", parts, None)

    async def _send_outside_flow(
        self, conversation_id: str, author: str, parts: tuple[Any, ...], author_name: str | None
    ) -> Row | None:
        conversation = await self.store.conversation(conversation_id)
        if conversation is None:
            return None
        draft = OutboundDraft(
            conversation_id=conversation_id,
            author=author,
            parts=[part_to_dict(p) for p in parts],
            text=text_of(parts),
            author_name=author_name,
        )
        row = await self.store.add_outbound(draft)
        await self._deliver(conversation, row)
        return await self.store.message(row["id"])


def execution_of(request_id: str) -> str:
    """Request ids are ``<execution id>:<step>:<suffix>`` (see WidgetCall.request_id)."""
    return request_id.split(":", 1)[0]
