"""What an agent sees with an offer: contact, channel, device (app), pre-chat answers (web chat),
CRM fields, intent, variables, transcript, journey, notes. Static parts come from the flow's
``send-to-agent`` (kept in routing_tasks); the live parts are read when the offer is made, so a
re-offer shows the history up to now.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from server.engine.execution import Execution
from server.runtime.flows import FlowRegistry
from server.runtime.rows import message_json
from server.store import Store
from server.store.ops import Row
from server.store.schema import events

JOURNEY_EVENTS = 20
TRANSCRIPT_MESSAGES = 200
BOT_WIDGETS = ("bot-triage",)
CRM_WIDGETS = ("crm-lookup",)


def empty_flow_context() -> dict[str, Any]:
    """The flow's part of the context when no flow attached any (server.context.json requires
    every part, empty or not)."""
    return {"variables": {}, "crm": {}, "intent": None, "fields": {}}


async def flow_context(
    flows: FlowRegistry, execution: Execution | None, attached: dict[str, Any]
) -> dict[str, Any]:
    """The flow's part of the context: variables, bot and CRM widget outputs, chosen fields."""
    context = {**empty_flow_context(), "fields": dict(attached.get("fields") or {})}
    if execution is None:
        return context
    include = attached.get("include") or {}
    flow_ctx = execution.context
    if include.get("variables", True):
        context["variables"] = dict(flow_ctx.get("flow", {}).get("variables") or {})
    flow = await flows.version(execution.flow_sid, execution.flow_version)
    if flow is None:
        return context
    outputs = flow_ctx.get("widgets") or {}
    for name, state in flow.states.items():
        kind = state.widget.type
        if name not in outputs:
            continue
        if kind in BOT_WIDGETS and include.get("bot", True):
            context["intent"] = {"widget": name, **dict(outputs[name])}
        elif kind in CRM_WIDGETS and include.get("crm", True):
            context["crm"][name] = dict(outputs[name])
    return context


async def live_context(
    store: Store, conversation: Row, stored: dict[str, Any], notes: list[dict[str, Any]]
) -> dict[str, Any]:
    contact = await store.contact(conversation["contact_id"])
    identities = await store.contact_identities(conversation["contact_id"])
    transcript = [
        message_json(row)
        for row in await store.messages(conversation["id"], limit=TRANSCRIPT_MESSAGES)
    ]
    async with store.engine.connect() as conn:
        rows = await conn.execute(
            select(events)
            .where(events.c.contact_id == conversation["contact_id"])
            .order_by(events.c.time.desc())
            .limit(JOURNEY_EVENTS)
        )
        journey = [
            {
                "type": row.type,
                "time": row.time,
                "channel": row.channel,
                "conversation_id": row.conversation_id,
                "properties": dict(row.properties or {}),
            }
            for row in rows
        ]
    channel_context = dict(conversation["context"] or {})
    return {
        **stored,
        "channel": {
            "kind": conversation["channel"],
            "account": conversation["channel_account"],
            "customer_address": conversation["customer_address"],
        },
        "contact": {
            "id": conversation["contact_id"],
            "display_name": contact["display_name"] if contact else None,
            "attributes": dict(contact["attributes"] or {}) if contact else {},
            "identities": [{"kind": i["kind"], "value": i["value"]} for i in identities],
        },
        "attributes": dict(conversation["attributes"] or {}),
        # What the customer's channel told us: the app's device, the web chat pre-chat form.
        "device": channel_context.get("device"),
        "prechat": dict(channel_context.get("prechat") or {}),
        "transcript": transcript,
        "journey": journey,
        "notes": notes,
        "queue": conversation["queue"],
    }
