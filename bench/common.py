"""Shared helpers for benchmark scenarios: machine facts, percentiles, results."""

from __future__ import annotations

import os
import platform
import statistics
import sys
from dataclasses import dataclass, field
from typing import Any


def machine() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
    }


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


@dataclass
class Figure:
    """One measured figure next to its baseline from the same run."""

    name: str
    unit: str
    value: float
    baseline: float | None = None
    baseline_label: str = ""
    target: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.baseline in (None, 0):
            return None
        return self.value / self.baseline  # type: ignore[operator]

    def as_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "unit": self.unit,
            "baseline": self.baseline,
            "baseline_label": self.baseline_label,
            "ratio": self.ratio,
            "target": self.target,
            **({"details": self.details} if self.details else {}),
        }
