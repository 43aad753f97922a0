"""The web chat frame protocol: parse client frames, render server frames. No I/O.

Client frames: ``message`` (text, optional ``client_id`` for idempotent resends, ``choice_id``
when a choice button was picked, ``attachments``: upload ids), ``ack`` (highest ``seq``
displayed), ``read`` (highest ``seq`` the visitor has seen), ``typing``, ``history`` (a page of
older messages), ``prechat`` (the pre-chat form), ``opened`` (the visitor opened the chat
window), ``ping``.
Server frames: ``session`` first, ``conversation`` when the visitor's conversation opens (before
its first message), then ``message`` (one per stored message, in ``seq`` order), ``typing``,
``read``, ``history``, ``prechat_saved``, ``error``, ``pong``.
docs/webchat.md describes every frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from channels.frames import FrameError, Ping, Read, decode_object, non_negative_int
from channels.frames import error_frame as error_frame  # re-exported: part of this protocol
from server.model import (
    ChoiceReplyPart,
    Identity,
    InboundEnvelope,
    MediaPart,
    Part,
    TextPart,
)

CHANNEL = "webchat"
MAX_ATTACHMENTS = 5
MAX_HISTORY_PAGE = 100
MAX_PRECHAT_VALUE = 1000
MAX_ID_CHARS = 64


@dataclass(frozen=True, slots=True)
class ChatMessage:
    text: str
    client_id: str | None = None
    choice_id: str | None = None
    attachments: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Ack:
    seq: int


@dataclass(frozen=True, slots=True)
class Typing:
    typing: bool


@dataclass(frozen=True, slots=True)
class History:
    before: int
    limit: int
    # One of the visitor's earlier conversations on the account; None: the current one.
    conversation_id: str | None = None


@dataclass(frozen=True, slots=True)
class Prechat:
    fields: dict[str, str]


@dataclass(frozen=True, slots=True)
class Opened:
    """The visitor opened the chat window: a greeting account's flow may speak first now."""


ClientFrame = ChatMessage | Ack | Read | Typing | History | Prechat | Opened | Ping


def parse_frame(raw: str | bytes, *, max_chars: int) -> ClientFrame | FrameError:
    data = decode_object(raw)
    if isinstance(data, FrameError):
        return data
    kind = data.get("type")
    if kind == "message":
        text = data.get("text", "")
        if not isinstance(text, str):
            return FrameError("bad_field", "field 'text' must be a string")
        if len(text) > max_chars:
            return FrameError("too_long", f"field 'text' is longer than {max_chars} characters")
        client_id = data.get("client_id")
        choice_id = data.get("choice_id")
        for name, value in (("client_id", client_id), ("choice_id", choice_id)):
            if value is not None and (not isinstance(value, str) or len(value) > 128):
                return FrameError("bad_field", f"field '{name}' must be a string of <= 128 chars")
        attachments = data.get("attachments") or []
        if (
            not isinstance(attachments, list)
            or len(attachments) > MAX_ATTACHMENTS
            or not all(isinstance(a, str) and 0 < len(a) <= 128 for a in attachments)
        ):
            return FrameError(
                "bad_field", f"field 'attachments': at most {MAX_ATTACHMENTS} upload ids"
            )
        if not text.strip() and choice_id is None and not attachments:
            return FrameError("bad_field", "field 'text' is empty")
        return ChatMessage(text, client_id, choice_id, tuple(attachments))
    if kind in ("ack", "read"):
        seq = non_negative_int(data, "seq")
        if isinstance(seq, FrameError):
            return seq
        return Ack(seq) if kind == "ack" else Read(seq)
    if kind == "typing":
        return Typing(bool(data.get("typing", True)))
    if kind == "history":
        before = non_negative_int(data, "before")
        if isinstance(before, FrameError):
            return before
        limit = data.get("limit", 50)
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            return FrameError("bad_field", "field 'limit' must be a positive integer")
        conversation_id = data.get("conversation_id")
        if conversation_id is not None and (
            not isinstance(conversation_id, str) or not 0 < len(conversation_id) <= MAX_ID_CHARS
        ):
            return FrameError("bad_field", "field 'conversation_id' must be a conversation id")
        return History(before, min(limit, MAX_HISTORY_PAGE), conversation_id)
    if kind == "prechat":
        fields = data.get("fields")
        if not isinstance(fields, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and len(v) <= MAX_PRECHAT_VALUE
            for k, v in fields.items()
        ):
            return FrameError("bad_field", "field 'fields' must be an object of strings")
        return Prechat(dict(fields))
    if kind == "opened":
        return Opened()
    if kind == "ping":
        return Ping()
    return FrameError("unknown_type", f"unknown frame type {kind!r}")


