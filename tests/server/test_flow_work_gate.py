"""Flow work runs through a bounded gate, and messages are acknowledged ahead of it.

THREADLINE_FLOW_CONCURRENCY bounds how many conversations' flow jobs run at once (bad values:
tests/server/test_serve_flags.py); a message whose flow waits for a slot is still stored and
shown (the customer's echo) at once, and counted by the ``threadline_inbound_backlog`` gauge
until its flow gets to it. HTTP calls and sends run outside the gate, so a real server cannot be
made to hold the slot from outside: the runtime is driven in-process on real SQLite.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from server.runtime.flows import FlowRegistry
from server.runtime.http_client import FlowHttpClient, HttpGuard
from server.runtime.metrics import REGISTRY
from server.runtime.runtime import Runtime
from server.runtime.serial import SerialExecutor
from server.runtime.work_gate import WorkGate
from server.store import Store
from server.store.database import sqlite_url
from server.store.ops import Row
from tests.server.conftest import REPO
from tests.store.envelopes import sms_envelope


async def test_the_gate_bounds_running_jobs_and_keeps_each_key_in_order() -> None:
    executor = SerialExecutor(WorkGate(limit=2))
    running = 0
    most = 0
    done: dict[str, list[int]] = {}

    def job(key: str, number: int) -> Any:
        async def run() -> None:
            nonlocal running, most
            running += 1
            most = max(most, running)
            await asyncio.sleep(0.01)
            done.setdefault(key, []).append(number)
            running -= 1

        return run

    futures = [
        executor.submit(f"k{key}", job(f"k{key}", number))
        for number in range(3)
        for key in range(6)
    ]
    await asyncio.sleep(0)  # every key's task has started: two hold a slot, four wait
    assert executor.gate is not None and executor.gate.waiting == 4
    await asyncio.gather(*futures)
    assert most == 2
    assert done == {f"k{key}": [0, 1, 2] for key in range(6)}


def backlog() -> float:
    value = REGISTRY.get_sample_value("threadline_inbound_backlog")
    assert value is not None, "threadline_inbound_backlog is not registered"
    return value


async def test_a_message_waiting_for_a_slot_is_stored_shown_and_counted(tmp_path: Path) -> None:
    store = await Store.open(sqlite_url(tmp_path))
    flows = FlowRegistry(store)
    assert await flows.load_dir(REPO / "flows") == []
    runtime = Runtime(store, flows, FlowHttpClient(HttpGuard()), flow_concurrency=1)
    shown: list[tuple[str, str]] = []

    async def show(_conversation: Row, message: Row) -> None:
        shown.append((message["direction"], message["text"]))

    runtime.message_listeners.append(show)
    gate = runtime.serial.gate
    assert gate is not None and gate.limit == 1
    before = backlog()
    try:
        async with gate.slot():  # the only slot is taken: flow work must wait
            ingested = await runtime.receive(sms_envelope("+14155550123", "SM1"))
            assert await store.message(ingested.message["id"]) is not None  # stored
            assert shown == [("inbound", "hello")]  # shown (echoed) at once
            await asyncio.sleep(0.2)
            assert gate.waiting == 1
            assert backlog() == before + 1
            assert shown == [("inbound", "hello")]  # the flow has not run
        await runtime.serial.drain()
        replies = [text for direction, text in shown if direction == "outbound"]
        assert len(replies) == 1 and "What can I help you with" in replies[0]
        assert backlog() == before
    finally:
        await runtime.stop()
        await store.close()
