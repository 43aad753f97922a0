"""Effects the engine asks the runtime to perform. Values only; the runtime owns all I/O.

Effects that expect an answer carry a ``request_id``; the runtime answers with a
``events.Result`` (or ``events.DeliveryFailed``) carrying the same id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from server.model import Part


@dataclass(frozen=True, slots=True)
class SendMessage:
    request_id: str
    parts: tuple[Part, ...]
    to: str | None = None  # None: the conversation's customer address
    from_: str | None = None  # None: the conversation's channel account
    media_urls: tuple[str, ...] = ()
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StartTimer:
    timer_id: str
    due_at: float


@dataclass(frozen=True, slots=True)
class CancelTimer:
    timer_id: str


@dataclass(frozen=True, slots=True)
class HttpRequest:
    request_id: str
    method: str
    url: str
    headers: dict[str, str]
    body: str | None
    content_type: str | None
    timeout: float = 10.0


@dataclass(frozen=True, slots=True)
class CallFunction:
    """Call a registered Python callable or a configured HTTP function by name or URL.

    ``function`` names it (a Studio function SID or a Threadline name); ``url`` is where it is
    served when neither a registered callable nor the functions file knows the name.
    """

    request_id: str
    function: str
    parameters: dict[str, Any]
    timeout: float = 10.0
    url: str | None = None


@dataclass(frozen=True, slots=True)
class StartSubflow:
    request_id: str
    flow: str  # name or Studio SID
    parameters: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RouteToAgent:
    request_id: str
    queue: str | None
    requirements: dict[str, Any]
    priority: int
    timeout: float
    context: dict[str, Any]
    wait_when_no_agents: bool = False


@dataclass(frozen=True, slots=True)
class Custom:
    """An effect of a Threadline widget (CRM look-up, NLU call) handled by a runtime plug-in."""

    request_id: str
    kind: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SetConversationAttributes:
    """Attach context to the conversation (and, with ``contact=True``, to the contact)."""

    attributes: dict[str, Any]
    contact: bool = False


@dataclass(frozen=True, slots=True)
class EndExecution:
    status: str  # ended, failed
    reason: str


Effect = (
    SendMessage
    | StartTimer
    | CancelTimer
    | HttpRequest
    | CallFunction
    | StartSubflow
    | RouteToAgent
    | Custom
    | SetConversationAttributes
    | EndExecution
)
