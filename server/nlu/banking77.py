"""BANKING77 (Casanueva et al. 2020, CC BY 4.0) and its standard few-shot split.

The few-shot setting takes ``shots`` utterances per intent from train.csv as the examples and
tests on the train.csv utterances not taken. The choice is seeded and independent of the row
order within a category, so a seed always names the same split.
"""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from server.nlu.intents import Intent

# The repository sits beside the project's shared/ folder (in development and in CI alike).
DEFAULT_DIR = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "intents" / "banking77"


@dataclass(frozen=True, slots=True)
class FewShotSplit:
    intents: tuple[Intent, ...]
    test: tuple[tuple[str, str], ...]  # (utterance, intent)


def load(directory: Path = DEFAULT_DIR) -> dict[str, list[str]]:
    """Utterances by category, in file order."""
    by_category: dict[str, list[str]] = defaultdict(list)
    with (directory / "train.csv").open(newline="", encoding="utf-8") as file:
        for row in csv.DictReader(file):
            by_category[row["category"]].append(row["text"])
    return dict(by_category)


def few_shot_split(
    by_category: dict[str, list[str]], shots: int = 10, seed: int = 0, sample: int | None = None
) -> FewShotSplit:
    """``shots`` examples per intent; the rest is the test set (or a seeded ``sample`` of it)."""
    rng = random.Random(seed)
    intents: list[Intent] = []
    test: list[tuple[str, str]] = []
    for category in sorted(by_category):
        texts = by_category[category]
        chosen = set(rng.sample(range(len(texts)), min(shots, len(texts))))
        intents.append(Intent(category, tuple(texts[i] for i in sorted(chosen))))
        test.extend((text, category) for i, text in enumerate(texts) if i not in chosen)
    if sample is not None and sample < len(test):
        test = random.Random(seed).sample(test, sample)
    return FewShotSplit(tuple(intents), tuple(test))
