"""WhatsAppSender over httpx against a fake Graph API on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from channels.whatsapp import WINDOW_CLOSED_CODE, WhatsAppSender
from server.model import (
    Choice,
    ChoicesPart,
    Conversation,
    Message,
    Part,
    TemplatePart,
    TextPart,
)
from tests.channels.fakes import FakeError, FakeGraphApi

TOKEN = "EAAG-test-token"
NOW = datetime(2024, 5, 2, 12, 0, tzinfo=UTC)
PHONE_NUMBER_ID = "1122334455667"


def conversation(last_inbound_at: datetime | None, customer: str = "+972987654321") -> Conversation:
    return Conversation(
        id="CH1",
        contact_id="CO1",
        channel="whatsapp",
        channel_account=PHONE_NUMBER_ID,
        customer_address=customer,
        status="bot",
        agent_id=None,
        queue=None,
        attributes={},
        created_at=NOW,
        updated_at=NOW,
        last_inbound_at=last_inbound_at,
    )


def message(*parts: Part) -> Message:
    return Message("IM1", "CH1", "outbound", "bot", parts, "queued", NOW, NOW)


OPEN = conversation(NOW - timedelta(hours=1))
CLOSED = conversation(NOW - timedelta(hours=30))


@pytest.fixture
async def sender(graph_api: FakeGraphApi) -> AsyncIterator[WhatsAppSender]:
    sender = WhatsAppSender(TOKEN, graph_base=graph_api.graph_base, clock=lambda: NOW)
    yield sender
    await sender.aclose()


async def test_text_send_posts_json_with_bearer_token(
    sender: WhatsAppSender, graph_api: FakeGraphApi
) -> None:
    outcome = await sender.send(OPEN, message(TextPart("Hello")))
    assert outcome.ok
    assert outcome.provider_message_ids == ("wamid.FAKE000001",)
    [request] = graph_api.requests
    assert request.path == f"/v21.0/{PHONE_NUMBER_ID}/messages"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.json == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "+972987654321",
        "type": "text",
        "text": {"body": "Hello", "preview_url": False},
    }


async def test_buttons_list_and_numbered_fallback_reach_the_api(
    sender: WhatsAppSender, graph_api: FakeGraphApi
) -> None:
    three = ChoicesPart((Choice("y", "Yes"), Choice("n", "No"), Choice("m", "Maybe")))
    five = ChoicesPart(tuple(Choice(str(i), f"Slot {i}") for i in range(5)))
    twelve = ChoicesPart(tuple(Choice(str(i), f"Item {i}") for i in range(12)))
    for parts in (
        (TextPart("Agree?"), three),
        (TextPart("When?"), five),
        (TextPart("Which?"), twelve),
    ):
        assert (await sender.send(OPEN, message(*parts))).ok
    buttons, listing, numbered = (r.json for r in graph_api.requests)
    assert buttons["type"] == "interactive"
    assert buttons["interactive"]["type"] == "button"
    assert [b["reply"]["title"] for b in buttons["interactive"]["action"]["buttons"]] == [
        "Yes",
        "No",
        "Maybe",
    ]
    assert listing["interactive"]["type"] == "list"
    assert len(listing["interactive"]["action"]["sections"][0]["rows"]) == 5
    assert numbered["type"] == "text"
    assert numbered["text"]["body"].startswith("Which?\n1. Item 0\n2. Item 1")


async def test_free_form_outside_the_window_is_refused_without_any_request(
    sender: WhatsAppSender, graph_api: FakeGraphApi
) -> None:
    outcome = await sender.send(CLOSED, message(TextPart("Are you still there?")))
    assert not outcome.ok
    assert outcome.error_code == WINDOW_CLOSED_CODE
    assert outcome.error is not None and "24-hour" in outcome.error
    never = await sender.send(conversation(None), message(TextPart("hi")))
    assert never.error_code == WINDOW_CLOSED_CODE
    assert graph_api.requests == []


async def test_outside_the_window_the_template_is_sent_instead(
    sender: WhatsAppSender, graph_api: FakeGraphApi
) -> None:
    outcome = await sender.send(
        CLOSED,
        message(TextPart("free-form fallback"), TemplatePart("reengage", "en", ("Ada",))),
    )
    assert outcome.ok
    [request] = graph_api.requests
    assert request.json == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "+972987654321",
        "type": "template",
        "template": {
            "name": "reengage",
            "language": {"code": "en"},
            "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ada"}]}],
        },
    }


async def test_graph_error_becomes_a_failed_outcome(
    sender: WhatsAppSender, graph_api: FakeGraphApi
) -> None:
    graph_api.fail_with = FakeError(
        400, 131030, "(#131030) Recipient phone number not in allowed list"
    )
    outcome = await sender.send(OPEN, message(TextPart("Hello")))
    assert not outcome.ok
    assert outcome.error_code == "131030"
    assert outcome.error == "(#131030) Recipient phone number not in allowed list"


async def test_mark_read(sender: WhatsAppSender, graph_api: FakeGraphApi) -> None:
    assert await sender.mark_read(PHONE_NUMBER_ID, "wamid.in1") is True
    [request] = graph_api.requests
    assert request.json == {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": "wamid.in1",
    }
    graph_api.fail_with = FakeError(400, 100, "Invalid parameter")
    assert await sender.mark_read(PHONE_NUMBER_ID, "wamid.in2") is False


async def test_bsuid_only_customer_is_sent_as_recipient(
    sender: WhatsAppSender, graph_api: FakeGraphApi
) -> None:
    outcome = await sender.send(conversation(NOW, customer="US.777"), message(TextPart("hi")))
    assert outcome.ok
    assert graph_api.requests[0].json["recipient"] == "US.777"
    assert "to" not in graph_api.requests[0].json


async def test_unreachable_graph_api_is_a_failed_outcome() -> None:
    api = FakeGraphApi()
    api.stop()
    sender = WhatsAppSender(TOKEN, graph_base=api.graph_base, clock=lambda: NOW, timeout=2)
    try:
        outcome = await sender.send(OPEN, message(TextPart("hi")))
    finally:
        await sender.aclose()
    assert not outcome.ok and outcome.error and "unreachable" in outcome.error


async def test_a_stalled_graph_api_times_out(graph_api: FakeGraphApi) -> None:
    graph_api.delay = 1.0
    sender = WhatsAppSender(TOKEN, graph_base=graph_api.graph_base, clock=lambda: NOW, timeout=0.2)
    try:
        outcome = await sender.send(OPEN, message(TextPart("hi")))
    finally:
        await sender.aclose()
    assert not outcome.ok and outcome.error and "unreachable" in outcome.error


async def test_from_env() -> None:
    assert WhatsAppSender.from_env({}) is None
    sender = WhatsAppSender.from_env(
        {"THREADLINE_WHATSAPP_ACCESS_TOKEN": "t", "THREADLINE_WHATSAPP_GRAPH_BASE": "http://x/v1"}
    )
    assert sender is not None and sender.graph_base == "http://x/v1"
    await sender.aclose()
