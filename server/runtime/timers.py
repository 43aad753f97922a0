"""Durable timers: rows in the store, fired by one scheduler task per process.

A timer's row is deleted in the same transaction as the engine step it causes, so a timer that
fell due while the server was down fires exactly once after start, and a crash mid-step leaves
the row for the next start to fire again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from server.store import Store
from server.store.ops import Row

log = logging.getLogger(__name__)

MAX_SLEEP = 1.0  # bound on how late a timer added by another node can be noticed
RETRY_AFTER = 5.0  # a timer whose step failed is retried, but not in a tight loop


class TimerScheduler:
    def __init__(self, store: Store, fire: Callable[[Row], Awaitable[None]]) -> None:
        self._store = store
        self._fire = fire
        self._wake = asyncio.Event()
        self._in_flight: set[str] = set()
        self._firing: set[asyncio.Task[None]] = set()  # strong references until they finish
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._next_scan = 0.0  # wall-clock time of the next scan

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="timers")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task

    def added(self, due_at: float) -> None:
        """A timer was stored: scan early only if it falls due before the next scan anyway
        (most timers are minutes away, and a scan costs two reads)."""
        if due_at < self._next_scan:
            self._wake.set()

    async def _run(self) -> None:
        while not self._stopping:
            # Cleared before the scan: a timer added while it runs wakes the next one at once.
            self._wake.clear()
            self._next_scan = 0.0
            try:
                delay = await self._fire_due()
            except Exception:
                log.exception("timer scan failed")
                delay = MAX_SLEEP
            self._next_scan = time.time() + delay
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=delay)

    async def _fire_due(self) -> float:
        now = time.time()
        for row in await self._store.due_timers(now):
            if row["id"] not in self._in_flight:
                self._in_flight.add(row["id"])
                task = asyncio.create_task(self._fire_one(row))
                self._firing.add(task)
                task.add_done_callback(self._firing.discard)
        next_due = await self._store.next_timer_due()
        if next_due is None:
            return MAX_SLEEP
        return min(max(next_due - time.time(), 0.01), MAX_SLEEP)

    async def _fire_one(self, row: Row) -> None:
        try:
            await self._fire(row)
        except Exception:
            log.exception("timer %s failed; retrying in %s s", row["id"], RETRY_AFTER)
            asyncio.get_running_loop().call_later(RETRY_AFTER, self._in_flight.discard, row["id"])
        else:
            self._in_flight.discard(row["id"])
