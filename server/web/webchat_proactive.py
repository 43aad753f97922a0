"""The flow speaks first: start a conversation's flow with ``incomingRequest``, no message needed.

Used for the web chat's proactive greeting, when a visitor opens a greeting account's chat window
(or answers its pre-chat form): never on a bare connect, which stores nothing. It runs in the
conversation's serial lane like every other event, and does nothing when the conversation
already has an execution or any message (a greeting never interrupts or repeats).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from server.engine.events import Start
from server.runtime.runtime import Runtime

TRIGGER = "incomingRequest"


def start_proactively(
    runtime: Runtime, conversation_id: str, data: dict[str, Any] | None = None
) -> asyncio.Future[Any]:
    async def job() -> None:
        async with runtime.working(conversation_id):
            store = runtime.store
            conversation = await store.conversation(conversation_id)
            if conversation is None or conversation["status"] != "bot":
                return
            if await store.active_execution(conversation_id) is not None:
                return
            if await store.messages(conversation_id, limit=1):
                return
            flow = runtime.flow_for(conversation)
            if flow is None:
                return
            contact = await store.contact(conversation["contact_id"])
            profile: dict[str, Any] = {}
            if contact is not None:
                profile = {
                    "display_name": contact["display_name"],
                    "attributes": dict(contact["attributes"] or {}),
                }
            now = time.time()
            execution = runtime.new_execution(flow, conversation, now, contact=profile)
            event = Start(TRIGGER, now, data=dict(data or {}))
            await runtime.apply(flow, execution, event, conversation, created=True)

    return runtime.serial.submit(conversation_id, job)
