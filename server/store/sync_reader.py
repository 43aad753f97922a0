"""Reads for SQLite on a few threads of their own: one hop per query.

Through aiosqlite a query costs several crossings between the event loop and the driver thread
(cursor, execute, fetch, close, rollback). Here a small pool of threads holds synchronous
connections in autocommit mode (every query sees the latest commit; WAL lets reads run beside the
writer) and runs each query in a single hop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine

T = TypeVar("T")


class SyncReader:
    def __init__(self, engine: Engine, threads: int = 4) -> None:
        self._engine = engine
        self._threads = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="sqlite-reader")

    async def run(self, query: Callable[[Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._threads, self._run, query)

    def _run(self, query: Callable[[Connection], T]) -> T:
        with self._engine.connect() as conn:
            return query(conn)

    def close(self) -> None:
        self._threads.shutdown(wait=True)
        self._engine.dispose()


def first(statement: Any) -> Callable[[Connection], Any]:
    def query(conn: Connection) -> Any:
        row = conn.execute(statement).first()
        return row._mapping if row is not None else None

    return query


def every(statement: Any) -> Callable[[Connection], Any]:
    def query(conn: Connection) -> Any:
        return [row._mapping for row in conn.execute(statement).all()]

    return query


def scalar(statement: Any) -> Callable[[Connection], Any]:
    def query(conn: Connection) -> Any:
        return conn.execute(statement).scalar()

    return query
