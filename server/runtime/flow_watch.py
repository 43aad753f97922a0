"""Hot reload: watch the flows directory and publish each changed file as a new flow version.

The watcher polls file signatures (modification time and size) rather than relying on OS file
events: a flows directory holds a handful of small files, polling them costs nothing, works the
same on every platform and inside containers with mounted volumes, and needs no dependency.

A change is published once the file has looked the same for two polls in a row, so an editor
that writes a file in several steps is not caught half-way. An invalid file is refused with its
validation errors logged; the version already live stays live. Executions keep the version they
started on (``FlowRegistry.version``), so only new conversations see the new version.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from pathlib import Path

from server.engine.flow import FlowError
from server.flows.loader import flow_files
from server.flows.validation import load_flow_file
from server.runtime.flows import FlowRegistry

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 1.0  # seconds between polls

Signature = tuple[int, int]  # (mtime_ns, size)


def signatures(directory: Path) -> dict[Path, Signature]:
    """The signature of every flow file in ``directory`` (files vanishing meanwhile left out)."""
    found: dict[Path, Signature] = {}
    for path in flow_files(directory):
        with contextlib.suppress(OSError):
            stat = path.stat()
            found[path] = (stat.st_mtime_ns, stat.st_size)
    return found


@dataclass
class FlowWatcher:
    registry: FlowRegistry
    directory: Path
    interval: float = DEFAULT_INTERVAL
    # What was last published or refused, per file: a file is looked at again only when it changes.
    _settled: dict[Path, Signature] = field(default_factory=dict)
    # Changes seen on the previous poll, published when the next poll sees the same signature.
    _pending: dict[Path, Signature] = field(default_factory=dict)
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin watching; the files as they are now count as already loaded."""
        self._settled = signatures(self.directory)
        self._task = asyncio.create_task(self._run(), name="flow-watcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def settle(self, path: Path) -> None:
        """Mark ``path`` as handled as it is now (used after publishing it through the API)."""
        current = signatures(self.directory).get(path)
        if current is not None:
            self._settled[path] = current
            self._pending.pop(path, None)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.poll()
            except Exception:  # the watcher must outlive any one bad poll
                log.exception("flow watcher: poll failed")

    async def poll(self) -> list[str]:
        """Look at the directory once; return the names of the flows published by this poll."""
        current = signatures(self.directory)
        for gone in set(self._settled) - set(current):
            # Removing a file does not stop a flow mid-conversation: the last version stays live.
            log.warning("flow file %s was removed; its last version stays live", gone)
            del self._settled[gone]
        published = []
        for path, signature in current.items():
            if self._settled.get(path) == signature:
                self._pending.pop(path, None)
                continue
            if self._pending.get(path) != signature:
                self._pending[path] = (
                    signature  # changed since the last poll: wait for it to settle
                )
                continue
            del self._pending[path]
            self._settled[path] = signature
            if await self.reload(path):
                published.append(path.stem)
        return published

    async def reload(self, path: Path) -> bool:
        """Validate and publish one file; False (with the errors logged) when it is refused."""
        name = path.stem
        definition, issues = load_flow_file(path)
        live = self.registry.latest(name)
        keeping = f"version {live.version} stays live" if live else "the flow is not served"
        if issues or definition is None:
            log.error(
                "flow %s refused (%d errors); %s:\n%s",
                name,
                len(issues),
                keeping,
                "\n".join(f"  {issue}" for issue in issues),
            )
            return False
        try:
            compiled = await self.registry.publish(name, definition)
        except FlowError as error:
            log.error("flow %s refused: %s; %s", name, error, keeping)
            return False
        if live is not None and live.version == compiled.version:
            log.info("flow %s unchanged (version %d)", name, compiled.version)
            return False
        log.info("flow %s published as version %d from %s", name, compiled.version, path)
        return True
