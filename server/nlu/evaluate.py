"""Few-shot accuracy of a local model on BANKING77.

    python -m server.nlu.evaluate [--shots 10] [--model light|minilm] [--seed 0] [--sample N]
                                  [--data DIR] [--test-file CSV]

Examples come from DIR/train.csv (BANKING77's, shipped with the package, by default). Without
``--test-file`` the test set is the rest of train.csv; with it, every row of that CSV (another
split in the same ``text,category`` format, such as BANKING77's test.csv).

Prints the overall accuracy, the number of test utterances, the time taken (training plus
prediction), how coverage and accuracy trade off per confidence threshold, and the worst intents
with their accuracy and most common confusion.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from server.nlu import banking77
from server.nlu.minilm import ModelUnavailable
from server.nlu.models import DEFAULT_MODEL, MODELS, factory

THRESHOLDS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)


@dataclass(frozen=True, slots=True)
class IntentScore:
    intent: str
    accuracy: float
    total: int
    confusion: str | None  # the intent most often predicted instead
    confusion_count: int


@dataclass(frozen=True, slots=True)
class ThresholdScore:
    threshold: float
    coverage: float  # share of utterances at or above the threshold (not sent to fallback)
    accuracy: float  # accuracy among those


@dataclass(frozen=True, slots=True)
class Report:
    model: str
    shots: int
    seed: int
    accuracy: float
    tested: int
    seconds: float
    intents: tuple[IntentScore, ...]  # worst first
    thresholds: tuple[ThresholdScore, ...]


def evaluate(
    model: str = DEFAULT_MODEL,
    shots: int = 10,
    seed: int = 0,
    sample: int | None = None,
    data: Path = banking77.DEFAULT_DIR,
    test_file: Path | None = None,
) -> Report:
    train = banking77.load(data)
    if test_file is None:
        split = banking77.few_shot_split(train, shots, seed, sample)
    else:
        split = banking77.held_out_split(train, banking77.load_file(test_file), shots, seed, sample)
    texts = [text for text, _ in split.test]
    started = time.perf_counter()
    predictions = factory(model)(split.intents).predict(texts)
    seconds = time.perf_counter() - started
    hits: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    confusions: dict[str, Counter[str]] = defaultdict(Counter)
    for (_, expected), prediction in zip(split.test, predictions, strict=True):
        totals[expected] += 1
        if prediction.intent == expected:
            hits[expected] += 1
        else:
            confusions[expected][prediction.intent] += 1
    scores = []
    for intent, total in totals.items():
        top = confusions[intent].most_common(1)
        confusion, count = top[0] if top else (None, 0)
        scores.append(IntentScore(intent, hits[intent] / total, total, confusion, count))
    scores.sort(key=lambda score: (score.accuracy, score.intent))
    correct = [
        p.intent == expected for (_, expected), p in zip(split.test, predictions, strict=True)
    ]
    thresholds = []
    for threshold in THRESHOLDS:
        kept = [ok for ok, p in zip(correct, predictions, strict=True) if p.confidence >= threshold]
        accuracy = sum(kept) / len(kept) if kept else 0.0
        thresholds.append(ThresholdScore(threshold, len(kept) / len(correct), accuracy))
    return Report(
        model,
        shots,
        seed,
        sum(correct) / len(correct),
        len(correct),
        seconds,
        tuple(scores),
        tuple(thresholds),
    )


def render(report: Report, worst: int) -> str:
    lines = [
        f"BANKING77 {report.shots}-shot, model {report.model}, seed {report.seed}",
        f"accuracy: {report.accuracy:.2%} on {report.tested} test utterances",
        f"time: {report.seconds:.1f} s (training and prediction)",
        "",
        "threshold  coverage  accuracy above threshold",
    ]
    lines += [
        f"{t.threshold:9.1f}  {t.coverage:8.1%}  {t.accuracy:8.1%}" for t in report.thresholds
    ]
    lines += ["", f"worst {worst} intents (accuracy, most common confusion):"]
    for score in report.intents[:worst]:
        confusion = f"{score.confusion} ({score.confusion_count})" if score.confusion else "-"
        lines.append(f"  {score.accuracy:6.1%}  {score.intent:<45} -> {confusion}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="threadline nlu evaluate", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--shots", type=int, default=10, help="examples per intent (default 10)")
    parser.add_argument("--model", choices=sorted(MODELS), default=DEFAULT_MODEL)
    parser.add_argument("--seed", type=int, default=0, help="seed of the example choice")
    parser.add_argument("--sample", type=int, default=None, help="test on a seeded sample of N")
    parser.add_argument("--worst", type=int, default=10, help="how many worst intents to list")
    parser.add_argument(
        "--data",
        type=Path,
        default=banking77.DEFAULT_DIR,
        help="folder whose train.csv gives the examples (default: the shipped BANKING77)",
    )
    parser.add_argument(
        "--test-file",
        type=Path,
        default=None,
        help="score this text,category CSV instead of the rest of train.csv",
    )
    args = parser.parse_args(argv)
    try:
        report = evaluate(args.model, args.shots, args.seed, args.sample, args.data, args.test_file)
    except (ModelUnavailable, OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(render(report, args.worst))
    return 0


if __name__ == "__main__":
    sys.exit(main())
