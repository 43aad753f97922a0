"""Where flows and customers meet the routing service.

``route_to_agent`` performs the engine's ``RouteToAgent`` effect: it records the routing task
(which flow request waits, the context to attach), marks the conversation ``queued`` and creates
the router task. Its immediate Result is ``{"outcome": "queued"}`` with the position; the final
outcome is fed to the flow by the service when routing ends. ``agent_inbound`` takes the
customer's messages once a conversation has left the bot.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import delete, insert, update
from sqlalchemy.ext.asyncio import AsyncConnection

from server.agents import protocol
from server.agents.context import flow_context
from server.agents.hub import AgentHub
from server.agents.links import CustomerLinks
from server.agents.service import RoutingService
from server.engine import effects as fx
from server.engine.events import Result
from server.routing import ExpressionError, RoutingError
from server.routing import effects as rfx
from server.routing import events as ev
from server.runtime.rows import message_json
from server.store import agents as tables
from server.store.ops import Row
from server.store.schema import conversations

ROUTED_STATUSES = ("assigned", "wrapup")


class Handoff:
    def __init__(self, service: RoutingService, hub: AgentHub) -> None:
        self.service = service
        self.hub = hub
        self.runtime = service.runtime
        self.store = service.store
        # Typing and read receipts between the customer's channel and the agent.
        self.links = CustomerLinks(service, hub)

    async def route_to_agent(self, conversation: Row, effect: fx.Effect) -> Result:
        assert isinstance(effect, fx.RouteToAgent)
        now = time.time()
        cid = conversation["id"]
        execution = await self.store.active_execution(cid)
        context = await flow_context(self.runtime.flows, execution, effect.context)
        context["priority"] = effect.priority
        include = dict(effect.context.get("include") or {})
        context["include_transcript"] = include.get("transcript", True)
        requirements = effect.requirements
        workflow = requirements.get("workflow")
        if workflow not in self.service.config.workflows:
            workflow = None  # a Studio workflow SID nobody configured: the default workflow

        async def record(conn: AsyncConnection) -> None:
            rt = tables.routing_tasks
            await conn.execute(delete(rt).where(rt.c.conversation_id == cid))
            await conn.execute(
                insert(rt).values(
                    conversation_id=cid,
                    execution_id=execution.id if execution else None,
                    request_id=effect.request_id,
                    context=context,
                    notes=[],
                    status="queued",
                    created_at=now,
                    updated_at=now,
                )
            )
            await conn.execute(
                update(conversations)
                .where(conversations.c.id == cid)
                .values(status="queued", agent_id=None, queue=effect.queue, updated_at=now)
            )

        await self.store.write(record)
        task = ev.TaskCreated(
            task_id=cid,
            at=now,
            attributes=dict(requirements.get("attributes") or {}),
            channel=conversation["channel"],
            queue=effect.queue,
            workflow=workflow,
            priority=effect.priority,
            timeout=effect.timeout or None,
            contact_id=conversation["contact_id"],
            wait_when_no_agents=effect.wait_when_no_agents,
            agent_expression=requirements.get("expression"),
        )
        try:
            effects = await self.service.handle(task)
        except (RoutingError, ExpressionError) as exc:
            await self._unroute(cid, now)
            return Result(effect.request_id, now, False, {"outcome": "failed"}, str(exc))
        if any(isinstance(e, rfx.NoAgents) for e in effects):
            # The service already answered no_agents; this acknowledgement changes nothing.
            return Result(effect.request_id, now, True, {"outcome": "answered"})
        position = self.service.router.position(cid)
        flow_tells = bool(execution and execution.waiting.get("wait_message"))
        if self.service.notices is not None and not flow_tells:
            # Offered at once (no position) or waiting in line: either way the customer knows,
            # unless the flow's own ``estimated_wait_message`` already tells them.
            self.runtime.spawn(self.service.notices.queued(cid, position))
        data: dict[str, Any] = {"outcome": "queued", "position": None}
        if position is not None:
            data.update(
                position=position.position,
                queue=position.queue,
                estimated_wait=position.estimated_wait,
            )
        return Result(effect.request_id, now, True, data)

    async def _unroute(self, conversation_id: str, now: float) -> None:
        async def op(conn: AsyncConnection) -> None:
            rt = tables.routing_tasks
            await conn.execute(
                update(rt)
                .where(rt.c.conversation_id == conversation_id)
                .values(request_id=None, status="failed", updated_at=now)
            )
            await conn.execute(
                update(conversations)
                .where(conversations.c.id == conversation_id)
                .values(status="bot", agent_id=None, queue=None, updated_at=now)
            )

        await self.store.write(op)

    async def agent_inbound(self, conversation: Row, message: Row) -> None:
        """A customer message after the bot: to the assigned agent (sequenced) and monitors.

        While the conversation waits in a queue the message is only stored: the offer and the
        ``assigned`` frame carry the transcript up to that moment.
        """
        frame = protocol.out(
            "message", conversation_id=conversation["id"], message=message_json(message)
        )
        task = self.service.router.state.tasks.get(conversation["id"])
        if task is not None and task.agent_id and task.status in ROUTED_STATUSES:
            await self.hub.send(task.agent_id, frame)
        await self.hub.tell_monitors(conversation["id"], {**frame, "monitoring": True})

    async def on_revision(self, conversation: Row, message: Row) -> None:
        """A customer deleted or edited a message: the assigned agent (sequenced, so a desk that
        was offline catches up) and monitors get it as now stored."""
        frame = protocol.out(
            "message_updated", conversation_id=conversation["id"], message=message_json(message)
        )
        task = self.service.router.state.tasks.get(conversation["id"])
        if task is not None and task.agent_id and task.status in ROUTED_STATUSES:
            await self.hub.send(task.agent_id, frame)
        await self.hub.tell_monitors(conversation["id"], {**frame, "monitoring": True})

    async def on_message(self, conversation: Row, message: Row) -> None:
        """Delivery statuses of agents' replies go back to their author; monitors see replies."""
        author = str(message["author"])
        if message["direction"] != "outbound" or not author.startswith("agent:"):
            return
        if message["status"] == "accepted":
            frame = protocol.out(
                "message", conversation_id=conversation["id"], message=message_json(message)
            )
            await self.hub.tell_monitors(conversation["id"], {**frame, "monitoring": True})
        elif message["status"] in ("delivered", "read", "failed", "undelivered"):
            await self.hub.send(author.split(":", 1)[1], status_frame(conversation["id"], message))


def status_frame(
    conversation_id: str, message: Row, client_id: str | None = None
) -> dict[str, Any]:
    return protocol.out(
        "message_status",
        conversation_id=conversation_id,
        message_id=message["id"],
        client_id=client_id,
        status=message["status"],
        error_code=message["error_code"],
        error=message["error_message"],
    )
