"""App events reach flows: a flow waiting for the event resumes; otherwise one may start.

The event is recorded (``app.event`` on the contact's journey) before this runs, so a flow that
misses it can still find it in the journey.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from channels.app.apps import AppConfig
from server.engine.events import AppEvent, Start
from server.engine.execution import Execution
from server.runtime.runtime import Runtime

log = logging.getLogger(__name__)

RESUMED = "resumed"
STARTED = "started"


def waits_for(execution: Execution, name: str) -> bool:
    """Whether the execution's current widget waits for the named event (``waiting["event"]``)."""
    wanted = execution.waiting.get("event")
    if isinstance(wanted, str):
        return wanted == name
    if isinstance(wanted, list | tuple):
        return name in wanted
    return False


async def route_event(
    runtime: Runtime,
    app: AppConfig,
    conversation_id: str,
    name: str,
    properties: dict[str, Any],
) -> str | None:
    """Feed the event to the waiting execution or start the app's flow for it; say which."""
    now = time.time()
    execution = await runtime.store.active_execution(conversation_id)
    if execution is not None:
        if not waits_for(execution, name):
            return None
        await runtime.feed(conversation_id, execution.id, AppEvent(name, now, properties))
        return RESUMED
    flow_name = app.event_flows.get(name)
    if flow_name is None:
        return None
    started: str | None = await runtime.serial.submit(
        conversation_id, lambda: _start(runtime, flow_name, conversation_id, name, properties)
    )
    return started


async def _start(
    runtime: Runtime,
    flow_name: str,
    conversation_id: str,
    name: str,
    properties: dict[str, Any],
) -> str | None:
    async with runtime.working(conversation_id):
        # Checked again inside the conversation's serial queue: a message may have started one.
        if await runtime.store.active_execution(conversation_id) is not None:
            return None
        flow = runtime.flows.latest(flow_name)
        conversation = await runtime.store.conversation(conversation_id)
        if flow is None or conversation is None:
            log.error("app event %r: flow %r is not loaded", name, flow_name)
            return None
        now = time.time()
        execution = runtime.new_execution(flow, conversation, now)
        start = Start("incomingRequest", now, data={"name": name, "properties": properties})
        await runtime.apply(flow, execution, start, conversation, created=True)
        return STARTED
