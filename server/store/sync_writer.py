"""Group commit for SQLite on a thread of its own: one hop per batch, not one per statement.

Through aiosqlite every statement crosses from the event loop to a driver thread and back; a
request that writes six rows pays six round trips. Here a dedicated thread owns a synchronous
connection and runs a whole batch of operations (plain functions of a connection) in one
transaction, so a batch costs one hop however many statements it holds. Batching, isolation of a
failing operation and durability before acknowledgement work as in ``GroupCommitter``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

T = TypeVar("T")
SyncOperation = Callable[[Connection], Any]
Outcome = tuple[bool, Any]  # (ok, result or exception)

log = logging.getLogger(__name__)


def run_batch(engine: Engine, operations: list[SyncOperation]) -> list[Outcome]:
    """Run operations in one transaction; if one fails, again each in its own SAVEPOINT."""
    try:
        with engine.begin() as conn:
            return [(True, operation(conn)) for operation in operations]
    except Exception:
        pass
    outcomes: list[Outcome] = []
    with engine.begin() as conn:
        for operation in operations:
            try:
                with conn.begin_nested():
                    outcomes.append((True, operation(conn)))
            except Exception as exc:  # this request fails alone
                outcomes.append((False, exc))
    return outcomes


class SyncWriter:
    def __init__(self, engine: Engine, max_batch: int = 1000) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._queue: list[tuple[SyncOperation, asyncio.Future[Any]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.batches = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._writer(), name="sqlite-writer")

    async def close(self) -> None:
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        self._thread.shutdown(wait=True)
        self._engine.dispose()

    async def run(self, operation: Callable[[Connection], T]) -> T:
        if self._closing:
            raise RuntimeError("the store is closing")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.append((operation, future))
        self._wake.set()
        return await future

    async def _writer(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = self._queue[: self._max_batch]
            del self._queue[: self._max_batch]
            operations = [operation for operation, _ in batch]
            try:
                outcomes = await loop.run_in_executor(
                    self._thread, run_batch, self._engine, operations
                )
            except Exception as exc:  # the commit itself failed: nothing of the batch is stored
                log.exception("SQLite batch of %d operations failed", len(batch))
                outcomes = [(False, exc)] * len(batch)
            self.batches += 1
            for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
                if future.done():
                    continue
                if ok:
                    future.set_result(value)
                else:
                    future.set_exception(value)
