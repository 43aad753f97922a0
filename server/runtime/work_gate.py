"""How many conversations' flow jobs run at once.

Webhook answers wait only for their message's durable insert, but they share the event loop and
the store's writer with flow work. Unbounded, a burst puts thousands of flow jobs on the loop at
once: every await of an acknowledgement then waits behind all of them, and every insert behind
their writes, so answers slow down with the backlog (seconds under overload). Through the gate
only a bounded number of jobs run; the rest wait their turn in their conversation's queue (in
order, costing a closure each), so acknowledgements stay fast while the backlog drains behind.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

DEFAULT_FLOW_CONCURRENCY = 64


class WorkGate:
    def __init__(self, limit: int = DEFAULT_FLOW_CONCURRENCY) -> None:
        if limit < 1:
            raise ValueError("the flow concurrency limit must be at least 1")
        self.limit = limit
        self._slots = asyncio.Semaphore(limit)
        self.waiting = 0

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        self.waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self.waiting -= 1
        try:
            yield
        finally:
            self._slots.release()
