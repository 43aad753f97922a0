"""The light classifier on a tiny hand-made intent set, the trained-classifier cache, errors."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from server.nlu import NLUError, classify
from server.nlu.intents import intents_from
from server.nlu.models import TrainedClassifiers

INTENTS: list[dict[str, Any]] = [
    {
        "name": "billing",
        "examples": [
            "my bill is wrong",
            "I was charged twice this month",
            "why is my invoice so high",
            "there is an extra charge on my statement",
        ],
    },
    {
        "name": "delivery",
        "examples": [
            "where is my parcel",
            "my order has not arrived yet",
            "when will my package be delivered",
            "track my shipment",
        ],
    },
    {
        "name": "password",
        "examples": [
            "I forgot my password",
            "reset my password please",
            "I cannot log in to my account",
            "locked out of my account",
        ],
    },
]


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("I've been charged two times", "billing"),
        ("the invoice amount is wrong", "billing"),
        ("where's my package?", "delivery"),
        ("has my order shipped", "delivery"),
        ("forgot my pasword", "password"),  # a typo: character n-grams still match
        ("can't login", "password"),
    ],
)
async def test_classifies_unseen_utterances(text: str, intent: str) -> None:
    answer = await classify({"text": text, "intents": INTENTS}, TrainedClassifiers())
    assert answer["intent"] == intent
    assert answer["ranking"][0] == {"name": intent, "confidence": answer["confidence"]}
    assert len(answer["ranking"]) == 3
    confidences = [item["confidence"] for item in answer["ranking"]]
    assert confidences == sorted(confidences, reverse=True)
    assert 1 / 3 < answer["confidence"] <= 1


async def test_a_flow_trains_once_however_many_messages() -> None:
    classifiers = TrainedClassifiers()
    texts = ["bill", "parcel", "password", "refund", "hello"] * 4
    answers = await asyncio.gather(
        *(classify({"text": text, "intents": INTENTS}, classifiers) for text in texts)
    )
    assert len(answers) == len(texts)
    assert classifiers.trainings == 1
    edited = [*INTENTS[:2], {"name": "password", "examples": ["new password"]}]
    await classify({"text": "bill", "intents": edited}, classifiers)
    assert classifiers.trainings == 2


def test_the_cache_keeps_the_most_recently_used() -> None:
    classifiers = TrainedClassifiers(size=1)
    first, second = intents_from(INTENTS), intents_from(INTENTS[:2])
    classifiers.get("light", first)
    classifiers.get("light", second)
    classifiers.get("light", second)
    assert classifiers.trainings == 2
    classifiers.get("light", first)
    assert classifiers.trainings == 3


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"text": "x", "intents": INTENTS[:1]}, "at least two distinct intents"),
        ({"text": "x", "intents": [*INTENTS, {"name": "e", "examples": [" "]}]}, "no example"),
        ({"text": "x", "intents": INTENTS, "model": "gpt"}, "unknown NLU model 'gpt'"),
    ],
)
async def test_unusable_payloads_raise_a_clear_error(payload: dict[str, Any], message: str) -> None:
    with pytest.raises(NLUError, match=message):
        await classify(payload, TrainedClassifiers())
