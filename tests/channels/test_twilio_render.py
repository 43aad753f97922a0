"""Twilio outbound rendering: numbered choices, matching answers back, 1,600-char splitting."""

from __future__ import annotations

import json

import pytest

from channels.twilio import MAX_BODY, TwilioSend, match_choice, render, split_text
from server.model import (
    Choice,
    ChoicesPart,
    LocationPart,
    MediaPart,
    TemplatePart,
    TextPart,
)

CHOICES = (Choice("sales", "Sales"), Choice("support", "Support"), Choice("billing", "Billing"))


@pytest.mark.parametrize("channel", ["sms", "whatsapp"])
def test_choices_become_a_numbered_list(channel: str) -> None:
    sends = render([TextPart("How can we help?"), ChoicesPart(CHOICES)], channel)
    assert sends == [TwilioSend(body="How can we help?\n1. Sales\n2. Support\n3. Billing")]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("2", "support"),
        ("2.", "support"),
        (" 2 ", "support"),
        ("3)", "billing"),
        ("sales", "sales"),
        ("  BILLING ", "billing"),
        ("support", "support"),
        ("4", None),
        ("0", None),
        ("two", None),
        ("", None),
    ],
)
def test_answers_match_back_to_the_offered_choice(answer: str, expected: str | None) -> None:
    choice = match_choice(answer, CHOICES)
    assert (choice.id if choice else None) == expected


def test_long_text_is_split_at_word_boundaries() -> None:
    words = [f"word{i:04d}" for i in range(400)]  # 400 * 9 - 1 = 3,599 characters
    text = " ".join(words)
    sends = render([TextPart(text)], "sms")
    assert len(sends) == 3
    assert all(len(s.body) <= MAX_BODY for s in sends)
    assert " ".join(s.body for s in sends) == text  # nothing lost, no word cut
    assert all(not s.body.startswith(" ") and not s.body.endswith(" ") for s in sends)


def test_a_word_longer_than_the_limit_is_cut_hard() -> None:
    assert split_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]
    assert split_text("short", 10) == ["short"]
    assert split_text("   ", 10) == []


def test_media_go_as_media_urls_with_the_text() -> None:
    sends = render(
        [
            TextPart("Your receipt"),
            MediaPart(url="https://cdn.example/r.pdf", content_type="application/pdf"),
            MediaPart(url="https://cdn.example/p.png", caption="and a picture"),
        ],
        "sms",
    )
    assert sends == [
        TwilioSend(
            body="Your receipt\nand a picture",
            media_urls=("https://cdn.example/r.pdf", "https://cdn.example/p.png"),
        )
    ]


def test_more_than_ten_media_need_more_messages() -> None:
    parts = [MediaPart(url=f"https://cdn.example/{i}.png") for i in range(12)]
    sends = render(parts, "sms")
    assert [len(s.media_urls) for s in sends] == [10, 2]


def test_location_becomes_a_map_link_and_content_sid_a_template() -> None:
    sends = render(
        [
            LocationPart(37.7749, -122.4194, name="Office"),
            TemplatePart("HX0123456789abcdef0123456789abcdef", "en", ("Ada", "42")),
        ],
        "whatsapp",
    )
    assert sends[0].body == "Office\nhttps://maps.google.com/?q=37.7749,-122.4194"
    assert sends[1].content_sid == "HX0123456789abcdef0123456789abcdef"
    assert json.loads(sends[1].content_variables or "") == {"1": "Ada", "2": "42"}
