"""TwilioSender through the real ``twilio`` package against a fake Twilio API on 127.0.0.1."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from channels.base import SendCheckFailed
from channels.twilio import TwilioSender
from server.model import (
    Choice,
    ChoicesPart,
    Conversation,
    MediaPart,
    Message,
    Part,
    TextPart,
)
from tests.channels.fakes import FakeError, FakeTwilioApi

ACCOUNT_SID = "AC0123456789abcdef0123456789abcdef"
AUTH_TOKEN = "secret-token"
NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def conversation(channel: str, account: str, customer: str) -> Conversation:
    return Conversation(
        id="CH1",
        contact_id="CO1",
        channel=channel,
        channel_account=account,
        customer_address=customer,
        status="bot",
        agent_id=None,
        queue=None,
        attributes={},
        created_at=NOW,
        updated_at=NOW,
        last_inbound_at=NOW,
    )


def message(*parts: Part) -> Message:
    return Message("IM1", "CH1", "outbound", "bot", parts, "queued", NOW, NOW)


SMS = conversation("sms", "+14155550199", "+14155550100")
WHATSAPP = conversation("whatsapp", "whatsapp:+14155238886", "whatsapp:+14155550100")


@pytest.fixture
async def sender(twilio_api: FakeTwilioApi) -> AsyncIterator[TwilioSender]:
    sender = TwilioSender(
        ACCOUNT_SID,
        AUTH_TOKEN,
        api_base=twilio_api.base_url,
        public_url="https://threadline.example.com",
    )
    yield sender
    await sender.aclose()


async def test_sms_send_reaches_the_api_with_from_to_body_and_status_callback(
    sender: TwilioSender, twilio_api: FakeTwilioApi
) -> None:
    outcome = await sender.send(SMS, message(TextPart("Hello Ada")))
    assert outcome.ok and outcome.status == "queued"
    assert len(outcome.provider_message_ids) == 1
    assert outcome.provider_message_ids[0].startswith("SM")
    [request] = twilio_api.requests
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.form == {
        "From": ["+14155550199"],
        "To": ["+14155550100"],
        "Body": ["Hello Ada"],
        "StatusCallback": ["https://threadline.example.com/channels/twilio/status"],
    }
    expected = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {expected}"


async def test_media_and_numbered_choices_on_whatsapp(
    sender: TwilioSender, twilio_api: FakeTwilioApi
) -> None:
    outcome = await sender.send(
        WHATSAPP,
        message(
            TextPart("Pick one"),
            ChoicesPart((Choice("a", "Agent"), Choice("b", "Bot"))),
            MediaPart(url="https://cdn.example/menu.png", content_type="image/png"),
            MediaPart(url="https://cdn.example/menu2.png", content_type="image/png"),
        ),
    )
    assert outcome.ok
    [request] = twilio_api.requests
    assert request.field("From") == "whatsapp:+14155238886"
    assert request.field("To") == "whatsapp:+14155550100"
    assert request.field("Body") == "Pick one\n1. Agent\n2. Bot"
    assert request.form["MediaUrl"] == [
        "https://cdn.example/menu.png",
        "https://cdn.example/menu2.png",
    ]


async def test_long_text_goes_as_several_messages_in_order(
    sender: TwilioSender, twilio_api: FakeTwilioApi
) -> None:
    text = " ".join(["lorem"] * 600)  # 3,599 characters
    outcome = await sender.send(SMS, message(TextPart(text)))
    assert outcome.ok
    assert len(outcome.provider_message_ids) == len(twilio_api.requests) == 3
    assert " ".join(str(r.field("Body")) for r in twilio_api.requests) == text


async def test_api_error_becomes_a_failed_outcome_with_the_twilio_code(
    sender: TwilioSender, twilio_api: FakeTwilioApi
) -> None:
    twilio_api.fail_with = FakeError(
        400, 21211, "The 'To' number +1555 is not a valid phone number."
    )
    outcome = await sender.send(SMS, message(TextPart("Hello")))
    assert not outcome.ok
    assert outcome.error_code == "21211"
    assert outcome.error is not None and "not a valid phone number" in outcome.error
    assert outcome.provider_message_ids == ()
    assert len(twilio_api.requests) == 1


async def test_no_status_callback_without_public_url(twilio_api: FakeTwilioApi) -> None:
    sender = TwilioSender(ACCOUNT_SID, AUTH_TOKEN, api_base=twilio_api.base_url)
    try:
        assert (await sender.send(SMS, message(TextPart("hi")))).ok
    finally:
        await sender.aclose()
    assert "StatusCallback" not in twilio_api.requests[0].form


async def test_unreachable_api_is_a_failed_outcome() -> None:
    api = FakeTwilioApi()  # bound to a port but never started, then closed
    api.stop()
    sender = TwilioSender(ACCOUNT_SID, AUTH_TOKEN, api_base=api.base_url, timeout=2)
    try:
        outcome = await sender.send(SMS, message(TextPart("hi")))
    finally:
        await sender.aclose()
    assert not outcome.ok and outcome.error and "unreachable" in outcome.error


async def test_a_stalled_api_times_out(twilio_api: FakeTwilioApi) -> None:
    twilio_api.delay = 1.0
    sender = TwilioSender(ACCOUNT_SID, AUTH_TOKEN, api_base=twilio_api.base_url, timeout=0.2)
    try:
        outcome = await sender.send(SMS, message(TextPart("hi")))
    finally:
        await sender.aclose()
    assert not outcome.ok and outcome.error and "unreachable" in outcome.error


def test_from_env_reads_threadline_variables() -> None:
    assert TwilioSender.from_env({}) is None
    sender = TwilioSender.from_env(
        {
            "THREADLINE_TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "THREADLINE_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "THREADLINE_TWILIO_API_BASE": "http://127.0.0.1:9",
            "THREADLINE_PUBLIC_URL": "https://pub.example",
        }
    )
    assert sender is not None
    assert sender.api_base == "http://127.0.0.1:9"
    assert sender.status_callback == "https://pub.example/channels/twilio/status"


# --- a send whose answer was lost (the process died): asked before sent again ----------------


def posts(api: FakeTwilioApi) -> list[str]:
    return [str(r.field("Body")) for r in api.requests if r.method == "POST"]


async def test_a_message_twilio_already_has_is_not_sent_again(
    sender: TwilioSender, twilio_api: FakeTwilioApi
) -> None:
    intended = time.time()
    first = await sender.send(
        SMS,
        message(
            TextPart("Your order shipped"),
        ),
    )
    outcome = await sender.send_unless_sent(SMS, message(TextPart("Your order shipped")), intended)
    assert outcome.ok and outcome.provider_message_ids == first.provider_message_ids
    assert posts(twilio_api) == ["Your order shipped"]
    [lookup] = twilio_api.lookups()
    assert lookup.query["To"] == ["+14155550100"] and lookup.query["From"] == ["+14155550199"]


async def test_a_message_twilio_does_not_have_is_sent(
    sender: TwilioSender, twilio_api: FakeTwilioApi
) -> None:
    await sender.send(SMS, message(TextPart("Something else")))
    outcome = await sender.send_unless_sent(
        SMS, message(TextPart("Your order shipped")), time.time()
    )
    assert outcome.ok
    assert posts(twilio_api) == ["Something else", "Your order shipped"]


async def test_a_recorded_identical_reply_is_not_taken_for_the_lost_one(
    sender: TwilioSender, twilio_api: FakeTwilioApi
) -> None:
    """The bot said the same thing twice in a row; the first send's SID is recorded."""
    intended = time.time()
    earlier = await sender.send(SMS, message(TextPart("Sorry, I didn't get that")))
    outcome = await sender.send_unless_sent(
        SMS,
        message(TextPart("Sorry, I didn't get that")),
        intended,
        frozenset(earlier.provider_message_ids),
    )
    assert outcome.ok and outcome.provider_message_ids != earlier.provider_message_ids
    assert posts(twilio_api) == ["Sorry, I didn't get that"] * 2


