"""Intents as values: what a flow declares, what a classifier predicts, and a content key.

A flow's intents arrive in an ``nlu.classify`` payload as plain JSON. They become frozen,
hashable values here so a trained classifier can be cached by exactly what it was trained on.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

RANKING_SIZE = 3


class IntentError(ValueError):
    """Intents that cannot train a classifier (too few intents, an intent without examples)."""


@dataclass(frozen=True, slots=True)
class Intent:
    name: str
    examples: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Prediction:
    """The best intent, its confidence in [0, 1] and the top intents, best first."""

    intent: str
    confidence: float
    ranking: tuple[tuple[str, float], ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "intent": self.intent,
            "confidence": self.confidence,
            "ranking": [{"name": name, "confidence": score} for name, score in self.ranking],
        }


def intents_from(raw: Iterable[Mapping[str, Any]]) -> tuple[Intent, ...]:
    """Parse ``[{"name": ..., "examples": [...]}]``, dropping blank examples."""
    intents = []
    for item in raw:
        name = str(item.get("name") or "").strip()
        examples = tuple(
            text for text in (str(e).strip() for e in item.get("examples") or []) if text
        )
        if not name:
            raise IntentError("an intent has no name")
        if not examples:
            raise IntentError(f"intent {name!r} has no example utterances")
        intents.append(Intent(name, examples))
    if len({intent.name for intent in intents}) < 2:
        # A classifier with one label always answers that label: it needs something to tell apart.
        raise IntentError("at least two distinct intents are needed to classify")
    return tuple(intents)


def intents_key(model: str, intents: Sequence[Intent]) -> str:
    """A digest of the model name and the intents' content; equal content, equal key."""
    content = [model, [[i.name, list(i.examples)] for i in intents]]
    return hashlib.sha256(json.dumps(content, ensure_ascii=False).encode()).hexdigest()


def training_pairs(intents: Sequence[Intent]) -> tuple[list[str], list[str]]:
    texts = [text for intent in intents for text in intent.examples]
    labels = [intent.name for intent in intents for _ in intent.examples]
    return texts, labels


def rank(labels: Sequence[str], scores: Sequence[float]) -> Prediction:
    """Order labels by score (ties broken by label order) and keep the top ``RANKING_SIZE``."""
    order = sorted(range(len(labels)), key=lambda i: -scores[i])[:RANKING_SIZE]
    ranking = tuple((labels[i], round(float(scores[i]), 4)) for i in order)
    return Prediction(ranking[0][0], ranking[0][1], ranking)
