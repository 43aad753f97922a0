"""The classifier protocol every local model implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from server.nlu.intents import Intent, Prediction


class IntentClassifier(Protocol):
    def predict(self, texts: Sequence[str]) -> list[Prediction]: ...


class ClassifierFactory(Protocol):
    def __call__(self, intents: Sequence[Intent]) -> IntentClassifier: ...
