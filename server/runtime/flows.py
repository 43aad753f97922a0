"""Flow versions the runtime serves.

Every flow file is published as a version in the store when its content changes; executions keep
the version they started on, so a running conversation never jumps into an edited flow. A file
that fails validation is refused with its errors and the newest stored version stays live.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

import widgets
from server.engine import CompiledFlow, compile_flow
from server.flows.loader import definition_hash, flow_sid, load_flow_dir
from server.store import Store
from server.store.schema import flows as flows_table

log = logging.getLogger(__name__)


@dataclass
class FlowRegistry:
    store: Store
    _latest: dict[str, CompiledFlow] = field(default_factory=dict)  # by name
    _names: dict[str, str] = field(default_factory=dict)  # sid -> name
    _versions: dict[tuple[str, int], CompiledFlow] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)  # Studio SID -> flow name
    # Called with each flow version that becomes the live one (loaded, published, restored), on
    # the event loop: they must not block (the NLU area starts training in the background).
    listeners: list[Callable[[CompiledFlow], None]] = field(default_factory=list)

    async def load_dir(self, path: Path) -> list[str]:
        """Publish and compile every valid flow in ``path``; return the problems found."""
        flow_set = load_flow_dir(path)
        problems = [str(issue) for issue in flow_set.issues]
        for name, definition in flow_set.flows.items():
            await self.publish(name, definition)
        for name in sorted({Path(issue.file).stem for issue in flow_set.issues}):
            if name not in self._latest and await self._restore_latest(name):
                problems.append(f"{name}: serving the previous valid version")
        return problems

    async def publish(self, name: str, definition: dict[str, Any]) -> CompiledFlow:
        sid = flow_sid(name)
        version = await self.store.publish_flow(sid, name, definition_hash(definition), definition)
        compiled = compile_flow(definition, widgets.REGISTRY, sid=sid, name=name, version=version)
        self._remember(compiled)
        return compiled

    def _remember(self, compiled: CompiledFlow) -> None:
        self._latest[compiled.name] = compiled
        self._names[compiled.sid] = compiled.name
        self._versions[(compiled.sid, compiled.version)] = compiled
        for listener in self.listeners:
            listener(compiled)

    async def _restore_latest(self, name: str) -> bool:
        row = await self.store.latest_flow(flow_sid(name))
        if row is None:
            return False
        self._remember(
            compile_flow(
                row["definition"],
                widgets.REGISTRY,
                sid=row["sid"],
                name=name,
                version=row["version"],
            )
        )
        return True

    def latest(self, ref: str) -> CompiledFlow | None:
        """A flow by file name, by Threadline SID, or by a Studio SID mapped in configuration."""
        name = self.aliases.get(ref) or self._names.get(ref) or ref
        return self._latest.get(name)

    def loaded(self, sid: str, version: int) -> CompiledFlow | None:
        """A flow version if it is compiled in memory already (no read)."""
        return self._versions.get((sid, version))

    async def version(self, sid: str, version: int) -> CompiledFlow | None:
        compiled = self.loaded(sid, version)
        if compiled is not None:
            return compiled
        row = await self.store.flow_version(sid, version)
        if row is None:
            return None
        compiled = compile_flow(
            row["definition"], widgets.REGISTRY, sid=sid, name=row["name"], version=version
        )
        self._versions[(sid, version)] = compiled
        return compiled

    def names(self) -> list[str]:
        return sorted(self._latest)

    async def versions(self, name: str) -> list[dict[str, Any]]:
        """Every stored version of a flow, oldest first: ``version``, ``hash``, ``created_at``."""
        query = (
            select(flows_table.c.version, flows_table.c.hash, flows_table.c.created_at)
            .where(flows_table.c.sid == flow_sid(name))
            .order_by(flows_table.c.version)
        )
        async with self.store.engine.connect() as conn:
            return [dict(row._mapping) for row in (await conn.execute(query)).all()]
