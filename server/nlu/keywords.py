"""The keyword classifier: what answers while a flow's model is still training.

It needs no training worth the name (one pass over the examples to count words), so it is ready
the moment a flow is. Each intent is scored by the words of the message it shares with the
intent's examples, weighted by how few intents use that word (a word every intent uses says
nothing). Confidences are the intents' shares of the total score, scaled down by the share of
the message's words that matched at all, so a message of unknown words stays under any
reasonable threshold and takes the flow's ``fallback``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from server.nlu.intents import Intent, Prediction, rank

WORD = re.compile(r"[^\W_]+")


def words(text: str) -> set[str]:
    return {word for word in WORD.findall(text.lower()) if len(word) > 1}


class KeywordClassifier:
    def __init__(self, intents: Sequence[Intent]) -> None:
        self._labels = [intent.name for intent in intents]
        vocabularies = [set().union(*(words(e) for e in intent.examples)) for intent in intents]
        users: dict[str, int] = {}
        for vocabulary in vocabularies:
            for word in vocabulary:
                users[word] = users.get(word, 0) + 1
        count = len(intents)
        # log((n + 1) / users): positive even for a word every intent uses, largest for one.
        self._weights = {word: math.log((count + 1) / used) for word, used in users.items()}
        self._vocabularies = vocabularies

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        return [self._predict_one(text) for text in texts]

    def _predict_one(self, text: str) -> Prediction:
        given = words(text)
        known = [word for word in given if word in self._weights]
        scores = [
            sum(self._weights[word] for word in known if word in vocabulary)
            for vocabulary in self._vocabularies
        ]
        total = sum(scores)
        if not given or total == 0:
            return rank(self._labels, [0.0] * len(self._labels))
        coverage = len(known) / len(given)
        return rank(self._labels, [coverage * score / total for score in scores])
