"""What the customer-facing WebSocket protocols (web chat, app) share: decoding and errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from channels.untrusted import MAX_STORED_INT, BadJSON, loads

# The largest frame either socket accepts (each also bounds its own frames before parsing).
MAX_FRAME_CHARS = 64 * 1024
SEQ_DIGITS = len(str(MAX_STORED_INT))


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
        data = loads(raw, max_length=MAX_FRAME_CHARS)
    except BadJSON as problem:
        return FrameError("bad_frame", f"frame {problem}")
    if not isinstance(data, dict):
        return FrameError("bad_frame", "frame must be a JSON object")
    return data


def non_negative_int(data: dict[str, Any], name: str) -> int | FrameError:
    """``data[name]`` if it is an integer the database can store as a seq (they are never
    negative), else the error naming the field."""
    value = data.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_STORED_INT:
        return FrameError("bad_field", f"field '{name}' must be an integer in 0..{MAX_STORED_INT}")
    return value


def seq_parameter(query: Mapping[str, str], name: str) -> int | FrameError | None:
    """The seq in query parameter ``name`` (None when absent), or the error naming it."""
    raw = query.get(name)
    if raw is None:
        return None
    # Digits only: int() would also take "+7", " 7" and "7_0", and raise past 4,300 digits.
    if raw.isascii() and raw.isdigit() and len(raw) <= SEQ_DIGITS and int(raw) <= MAX_STORED_INT:
        return int(raw)
    message = f"query parameter '{name}' must be an integer in 0..{MAX_STORED_INT}"
    return FrameError("bad_parameter", message)


def error_frame(code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "code": code, "message": message}
