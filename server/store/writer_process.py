"""SQLite's writer in a process of its own, so writes run beside the event loop, not under its GIL.

Profiles of the message path showed the writer thread and the event loop taking turns on one
interpreter lock: every statement's Python work (SQLAlchemy's parameter and row handling) stalled
the loop, and the server never used more than one core. Here a child process owns the write
connection; the server sends it a whole batch of operations, pickled, over a socket pair, and
gets back one outcome per operation after the batch's single commit. Batching, the isolation of a
failing operation and durability before acknowledgement are ``sync_writer.run_batch``'s, unchanged.

Operations must pickle: module-level functions of a connection (``functools.partial`` of the
functions in ``ops``). Results come back with SQLAlchemy rows turned into plain dicts.

The child (``writer_child``) exits when its socket closes, so a server killed outright does not
leave it behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import pickle
import socket
import struct
import subprocess
import sys
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.engine import RowMapping

log = logging.getLogger(__name__)

SyncOperation = Callable[[Connection], Any]
Outcome = tuple[bool, Any]  # (ok, result or exception)

LENGTH = struct.Struct("!I")
READY = b"ready\n"  # the child's first words: the database is open
STARTUP_SECONDS = 60
# The directory holding the ``server`` package, so the child imports the same code as the server.
PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def portable(value: Any) -> Any:
    """``value`` with SQLAlchemy rows as dicts (rows do not pickle by themselves).

    Runs on every outcome of the writer: values that hold no row come back as they are."""
    if isinstance(value, (dict, str, int, float, bool, type(None))):
        return value
    if isinstance(value, RowMapping):
        return dict(value)
    if isinstance(value, list):
        return [portable(item) for item in value]
    if isinstance(value, tuple):
        return tuple(portable(item) for item in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {}
        for field in dataclasses.fields(value):
            if not field.init:
                continue
            held = getattr(value, field.name)
            made = portable(held)
            if made is not held:
                changes[field.name] = made
        return dataclasses.replace(value, **changes) if changes else value
    return value


def portable_error(exc: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")


def _child_environment() -> dict[str, str]:
    paths = [str(PACKAGE_ROOT), os.environ.get("PYTHONPATH", "")]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


class WriterProcess:
    """The server's end: starts the child and sends it batches; outcomes come back in order.

    Batches may be sent while earlier ones are still committing (``submit`` does not wait), so
    the child starts the next batch as soon as it has committed one instead of waiting a round
    trip for it.
    """

    def __init__(self, url: str) -> None:
        self._url = url
        self._proc: subprocess.Popen[bytes] | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._pending: deque[asyncio.Future[list[Outcome]]] = deque()
        self._reading: asyncio.Task[None] | None = None

    async def start(self) -> None:
        ours, theirs = socket.socketpair()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "server.store.writer_child", str(theirs.fileno()), self._url],
            pass_fds=(theirs.fileno(),),
            env=_child_environment(),
        )
        theirs.close()
        reader, self._writer = await asyncio.open_unix_connection(sock=ours)
        # The child says it is ready once it has opened the database: until then the server is
        # not ready either (its first requests would otherwise wait for the child's imports).
        try:
            ready = await asyncio.wait_for(reader.readexactly(len(READY)), STARTUP_SECONDS)
        except (TimeoutError, asyncio.IncompleteReadError) as exc:
            raise RuntimeError("the SQLite writer process did not start") from exc
        if ready != READY:
            raise RuntimeError(f"the SQLite writer process answered {ready!r} on start")
        self._reading = asyncio.create_task(self._read_outcomes(reader), name="sqlite-outcomes")

    @property
    def running(self) -> bool:
        return self._reading is not None and not self._reading.done()

    async def restart(self) -> None:
        """Start a new child after the last one stopped (it was killed, or it failed)."""
        log.error("the SQLite writer process stopped; starting a new one")
        await self._discard()
        await self.start()

    def submit(self, operations: list[SyncOperation]) -> asyncio.Future[list[Outcome]]:
        """Send a batch; the future resolves once the child has committed it."""
        future: asyncio.Future[list[Outcome]] = asyncio.get_running_loop().create_future()
        if self._writer is None or self._reading is None or self._reading.done():
            future.set_exception(RuntimeError("the SQLite writer process is not running"))
            return future
        payload = pickle.dumps(operations, protocol=pickle.HIGHEST_PROTOCOL)
        self._writer.write(LENGTH.pack(len(payload)) + payload)
        self._pending.append(future)
        return future

    async def _read_outcomes(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                header = await reader.readexactly(LENGTH.size)
                body = await reader.readexactly(LENGTH.unpack(header)[0])
                future = self._pending.popleft()
                if not future.done():
                    future.set_result(pickle.loads(body))
        except Exception as exc:  # the child is gone, or what it sent cannot be read
            if self._pending:
                log.critical("the SQLite writer process stopped with batches in flight: %r", exc)
            # A batch in flight may or may not have committed: its callers get an error, as for
            # a failed commit, and retry (webhooks are idempotent on the provider's message id).
            stopped = RuntimeError("the SQLite writer process stopped")
            while self._pending:
                future = self._pending.popleft()
                if not future.done():
                    future.set_exception(stopped)

    async def close(self) -> None:
        """Wait for the batches in flight, then let the child go."""
        if self._pending:
            await asyncio.wait(list(self._pending))
        await self._discard()

    async def _discard(self) -> None:
        """Close our end (the child exits on it) and wait for the child, killing it if stuck."""
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
            self._writer = None
        if self._reading is not None:
            await self._reading
            self._reading = None
        if self._proc is not None:
            try:
                await asyncio.to_thread(self._proc.wait, 30)
            except subprocess.TimeoutExpired:
                log.error("the SQLite writer process did not stop; killing it")
                self._proc.kill()
            self._proc = None
