"""WhatsApp Cloud API webhooks: every fixture payload (from pywa's test data) parsed as is."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from channels.whatsapp import parse_webhook
from server.model import (
    ChoiceReplyPart,
    DataPart,
    Identity,
    LocationPart,
    MediaPart,
    TextPart,
)

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "whatsapp-cloud"
MESSAGES: dict[str, Any] = json.loads((FIXTURES / "message.json").read_text())
STATUSES: dict[str, Any] = json.loads((FIXTURES / "message_status.json").read_text())

# Scenario -> (part kinds, data_kind or media_kind of the first part where it matters).
EXPECTED_PARTS: dict[str, tuple[tuple[str, ...], str | None]] = {
    "text": (("text",), None),
    "image": (("media",), "image"),
    "media_with_url": (("media",), "image"),
    "video": (("media",), "video"),
    "document": (("media",), "document"),
    "audio": (("media",), "audio"),
    "voice": (("media",), "voice"),
    "static_sticker": (("media",), "sticker"),
    "animated_sticker": (("media",), "sticker"),
    "reaction": (("data",), "reaction"),
    "unreaction_empty": (("data",), "reaction"),
    "unreaction_no_emoji": (("data",), "reaction"),
    "current_location": (("location",), None),
    "chosen_location": (("location",), None),
    "contacts": (("data",), "contacts"),
    "order": (("data",), "order"),
    "unsupported": (("data",), "unsupported"),
    "unsupported_with_type": (("data",), "unsupported"),
    "reply": (("text",), None),
    "forwarded": (("text",), None),
    "forwarded_many_times": (("text",), None),
    "interactive_message_with_err": (("data",), "unsupported"),
    "referral": (("text", "data"), None),
}


def test_every_fixture_scenario_has_an_expectation() -> None:
    assert set(MESSAGES) == set(EXPECTED_PARTS)


@pytest.mark.parametrize("scenario", sorted(MESSAGES))
def test_every_message_fixture_maps_to_the_model(scenario: str) -> None:
    batch = parse_webhook(MESSAGES[scenario])
    assert batch.statuses == []
    [envelope] = batch.messages
    message = MESSAGES[scenario]["entry"][0]["changes"][0]["value"]["messages"][0]
    kinds, sub_kind = EXPECTED_PARTS[scenario]
    assert tuple(p.kind for p in envelope.parts) == kinds
    first = envelope.parts[0]
    if isinstance(first, MediaPart):
        assert first.media_kind == sub_kind
        assert first.media_id == message[message["type"]]["id"]
        assert first.content_type == message[message["type"]]["mime_type"]
    if isinstance(first, DataPart):
        assert first.data_kind == sub_kind
    assert envelope.channel == "whatsapp"
    assert envelope.channel_account == "1122334455667"
    assert envelope.customer_address == "+972987654321"
    assert envelope.identities == (
        Identity("whatsapp", "+972987654321"),
        Identity("whatsapp_bsuid", "US.13491208655302741918"),
    )
    assert envelope.idempotency_key == envelope.provider_message_id == message["id"]
    assert envelope.profile_name == "Test Name"
    assert envelope.fields["MessageSid"] == message["id"]
    assert envelope.fields["From"] == "whatsapp:+972987654321"
    assert envelope.fields["To"] == "whatsapp:+972123456789"
    assert envelope.fields["WaId"] == "972987654321"
    assert envelope.fields["ProfileName"] == "Test Name"
    assert envelope.fields["MessageType"] == message["type"]
    assert envelope.received_at == datetime.fromtimestamp(int(message["timestamp"]), tz=UTC)
    assert envelope.raw == message


def test_text_body_reply_context_and_forwarded_flags() -> None:
    [text] = parse_webhook(MESSAGES["text"]).messages
    assert text.parts == (TextPart("Body Text"),)
    assert text.fields["Body"] == "Body Text"
    [reply] = parse_webhook(MESSAGES["reply"]).messages
    assert reply.fields["OriginalRepliedMessageSid"] == "wamid.xyzxyz=="
    [forwarded] = parse_webhook(MESSAGES["forwarded"]).messages
    assert forwarded.fields["Forwarded"] == "true"
    [many] = parse_webhook(MESSAGES["forwarded_many_times"]).messages
    assert many.fields["FrequentlyForwarded"] == "true"


def test_media_details() -> None:
    [with_url] = parse_webhook(MESSAGES["media_with_url"]).messages
    assert isinstance(with_url.parts[0], MediaPart)
    assert with_url.parts[0].url is not None
    assert with_url.parts[0].url.startswith("https://lookaside.fbsbx.com/")
    [document] = parse_webhook(MESSAGES["document"]).messages
    assert document.parts == (
        MediaPart(
            content_type="application/pdf",
            media_id="1234567890987654321",
            caption="caption",
            filename="filename.pdf",
            media_kind="document",
        ),
    )
    assert document.fields["Body"] == "caption"
    assert document.fields["NumMedia"] == "1"


def test_location_reaction_contacts_referral_and_unsupported() -> None:
    [place] = parse_webhook(MESSAGES["chosen_location"]).messages
    assert place.parts == (
        LocationPart(
            37.4611978,
            -122.2164385,
            name="Facebook HQ",
            address="1 Hacker Way, Menlo Park, CA 94025",
        ),
    )
    assert place.fields["Latitude"] == "37.4611978"
    [reaction] = parse_webhook(MESSAGES["reaction"]).messages
    assert reaction.parts == (
        DataPart(
            "reaction", {"message_id": "wamid.yzxyzx=", "emoji": "\U0001f62e", "removed": False}
        ),
    )
    [removed] = parse_webhook(MESSAGES["unreaction_no_emoji"]).messages
    assert isinstance(removed.parts[0], DataPart)
    assert removed.parts[0].data["removed"] is True
    [cards] = parse_webhook(MESSAGES["contacts"]).messages
    assert isinstance(cards.parts[0], DataPart)
    assert len(cards.parts[0].data["contacts"]) == 3
    [referral] = parse_webhook(MESSAGES["referral"]).messages
    assert referral.parts[1] == DataPart(
        "referral",
        MESSAGES["referral"]["entry"][0]["changes"][0]["value"]["messages"][0]["referral"],
    )
    assert referral.fields["Referral"]["ctwa_clid"] == "CTWA_CLID"
    [pool] = parse_webhook(MESSAGES["unsupported_with_type"]).messages
    assert isinstance(pool.parts[0], DataPart)
    assert pool.parts[0].data["type"] == "pool"
    assert pool.parts[0].data["errors"][0]["code"] == 131051
    [broken] = parse_webhook(MESSAGES["interactive_message_with_err"]).messages
    assert isinstance(broken.parts[0], DataPart)
    assert broken.parts[0].data["errors"][0]["code"] == 131000


def with_message(
    message: dict[str, Any], contacts: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The ``text`` fixture's envelope around another message (no fixture has these types)."""
    body = copy.deepcopy(MESSAGES["text"])
    value = body["entry"][0]["changes"][0]["value"]
    value["messages"] = [message]
    if contacts is not None:
        value["contacts"] = contacts
    return body


