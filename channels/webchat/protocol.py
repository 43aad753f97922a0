"""The web chat frame protocol: parse client frames, render server frames. No I/O.

Client frames: ``message`` (text, optional ``client_id`` for idempotent resends and
``choice_id`` when a choice button was picked), ``ack`` (highest ``seq`` displayed), ``ping``.
Server frames: ``session`` first, then ``message`` (one per stored message, in ``seq`` order),
``error``, ``pong``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from server.model import (
    ChoiceReplyPart,
    Identity,
    InboundEnvelope,
    Part,
    TextPart,
)

CHANNEL = "webchat"


@dataclass(frozen=True, slots=True)
class ChatMessage:
    text: str
    client_id: str | None = None
    choice_id: str | None = None


@dataclass(frozen=True, slots=True)
class Ack:
    seq: int


@dataclass(frozen=True, slots=True)
class Ping:
    pass


@dataclass(frozen=True, slots=True)
class FrameError:
    code: str
    message: str


ClientFrame = ChatMessage | Ack | Ping


def parse_frame(raw: str | bytes, *, max_chars: int) -> ClientFrame | FrameError:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return FrameError("bad_frame", f"frame is not valid JSON: {exc}")
    if not isinstance(data, dict):
        return FrameError("bad_frame", "frame must be a JSON object")
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
        if not text.strip() and choice_id is None:
            return FrameError("bad_field", "field 'text' is empty")
        return ChatMessage(text, client_id, choice_id)
    if kind == "ack":
        seq = data.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            return FrameError("bad_field", "field 'seq' must be a non-negative integer")
        return Ack(seq)
    if kind == "ping":
        return Ping()
    return FrameError("unknown_type", f"unknown frame type {kind!r}")


def envelope(message: ChatMessage, *, visitor_id: str, account: str) -> InboundEnvelope:
    parts: tuple[Part, ...]
    if message.choice_id is not None:
        parts = (ChoiceReplyPart(message.choice_id, message.text or message.choice_id),)
    else:
        parts = (TextPart(message.text),)
    body = message.text or (message.choice_id or "")
    return InboundEnvelope(
        channel=CHANNEL,
        channel_account=account,
        customer_address=visitor_id,
        identities=(Identity("webchat", visitor_id),),
        parts=parts,
        idempotency_key=f"{visitor_id}:{message.client_id}" if message.client_id else None,
        fields={"Body": body, "From": visitor_id, "To": account, "ChannelType": "web"},
    )


def message_frame(message: dict[str, Any]) -> dict[str, Any]:
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
                {k: part[k] for k in ("url", "content_type", "filename") if part.get(k)}
            )
        elif part.get("kind") == "choice_reply":
            frame["choice_id"] = part["choice_id"]
    return frame


def session_frame(token: str, conversation_id: str, resumed: bool) -> dict[str, Any]:
    return {
        "type": "session",
        "token": token,
        "conversation_id": conversation_id,
        "resumed": resumed,
    }


def error_frame(code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message}
