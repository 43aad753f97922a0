"""Scenarios 1 and 2: inbound SMS end to end, and the same load against the baseline app.

Signed Twilio webhooks -> stored -> a flow step of the greeting flow (the first message starts it
and sends the greeting; the answer goes through its split) -> the reply sent with the real twilio
client to a fake Twilio API on loopback. Throughput counts inbound messages whose reply reached
the fake API; the baseline (bench/baseline_app.py) checks the signature and commits the message
with the same durability, nothing more. Latency: open loop at a fixed offered rate, webhook
acknowledgement time.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx
from twilio.request_validator import RequestValidator

from bench.common import Figure, percentile
from bench.loader import Outcome, closed_loop, http_post, open_loop
from bench.procs import Server, free_port, start_helper

ACCOUNT = "AC" + "b" * 32
TOKEN = "bench-auth-token"
PUBLIC = "https://bench.threadline.test"
NUMBER = "+15005550006"
CONNECTIONS = 64


def signed_requests(path: str, customers: range, body: str, port: int, tag: str) -> list[bytes]:
    validator = RequestValidator(TOKEN)
    out = []
    for i in customers:
        params = {
            "MessageSid": f"SM{tag}{i:030d}",
            "AccountSid": ACCOUNT,
            "From": f"+1555{i:07d}",
            "To": NUMBER,
            "Body": body,
            "NumMedia": "0",
        }
        signature = validator.compute_signature(PUBLIC + path, params)
        out.append(
            http_post(
                "127.0.0.1",
                port,
                path,
                urlencode(params).encode(),
                {
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-Twilio-Signature": signature,
                },
            )
        )
    return out


def _wait_count(fake_port: int, expected: int, timeout: float = 300) -> None:
    # One kept-alive connection: a new client per poll costs the loader milliseconds of CPU
    # each, taken from the server on a 2-core machine while replies drain behind the acks.
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=f"http://127.0.0.1:{fake_port}") as client:
        while time.monotonic() < deadline:
            if int(client.get("/count").text) >= expected:
                return
            time.sleep(0.01)
    raise RuntimeError(f"replies did not reach {expected} in {timeout} s")


def twilio_env(fake_port: int, database_url: str | None = None) -> dict[str, str]:
    env = {
        "THREADLINE_TWILIO_ACCOUNT_SID": ACCOUNT,
        "THREADLINE_TWILIO_AUTH_TOKEN": TOKEN,
        "THREADLINE_TWILIO_API_BASE": f"http://127.0.0.1:{fake_port}",
        "THREADLINE_PUBLIC_URL": PUBLIC,
    }
    if database_url:
        env["THREADLINE_DATABASE_URL"] = database_url
    return env


async def _round(servers: list[Server], customers: int, body: str, tag: str) -> Outcome:
    """Each customer's messages go to one node (customer i to node i mod n), all nodes at once."""
    path = "/channels/twilio/messages"
    per_node = [
        signed_requests(path, range(i, customers, len(servers)), body, server.port, tag)
        for i, server in enumerate(servers)
    ]
    connections = max(1, CONNECTIONS // len(servers))
    outcomes = await asyncio.gather(
        *(
            closed_loop("127.0.0.1", server.port, requests, connections)
            for server, requests in zip(servers, per_node, strict=True)
        )
    )
    merged = Outcome()
    for outcome in outcomes:
        merged.latencies_ms += outcome.latencies_ms
        for status, n in outcome.statuses.items():
            merged.statuses[status] = merged.statuses.get(status, 0) + n
    return merged


def drive(servers: list[Server], fake_port: int, customers: int) -> Outcome:
    """Two rounds (every customer's first message, then the answer to the greeting), each
    until every reply has reached the fake API; the webhook acknowledgements and the elapsed
    time of both."""
    started = time.perf_counter()
    one = asyncio.run(_round(servers, customers, "hello", "a"))
    _wait_count(fake_port, customers)
    two = asyncio.run(_round(servers, customers, "billing", "b"))
    _wait_count(fake_port, 2 * customers)
    acks = Outcome(
        one.latencies_ms + two.latencies_ms, {**one.statuses}, time.perf_counter() - started
    )
    for status, n in two.statuses.items():
        acks.statuses[status] = acks.statuses.get(status, 0) + n
    return acks


def threadline_throughput(
    tmp: Path, customers: int, nodes: int = 1, database_url: str | None = None
) -> tuple[float, Outcome]:
    """Messages/s end to end (the reply reached the fake API) for ``nodes`` servers."""
    fake_port = free_port()
    fake = start_helper(["bench.fake_twilio", str(fake_port)], fake_port)
    servers = [
        Server(tmp / f"threadline-{i}", env=twilio_env(fake_port, database_url))
        for i in range(nodes)
    ]
    try:
        for server in servers:  # one after the other: the first migrates a new database
            server.start()
        acks = drive(servers, fake_port, customers)
        return 2 * customers / acks.elapsed, acks
    finally:
        for server in servers:
            server.stop()
        fake.terminate()
        fake.wait(timeout=10)


def threadline_latency(tmp: Path, rate: float, seconds: float) -> Outcome:
    fake_port = free_port()
    fake = start_helper(["bench.fake_twilio", str(fake_port)], fake_port)
    server = Server(tmp / "threadline-latency", env=twilio_env(fake_port))
    try:
        server.start()
        count = int(rate * seconds)
        requests = signed_requests(
            "/channels/twilio/messages", range(count), "hello", server.port, "l"
        )
        return asyncio.run(open_loop("127.0.0.1", server.port, requests, rate, CONNECTIONS))
    finally:
        server.stop()
        fake.terminate()
        fake.wait(timeout=10)


def baseline_throughput(tmp: Path, customers: int) -> tuple[float, Outcome]:
    port = free_port()
    proc = start_helper(
        ["bench.baseline_app", str(port), str(tmp / "baseline"), TOKEN, PUBLIC], port
    )
    try:
        requests = signed_requests("/sms", range(customers), "hello", port, "a")
        requests += signed_requests("/sms", range(customers), "billing", port, "b")
        outcome = asyncio.run(closed_loop("127.0.0.1", port, requests, CONNECTIONS))
        return len(requests) / outcome.elapsed, outcome
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def run(quick: bool) -> list[Figure]:
    customers = 1000 if quick else 3000
    with tempfile.TemporaryDirectory(prefix="tl-bench-sms-") as tmp_name:
        tmp = Path(tmp_name)
        rate, acks = threadline_throughput(tmp, customers)
        base_rate, base = baseline_throughput(tmp, customers)
        latency = threadline_latency(tmp, 500.0, 2.0 if quick else 5.0)
    ok = acks.statuses.get(200, 0) + acks.statuses.get(204, 0)
    return [
        Figure(
            "sms_end_to_end",
            "msgs/s",
            rate,
            baseline=base_rate,
            baseline_label="Starlette app: signature check + SQLite insert, same durability",
            target=">= 1,500 msgs/s on SQLite; >= 50% of the baseline",
            details={
                "messages": 2 * customers,
                "acknowledged_ok": ok,
                "statuses": acks.statuses,
                "ack_p50_ms": percentile(acks.latencies_ms, 50),
                "ack_p99_ms": percentile(acks.latencies_ms, 99),
                "baseline_p99_ms": percentile(base.latencies_ms, 99),
            },
        ),
        Figure(
            "sms_latency_at_500_per_s_p99_ms",
            "ms",
            percentile(latency.latencies_ms, 99),
            target="p99 <= 50 ms at 500 msgs/s",
            details={
                "offered_rate": 500,
                "achieved_rate": latency.rate,
                "p50_ms": percentile(latency.latencies_ms, 50),
                "statuses": latency.statuses,
            },
        ),
    ]
