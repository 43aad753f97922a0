"""Derived indexes that keep each routing decision logarithmic in agents and waiting tasks.

- ``AgentPools``: per (queue, channel), the routable agents with a free slot on that channel,
  sorted by the queue's selection strategy; the best candidate is the first entry.
- ``WaitingTasks``: per (queue, channel), the waiting tasks sorted by (-priority, seq).

Both are rebuilt from ``RoutingState`` after a restore; they are never persisted.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sortedcontainers import SortedList

from server.routing.config import LEAST_BUSY, ROUND_ROBIN, RoutingConfig
from server.routing.state import Agent, Task

PoolKey = tuple[str, str]  # (queue, channel)


class AgentPools:
    def __init__(self, config: RoutingConfig) -> None:
        self.config = config
        self.pools: dict[PoolKey, SortedList] = {}
        self.entries: dict[str, list[tuple[PoolKey, tuple[Any, ...]]]] = {}
        self.memberships: dict[str, tuple[str, ...]] = {}  # agent -> queues it belongs to
        self.online: dict[str, set[str]] = {name: set() for name in config.queues}

    def set_membership(self, agent: Agent) -> None:
        self.memberships[agent.agent_id] = tuple(
            name
            for name, queue in self.config.queues.items()
            if queue.target_workers.matches(agent.attributes)
        )

    def queues_of(self, agent_id: str) -> tuple[str, ...]:
        return self.memberships.get(agent_id, ())

    def update(self, agent: Agent) -> None:
        """Re-file ``agent`` after any change to its activity, load, idle time or turns."""
        self.remove(agent.agent_id)
        routable = agent.connected and self.config.is_routable(agent.activity)
        entries: list[tuple[PoolKey, tuple[Any, ...]]] = []
        for queue in self.queues_of(agent.agent_id):
            online = self.online[queue]
            if not routable:
                online.discard(agent.agent_id)
                continue
            online.add(agent.agent_id)
            entry = self._sort_key(queue, agent)
            for channel in agent.capacity:
                if agent.free(channel) > 0:
                    key = (queue, channel)
                    self.pools.setdefault(key, SortedList()).add(entry)
                    entries.append((key, entry))
        self.entries[agent.agent_id] = entries

    def remove(self, agent_id: str) -> None:
        for key, entry in self.entries.pop(agent_id, ()):
            self.pools[key].remove(entry)

    def candidates(self, queue: str, channel: str) -> Iterator[str]:
        """Agent ids with a free slot, best first by the queue's strategy."""
        for entry in self.pools.get((queue, channel), ()):
            yield entry[-1]

    def pools_of(self, agent_id: str) -> list[PoolKey]:
        return [key for key, _ in self.entries.get(agent_id, ())]

    def online_count(self, queue: str) -> int:
        return len(self.online.get(queue, ()))

    def _sort_key(self, queue: str, agent: Agent) -> tuple[Any, ...]:
        strategy = self.config.queues[queue].strategy
        if strategy == LEAST_BUSY:
            return (agent.busy, agent.last_idle_at, agent.agent_id)
        if strategy == ROUND_ROBIN:
            # The agent whose turn in this queue is oldest goes next; newcomers (-1) go first.
            return (agent.round_robin.get(queue, -1), agent.agent_id)
        return (agent.last_idle_at, agent.agent_id)


class WaitingTasks:
    def __init__(self) -> None:
        self.lines: dict[PoolKey, SortedList] = {}
        self.entries: dict[str, tuple[PoolKey, tuple[int, int, str]]] = {}

    def add(self, task: Task) -> None:
        self.remove(task.task_id)
        key = (task.queue, task.channel)
        entry = (-task.priority, task.seq, task.task_id)
        self.lines.setdefault(key, SortedList()).add(entry)
        self.entries[task.task_id] = (key, entry)

    def remove(self, task_id: str) -> None:
        found = self.entries.pop(task_id, None)
        if found is not None:
            self.lines[found[0]].remove(found[1])

    def line(self, queue: str, channel: str) -> Iterator[tuple[int, int, str]]:
        yield from self.lines.get((queue, channel), ())

    def position(self, task: Task) -> int | None:
        """1-based position among the waiting tasks of the task's queue, all channels."""
        found = self.entries.get(task.task_id)
        if found is None:
            return None
        ahead = 0
        for (queue, _), line in self.lines.items():
            if queue == found[0][0]:
                ahead += line.bisect_left(found[1])
        return ahead + 1
