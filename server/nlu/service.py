"""``classify(payload)``: what the effect runner calls for ``Custom(kind="nlu.classify")``.

The payload is the one the ``bot-triage`` widget builds: ``text``, ``intents`` (name and
examples), ``threshold`` (applied by the widget, carried for logs), optional ``model`` and
optional ``nlu_url``. Training and prediction are CPU work, so they run in a worker thread and
the event loop keeps serving other conversations. Every failure raises ``NLUError`` (or a
subclass) with a message fit for ``Result.error``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from server.nlu.background import BackgroundTrainer, TrainingFailed
from server.nlu.intents import IntentError, Prediction, intents_from
from server.nlu.minilm import ModelUnavailable
from server.nlu.models import CLASSIFIERS, DEFAULT_MODEL, TrainedClassifiers, UnknownModel
from server.nlu.remote import ExternalNLUError, parse

KIND = "nlu.classify"


class NLUError(RuntimeError):
    pass


def classify_locally(
    payload: Mapping[str, Any], classifiers: TrainedClassifiers = CLASSIFIERS
) -> Prediction:
    try:
        intents = intents_from(payload.get("intents") or [])
        model = str(payload.get("model") or DEFAULT_MODEL)
        classifier = classifiers.get(model, intents)
    except (IntentError, UnknownModel, ModelUnavailable) as error:
        raise NLUError(str(error)) from error
    return classifier.predict([str(payload.get("text") or "")])[0]


def classify_with(trainer: BackgroundTrainer, payload: Mapping[str, Any]) -> dict[str, Any]:
    try:
        return trainer.classify(payload)
    except (IntentError, UnknownModel, ModelUnavailable, TrainingFailed) as error:
        raise NLUError(str(error)) from error


async def classify(
    payload: Mapping[str, Any],
    classifiers: TrainedClassifiers = CLASSIFIERS,
    trainer: BackgroundTrainer | None = None,
) -> dict[str, Any]:
    """Return ``{"intent", "confidence", "ranking": [{"name", "confidence"}] * <=3}``.

    With a ``trainer`` (the server's), a local model never trains on the message's time: the
    answer comes from the best classifier ready (``server.nlu.background``). Without one, the
    first message of an intent set waits for its training (the CLI and direct callers).
    """
    url = payload.get("nlu_url")
    if url:
        try:
            prediction = await parse(str(url), str(payload.get("text") or ""))
        except ExternalNLUError as error:
            raise NLUError(str(error)) from error
    elif trainer is not None:
        return await asyncio.to_thread(classify_with, trainer, payload)
    else:
        prediction = await asyncio.to_thread(classify_locally, payload, classifiers)
    return prediction.as_dict()
