"""Group commit: many concurrent requests share one transaction.

Each request hands an operation (an async function of a connection) to ``GroupCommitter.run``
and awaits its result. A single writer task takes every operation queued while the previous
transaction was committing, runs them in one transaction, commits once, and only then resolves
the callers' futures: what a request carried is durable before the request is acknowledged, at
one commit per batch rather than per row.

Operations rarely fail, so a batch first runs without savepoints (two statements fewer per
operation). If any operation fails, the batch is rolled back and run again with each operation in
its own SAVEPOINT, so the failing request fails alone and the others commit.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.store.batching import BatchQueue
from server.store.database import WRITER_OPTION

T = TypeVar("T")
Operation = Callable[[AsyncConnection], Awaitable[Any]]

log = logging.getLogger(__name__)


class GroupCommitter(BatchQueue[Operation]):
    name = "group-commit"

    def __init__(self, engine: AsyncEngine, max_batch: int = 500) -> None:
        super().__init__(max_batch)
        self._engine = engine

    async def run(
        self, operation: Callable[[AsyncConnection], Awaitable[T]], *, urgent: bool = False
    ) -> T:
        result: T = await self.submit(operation, urgent=urgent)
        return result

    async def _commit(self, batch: list[tuple[Operation, asyncio.Future[Any]]]) -> None:
        try:
            async with self._engine.connect() as plain:
                conn = await plain.execution_options(**{WRITER_OPTION: True})
                async with conn.begin():
                    results = [await operation(conn) for operation, _ in batch]
        except Exception:
            await self._commit_isolated(batch)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def _commit_isolated(self, batch: list[tuple[Operation, asyncio.Future[Any]]]) -> None:
        done: list[tuple[asyncio.Future[Any], Any]] = []
        failed: list[tuple[asyncio.Future[Any], BaseException]] = []
        try:
            async with self._engine.connect() as plain:
                conn = await plain.execution_options(**{WRITER_OPTION: True})
                async with conn.begin():
                    for operation, future in batch:
                        try:
                            async with conn.begin_nested():
                                done.append((future, await operation(conn)))
                        except Exception as exc:  # one request's failure must not fail the batch
                            failed.append((future, exc))
        except Exception as exc:
            log.exception("group commit of %d operations failed", len(batch))
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for future, result in done:
            if not future.done():
                future.set_result(result)
        for future, error in failed:
            if not future.done():
                future.set_exception(error)
