"""The local models by name, and a cache of classifiers trained per set of intents.

A flow's intents are fixed per flow version, so the classifier is trained on the first message
and reused for every later one; the key is the intents' content, so two flows with the same
intents share one classifier and an edited flow gets a new one.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

from server.nlu.classifier import ClassifierFactory, IntentClassifier
from server.nlu.intents import Intent, intents_key
from server.nlu.light import LightClassifier
from server.nlu.minilm import MiniLMClassifier

DEFAULT_MODEL = "light"
MODELS: dict[str, ClassifierFactory] = {"light": LightClassifier, "minilm": MiniLMClassifier}
CACHE_SIZE = 64


class UnknownModel(ValueError):
    pass


def factory(model: str) -> ClassifierFactory:
    try:
        return MODELS[model]
    except KeyError:
        raise UnknownModel(f"unknown NLU model {model!r}; known: {', '.join(MODELS)}") from None


class TrainedClassifiers:
    """A least-recently-used cache of trained classifiers, each trained once even under races."""

    def __init__(self, size: int = CACHE_SIZE) -> None:
        self._size = size
        self._classifiers: OrderedDict[str, IntentClassifier] = OrderedDict()
        self._lock = threading.Lock()
        self._training: dict[str, threading.Lock] = {}
        self.trainings = 0  # how many classifiers were trained: tests and metrics read it

    def peek(self, key: str) -> IntentClassifier | None:
        """The classifier trained for ``intents_key(model, intents)``, if ready; never trains."""
        with self._lock:
            classifier = self._classifiers.get(key)
            if classifier is not None:
                self._classifiers.move_to_end(key)
            return classifier

    def get(self, model: str, intents: Sequence[Intent]) -> IntentClassifier:
        build = factory(model)
        key = intents_key(model, intents)
        with self._lock:
            if key in self._classifiers:
                self._classifiers.move_to_end(key)
                return self._classifiers[key]
            key_lock = self._training.setdefault(key, threading.Lock())
        # Train outside the cache lock so other flows' hits are not held up by this training.
        with key_lock:
            with self._lock:
                if key in self._classifiers:
                    return self._classifiers[key]
            classifier = build(intents)
            with self._lock:
                self.trainings += 1
                self._classifiers[key] = classifier
                self._training.pop(key, None)
                while len(self._classifiers) > self._size:
                    self._classifiers.popitem(last=False)
            return classifier


CLASSIFIERS = TrainedClassifiers()
