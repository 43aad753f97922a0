"""The micro-benchmark runs and reports its percentiles (no timing asserts)."""

from __future__ import annotations

from server.routing.bench import measure


def test_measure_reports_percentiles() -> None:
    result = measure(20, 30, decisions=100)
    assert result["agents"] == 20 and result["tasks"] == 30 and result["decisions"] == 100
    assert 0 <= result["p50_ms"] <= result["p99_ms"] <= result["max_ms"]
