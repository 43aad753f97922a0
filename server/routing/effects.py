"""Effects the router asks the runtime to perform. Values only.

Timers are the engine's ``StartTimer``/``CancelTimer`` so one timer service serves both.
"""

from __future__ import annotations

from dataclasses import dataclass

from server.engine.effects import CancelTimer, StartTimer


@dataclass(frozen=True, slots=True)
class Offer:
    """Show the task to one agent until ``expires_at``; they answer OfferAccepted/OfferRejected."""

    task_id: str
    agent_id: str
    at: float
    expires_at: float
    reason: str


@dataclass(frozen=True, slots=True)
class RescindOffer:
    task_id: str
    agent_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Assigned:
    task_id: str
    agent_id: str
    at: float
    queue: str


@dataclass(frozen=True, slots=True)
class Requeued:
    """The task went back to ``queue`` (at the front when ``front``), away from ``from_agent``."""

    task_id: str
    queue: str
    from_agent: str | None
    front: bool
    reason: str


@dataclass(frozen=True, slots=True)
class TaskTimedOut:
    """No acceptance within the task's timeout: the flow's send-to-agent takes ``timeout``."""

    task_id: str
    at: float


@dataclass(frozen=True, slots=True)
class NoAgents:
    """No agent is online for the task's queue and the caller asked not to wait."""

    task_id: str
    queue: str
    at: float


@dataclass(frozen=True, slots=True)
class TransferFailed:
    task_id: str
    reason: str


@dataclass(frozen=True, slots=True)
class WrapUpStarted:
    task_id: str
    agent_id: str
    disposition: str


@dataclass(frozen=True, slots=True)
class TaskClosed:
    task_id: str
    agent_id: str | None
    at: float
    disposition: str
    by: str


@dataclass(frozen=True, slots=True)
class AgentStateChanged:
    agent_id: str
    activity: str
    at: float
    reason: str


@dataclass(frozen=True, slots=True)
class Record:
    """One routing decision for the conversation's history: what, to whom, when and why."""

    task_id: str
    at: float
    action: str  # queued, offered, accepted, rejected, offer_timeout, widened, requeued, ...
    reason: str
    agent_id: str | None = None
    queue: str | None = None


RoutingEffect = (
    Offer
    | RescindOffer
    | Assigned
    | Requeued
    | TaskTimedOut
    | NoAgents
    | TransferFailed
    | WrapUpStarted
    | TaskClosed
    | AgentStateChanged
    | Record
    | StartTimer
    | CancelTimer
)

__all__ = [
    "AgentStateChanged",
    "Assigned",
    "CancelTimer",
    "NoAgents",
    "Offer",
    "Record",
    "Requeued",
    "RescindOffer",
    "RoutingEffect",
    "StartTimer",
    "TaskClosed",
    "TaskTimedOut",
    "TransferFailed",
    "WrapUpStarted",
]
