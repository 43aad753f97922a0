"""Training flows' classifiers off the message path.

Training the light model on a large intent set takes a minute and more (all of BANKING77: 83 s on
2 cores). Done on a conversation's first message, that message would wait as long. So a flow's
``bot-triage`` states are trained when the flow is loaded or published, on one background thread
(the other core keeps serving), and a message that arrives before its classifier is ready is
answered at once by the best classifier that is:

1. the classifier trained for exactly these intents (the normal case);
2. else the one the same state of the flow's previous version used (an edited flow keeps
   answering as before until its new model is ready);
3. else the keyword classifier (``server.nlu.keywords``), built in milliseconds.

Intent sets first seen in a message (templated intents, a classifier evicted from the cache) are
trained in the background the same way. The answer names which classifier gave it
(``classifier``: ``trained``, ``previous`` or ``keyword``).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from typing import Any

from server.engine import CompiledFlow
from server.nlu.classifier import IntentClassifier
from server.nlu.intents import Intent, IntentError, intents_from, intents_key
from server.nlu.keywords import KeywordClassifier
from server.nlu.models import CLASSIFIERS, DEFAULT_MODEL, TrainedClassifiers, factory

log = logging.getLogger(__name__)

TRIAGE = "bot-triage"
KEYWORD_CACHE_SIZE = 64
Slot = tuple[str, str]  # (flow name, state name)
Job = tuple[str, str, tuple[Intent, ...], "Future[None]"]  # key, model, intents, its end


def triage_states(flow: CompiledFlow) -> list[tuple[str, str, tuple[Intent, ...]]]:
    """(state, model, intents) of the flow's bot-triage states whose intents are known before a
    message arrives: not templated, not answered by an external NLU."""
    found = []
    for state in flow.definition.get("states") or []:
        props = state.get("properties") or {}
        if state.get("type") != TRIAGE or props.get("nlu_url"):
            continue
        model = str(props.get("model") or DEFAULT_MODEL)
        raw = props.get("intents") or []
        if "{{" in repr(raw) or "{%" in repr(raw) or "{" in model:
            continue  # rendered per message: trained when the first one arrives
        try:
            found.append((str(state.get("name")), model, intents_from(raw)))
        except IntentError:
            continue  # validation reported it; the message will get the same error
    return found


class BackgroundTrainer:
    def __init__(self, classifiers: TrainedClassifiers = CLASSIFIERS) -> None:
        self.classifiers = classifiers
        # One daemon thread trains, one set at a time: the other core keeps serving, and a
        # server stopping mid-training exits at once instead of waiting for a minute of work.
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()
        self._pending: dict[str, Future[None]] = {}
        self._failed: dict[str, str] = {}  # key -> why it could not be trained
        self._slots: dict[Slot, str] = {}  # the key each flow state uses now
        self._stand_ins: dict[str, str] = {}  # key in training -> key its state used before
        self._keywords: OrderedDict[str, KeywordClassifier] = OrderedDict()

    def train_flow(self, flow: CompiledFlow) -> list[str]:
        """Start training every bot-triage state of a loaded or published flow; their keys."""
        return [
            self.schedule(model, intents, slot=(flow.name, state))
            for state, model, intents in triage_states(flow)
        ]

    def schedule(self, model: str, intents: Sequence[Intent], slot: Slot | None = None) -> str:
        """Train in the background unless trained or training already; return the key."""
        factory(model)  # an unknown model name fails here, not on the training thread
        key = intents_key(model, intents)
        with self._lock:
            if slot is not None:
                before = self._slots.get(slot)
                if before is not None and before != key:
                    self._stand_ins[key] = before
                self._slots[slot] = key
            if key in self._pending or key in self._failed:
                return key
            if self.classifiers.peek(key) is not None:
                return key
            future: Future[None] = Future()
            self._pending[key] = future
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="nlu-training", daemon=True)
                self._worker.start()
        self._jobs.put((key, model, tuple(intents), future))
        return key

    def pending(self, key: str) -> Future[None] | None:
        """The training of ``key`` while it runs (tests wait on it; None once done)."""
        with self._lock:
            return self._pending.get(key)

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            key, model, intents, future = job
            try:
                self.classifiers.get(model, intents)
            except Exception as error:  # whatever it was, the next message reports it
                log.warning("training the %s model failed: %s", model, error)
                with self._lock:
                    self._failed[key] = str(error)
            finally:
                with self._lock:
                    self._pending.pop(key, None)
                    self._stand_ins.pop(key, None)
                future.set_result(None)

    def classify(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Classify ``payload["text"]`` now with the best classifier ready (see the module)."""
        intents = intents_from(payload.get("intents") or [])
        model = str(payload.get("model") or DEFAULT_MODEL)
        key = self.schedule(model, intents)
        classifier, source = self._best(key, intents)
        prediction = classifier.predict([str(payload.get("text") or "")])[0]
        return {**prediction.as_dict(), "classifier": source}

    def _best(self, key: str, intents: Sequence[Intent]) -> tuple[IntentClassifier, str]:
        trained = self.classifiers.peek(key)
        if trained is not None:
            return trained, "trained"
        with self._lock:
            failure = self._failed.get(key)
            before = self._stand_ins.get(key)
        if failure is not None:
            raise TrainingFailed(failure)
        previous = self.classifiers.peek(before) if before is not None else None
        if previous is not None:
            return previous, "previous"
        return self._keyword(key, intents), "keyword"

    def _keyword(self, key: str, intents: Sequence[Intent]) -> KeywordClassifier:
        with self._lock:
            classifier = self._keywords.get(key)
            if classifier is None:
                classifier = self._keywords[key] = KeywordClassifier(intents)
                while len(self._keywords) > KEYWORD_CACHE_SIZE:
                    self._keywords.popitem(last=False)
            return classifier

    def close(self) -> None:
        """End the worker after the jobs queued so far (a daemon: it never holds up exit)."""
        self._jobs.put(None)


class TrainingFailed(RuntimeError):
    """The model could not be trained for these intents (for example its package is missing)."""
