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

# Shipped with the package (server/nlu/data/banking77/README.md names the authors and the
# licence), so the command and the tests find it in any clone and any installation.
DEFAULT_DIR = Path(__file__).resolve().parent / "data" / "banking77"


@dataclass(frozen=True, slots=True)
class FewShotSplit:
    intents: tuple[Intent, ...]
    test: tuple[tuple[str, str], ...]  # (utterance, intent)


def load(directory: Path = DEFAULT_DIR) -> dict[str, list[str]]:
    """Utterances of the folder's train.csv by category, in file order."""
    return load_file(directory / "train.csv")


def load_file(path: Path) -> dict[str, list[str]]:
    """Utterances of one ``text,category`` CSV file by category, in file order."""
    by_category: dict[str, list[str]] = defaultdict(list)
    with path.open(newline="", encoding="utf-8") as file:
        reader = csv.DictReader(file)
        if not {"text", "category"} <= set(reader.fieldnames or ()):
            raise ValueError(f"{path}: the header must name the columns text and category")
        for row in reader:
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


def held_out_split(
    train: dict[str, list[str]],
    test: dict[str, list[str]],
    shots: int = 10,
    seed: int = 0,
    sample: int | None = None,
) -> FewShotSplit:
    """``shots`` examples per intent from ``train``; every utterance of ``test`` (another split,
    such as BANKING77's test.csv) is tested, or a seeded ``sample`` of them."""
    examples = few_shot_split(train, shots, seed).intents
    tested = [(text, category) for category in sorted(test) for text in test[category]]
    if sample is not None and sample < len(tested):
        tested = random.Random(seed).sample(tested, sample)
    return FewShotSplit(examples, tuple(tested))
