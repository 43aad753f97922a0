"""Flows' classifiers train in the background; messages are answered meanwhile.

Training here is real (the light model). To see the state "still training" without depending on
how fast this machine trains, the cache's training step waits for a gate the test opens: every
assertion is about which classifier answered, never about time.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import pytest

import widgets
from server.engine import CompiledFlow, compile_flow
from server.nlu import background, models
from server.nlu.background import BackgroundTrainer
from server.nlu.classifier import IntentClassifier
from server.nlu.intents import Intent
from server.nlu.keywords import KeywordClassifier
from server.nlu.models import TrainedClassifiers
from server.nlu.service import NLUError, classify
from tests.nlu.test_bot_triage import triage_flow
from tests.nlu.test_classifier import INTENTS


class GatedClassifiers(TrainedClassifiers):
    """Trains for real, once the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def get(self, model: str, intents: Sequence[Intent]) -> IntentClassifier:
        assert self.gate.wait(60), "the test never opened the gate"
        return super().get(model, intents)


@pytest.fixture
def classifiers() -> Iterator[GatedClassifiers]:
    gated = GatedClassifiers()
    yield gated
    gated.gate.set()  # let a worker still waiting finish


def flow_with(intents: list[dict[str, Any]], version: int = 1) -> CompiledFlow:
    definition = copy.deepcopy(triage_flow(intents=intents).definition)
    return compile_flow(definition, widgets.REGISTRY, sid="FW1", name="triage", version=version)


def payload(text: str, intents: list[dict[str, Any]]) -> dict[str, Any]:
    return {"text": text, "intents": intents, "threshold": 0.3}


def test_a_loaded_flow_trains_in_the_background_and_keywords_answer_meanwhile(
    classifiers: GatedClassifiers,
) -> None:
    trainer = BackgroundTrainer(classifiers)
    [key] = trainer.train_flow(flow_with(INTENTS))
    training = trainer.pending(key)
    assert training is not None and not training.done()

    answer = trainer.classify(payload("where is my parcel", INTENTS))
    assert answer["classifier"] == "keyword"
    assert answer["intent"] == "delivery"
    assert trainer.pending(key) is training and not training.done()  # answered while training

    classifiers.gate.set()
    training.result(timeout=60)
    assert trainer.pending(key) is None
    answer = trainer.classify(payload("I've been charged two times", INTENTS))
    assert answer["classifier"] == "trained"
    assert answer["intent"] == "billing"
    assert classifiers.trainings == 1
    trainer.close()


def test_an_edited_flow_answers_with_the_previous_model_until_its_own_is_ready(
    classifiers: GatedClassifiers,
) -> None:
    trainer = BackgroundTrainer(classifiers)
    classifiers.gate.set()
    [first] = trainer.train_flow(flow_with(INTENTS))
    pending = trainer.pending(first)
    if pending is not None:
        pending.result(timeout=60)
    classifiers.gate.clear()

    edited = [*INTENTS, {"name": "greeting", "examples": ["hello there", "hi, good morning"]}]
    [second] = trainer.train_flow(flow_with(edited, version=2))
    assert second != first
    training = trainer.pending(second)
    assert training is not None
    answer = trainer.classify(payload("has my order shipped", edited))
    assert (answer["classifier"], answer["intent"]) == ("previous", "delivery")

    classifiers.gate.set()
    training.result(timeout=60)
    assert trainer.classify(payload("good morning", edited))["classifier"] == "trained"
    trainer.close()


def test_an_intent_set_first_seen_in_a_message_is_trained_in_the_background(
    classifiers: GatedClassifiers,
) -> None:
    trainer = BackgroundTrainer(classifiers)
    answer = trainer.classify(payload("reset my password please", INTENTS))
    assert (answer["classifier"], answer["intent"]) == ("keyword", "password")
    key = background.intents_key("light", background.intents_from(INTENTS))
    training = trainer.pending(key)
    assert training is not None
    classifiers.gate.set()
    training.result(timeout=60)
    assert trainer.classify(payload("locked out", INTENTS))["classifier"] == "trained"
    trainer.close()


async def test_a_model_that_cannot_train_fails_the_widget_once_known(
    classifiers: GatedClassifiers, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(intents: Sequence[Intent]) -> IntentClassifier:
        raise RuntimeError("the minilm model needs torch")

    monkeypatch.setitem(models.MODELS, "light", broken)
    trainer = BackgroundTrainer(classifiers)
    classifiers.gate.set()
    first = await classify(payload("where is my parcel", INTENTS), trainer=trainer)
    assert first["classifier"] == "keyword"
    key = background.intents_key("light", background.intents_from(INTENTS))
    training = trainer.pending(key)
    if training is not None:
        training.result(timeout=60)
    with pytest.raises(NLUError, match="needs torch"):
        await classify(payload("where is my parcel", INTENTS), trainer=trainer)
    trainer.close()


def test_templated_and_external_intents_are_not_trained_at_load() -> None:
    templated = flow_with([{"name": "a", "examples": ["{{flow.variables.x}}"]}, *INTENTS])
    assert background.triage_states(templated) == []
    external = copy.deepcopy(flow_with(INTENTS).definition)
    external["states"][1]["properties"]["nlu_url"] = "http://127.0.0.1:9/model/parse"
    flow = compile_flow(external, widgets.REGISTRY, sid="FW1", name="triage")
    assert background.triage_states(flow) == []


@pytest.mark.parametrize(
    ("text", "intent"),
    [("my parcel is late", "delivery"), ("extra charge on my bill", "billing")],
)
def test_the_keyword_classifier_scores_shared_words(text: str, intent: str) -> None:
    classifier = KeywordClassifier(background.intents_from(INTENTS))
    [prediction] = classifier.predict([text])
    assert prediction.intent == intent
    assert prediction.confidence > 0.3
    [unknown] = classifier.predict(["qwerty zxcv"])
    assert unknown.confidence == 0.0
