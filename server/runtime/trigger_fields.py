"""``trigger.conversation``: an inbound message as Studio shows it to a Conversations flow.

Studio starts a flow attached to Twilio Conversations (web chat, in-app chat, SMS and WhatsApp
through Conversations) with ``incomingConversationMessage`` and fills ``trigger.conversation``
from the Conversations ``onMessageAdded`` webhook rather than ``trigger.message`` from
Programmable Messaging. Flows exported from there read these names, so they are filled from
the stored conversation and message the same way.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from server.engine.events import Start
from server.engine.flow import CompiledFlow
from widgets.trigger import CONVERSATION_MESSAGE, message_trigger

# What Twilio Conversations reports as a message's ``Source`` per channel; chat clients (web
# chat, in-app) post through the Conversations SDK.
SOURCES = {"webchat": "SDK", "app": "SDK", "sms": "SMS", "whatsapp": "WHATSAPP"}


def _iso(epoch: Any) -> str | None:
    # Pure on purpose (no store imports): ``threadline flows run`` builds these fields too.
    if not isinstance(epoch, int | float):
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat().replace("+00:00", "Z")


def participant_sid(conversation_id: str, address: str) -> str:
    """A Studio-style participant SID (``MB`` + 32 hex digits), stable per conversation and
    customer: Threadline keeps no participant rows, but flows pass this SID around."""
    digest = hashlib.sha256(f"{conversation_id}\n{address}".encode()).hexdigest()
    return "MB" + digest[:32]


def media_list(parts: Any) -> list[dict[str, Any]]:
    """The message's media as Conversations lists it (Sid, Filename, ContentType), with the
    URL Threadline serves it from as ``Url``."""
    media: list[dict[str, Any]] = []
    for part in parts or []:
        if not isinstance(part, Mapping) or part.get("kind") != "media":
            continue
        media.append(
            {
                "Sid": part.get("stored_id") or part.get("media_id") or "",
                "Filename": part.get("filename") or "",
                "ContentType": part.get("content_type") or "",
                "Url": part.get("url") or "",
            }
        )
    return media


def channel_attributes(conversation: Mapping[str, Any]) -> dict[str, Any]:
    """The conversation's attributes, with web chat's pre-chat answers where Flex's web chat
    puts them (``ChannelAttributes.pre_engagement_data``)."""
    attributes = dict(conversation.get("attributes") or {})
    prechat = (conversation.get("context") or {}).get("prechat")
    if prechat and "pre_engagement_data" not in attributes:
        attributes["pre_engagement_data"] = dict(prechat)
    return attributes


def conversation_fields(
    conversation: Mapping[str, Any],
    message_id: str,
    fields: Mapping[str, Any],
    message: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``trigger.conversation`` for an inbound message: the channel's own fields (Body,
    From, To, MediaUrl0, ...) with the Conversations names laid over them."""
    address = str(fields.get("From") or conversation["customer_address"])
    out: dict[str, Any] = dict(fields)
    seq = message.get("seq") if message is not None else None
    out.update(
        {
            "EventType": "onMessageAdded",
            "ConversationSid": conversation["id"],
            "MessageSid": message_id,
            "Index": seq - 1 if isinstance(seq, int) else 0,  # Conversations counts from 0
            "Body": str(fields.get("Body") or ""),
            "Author": address,
            "ParticipantSid": participant_sid(conversation["id"], address),
            "Source": SOURCES.get(conversation["channel"], str(conversation["channel"]).upper()),
            "Media": media_list(message.get("parts") if message is not None else None),
            "Attributes": json.dumps({}),
            "ChannelAttributes": channel_attributes(conversation),
            "DateCreated": _iso(message.get("created_at")) if message is not None else None,
        }
    )
    return out


def message_start(
    flow: CompiledFlow,
    conversation: Mapping[str, Any],
    message_id: str,
    fields: Mapping[str, Any],
    now: float,
    message: Mapping[str, Any] | None = None,
) -> Start:
    """The event that starts ``flow`` on an inbound message: ``incomingMessage`` with
    ``trigger.message``, or ``incomingConversationMessage`` with ``trigger.conversation``,
    as ``widgets.trigger.message_trigger`` picks for the channel and the flow's wiring."""
    event = message_trigger(conversation["channel"], flow.trigger_events)
    if event == CONVERSATION_MESSAGE:
        payload = conversation_fields(conversation, message_id, fields, message)
        return Start(event, now, message=payload)
    return Start(event, now, message=dict(fields))
