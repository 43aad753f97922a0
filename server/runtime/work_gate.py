"""How many conversations' flow jobs run at once.

Webhook answers wait only for their message's durable insert, but they share the event loop and
the store's writer with flow work. Unbounded, a burst puts thousands of flow jobs on the loop at
once: every await of an acknowledgement then waits behind all of them, and every insert behind
their writes, so answers slow down with the backlog (seconds under overload). Through the gate
only a bounded number of jobs run; the rest wait their turn in their conversation's queue (in
order, costing a closure each), so acknowledgements stay fast while the backlog drains behind.

While messages are being acknowledged (``receiving``), the bound drops to ``busy_limit``: on a
saturated machine the event loop's time goes to answering webhooks first, and flow work takes
the full bound again the moment the inbound side goes quiet. Flow work never stops altogether,
so a steady overload still drains, only more slowly.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Iterator

DEFAULT_FLOW_CONCURRENCY = 64
# Flow jobs that run at once while inbound messages are being acknowledged.
BUSY_FLOW_CONCURRENCY = 8


class WorkGate:
    def __init__(
        self, limit: int = DEFAULT_FLOW_CONCURRENCY, busy_limit: int = BUSY_FLOW_CONCURRENCY
    ) -> None:
        if limit < 1:
            raise ValueError("the flow concurrency limit must be at least 1")
        self.limit = limit
        self.busy_limit = max(1, min(busy_limit, limit))
        self.running = 0
        self.receiving = 0  # acknowledgements under way (see Runtime.accept's callers)
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    def _capacity(self) -> int:
        return self.busy_limit if self.receiving else self.limit

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self._waiters or self.running >= self._capacity():
            turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._waiters.append(turn)
            try:
                await turn  # the slot is counted for us when the turn is given
            except asyncio.CancelledError:
                if turn.done() and not turn.cancelled():
                    self._release()  # given and cancelled at once: pass it on
                else:
                    self._waiters.remove(turn)
                raise
        else:
            self.running += 1
        try:
            yield
        finally:
            self._release()

    @contextlib.contextmanager
    def acknowledging(self) -> Iterator[None]:
        """Mark an acknowledgement under way for the duration of the block."""
        self.receiving += 1
        try:
            yield
        finally:
            self.receiving -= 1
            if not self.receiving:
                self._wake()

    def _release(self) -> None:
        self.running -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self.running < self._capacity():
            turn = self._waiters.popleft()
            if not turn.done():
                self.running += 1
                turn.set_result(None)
