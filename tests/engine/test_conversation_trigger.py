"""Which trigger event an inbound message fires, and ``trigger.conversation`` as Studio fills it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from server.engine.events import Start
from server.runtime.trigger_fields import message_start
from widgets.trigger import message_trigger

from .harness import AT, Runner, flow_of, path, state, trigger

BOTH = {"incomingMessage", "incomingConversationMessage"}


@pytest.mark.parametrize(
    ("channel", "wired", "expected"),
    [
        # Conversations channels fire Studio's conversation event...
        ("webchat", BOTH, "incomingConversationMessage"),
        ("app", {"incomingConversationMessage"}, "incomingConversationMessage"),
        # ...unless the flow wires only the messaging one.
        ("webchat", {"incomingMessage"}, "incomingMessage"),
        # Numbers fire incomingMessage, or the conversation event if it is all that is wired.
        ("sms", BOTH, "incomingMessage"),
        ("whatsapp", {"incomingMessage"}, "incomingMessage"),
        ("sms", {"incomingConversationMessage"}, "incomingConversationMessage"),
        (
            "whatsapp",
            {"incomingConversationMessage", "incomingRequest"},
            "incomingConversationMessage",
        ),
        # Nothing wired: the channel's own event, which ends the execution as before.
        ("sms", set(), "incomingMessage"),
        ("webchat", {"incomingRequest"}, "incomingConversationMessage"),
    ],
)
def test_message_trigger_per_channel_and_wiring(
    channel: str, wired: set[str], expected: str
) -> None:
    assert message_trigger(channel, wired) == expected


def conversations_only_flow() -> Any:
    return flow_of(
        trigger(incomingMessage=None, incomingConversationMessage="ask", incomingRequest=None),
        state(
            "ask",
            "send-and-wait-for-reply",
            {"incomingMessage": None},
            body="{{trigger.conversation.Author}} via {{trigger.conversation.Source}}: "
            "{{trigger.conversation.Body}} "
            "({{trigger.conversation.ChannelAttributes.pre_engagement_data.name}})",
        ),
    )


CONVERSATION = {
    "id": "CV1",
    "channel": "webchat",
    "channel_account": "default",
    "customer_address": "visitor-1",
    "attributes": {"plan": "gold"},
    "context": {"prechat": {"name": "Ann"}},
}
MESSAGE = {
    "seq": 3,
    "created_at": AT,
    "parts": [
        {"kind": "text", "text": "hello"},
        {
            "kind": "media",
            "url": "https://chat.example/media/ME1",
            "content_type": "image/png",
            "filename": "bike.png",
            "stored_id": "ME1",
        },
    ],
}
FIELDS = {"Body": "hello", "From": "visitor-1", "To": "default", "ChannelType": "web"}


def test_a_conversations_flow_starts_on_web_chat_with_trigger_conversation() -> None:
    flow = conversations_only_flow()
    start = message_start(flow, CONVERSATION, "IM1", FIELDS, AT, MESSAGE)
    assert start.trigger == "incomingConversationMessage"
    result = Runner(flow).feed(start)
    assert path(result)[0] == ("Trigger", "incomingConversationMessage", "ask")
    fields = result.execution.context["trigger"]["conversation"]
    assert result.execution.context["trigger"]["message"] == fields  # for flows wiring both
    assert {k: fields[k] for k in ("ConversationSid", "MessageSid", "Index", "Body", "Author")} == {
        "ConversationSid": "CV1",
        "MessageSid": "IM1",
        "Index": 2,
        "Body": "hello",
        "Author": "visitor-1",
    }
    assert fields["Source"] == "SDK" and fields["EventType"] == "onMessageAdded"
    assert fields["Media"] == [
        {
            "Sid": "ME1",
            "Filename": "bike.png",
            "ContentType": "image/png",
            "Url": "https://chat.example/media/ME1",
        }
    ]
    assert fields["ChannelAttributes"] == {"plan": "gold", "pre_engagement_data": {"name": "Ann"}}
    assert json.loads(fields["Attributes"]) == {}
    assert fields["DateCreated"] == "2023-11-14T22:13:20Z"
    assert fields["ParticipantSid"].startswith("MB") and len(fields["ParticipantSid"]) == 34
    (send,) = [e for e in result.effects if type(e).__name__ == "SendMessage"]
    assert send.parts[0].text == "visitor-1 via SDK: hello (Ann)"  # type: ignore[attr-defined]


def test_a_conversations_flow_on_sms_starts_instead_of_ending_silently() -> None:
    flow = conversations_only_flow()
    sms = {**CONVERSATION, "channel": "sms", "customer_address": "+15550001111", "context": {}}
    fields = {"Body": "hi", "From": "+15550001111", "To": "+15550002222", "MessageSid": "SM1"}
    start = message_start(flow, sms, "IM2", fields, AT)
    assert start.trigger == "incomingConversationMessage"
    result = Runner(flow).feed(start)
    assert result.execution.status == "active" and result.execution.state == "ask"
    conversation = result.execution.context["trigger"]["conversation"]
    assert (conversation["Source"], conversation["Author"]) == ("SMS", "+15550001111")
    assert conversation["MessageSid"] == "IM2" and conversation["Media"] == []


def test_an_sms_flow_still_gets_trigger_message() -> None:
    flow = flow_of(
        trigger(incomingMessage="ask"), state("ask", "send-and-wait-for-reply", {}, body="?")
    )
    sms = {**CONVERSATION, "channel": "sms"}
    start = message_start(flow, sms, "IM3", {"Body": "hi", "MessageSid": "SM9"}, AT)
    assert start == Start("incomingMessage", AT, message={"Body": "hi", "MessageSid": "SM9"})
    result = Runner(flow).feed(start)
    assert result.execution.context["trigger"] == {"message": {"Body": "hi", "MessageSid": "SM9"}}
