"""Per-key serial execution: events of one conversation are applied one at a time, in order.

Each key gets a FIFO of jobs drained by one task that exists only while the key has work, so an
idle conversation costs nothing in memory.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from server.runtime.work_gate import WorkGate

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[Any]]


class SerialExecutor:
    def __init__(self, gate: WorkGate | None = None) -> None:
        # Bounds how many keys run a job at the same time (None: no bound).
        self.gate = gate
        self._queues: dict[str, deque[tuple[Job, asyncio.Future[Any]]]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def submit(self, key: str, job: Job) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        queue = self._queues.get(key)
        if queue is None:
            queue = self._queues[key] = deque()
            task = asyncio.create_task(self._drain(key, queue), name=f"serial:{key}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        queue.append((job, future))
        return future

    async def _drain(self, key: str, queue: deque[tuple[Job, asyncio.Future[Any]]]) -> None:
        try:
            while queue:
                job, future = queue.popleft()
                try:
                    if self.gate is None:
                        result = await job()
                    else:
                        async with self.gate.slot():
                            result = await job()
                except Exception as exc:
                    log.exception("job for %s failed", key)
                    if not future.done():
                        future.set_exception(exc)
                        future.exception()  # mark retrieved: the caller may not await it
                else:
                    if not future.done():
                        future.set_result(result)
        finally:
            self._queues.pop(key, None)

    @property
    def busy(self) -> int:
        return len(self._queues)

    async def drain(self) -> None:
        """Wait until every queued job has run (used on shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
