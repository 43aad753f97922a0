"""The conversation model: plain, frozen values shared by channels, widgets and the runtime.

No I/O and no framework imports here, so every layer can depend on it (see DESIGN.md).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from server.pickling import pickled_by_constructor


def new_id(prefix: str) -> str:
    """A Twilio-style SID: two letters and 32 hex digits, unique without a database round trip."""
    return prefix + secrets.token_hex(16)


class Channel(StrEnum):
    SMS = "sms"
    WHATSAPP = "whatsapp"
    WEBCHAT = "webchat"
    APP = "app"


class ConversationStatus(StrEnum):
    BOT = "bot"
    QUEUED = "queued"
    OFFERED = "offered"
    ASSIGNED = "assigned"
    WRAPUP = "wrapup"
    CLOSED = "closed"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class DeliveryStatus(StrEnum):
    """Outbound delivery states; they only move forward (see ``advance_status``)."""

    ACCEPTED = "accepted"
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    UNDELIVERED = "undelivered"
    RECEIVED = "received"  # inbound messages


_STATUS_RANK = {
    DeliveryStatus.ACCEPTED: 0,
    DeliveryStatus.QUEUED: 1,
    DeliveryStatus.SENT: 2,
    DeliveryStatus.DELIVERED: 3,
    DeliveryStatus.READ: 4,
    # A failure can follow any non-final state but never a delivery/read receipt.
    DeliveryStatus.FAILED: 3,
    DeliveryStatus.UNDELIVERED: 3,
    DeliveryStatus.RECEIVED: 0,
}


def advance_status(current: str, new: str) -> str:
    """Return the status a message should have after a callback reporting ``new``.

    Providers deliver status callbacks out of order (a ``sent`` may arrive after ``delivered``),
    so a status never moves backwards, and a failure never overrides delivered/read.
    """
    try:
        cur, nxt = DeliveryStatus(current), DeliveryStatus(new)
    except ValueError:
        return current
    if cur in (DeliveryStatus.FAILED, DeliveryStatus.UNDELIVERED):
        return current
    return new if _STATUS_RANK[nxt] > _STATUS_RANK[cur] else current


# --- message parts ---------------------------------------------------------------------------


@pickled_by_constructor
@dataclass(frozen=True, slots=True)
class TextPart:
    text: str
    kind: str = field(default="text", init=False)


@pickled_by_constructor
@dataclass(frozen=True, slots=True)
class MediaPart:
    url: str | None = None
    content_type: str | None = None
    media_id: str | None = None  # provider media id (WhatsApp) when there is no URL yet
    caption: str | None = None
    filename: str | None = None
    media_kind: str = "file"  # image, video, audio, voice, document, sticker, file
    # Inbound provider media is copied into our media store before a flow or agent sees it:
    # ``stored_id`` names the copy, ``status`` is "stored" or "failed" (with ``error``), and
    # None while not fetched yet (server.media).
    stored_id: str | None = None
    status: str | None = None
    error: str | None = None
    kind: str = field(default="media", init=False)


def media_kind_of_type(content_type: str | None) -> str:
    """The ``media_kind`` of a file of ``content_type``: image, video, audio, else a file."""
    major = (content_type or "").split("/", 1)[0]
    return major if major in ("image", "video", "audio") else "file"


@pickled_by_constructor
@dataclass(frozen=True, slots=True)
class LocationPart:
    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None
    kind: str = field(default="location", init=False)


@pickled_by_constructor
@dataclass(frozen=True, slots=True)
class Choice:
    id: str
    label: str


@pickled_by_constructor
@dataclass(frozen=True, slots=True)
class ChoicesPart:
    """Buttons or a list offered to the customer; rendered per channel capability."""

    choices: tuple[Choice, ...]
    kind: str = field(default="choices", init=False)


@pickled_by_constructor
@dataclass(frozen=True, slots=True)
class ChoiceReplyPart:
    """The customer picked one of the offered choices (button tap, list row, numbered answer)."""

    choice_id: str
    label: str
    kind: str = field(default="choice_reply", init=False)


@pickled_by_constructor
@dataclass(frozen=True, slots=True)
class TemplatePart:
    name: str
    language: str
    parameters: tuple[str, ...] = ()
    kind: str = field(default="template", init=False)


@pickled_by_constructor
@dataclass(frozen=True, slots=True)
class DataPart:
    """Structured content with no closer type (contact cards, reactions, referrals, unsupported)."""

    data_kind: str
    data: dict[str, Any]
    kind: str = field(default="data", init=False)


Part = TextPart | MediaPart | LocationPart | ChoicesPart | ChoiceReplyPart | TemplatePart | DataPart


def part_to_dict(part: Part) -> dict[str, Any]:
    if isinstance(part, ChoicesPart):
        return {
            "kind": "choices",
            "choices": [{"id": c.id, "label": c.label} for c in part.choices],
        }
    if isinstance(part, TemplatePart):
        return {
            "kind": "template",
            "name": part.name,
            "language": part.language,
            "parameters": list(part.parameters),
        }
    out: dict[str, Any] = {}
    for name in part.__slots__:
        value = getattr(part, name)
        if value is not None:
            out[name] = value
    return out


def part_from_dict(data: dict[str, Any]) -> Part:
    kind = data.get("kind")
    args = {k: v for k, v in data.items() if k != "kind"}
    if kind == "text":
        return TextPart(**args)
    if kind == "media":
        return MediaPart(**args)
    if kind == "location":
        return LocationPart(**args)
    if kind == "choices":
        return ChoicesPart(tuple(Choice(c["id"], c["label"]) for c in args["choices"]))
    if kind == "choice_reply":
        return ChoiceReplyPart(**args)
    if kind == "template":
        return TemplatePart(args["name"], args["language"], tuple(args.get("parameters", ())))
    if kind == "data":
        return DataPart(**args)
    raise ValueError(f"unknown message part kind: {kind!r}")


def text_of(parts: tuple[Part, ...] | list[Part]) -> str:
    """The text a flow sees as ``Body``: text parts, a picked choice's label, or a caption."""
    texts: list[str] = []
    for part in parts:
        if isinstance(part, TextPart):
            texts.append(part.text)
        elif isinstance(part, ChoiceReplyPart):
            texts.append(part.label)
        elif isinstance(part, MediaPart) and part.caption:
            texts.append(part.caption)
    return "\n".join(texts)


