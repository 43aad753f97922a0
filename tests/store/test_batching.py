"""The batch queue both group committers share: urgent operations (storing an inbound message,
which an acknowledgement waits for) go into the next batch ahead of queued flow work."""

from __future__ import annotations

import asyncio
from typing import Any

from server.store.batching import BatchQueue


class RecordingQueue(BatchQueue[str]):
    """Commits by recording each batch; the first batch waits until the test lets it go, so the
    operations submitted meanwhile queue up behind it."""

    def __init__(self, max_batch: int) -> None:
        super().__init__(max_batch)
        self.batches_seen: list[list[str]] = []
        self.release = asyncio.Event()

    async def _commit(self, batch: list[tuple[str, asyncio.Future[Any]]]) -> None:
        self.batches_seen.append([operation for operation, _ in batch])
        if len(self.batches_seen) == 1:
            await self.release.wait()
        for operation, future in batch:
            future.set_result(operation)


async def test_urgent_operations_go_first_and_the_rest_fill_the_batch_in_order() -> None:
    queue = RecordingQueue(max_batch=3)
    queue.start()
    first = asyncio.ensure_future(queue.submit("step-0"))
    await asyncio.sleep(0)  # the drain task takes it: the first batch is committing
    waiting = [asyncio.ensure_future(queue.submit(f"step-{i}")) for i in (1, 2, 3)]
    urgent = [asyncio.ensure_future(queue.submit(f"ingest-{i}", urgent=True)) for i in (1, 2)]
    await asyncio.sleep(0)
    queue.release.set()
    results = await asyncio.gather(first, *waiting, *urgent)
    await queue.close()
    assert results == ["step-0", "step-1", "step-2", "step-3", "ingest-1", "ingest-2"]
    assert queue.batches_seen == [
        ["step-0"],
        ["ingest-1", "ingest-2", "step-1"],  # urgent first, then the oldest of the rest
        ["step-2", "step-3"],
    ]


async def test_a_batch_with_urgent_operations_is_cut_at_the_urgent_size(
    monkeypatch: Any,
) -> None:
    """Every operation in a batch waits for its commit: a burst of inbound messages is stored in
    slices of ``URGENT_BATCH``, and flow work does not ride along while messages still wait."""
    monkeypatch.setattr("server.store.batching.URGENT_BATCH", 2)
    queue = RecordingQueue(max_batch=10)
    queue.start()
    first = asyncio.ensure_future(queue.submit("step-0"))
    await asyncio.sleep(0)
    waiting = [asyncio.ensure_future(queue.submit(f"step-{i}")) for i in (1, 2, 3)]
    urgent = [asyncio.ensure_future(queue.submit(f"ingest-{i}", urgent=True)) for i in (1, 2, 3)]
    await asyncio.sleep(0)
    queue.release.set()
    await asyncio.gather(first, *waiting, *urgent)
    await queue.close()
    assert queue.batches_seen == [
        ["step-0"],
        ["ingest-1", "ingest-2"],  # urgent work left: nothing else rides along
        ["ingest-3", "step-1"],  # the last urgent one, the rest filled up to the urgent size
        ["step-2", "step-3"],  # no urgent work: a full batch
    ]


class FailingQueue(BatchQueue[str]):
    """Its first commit raises (as a batch that cannot be sent would); the next ones work."""

    def __init__(self) -> None:
        super().__init__(max_batch=10)
        self.failed = False

    async def _commit(self, batch: list[tuple[str, asyncio.Future[Any]]]) -> None:
        if not self.failed:
            self.failed = True
            raise ValueError("cannot send")
        for operation, future in batch:
            future.set_result(operation)


async def test_a_batch_that_fails_to_commit_fails_its_callers_and_the_queue_goes_on() -> None:
    queue = FailingQueue()
    queue.start()
    first = await asyncio.gather(queue.submit("a"), return_exceptions=True)
    assert isinstance(first[0], ValueError)
    assert await asyncio.wait_for(queue.submit("b"), 5) == "b"
    await queue.close()
