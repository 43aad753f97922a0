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
    # The provider offers no way to ask later whether this send happened: were this answer's
    # record lost in a crash, recovery would send the message again. The runtime stores such
    # an answer at once rather than with the flow's next step, so the window of doubt is the
    # provider call and one commit.
    store_at_once: bool = False


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


class CheckingSender(Sender, Protocol):
    """A sender that can find out whether a send reached the provider when its answer was lost.

    Every outbound message is stored before it is handed to the provider (its intent, at
    ``intended_at``); a message stored but with no recorded answer after a crash may or may not
    have been sent. ``send_unless_sent`` looks it up at the provider and sends only what is not
    there. It raises ``SendCheckFailed`` when the provider cannot be asked (nothing is sent; ask
    again later).
    """

    async def send_unless_sent(
        self,
        conversation: Conversation,
        message: Message,
        intended_at: float,
        known_ids: frozenset[str] = frozenset(),
    ) -> SendOutcome: ...


class SendCheckFailed(Exception):
    """The provider could not be asked whether a message was sent; nothing was sent."""
