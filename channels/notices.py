"""Customer notices: things a channel reports about a customer that are not messages to answer.

A customer deleting ("revoking") or editing a message they sent, or WhatsApp telling us the
customer changed their number or their identity key, arrives on the same webhook as messages.
None of them is a customer turn: they never start or feed a flow and never reach an agent as a
new message. The store records each as what it is (a deleted or edited message, a new identity
on the contact) plus a journey event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from server.model import Identity, Part
from server.pickling import pickled_by_constructor


class NoticeKind(StrEnum):
    REVOKE = "revoke"  # the customer deleted a message they had sent
    EDIT = "edit"  # the customer edited a message they had sent
    NUMBER_CHANGED = "number_changed"  # the customer moved their account to a new number
    IDENTITY_CHANGED = "identity_changed"  # the customer's security key changed (new device)
    SYSTEM = "system"  # another provider system notice about the customer


@pickled_by_constructor
@dataclass(frozen=True, slots=True)
class CustomerNotice:
    kind: NoticeKind
    channel: str
    channel_account: str
    customer_address: str
    identities: tuple[Identity, ...]  # the customer as known before the notice
    notice_id: str | None = None  # the provider's id of the notice itself
    original_message_id: str | None = None  # revoke, edit: the provider id of the message
    parts: tuple[Part, ...] = ()  # edit: the message's new content
    new_identity: Identity | None = None  # number change: the new number
    properties: dict[str, Any] = field(default_factory=dict)  # what else the provider said
    raw: dict[str, Any] | None = None
    received_at: datetime | None = None
