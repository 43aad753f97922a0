"""Scenario 8: webhook answers under overload, and the backlog draining behind them.

First the SMS end-to-end rate this machine sustains is measured (closed loop, as scenario 1);
then twice that rate is offered, open loop, for 30 s (10 s with --quick): every request is a new
customer's first message, so each acknowledged message must get exactly one reply (the
greeting). Reported: the webhook answer times (p50/p99, counted from each request's scheduled
time, so a loader queue shows), messages acknowledged, stored (read from the database),
answered (replies the fake Twilio API received), answered twice, the backlog's peak (the
server's ``threadline_inbound_backlog`` gauge, sampled) and the seconds from the end of the
offer until every reply was out. Baseline: the same offer's answer times at the sustained rate.
"""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import Figure, percentile
from bench.loader import Outcome, open_loop
from bench.procs import Server, free_port, gauge, start_helper
from bench.sms_load import signed_requests, threadline_throughput, twilio_env

CONNECTIONS = 256
DRAIN_TIMEOUT = 600.0


async def _offer(server: Server, rate: float, seconds: float, tag: str) -> tuple[Outcome, float]:
    """Offer ``rate`` webhooks/s for ``seconds``; returns the outcome and the backlog's peak."""
    count = int(rate * seconds)
    requests = signed_requests("/channels/twilio/messages", range(count), "hello", server.port, tag)
    peak = 0.0
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        async with httpx.AsyncClient(timeout=5) as client:
            while not done.is_set():
                try:
                    text = (await client.get(server.base + "/metrics")).text
                except httpx.HTTPError:
                    text = ""
                for line in text.splitlines():
                    if line.startswith("threadline_inbound_backlog "):
                        peak = max(peak, float(line.split()[1]))
                await asyncio.sleep(0.5)

    sampler = asyncio.create_task(sample())
    try:
        outcome = await open_loop("127.0.0.1", server.port, requests, rate, CONNECTIONS)
    finally:
        done.set()
        await sampler
    return outcome, peak


def _count(fake_port: int) -> int:
    return int(httpx.get(f"http://127.0.0.1:{fake_port}/count", timeout=10).text)


def _stored_inbound(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "threadline.db") as db:
        row = db.execute("SELECT count(*) FROM messages WHERE direction = 'inbound'").fetchone()
    return int(row[0])


def overload(tmp: Path, rate: float, seconds: float, tag: str) -> dict[str, float]:
    """One offer on a server of its own (new database, customers no earlier offer used)."""
    fake_port = free_port()
    fake = start_helper(["bench.fake_twilio", str(fake_port)], fake_port)
    server = Server(tmp / f"threadline-overload-{tag}", env=twilio_env(fake_port))
    try:
        server.start()
        outcome, peak = asyncio.run(_offer(server, rate, seconds, tag))
        offered_end = time.perf_counter()
        acked = outcome.statuses.get(200, 0)
        deadline = time.monotonic() + DRAIN_TIMEOUT
        while _count(fake_port) < acked and time.monotonic() < deadline:
            time.sleep(0.1)
        drained = time.perf_counter() - offered_end
        peak = max(peak, gauge(server.base, "threadline_inbound_backlog") or 0.0)
        time.sleep(2.0)  # a reply sent twice would show by now
        answered = _count(fake_port)
        stored = _stored_inbound(server.data_dir)
    finally:
        server.stop()
        fake.terminate()
        fake.wait(timeout=10)
    return {
        "offered": len(outcome.latencies_ms),
        "offered_rate": rate,
        "achieved_rate": outcome.rate,
        "acknowledged": acked,
        "statuses": outcome.statuses,  # type: ignore[dict-item]
        "stored": stored,
        "answered": min(answered, acked),
        "answered_twice": max(answered - acked, 0),
        "p50_ms": percentile(outcome.latencies_ms, 50),
        "p99_ms": percentile(outcome.latencies_ms, 99),
        "max_ms": max(outcome.latencies_ms) if outcome.latencies_ms else float("nan"),
        "backlog_peak": peak,
        "drain_seconds": drained,
    }


def run(quick: bool) -> list[Figure]:
    customers = 1000 if quick else 3000
    seconds = 10.0 if quick else 30.0
    with tempfile.TemporaryDirectory(prefix="tl-bench-overload-") as tmp_name:
        tmp = Path(tmp_name)
        sustained, _ = threadline_throughput(tmp, customers)
        at_sustained = overload(tmp, sustained, seconds / 3, "s")
        doubled = overload(tmp, 2 * sustained, seconds, "d")
    return [
        Figure(
            "webhook_ack_p99_ms_at_2x_sustained",
            "ms",
            doubled["p99_ms"],
            baseline=at_sustained["p99_ms"],
            baseline_label="the same offer at the sustained rate",
            target="p99 <= 1,000 ms; acknowledged = stored = answered, none twice",
            details={"sustained_msgs_per_s": sustained, "at_2x": doubled, "at_1x": at_sustained},
        ),
    ]
