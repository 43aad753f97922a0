"""Scenario 3: web chat at scale on one process.

- Idle sessions: N concurrent WebSocket sessions (10,000; 1,000 with --quick); memory per idle
  session from the server process's RSS before and after. Baseline: the same number of idle
  sockets held by a bare Starlette WebSocket endpoint under the same uvicorn settings.
- Chatting: 1,000 sessions (200 with --quick) talk to the greeting flow at once; each message's
  latency is measured from send to the bot's reply, and from send to its acknowledgement (the
  visitor's own message echoed back once stored). Baseline: an echo endpoint answering the same
  frames.
"""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import websockets

from bench.common import Figure, percentile
from bench.procs import Server, free_port, rss_kib, start_helper

CONNECT_CONCURRENCY = 200


async def _open_many(url: str, count: int, threadline: bool) -> list[Any]:
    sockets: list[Any] = []
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one() -> None:
        async with gate:
            ws = await websockets.connect(url, max_queue=4, open_timeout=60, ping_interval=None)
            if threadline:
                await ws.recv()  # the session frame: the session is open (nothing stored yet)
            sockets.append(ws)

    await asyncio.gather(*(one() for _ in range(count)))
    return sockets


async def _settled_rss(pid: int) -> int:
    await asyncio.sleep(2.0)
    return rss_kib(pid)


async def _idle(url: str, pid: int, count: int, threadline: bool) -> float:
    before = await _settled_rss(pid)
    sockets = await _open_many(url, count, threadline)
    after = await _settled_rss(pid)
    await asyncio.gather(*(ws.close() for ws in sockets))
    return (after - before) / count


async def _chat_threadline(url: str, count: int) -> tuple[float, list[float], list[float]]:
    """Messages per second, reply latencies and acknowledgement latencies (ms).

    The acknowledgement is the visitor's own message echoed back as stored (the ``message``
    frame with direction ``inbound`` and this ``client_id``); the reply is the bot's answer.
    """
    sockets = await _open_many(url, count, True)
    replies: list[float] = []
    acks: list[float] = []

    async def converse(index: int, ws: Any) -> None:
        for turn, text in enumerate(("hello", "billing", "no")):
            client_id = f"c{index}-{turn}"
            sent = time.perf_counter()
            await ws.send(json.dumps({"type": "message", "text": text, "client_id": client_id}))
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 120))
                if frame.get("type") != "message":
                    continue
                if frame.get("client_id") == client_id and frame.get("direction") == "inbound":
                    acks.append((time.perf_counter() - sent) * 1000)
                elif frame.get("direction") == "outbound":
                    replies.append((time.perf_counter() - sent) * 1000)
                    break

    started = time.perf_counter()
    await asyncio.gather(*(converse(i, ws) for i, ws in enumerate(sockets)))
    elapsed = time.perf_counter() - started
    await asyncio.gather(*(ws.close() for ws in sockets))
    return len(replies) / elapsed, replies, acks


async def _chat_echo(url: str, count: int) -> tuple[float, list[float]]:
    sockets = await _open_many(url, count, False)
    latencies: list[float] = []

    async def converse(ws: Any) -> None:
        for text in ("hello", "billing", "no"):
            sent = time.perf_counter()
            await ws.send(json.dumps({"type": "message", "text": text}))
            await asyncio.wait_for(ws.recv(), 120)
            latencies.append((time.perf_counter() - sent) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(converse(ws) for ws in sockets))
    elapsed = time.perf_counter() - started
    await asyncio.gather(*(ws.close() for ws in sockets))
    return len(latencies) / elapsed, latencies


def _baseline_process(data_dir: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    args = ["bench.baseline_app", str(port), str(data_dir), "x", "http://x"]
    return start_helper(args, port), port


def run(quick: bool) -> list[Figure]:
    idle_count = 1000 if quick else 10_000
    chat_count = 200 if quick else 1000
    with tempfile.TemporaryDirectory(prefix="tl-bench-webchat-") as tmp:
        # Every bench socket comes from 127.0.0.1: lift the per-address bound on new sessions.
        unlimited = {"THREADLINE_WEBCHAT_SESSIONS_PER_MINUTE": "0"}
        server = Server(Path(tmp) / "threadline", env=unlimited)
        server.start()
        assert server.proc is not None
        url = f"ws://127.0.0.1:{server.port}/channels/webchat/ws"
        try:
            idle_kib = asyncio.run(_idle(url, server.proc.pid, idle_count, True))
            rate, latencies, acks = asyncio.run(_chat_threadline(url, chat_count))
        finally:
            server.stop()
        proc, port = _baseline_process(Path(tmp) / "baseline")
        echo_url = f"ws://127.0.0.1:{port}/ws"
        try:
            base_idle_kib = asyncio.run(_idle(echo_url, proc.pid, idle_count, False))
            base_rate, base_latencies = asyncio.run(_chat_echo(echo_url, chat_count))
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    gc.collect()
    return [
        Figure(
            "webchat_idle_kib_per_session",
            "KiB",
            idle_kib,
            baseline=base_idle_kib,
            baseline_label="bare Starlette WebSocket endpoint holding the same sockets",
            target="<= 20 KiB per idle session",
            details={"sessions": idle_count},
        ),
        Figure(
            "webchat_chat_msgs_per_s",
            "msgs/s",
            rate,
            baseline=base_rate,
            baseline_label="echo endpoint, same frames",
            details={
                "sessions": chat_count,
                "p50_ms": percentile(latencies, 50),
                "p99_ms": percentile(latencies, 99),
                "baseline_p50_ms": percentile(base_latencies, 50),
                "baseline_p99_ms": percentile(base_latencies, 99),
            },
        ),
        Figure(
            "webchat_ack_p99_ms",
            "ms",
            percentile(acks, 99),
            baseline=percentile(base_latencies, 99),
            baseline_label="echo endpoint answering the same frames (p99)",
            target="<= 200 ms while the flow replies drain behind",
            details={
                "sessions": chat_count,
                "acknowledged": len(acks),
                "p50_ms": percentile(acks, 50),
                "reply_p99_ms": percentile(latencies, 99),
            },
        ),
    ]