BASE = {"from": "972987654321", "id": "wamid.reply1", "timestamp": "1697043223"}


@pytest.mark.parametrize(
    ("message", "choice_id", "label"),
    [
        (
            {
                **BASE,
                "type": "interactive",
                "interactive": {
                    "type": "button_reply",
                    "button_reply": {"id": "agent", "title": "Agent"},
                },
            },
            "agent",
            "Agent",
        ),
        (
            {
                **BASE,
                "type": "interactive",
                "interactive": {
                    "type": "list_reply",
                    "list_reply": {"id": "row-2", "title": "Billing", "description": "Invoices"},
                },
            },
            "row-2",
            "Billing",
        ),
        (
            {
                **BASE,
                "type": "button",
                "button": {"payload": "STOP_PROMOS", "text": "Stop promotions"},
            },
            "STOP_PROMOS",
            "Stop promotions",
        ),
    ],
)
def test_button_list_and_template_replies_become_choice_replies(
    message: dict[str, Any], choice_id: str, label: str
) -> None:
    [envelope] = parse_webhook(with_message(message)).messages
    assert envelope.parts == (ChoiceReplyPart(choice_id=choice_id, label=label),)
    assert envelope.fields["Body"] == label
    assert envelope.fields["ButtonPayload"] == choice_id


def test_username_user_without_phone_number_is_addressed_by_bsuid() -> None:
    message = {
        "from_user_id": "US.777",
        "id": "wamid.u1",
        "timestamp": "1",
        "type": "text",
        "text": {"body": "hi"},
    }
    contacts = [{"profile": {"name": "Anon", "username": "@anon"}, "user_id": "US.777"}]
    [envelope] = parse_webhook(with_message(message, contacts)).messages
    assert envelope.identities == (Identity("whatsapp_bsuid", "US.777"),)
    assert envelope.customer_address == "US.777"
    assert envelope.profile_name == "Anon"


def test_one_post_with_several_entries_changes_messages_and_statuses() -> None:
    text_entry = MESSAGES["text"]["entry"][0]
    image_change = MESSAGES["image"]["entry"][0]["changes"][0]
    status_entry = STATUSES["delivered"]["entry"][0]
    body = {
        "object": "whatsapp_business_account",
        "entry": [
            {"id": text_entry["id"], "changes": [text_entry["changes"][0], image_change]},
            status_entry,
            {"id": "1", "changes": [{"field": "account_update", "value": {"event": "X"}}]},
        ],
    }
    batch = parse_webhook(body)
    assert [m.parts[0].kind for m in batch.messages] == ["text", "media"]
    assert [s.status for s in batch.statuses] == ["delivered"]


EXPECTED_STATUS = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "played": "read",
    "failed": "failed",
    "with_tracker": "sent",
    "group": "read",
}


@pytest.mark.parametrize("scenario", sorted(STATUSES))
def test_every_status_fixture_maps_to_a_status_update(scenario: str) -> None:
    batch = parse_webhook(STATUSES[scenario])
    assert batch.messages == []
    [update] = batch.statuses
    raw = STATUSES[scenario]["entry"][0]["changes"][0]["value"]["statuses"][0]
    assert update.provider_message_id == raw["id"]
    assert update.status == EXPECTED_STATUS[scenario]
    assert update.raw == raw
    if scenario == "failed":
        assert update.error_code == "130472"
        assert update.error == "User's number is part of an experiment"
    else:
        assert update.error_code is None and update.error is None
