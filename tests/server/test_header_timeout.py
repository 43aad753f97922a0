"""Slow request heads against a real server: a connection whose request line and headers do not
arrive within THREADLINE_HEADER_TIMEOUT_SECONDS is closed, while other clients are served and
keep-alive connections and WebSockets are left alone."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import websockets

from tests.server.conftest import REPO, ServerProcess

TIMEOUT = 2  # seconds, set short through the variable
# How long a client waits for the server to close before it gives up. The slow heads below
# would take over a minute to send, so a close before then is the server's doing.
GIVE_UP = TIMEOUT + 10
SLOW_HEAD = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"s" * 64 + b"\r\n\r\n"


@pytest.fixture(scope="module")
def slow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("head-timeout")
    flows = root / "flows"
    flows.mkdir()
    (flows / "greeting.json").write_bytes((REPO / "flows" / "greeting.json").read_bytes())
    server = ServerProcess(
        root / "data", flows, {"THREADLINE_HEADER_TIMEOUT_SECONDS": str(TIMEOUT)}
    )
    server.start()
    yield server
    server.stop()


@dataclass
class Outcome:
    closed: bool  # the server closed the connection before the client gave up
    sent: int  # bytes of the head sent by then
    answer: bytes  # what the server wrote before closing


async def drip(port: int, head: bytes, per_byte: float = 1.0) -> Outcome:
    """Send ``head`` one byte every ``per_byte`` seconds until the server closes the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answer = b""
    sent = 0
    deadline = time.monotonic() + GIVE_UP
    try:
        while time.monotonic() < deadline:
            if sent < len(head):
                writer.write(head[sent : sent + 1])
                sent += 1
                await writer.drain()
            try:
                chunk = await asyncio.wait_for(reader.read(4096), per_byte)
            except TimeoutError:
                continue
            if not chunk:
                return Outcome(True, sent, answer)
            answer += chunk
    except ConnectionError:
        return Outcome(True, sent, answer)
    finally:
        writer.close()
    return Outcome(False, sent, answer)


async def served_meanwhile(base: str, until: asyncio.Future[object]) -> int:
    """Requests of an ordinary client until ``until`` is done; each must succeed."""
    count = 0
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        while not until.done():
            response = await client.get("/healthz")
            assert response.status_code == 200
            count += 1
            await asyncio.sleep(0.25)
    return count


async def test_slow_heads_are_closed_while_others_are_served(slow_server: ServerProcess) -> None:
    drippers = asyncio.gather(*(drip(slow_server.port, SLOW_HEAD) for _ in range(8)))
    served = await served_meanwhile(slow_server.base, drippers)
    outcomes = await drippers
    for outcome in outcomes:
        assert outcome.closed, outcome
        assert outcome.sent < len(SLOW_HEAD), outcome  # closed before the head was complete
        assert outcome.answer.startswith(b"HTTP/1.1 408 "), outcome
        body = json.loads(outcome.answer.split(b"\r\n\r\n", 1)[1])
        assert body["error"]["code"] == "request_timeout"
    assert served > 0


async def test_a_silent_connection_is_closed_without_an_answer(slow_server: ServerProcess) -> None:
    outcome = await drip(slow_server.port, b"")
    assert outcome.closed and outcome.answer == b""


async def test_keep_alive_outlives_the_head_timeout(slow_server: ServerProcess) -> None:
    """uvicorn's own keep-alive (5 s) governs the idle time between requests; a whole head that
    comes after an idle pause longer than the head timeout is served."""
    reader, writer = await asyncio.open_connection("127.0.0.1", slow_server.port)
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    try:
        for pause in (TIMEOUT + 1, 0):
            writer.write(request)
            status = await asyncio.wait_for(reader.readline(), 10)
            assert status.startswith(b"HTTP/1.1 200 "), status
            headers = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            length = next(
                int(line.split(b":", 1)[1])
                for line in headers.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            await asyncio.wait_for(reader.readexactly(length), 10)
            await asyncio.sleep(pause)
    finally:
        writer.close()


async def test_a_websocket_outlives_the_head_timeout(slow_server: ServerProcess) -> None:
    async with websockets.connect(slow_server.ws_url) as ws:
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "session"
        await asyncio.sleep(TIMEOUT + 1)
        await ws.send(json.dumps({"type": "ping"}))
        while json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] != "pong":
            pass


def test_the_server_logged_no_error(slow_server: ServerProcess) -> None:
    assert "Traceback" not in slow_server.log()
