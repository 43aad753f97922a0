"""Agents' display names as customers see them, read from the agents table and kept briefly.

An agent's reply stores the name with the message (what the customer saw stays what they saw);
the cache only saves a read per reply. A rename shows on the next reply after ``TTL`` seconds,
on every node, as each node reads the table again.
"""

from __future__ import annotations

import time

from server.agents.directory import AgentDirectory

TTL = 60.0


class AgentNames:
    def __init__(self, directory: AgentDirectory) -> None:
        self.directory = directory
        self._cache: dict[str, tuple[float, str | None]] = {}

    async def name(self, agent_id: str) -> str | None:
        now = time.monotonic()
        cached = self._cache.get(agent_id)
        if cached is not None and now - cached[0] < TTL:
            return cached[1]
        row = await self.directory.get(agent_id)
        name = str(row["name"]) if row is not None and row["name"] else None
        self._cache[agent_id] = (now, name)
        return name