async def test_messages_older_than_the_intent_do_not_count(
    sender: TwilioSender, twilio_api: FakeTwilioApi
) -> None:
    await sender.send(SMS, message(TextPart("Hello")))
    await sender.send_unless_sent(SMS, message(TextPart("Hello")), time.time() + 3600)
    assert posts(twilio_api) == ["Hello", "Hello"]


async def test_only_the_missing_parts_of_a_split_message_are_sent(
    sender: TwilioSender, twilio_api: FakeTwilioApi
) -> None:
    text = " ".join(f"word{i}" for i in range(500))  # three SMS of at most 1,600 characters
    intended = time.time()
    full = await sender.send(SMS, message(TextPart(text)))
    assert len(full.provider_message_ids) == 3
    # As if the process died after Twilio took the first part: forget the other two.
    twilio_api.created[1:] = []
    twilio_api.requests.clear()
    outcome = await sender.send_unless_sent(SMS, message(TextPart(text)), intended)
    assert outcome.ok and outcome.provider_message_ids[0] == full.provider_message_ids[0]
    assert len(outcome.provider_message_ids) == 3
    assert len(posts(twilio_api)) == 2


async def test_smart_encoded_bodies_match(sender: TwilioSender, twilio_api: FakeTwilioApi) -> None:
    """Twilio's Smart Encoding may send curly quotes and dashes as ASCII."""
    intended = time.time()
    await sender.send(SMS, message(TextPart("It's done - thanks...")))
    outcome = await sender.send_unless_sent(
        SMS, message(TextPart("It\u2019s done \u2014 thanks\u2026")), intended
    )
    assert outcome.ok and len(posts(twilio_api)) == 1


async def test_whatsapp_through_twilio_is_looked_up_with_its_prefix(
    sender: TwilioSender, twilio_api: FakeTwilioApi
) -> None:
    intended = time.time()
    await sender.send(WHATSAPP, message(TextPart("Hi there")))
    await sender.send_unless_sent(WHATSAPP, message(TextPart("Hi there")), intended)
    assert posts(twilio_api) == ["Hi there"]
    [lookup] = twilio_api.lookups()
    assert lookup.query["To"] == ["whatsapp:+14155550100"]


async def test_an_unreachable_messages_list_sends_nothing(
    sender: TwilioSender, twilio_api: FakeTwilioApi
) -> None:
    twilio_api.fail_with = FakeError(503, 20503, "Service unavailable")
    with pytest.raises(SendCheckFailed):
        await sender.send_unless_sent(SMS, message(TextPart("Hello")), time.time())
    assert posts(twilio_api) == []
