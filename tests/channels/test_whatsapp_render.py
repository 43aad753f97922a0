"""WhatsApp Cloud API rendering (buttons, list, numbered fallback, template) and the window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from channels.twilio import match_choice
from channels.whatsapp import render, window_open
from server.model import (
    Choice,
    ChoicesPart,
    LocationPart,
    MediaPart,
    TemplatePart,
    TextPart,
)


def choices(*labels: str) -> ChoicesPart:
    return ChoicesPart(tuple(Choice(f"c{i}", label) for i, label in enumerate(labels, start=1)))


def test_plain_text() -> None:
    assert render([TextPart("Hello"), TextPart("there")]) == [
        {"type": "text", "text": {"body": "Hello\nthere", "preview_url": False}}
    ]


def test_up_to_three_short_choices_become_reply_buttons() -> None:
    [body] = render([TextPart("Who do you want?"), choices("Sales", "Support", "Billing")])
    assert body == {
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": "Who do you want?"},
            "action": {
                "buttons": [
                    {"type": "reply", "reply": {"id": "c1", "title": "Sales"}},
                    {"type": "reply", "reply": {"id": "c2", "title": "Support"}},
                    {"type": "reply", "reply": {"id": "c3", "title": "Billing"}},
                ]
            },
        },
    }


def test_four_choices_or_long_titles_become_a_list() -> None:
    [four] = render([TextPart("Pick"), choices("A", "B", "C", "D")])
    assert four["interactive"]["type"] == "list"
    rows = four["interactive"]["action"]["sections"][0]["rows"]
    assert rows == [{"id": f"c{i}", "title": t} for i, t in enumerate("ABCD", start=1)]
    assert four["interactive"]["action"]["button"] == "Choose"
    [long_titles] = render([TextPart("Pick"), choices("A title of 21 chars..", "B")])
    assert long_titles["interactive"]["type"] == "list"


def test_more_than_ten_choices_or_very_long_titles_degrade_to_a_numbered_list() -> None:
    eleven = choices(*[f"Option {n}" for n in range(1, 12)])
    [body] = render([TextPart("Pick one"), eleven])
    assert body["type"] == "text"
    lines = body["text"]["body"].split("\n")
    assert lines[0] == "Pick one" and lines[1] == "1. Option 1" and lines[-1] == "11. Option 11"
    # and the customer's numbered answer maps back to the offered choice
    assert match_choice("11", eleven.choices) == Choice("c11", "Option 11")
    [too_long] = render([choices("This title has 25 chars!!", "B")])
    assert too_long["text"]["body"] == "1. This title has 25 chars!!\n2. B"


def test_media_location_and_template() -> None:
    bodies = render(
        [
            MediaPart(media_id="123", caption="look", media_kind="image"),
            MediaPart(url="https://cdn.example/r.pdf", filename="r.pdf", media_kind="file"),
            MediaPart(media_id="456", media_kind="voice", caption="ignored for audio"),
            LocationPart(1.5, 2.5, name="HQ"),
            TemplatePart("order_update", "en_US", ("Ada", "#42")),
        ]
    )
    assert bodies == [
        {"type": "image", "image": {"id": "123", "caption": "look"}},
        {
            "type": "document",
            "document": {"link": "https://cdn.example/r.pdf", "filename": "r.pdf"},
        },
        {"type": "audio", "audio": {"id": "456"}},
        {"type": "location", "location": {"latitude": 1.5, "longitude": 2.5, "name": "HQ"}},
        {
            "type": "template",
            "template": {
                "name": "order_update",
                "language": {"code": "en_US"},
                "components": [
                    {
                        "type": "body",
                        "parameters": [
                            {"type": "text", "text": "Ada"},
                            {"type": "text", "text": "#42"},
                        ],
                    }
                ],
            },
        },
    ]


def test_text_over_4096_characters_is_split() -> None:
    bodies = render([TextPart(" ".join(["word"] * 2000))])  # 9,999 characters
    assert len(bodies) == 3
    assert all(len(b["text"]["body"]) <= 4096 for b in bodies)


def test_window_is_open_for_24_hours_after_the_last_inbound_message() -> None:
    now = datetime(2024, 5, 2, 12, 0, tzinfo=UTC)
    assert window_open(now - timedelta(hours=23, minutes=59), now)
    assert not window_open(now - timedelta(hours=24), now)
    assert not window_open(now - timedelta(days=3), now)
    assert not window_open(None, now)
    # naive timestamps (e.g. from SQLite) count as UTC
    assert window_open(datetime(2024, 5, 2, 1, 0), now)
