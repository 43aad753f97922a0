"""Events the engine consumes. Values only: time arrives in ``at`` (epoch seconds), never read."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Start:
    """Start an execution through the trigger widget.

    ``trigger`` is the trigger event that fires (incomingMessage, incomingConversationMessage,
    incomingRequest, incomingParent); ``message`` is the inbound message for message triggers
    (``trigger.message``, or ``trigger.conversation`` for incomingConversationMessage);
    ``data`` becomes ``flow.data`` (REST-triggered executions) and ``parameters`` become
    ``trigger.parent.parameters`` (subflows).
    """

    trigger: str
    at: float
    message: dict[str, Any] | None = None
    data: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A customer message for a waiting execution; ``message`` holds Studio's fields (Body, ...)."""

    message: dict[str, Any]
    at: float


@dataclass(frozen=True, slots=True)
class TimerFired:
    timer_id: str
    at: float


@dataclass(frozen=True, slots=True)
class Result:
    """The outcome of an effect the runtime performed for a request the execution made.

    One event type serves every request/response effect (sends, HTTP calls, functions, subflows,
    routing, CRM look-ups): the widget that issued ``request_id`` interprets ``data``.
    """

    request_id: str
    at: float
    ok: bool
    data: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True, slots=True)
class DeliveryFailed:
    """A message the execution sent was reported failed/undelivered by the provider."""

    request_id: str
    at: float
    error_code: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class AppEvent:
    """A named event from the web or app channel, for ``wait-for-event``."""

    name: str
    at: float
    properties: dict[str, Any] = field(default_factory=dict)


Event = Start | InboundMessage | TimerFired | Result | DeliveryFailed | AppEvent
