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

from server.store.batching import BatchQueue

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


class SyncWriter(BatchQueue[SyncOperation]):
    name = "sqlite-writer"

    def __init__(self, engine: Engine, max_batch: int = 1000) -> None:
        super().__init__(max_batch)
        self._engine = engine
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")

    async def close(self) -> None:
        await super().close()
        self._thread.shutdown(wait=True)
        self._engine.dispose()

    async def run(self, operation: Callable[[Connection], T]) -> T:
        result: T = await self.submit(operation)
        return result

    async def _commit(self, batch: list[tuple[SyncOperation, asyncio.Future[Any]]]) -> None:
        loop = asyncio.get_running_loop()
        operations = [operation for operation, _ in batch]
        try:
            outcomes = await loop.run_in_executor(self._thread, run_batch, self._engine, operations)
        except Exception as exc:  # the commit itself failed: nothing of the batch is stored
            log.exception("SQLite batch of %d operations failed", len(batch))
            outcomes = [(False, exc)] * len(batch)
        for (_, future), (ok, value) in zip(batch, outcomes, strict=True):
            if future.done():
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
