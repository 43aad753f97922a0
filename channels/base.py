"""What every channel adapter shares with the runtime: outbound sends and delivery statuses.

Adapters parse and verify inbound requests into ``server.model.InboundEnvelope`` values, render
outbound messages per channel capability, and send them through the provider's API. The runtime
mounts the adapters' routes and owns storage and flows; adapters import only the model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from server.model import Conversation, Message


@dataclass(frozen=True, slots=True)
class SendOutcome:
    """What the provider said when a message was handed over.

    A long text may go out as several provider messages; ``provider_message_ids`` lists them in
    order. ``ok=False`` with ``error`` means the send was refused (before or by the provider).
    """

    ok: bool
    provider_message_ids: tuple[str, ...] = ()
    status: str = "queued"
    error: str | None = None
    error_code: str | None = None


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """A delivery status callback, keyed by the provider's message id."""

    provider_message_id: str
    status: str  # queued, sent, delivered, read, failed, undelivered
    error_code: str | None = None
    error: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)


class Sender(Protocol):
    """Sends an outbound message of a conversation on the conversation's own channel."""

    async def send(self, conversation: Conversation, message: Message) -> SendOutcome: ...

    async def aclose(self) -> None: ...
