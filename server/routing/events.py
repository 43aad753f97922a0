"""Events the router consumes. Values only: the time arrives in ``at`` (epoch seconds).

Timers come back as the engine's ``TimerFired(timer_id, at)``; the router ignores stale ones.
The runtime uses the conversation id as the task id (one routing task per conversation).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from server.engine.events import TimerFired


@dataclass(frozen=True, slots=True)
class AgentConnected:
    """An agent opened the desk; attributes and capacity replace the stored ones when given."""

    agent_id: str
    at: float
    attributes: dict[str, Any] | None = None
    capacity: dict[str, int] | None = None  # per channel kind, e.g. {"webchat": 3, "sms": 1}
    activity: str | None = None  # None: keep the agent's activity ("available" the first time)


@dataclass(frozen=True, slots=True)
class AgentDisconnected:
    agent_id: str
    at: float


@dataclass(frozen=True, slots=True)
class SetAvailability:
    agent_id: str
    activity: str
    at: float


@dataclass(frozen=True, slots=True)
class TaskCreated:
    """Route a conversation. ``queue`` bypasses workflows; otherwise ``workflow`` (or the default
    workflow) picks the steps from ``attributes``. ``agent_expression`` narrows every step (the
    flow's skill requirements). ``timeout`` (seconds, None: none) ends the task unassigned."""

    task_id: str
    at: float
    attributes: dict[str, Any] = field(default_factory=dict)
    channel: str = "webchat"
    queue: str | None = None
    workflow: str | None = None
    priority: int = 0
    timeout: float | None = None
    contact_id: str | None = None
    wait_when_no_agents: bool = False
    agent_expression: str | None = None


@dataclass(frozen=True, slots=True)
class OfferAccepted:
    task_id: str
    agent_id: str
    at: float


@dataclass(frozen=True, slots=True)
class OfferRejected:
    task_id: str
    agent_id: str
    at: float
    reason: str = ""


@dataclass(frozen=True, slots=True)
class WrapUp:
    """The agent finished talking; the slot is freed while they write notes."""

    task_id: str
    at: float
    disposition: str = ""


@dataclass(frozen=True, slots=True)
class CloseTask:
    """End a task in any state (done, abandoned by the customer, or a supervisor's force-close)."""

    task_id: str
    at: float
    disposition: str = ""
    by: str = ""  # "agent:a1", "supervisor:s1", "contact", "system"


@dataclass(frozen=True, slots=True)
class Transfer:
    """Move an assigned task to another agent (offered to them) or to a queue (re-routed)."""

    task_id: str
    at: float
    to_agent: str | None = None
    to_queue: str | None = None
    note: str = ""
    by: str = ""


@dataclass(frozen=True, slots=True)
class Reassign:
    """A supervisor assigns a task straight to an agent: no offer, capacity not checked."""

    task_id: str
    agent_id: str
    at: float
    by: str = ""


RoutingEvent = (
    AgentConnected
    | AgentDisconnected
    | SetAvailability
    | TaskCreated
    | OfferAccepted
    | OfferRejected
    | TimerFired
    | WrapUp
    | CloseTask
    | Transfer
    | Reassign
)

__all__ = [
    "AgentConnected",
    "AgentDisconnected",
    "CloseTask",
    "OfferAccepted",
    "OfferRejected",
    "Reassign",
    "RoutingEvent",
    "SetAvailability",
    "TaskCreated",
    "TimerFired",
    "Transfer",
    "WrapUp",
]
