"""What the customer-facing WebSocket protocols (web chat, app) share: decoding and errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class FrameError:
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Read:
    """The customer has displayed messages up to ``seq``."""

    seq: int


@dataclass(frozen=True, slots=True)
class Ping:
    pass


def decode_object(raw: str | bytes) -> dict[str, Any] | FrameError:
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return FrameError("bad_frame", f"frame is not valid JSON: {exc}")
    if not isinstance(data, dict):
        return FrameError("bad_frame", "frame must be a JSON object")
    return data


def non_negative_int(data: dict[str, Any], name: str) -> int | FrameError:
    value = data.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        return FrameError("bad_field", f"field '{name}' must be a non-negative integer")
    return value


def error_frame(code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message}
