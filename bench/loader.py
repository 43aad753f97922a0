"""A small HTTP/1.1 load generator over asyncio streams with keep-alive connections.

Requests are prepared (and signed) before the clock starts, so the loader spends its time on the
wire. Two modes: closed loop (``connections`` clients, each sending its next request when the
previous answer arrives: sustained throughput) and open loop at a fixed offered rate (latency at a
given load, without coordinated omission: each request's latency counts from its scheduled time).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field


@dataclass
class Outcome:
    latencies_ms: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    elapsed: float = 0.0

    @property
    def done(self) -> int:
        return len(self.latencies_ms)

    @property
    def rate(self) -> float:
        return self.done / self.elapsed if self.elapsed else 0.0


def http_post(host: str, port: int, path: str, body: bytes, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}:{port}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    if length:
        await reader.readexactly(length)
    return status


async def closed_loop(host: str, port: int, requests: list[bytes], connections: int) -> Outcome:
    outcome = Outcome()
    queue = iter(requests)

    async def client() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for request in queue:
                sent = time.perf_counter()
                writer.write(request)
                status = await _read_response(reader)
                outcome.latencies_ms.append((time.perf_counter() - sent) * 1000)
                outcome.statuses[status] = outcome.statuses.get(status, 0) + 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(connections)))
    outcome.elapsed = time.perf_counter() - started
    return outcome


async def open_loop(
    host: str, port: int, requests: list[bytes], rate: float, connections: int
) -> Outcome:
    """Offer ``rate`` requests/s; a pool of connections sends each at its scheduled time."""
    outcome = Outcome()
    pool: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await asyncio.open_connection(host, port))
    started = time.perf_counter()

    async def send(index: int, request: bytes) -> None:
        scheduled = started + index / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        reader, writer = await pool.get()
        try:
            writer.write(request)
            status = await _read_response(reader)
        finally:
            pool.put_nowait((reader, writer))
        outcome.latencies_ms.append((time.perf_counter() - scheduled) * 1000)
        outcome.statuses[status] = outcome.statuses.get(status, 0) + 1

    await asyncio.gather(*(send(i, r) for i, r in enumerate(requests)))
    outcome.elapsed = time.perf_counter() - started
    while not pool.empty():
        _, writer = pool.get_nowait()
        writer.close()
    return outcome