def envelope(
    message: ChatMessage,
    *,
    visitor_id: str,
    account: str,
    media: tuple[MediaPart, ...] = (),
) -> InboundEnvelope:
    """The inbound envelope of a visitor's message; ``media`` are its resolved attachments."""
    parts: tuple[Part, ...]
    if message.choice_id is not None:
        parts = (ChoiceReplyPart(message.choice_id, message.text or message.choice_id),)
    elif message.text.strip():
        parts = (TextPart(message.text),)
    else:
        parts = ()
    parts += media
    body = message.text or (message.choice_id or "")
    fields = {"Body": body, "From": visitor_id, "To": account, "ChannelType": "web"}
    # Twilio's media fields, so Studio flows written for MMS read web chat uploads the same way.
    fields["NumMedia"] = str(len(media))
    for index, part in enumerate(media):
        fields[f"MediaUrl{index}"] = part.url or ""
        fields[f"MediaContentType{index}"] = part.content_type or ""
    return InboundEnvelope(
        channel=CHANNEL,
        channel_account=account,
        customer_address=visitor_id,
        identities=(Identity("webchat", visitor_id),),
        parts=parts,
        idempotency_key=f"{visitor_id}:{message.client_id}" if message.client_id else None,
        fields=fields,
    )


def message_frame(message: dict[str, Any], client_id: str | None = None) -> dict[str, Any]:
    """A stored message (as ``server.runtime.rows.message_json`` renders it) as a frame."""
    frame: dict[str, Any] = {
        "type": "message",
        "id": message["id"],
        "seq": message["seq"],
        "author": message["author"],
        "direction": message["direction"],
        "text": message["text"],
        "time": message["created_at"],
        "status": message["status"],
    }
    for part in message["parts"] or []:
        if part.get("kind") == "choices":
            frame["choices"] = part["choices"]
        elif part.get("kind") == "media":
            frame.setdefault("media", []).append(
                {
                    k: part[k]
                    for k in ("url", "content_type", "filename", "media_kind")
                    if part.get(k)
                }
            )
        elif part.get("kind") == "choice_reply":
            frame["choice_id"] = part["choice_id"]
    if message.get("author_name"):
        frame["author_name"] = message["author_name"]  # the agent's display name
    if client_id:
        frame["client_id"] = client_id
    return frame


def session_frame(
    token: str, conversation_id: str | None, resumed: bool, **extra: Any
) -> dict[str, Any]:
    """The first frame on every socket; ``extra`` adds seq marks and the signed-in user.
    ``conversation_id`` is None until the visitor writes (a ``conversation`` frame follows)."""
    return {
        "type": "session",
        "token": token,
        "conversation_id": conversation_id,
        "resumed": resumed,
        **extra,
    }


def conversation_frame(conversation_id: str, last_seq: int) -> dict[str, Any]:
    """The visitor's conversation now exists; ``last_seq``: messages it already had (another
    tab may have written first), for the widget to fetch with ``history``."""
    return {"type": "conversation", "conversation_id": conversation_id, "last_seq": last_seq}


def typing_frame(author: str, typing: bool) -> dict[str, Any]:
    return {"type": "typing", "author": author, "typing": typing}


def read_frame(reader: str, seq: int) -> dict[str, Any]:
    return {"type": "read", "reader": reader, "seq": seq}


def history_frame(
    messages: list[dict[str, Any]], before: int, more: bool, **extra: Any
) -> dict[str, Any]:
    """``extra``: the page's ``conversation_id`` and, on a conversation's first page, the
    visitor's conversation before it (``previous_conversation_id``)."""
    return {"type": "history", "before": before, "messages": messages, "more": more, **extra}