# --- entities --------------------------------------------------------------------------------


@pickled_by_constructor
@dataclass(frozen=True, slots=True)
class Identity:
    kind: str  # phone, whatsapp, whatsapp_bsuid, webchat, app, email, crm
    value: str

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.value}"


@dataclass(frozen=True, slots=True)
class Contact:
    id: str
    display_name: str | None
    attributes: dict[str, Any]
    identities: tuple[Identity, ...]
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    contact_id: str
    channel: str
    channel_account: str
    customer_address: str
    status: str
    agent_id: str | None
    queue: str | None
    attributes: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    last_inbound_at: datetime | None = None
    closed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    conversation_id: str
    direction: str
    author: str  # contact, bot, agent:<id>, system
    parts: tuple[Part, ...]
    status: str
    created_at: datetime
    updated_at: datetime
    seq: int = 0
    provider_message_id: str | None = None
    idempotency_key: str | None = None
    error_code: str | None = None
    raw: dict[str, Any] | None = None

    @property
    def text(self) -> str:
        return text_of(self.parts)


@dataclass(frozen=True, slots=True)
class Event:
    """A journey event: every customer action is recorded as one."""

    id: str
    contact_id: str
    type: str  # message.inbound, message.outbound, app.event, conversation.routed, ...
    time: datetime
    properties: dict[str, Any]
    conversation_id: str | None = None
    channel: str | None = None
    session: str | None = None


@pickled_by_constructor
@dataclass(frozen=True, slots=True)
class InboundEnvelope:
    """What a channel adapter makes of one inbound provider message, before storage."""

    channel: str
    channel_account: str  # business-side address: number, phone-number id, widget channel
    customer_address: str
    identities: tuple[Identity, ...]
    parts: tuple[Part, ...]
    idempotency_key: str | None = None
    provider_message_id: str | None = None
    profile_name: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)  # provider fields flows see in trigger
    raw: dict[str, Any] | None = None
    received_at: datetime | None = None
