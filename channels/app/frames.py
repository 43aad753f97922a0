"""The app WebSocket protocol: client frames parsed, server frames rendered. No I/O.

Server frames: ``ready`` first, then ``message`` (one per stored message in ``seq`` order; the
same id again when its delivery status moves on), ``typing``, ``read``, ``error``, ``pong``.
Client frames: ``read`` (highest ``seq`` the user has seen), ``typing``, ``ping``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class Read:
    seq: int


@dataclass(frozen=True, slots=True)
class Typing:
    busy: bool


@dataclass(frozen=True, slots=True)
class Ping:
    pass


@dataclass(frozen=True, slots=True)
class FrameError:
    code: str
    message: str


ClientFrame = Read | Typing | Ping


def parse_frame(raw: str | bytes) -> ClientFrame | FrameError:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return FrameError("bad_frame", f"frame is not valid JSON: {exc}")
    if not isinstance(data, dict):
        return FrameError("bad_frame", "frame must be a JSON object")
    kind = data.get("type")
    if kind == "read":
        seq = data.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
            return FrameError("bad_field", "field 'seq' must be a non-negative integer")
        return Read(seq)
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
    }


def ready_frame(conversation_id: str, contact_id: str) -> dict[str, Any]:
    return {"type": "ready", "conversation_id": conversation_id, "contact_id": contact_id}


def typing_frame(author: str, busy: bool) -> dict[str, Any]:
    return {"type": "typing", "author": author, "busy": busy}


def read_frame(author: str, seq: int) -> dict[str, Any]:
    return {"type": "read", "author": author, "seq": seq}


def error_frame(code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message}
