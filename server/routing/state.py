"""Routing state as plain data: agents, tasks, counters and recent statistics.

Everything here round-trips through ``to_dict``/``from_dict`` (JSON-safe values only), so a
second node can rebuild the router from a stored snapshot. Indexes are derived, never stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from server.routing.config import Step

WAITING = "waiting"  # in its queue's index, waiting for an agent
STICKY = "sticky"  # held for the contact's last agent (sticky wait)
OFFERED = "offered"  # reserved for one agent, waiting for accept/reject/timeout
ASSIGNED = "assigned"
WRAPUP = "wrapup"


@dataclass(slots=True)
class Agent:
    agent_id: str
    attributes: dict[str, Any]
    capacity: dict[str, int]
    activity: str
    connected: bool = True
    last_idle_at: float = 0.0
    used: dict[str, int] = field(default_factory=dict)  # assigned + offered, per channel
    tasks: list[str] = field(default_factory=list)  # assigned task ids
    offers: list[str] = field(default_factory=list)  # task ids offered and not yet answered
    missed_offers: int = 0  # consecutive offer timeouts
    round_robin: dict[str, int] = field(default_factory=dict)  # queue -> last turn taken
    grace_timer: str | None = None
    disconnects: int = 0

    def free(self, channel: str) -> int:
        return self.capacity.get(channel, 0) - self.used.get(channel, 0)

    @property
    def busy(self) -> int:
        return sum(self.used.values())

    def to_dict(self) -> dict[str, Any]:
        return {name: _copy(getattr(self, name)) for name in self.__slots__}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Agent:
        return cls(**{name: _copy(data[name]) for name in cls.__slots__ if name in data})


@dataclass(slots=True)
class Task:
    task_id: str
    attributes: dict[str, Any]
    channel: str
    steps: list[Step]
    base_priority: int
    created_at: float
    seq: int  # FIFO order within a priority; negative for tasks re-queued at the front
    step_index: int = 0
    status: str = WAITING
    agent_id: str | None = None  # the agent offered or assigned
    contact_id: str | None = None
    wait_when_no_agents: bool = False
    agent_expression: str | None = None
    timeout_at: float | None = None
    step_started_at: float = 0.0
    queued_at: float = 0.0
    offer_expires_at: float | None = None
    offers_made: int = 0  # makes each offer's timer id unique
    rejected_by: list[str] = field(default_factory=list)
    timed_out_by: str | None = None  # the agent who just let the offer expire
    held_for: str | None = None  # the sticky agent a STICKY task waits for
    disposition: str = ""
    accepted_at: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def step(self) -> Step:
        return self.steps[self.step_index]

    @property
    def queue(self) -> str:
        return self.step.queue

    @property
    def priority(self) -> int:
        step_priority = self.step.priority
        return step_priority if step_priority is not None else self.base_priority

    def to_dict(self) -> dict[str, Any]:
        data = {name: _copy(getattr(self, name)) for name in self.__slots__}
        data["steps"] = [step.to_dict() for step in self.steps]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Task:
        values = {name: _copy(data[name]) for name in cls.__slots__ if name in data}
        values["steps"] = [Step.from_dict(step) for step in data["steps"]]
        return cls(**values)


@dataclass(slots=True)
class RoutingState:
    agents: dict[str, Agent] = field(default_factory=dict)
    tasks: dict[str, Task] = field(default_factory=dict)
    next_seq: int = 1
    next_front_seq: int = -1
    round_robin_turns: dict[str, int] = field(default_factory=dict)  # queue -> turns handed out
    last_agent_by_contact: dict[str, list[Any]] = field(default_factory=dict)  # [agent, at]
    handle_times: dict[str, list[float]] = field(default_factory=dict)  # queue -> recent
    wait_times: dict[str, list[float]] = field(default_factory=dict)  # queue -> recent

    def to_dict(self) -> dict[str, Any]:
        return {
            "agents": {key: agent.to_dict() for key, agent in self.agents.items()},
            "tasks": {key: task.to_dict() for key, task in self.tasks.items()},
            "next_seq": self.next_seq,
            "next_front_seq": self.next_front_seq,
            "round_robin_turns": dict(self.round_robin_turns),
            "last_agent_by_contact": _copy(self.last_agent_by_contact),
            "handle_times": _copy(self.handle_times),
            "wait_times": _copy(self.wait_times),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RoutingState:
        return cls(
            agents={key: Agent.from_dict(value) for key, value in data["agents"].items()},
            tasks={key: Task.from_dict(value) for key, value in data["tasks"].items()},
            next_seq=int(data["next_seq"]),
            next_front_seq=int(data["next_front_seq"]),
            round_robin_turns=dict(data["round_robin_turns"]),
            last_agent_by_contact=_copy(data["last_agent_by_contact"]),
            handle_times=_copy(data["handle_times"]),
            wait_times=_copy(data["wait_times"]),
        )


def _copy(value: Any) -> Any:
    """A deep copy of JSON-like data, so snapshots never alias live state."""
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_copy(item) for item in value]
    return value
