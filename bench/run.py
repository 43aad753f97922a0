"""Threadline's benchmark suite: ``python bench/run.py [--quick] [--runs N] [--only NAME ...]``.

Every scenario runs on loopback with bounded loops and prints each figure next to its baseline
measured in the same run; results go to bench/results.json with the machine they came from.
Figures are medians over ``--runs`` repetitions (3 by default, 1 with --quick).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import engine_steps, overload, recovery, routing, scaleout, sms_load, webchat_load
from bench.common import Figure, machine

SCENARIOS: dict[str, Callable[[bool], list[Figure]]] = {
    "engine": engine_steps.run,
    "routing": routing.run,
    "sms": sms_load.run,
    "webchat": webchat_load.run,
    "recovery": recovery.run,
    "scaleout": scaleout.run,
    "overload": overload.run,
}

RESULTS = Path(__file__).resolve().parent / "results.json"


def _median_figure(samples: list[Figure]) -> Figure:
    first = samples[0]
    baselines = [s.baseline for s in samples if s.baseline is not None]
    return Figure(
        first.name,
        first.unit,
        statistics.median(s.value for s in samples),
        baseline=statistics.median(baselines) if baselines else None,
        baseline_label=first.baseline_label,
        target=first.target,
        details={**first.details, "runs": [s.value for s in samples], "baseline_runs": baselines},
    )


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.3g}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller loads, one run (< 1 min)")
    parser.add_argument("--runs", type=int, help="repetitions per scenario (median reported)")
    parser.add_argument("--only", nargs="+", choices=sorted(SCENARIOS), help="run these only")
    args = parser.parse_args(argv)
    runs = args.runs or (1 if args.quick else 3)
    figures: list[Figure] = []
    started = time.perf_counter()
    for name in args.only or list(SCENARIOS):
        print(f"== {name} ({runs} run{'s' if runs > 1 else ''})", flush=True)
        samples: dict[str, list[Figure]] = {}
        for _ in range(runs):
            for figure in SCENARIOS[name](args.quick):
                samples.setdefault(figure.name, []).append(figure)
                print(
                    f"   {figure.name}: {_fmt(figure.value)} {figure.unit}"
                    f" (baseline {_fmt(figure.baseline)})",
                    flush=True,
                )
        figures.extend(_median_figure(s) for s in samples.values())
    print()
    print(f"{'figure':38} {'value':>12} {'baseline':>12} {'ratio':>7}  unit / target")
    for f in figures:
        ratio = f"{f.ratio:.2f}" if f.ratio is not None else "-"
        print(
            f"{f.name:38} {_fmt(f.value):>12} {_fmt(f.baseline):>12} {ratio:>7}  "
            f"{f.unit}{'; ' + f.target if f.target else ''}"
        )
    results = {
        "machine": machine(),
        "mode": "quick" if args.quick else "full",
        "runs": runs,
        "seconds": round(time.perf_counter() - started, 1),
        "figures": {f.name: f.as_dict() for f in figures},
    }
    sms = next((f for f in figures if f.name == "sms_end_to_end"), None)
    if sms is not None:
        results["sms_end_to_end"] = {
            "threadline_msgs_per_s": sms.value,
            "baseline_msgs_per_s": sms.baseline,
            "ratio": sms.ratio,
        }
    RESULTS.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"\nwritten {RESULTS} in {results['seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
