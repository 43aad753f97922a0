"""SQLite's writer process: batches commit in the child, results and errors come back intact,
a failing operation fails alone, and the child never outlives its server."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from server.engine import Execution
from server.store import Store
from server.store.database import sqlite_url
from server.store.ops import StaleExecution, StepWrite
from server.store.schema import messages
from tests.server.conftest import ADMIN_TOKEN, ServerProcess
from tests.store.envelopes import sms_envelope


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(sqlite_url(tmp_path))
    yield opened
    await opened.close()


def _execution(conversation: Any, revision: int = 0) -> Execution:
    return Execution(
        id="FN" + "1" * 32,
        flow_sid="FWtest",
        flow_version=1,
        conversation_id=conversation["id"],
        contact_id=conversation["contact_id"],
        started_at=time.time(),
        state="wait",
        revision=revision,
    )


async def test_rows_come_back_as_plain_mappings(store: Store) -> None:
    ingested = await store.ingest(sms_envelope("+14155550100", "SM1"))
    assert ingested.message["text"] == "hello"
    assert ingested.conversation["next_seq"] == 2
    assert ingested.message["parts"] == [{"kind": "text", "text": "hello"}]
    again = await store.ingest(sms_envelope("+14155550100", "SM1"))
    assert again.duplicate and again.message["id"] == ingested.message["id"]
    stored = await store.message(ingested.message["id"])
    assert stored is not None and stored["seq"] == 1


async def test_an_operation_that_cannot_be_sent_fails_alone_and_the_writer_goes_on(
    store: Store,
) -> None:
    """A closure does not pickle: it fails with a clear error, the operations batched with it
    commit, and later writes still run (the writer's queue did not stop with it)."""
    unsendable = threading.Lock()
    batch = asyncio.gather(
        store.ingest(sms_envelope("+14155550110", "SM10")),
        store.write_sync(lambda conn: unsendable),
        store.ingest(sms_envelope("+14155550111", "SM11")),
        return_exceptions=True,
    )
    results = await asyncio.wait_for(batch, 30)
    assert isinstance(results[1], TypeError) and "pickled" in str(results[1])
    assert not isinstance(results[0], BaseException) and not isinstance(results[2], BaseException)
    later = await asyncio.wait_for(store.ingest(sms_envelope("+14155550112", "SM12")), 30)
    assert later.message["text"] == "hello"


async def test_a_stale_step_fails_alone_and_the_rest_of_its_batch_commits(store: Store) -> None:
    conversation = (await store.ingest(sms_envelope("+14155550101", "SM2"))).conversation
    await store.write_step(StepWrite(_execution(conversation), created=True))
    await store.write_step(StepWrite(_execution(conversation, revision=1), created=False))

    # One batch: two new messages and a step computed from the revision that is now stale.
    results = await asyncio.gather(
        store.ingest(sms_envelope("+14155550102", "SM3")),
        store.write_step(StepWrite(_execution(conversation, revision=1), created=False)),
        store.ingest(sms_envelope("+14155550103", "SM4")),
        return_exceptions=True,
    )
    assert isinstance(results[1], StaleExecution)
    assert results[1].execution_id == "FN" + "1" * 32
    assert not isinstance(results[0], BaseException) and not isinstance(results[2], BaseException)
    count = await store.read(
        lambda conn: conn.execute(select(func.count()).select_from(messages)).scalar()
    )
    assert count == 3
    stored = await store.execution("FN" + "1" * 32)
    assert stored is not None and stored.revision == 2


async def test_a_killed_writer_is_replaced_and_nothing_committed_is_lost(store: Store) -> None:
    first = await store.ingest(sms_envelope("+14155550104", "SM5"))
    (writer,) = _writers()
    os.kill(writer, signal.SIGKILL)
    # A write racing the kill fails like a failed commit (its caller retries); the next one
    # goes to a new writer process.
    second = None
    deadline = time.monotonic() + 20
    while second is None and time.monotonic() < deadline:
        try:
            second = await store.ingest(sms_envelope("+14155550104", "SM6"))
        except RuntimeError:
            await asyncio.sleep(0.05)
    assert second is not None
    assert _writers() != [writer]
    for ingested in (first, second):
        stored = await store.message(ingested.message["id"])
        assert stored is not None and stored["text"] == "hello"


def _writers() -> list[int]:
    """This process's SQLite writer children."""
    return [
        pid
        for pid in _children(os.getpid())
        if b"writer_child" in Path(f"/proc/{pid}/cmdline").read_bytes() and _alive(pid)
    ]


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


def test_the_writer_exits_with_its_server(tmp_path: Path) -> None:
    flows = Path(__file__).resolve().parents[2] / "flows"
    server = ServerProcess(tmp_path / "data", flows)
    server.start()
    assert server.proc is not None
    writers = _children(server.proc.pid)
    assert len(writers) == 1 and _alive(writers[0])
    os.kill(server.proc.pid, signal.SIGKILL)
    server.proc.wait()
    deadline = time.monotonic() + 10
    while _alive(writers[0]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(writers[0])


def _woken(pid: int) -> int:
    """How often ``pid`` has gone to sleep of itself: an idle writer sleeps in recv until a
    batch wakes it."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("voluntary_ctxt_switches:")[1].split()[0])


def test_the_writer_exits_quietly_when_its_server_dies_mid_batch(tmp_path: Path) -> None:
    flows = Path(__file__).resolve().parents[2] / "flows"
    server = ServerProcess(tmp_path / "data", flows)
    server.start()
    assert server.proc is not None
    (writer,) = _children(server.proc.pid)
    # Holding SQLite's write lock keeps the next batch in the writer, waiting for the lock.
    blocker = sqlite3.connect(tmp_path / "data" / "threadline.db", isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        idle = _woken(writer)
        threading.Thread(target=_start_execution, args=(server,), daemon=True).start()
        deadline = time.monotonic() + 20
        while _woken(writer) == idle and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _woken(writer) != idle, "no batch reached the writer"
        # The server dies with the batch in flight; the writer commits it once the lock is
        # free and finds nobody to answer.
        server.stop(signal.SIGKILL)
    finally:
        server.stop()
        blocker.rollback()
        blocker.close()
    deadline = time.monotonic() + 40
    while _alive(writer) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(writer)
    log = server.log()
    for noise in ("Traceback", "BrokenPipeError", "ConnectionResetError"):
        assert noise not in log, log


def _start_execution(server: ServerProcess) -> None:
    """A request whose first write (the conversation) goes to the writer process."""
    with contextlib.suppress(httpx.HTTPError):  # the server is killed before it answers
        httpx.post(
            server.base + "/api/v1/flows/greeting/executions",
            json={"To": "+14155550123", "From": "+14155550100"},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=60,
        )
