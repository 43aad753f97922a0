"""The app WebSocket protocol: client frames parsed, server frames rendered. No I/O.

Server frames: ``ready`` first, then ``message`` (one per stored message in ``seq`` order; the
same id again when its delivery status moves on), ``typing``, ``read``, ``error``, ``pong``.
Client frames: ``read`` (highest ``seq`` the user has seen), ``typing``, ``ping``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from channels.frames import FrameError, Ping, Read, decode_object, non_negative_int
from channels.frames import error_frame as error_frame  # re-exported: part of this protocol


@dataclass(frozen=True, slots=True)
class Typing:
    busy: bool


ClientFrame = Read | Typing | Ping


def parse_frame(raw: str | bytes) -> ClientFrame | FrameError:
    data = decode_object(raw)
    if isinstance(data, FrameError):
        return data
    kind = data.get("type")
    if kind == "read":
        seq = non_negative_int(data, "seq")
        return seq if isinstance(seq, FrameError) else Read(seq)
    if kind == "typing":
        busy = data.get("busy", True)
        if not isinstance(busy, bool):
            return FrameError("bad_field", "field 'busy' must be a boolean")
        return Typing(busy)
    if kind == "ping":
        return Ping()
    return FrameError("unknown_type", f"unknown frame type {kind!r}")


def message_frame(message: dict[str, Any]) -> dict[str, Any]:
    """A stored message (as ``server.runtime.rows.message_json`` renders it) as a frame."""
    return {
        "type": "message",
        "id": message["id"],
        "seq": message["seq"],
        "author": message["author"],
        "direction": message["direction"],
        "text": message["text"],
        "parts": message["parts"] or [],
        "status": message["status"],
        "time": message["created_at"],
        **({"author_name": message["author_name"]} if message.get("author_name") else {}),
    }


def ready_frame(conversation_id: str, contact_id: str) -> dict[str, Any]:
    return {"type": "ready", "conversation_id": conversation_id, "contact_id": contact_id}


def typing_frame(author: str, busy: bool) -> dict[str, Any]:
    return {"type": "typing", "author": author, "busy": busy}


def read_frame(author: str, seq: int) -> dict[str, Any]:
    return {"type": "read", "author": author, "seq": seq}
