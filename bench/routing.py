"""Scenario 5: routing decision time with 100 / 1,000 / 10,000 agents and queued conversations.

The figure is p99 at 10,000; its baseline is p99 at 100 in the same run, so the ratio shows how
the cost grows (flat: about 1).
"""

from __future__ import annotations

from bench.common import Figure
from server.routing.bench import measure


def run(quick: bool) -> list[Figure]:
    decisions = 1000 if quick else 5000
    sizes = (100, 1000, 10_000)
    results = {n: measure(n, n, decisions=decisions) for n in sizes}
    return [
        Figure(
            "routing_decision_p99_ms",
            "ms",
            results[10_000]["p99_ms"],
            baseline=results[100]["p99_ms"],
            baseline_label="p99 with 100 agents and 100 queued",
            target="flat or logarithmic growth; p99 <= 5 ms at 10,000",
            details={str(n): results[n] for n in sizes},
        )
    ]
