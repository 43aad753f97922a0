"""The agent WebSocket protocol: JSON frames with ``"v": 1``, validated by JSON Schemas.

``schemas/client.<type>.json`` describe frames the desk sends, ``schemas/server.<type>.json``
frames the server sends (docs/agent-protocol.md). Incoming frames are validated before anything
acts on them; tests validate every outgoing frame against the same files.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from channels.untrusted import BadJSON, loads

VERSION = 1
SCHEMAS = Path(__file__).parent / "schemas"
MAX_FRAME_CHARS = 64 * 1024
# Frames only supervisors (and admins) may send.
SUPERVISOR_FRAMES = frozenset({"monitor", "unmonitor", "reassign", "force_close", "stats"})


class FrameError(ValueError):
    def __init__(self, code: str, message: str, ref: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.ref = ref


def validator(direction: str, kind: str) -> Draft202012Validator | None:
    # Only a type that has a schema becomes a path or a cache key: a frame's type is anything
    # an agent sends (a long one raised OSError "File name too long" and dropped the socket
    # without a close frame, and every new one stayed in the cache; found by tests/fuzz).
    if kind not in _known_types(direction):
        return None
    return _schema_validator(direction, kind)


@cache
def _known_types(direction: str) -> frozenset[str]:
    return frozenset(frame_types(direction))


@cache
def _schema_validator(direction: str, kind: str) -> Draft202012Validator:
    path = SCHEMAS / f"{direction}.{kind}.json"
    return Draft202012Validator(json.loads(path.read_text(encoding="utf-8")))


def frame_types(direction: str) -> list[str]:
    return sorted(p.name.split(".")[1] for p in SCHEMAS.glob(f"{direction}.*.json"))


def parse(raw: str) -> dict[str, Any]:
    """An incoming frame, decoded and validated, or ``FrameError`` saying what is wrong."""
    if len(raw) > MAX_FRAME_CHARS:
        raise FrameError("too_large", f"frames are limited to {MAX_FRAME_CHARS} characters")
    try:
        frame = loads(raw, max_length=MAX_FRAME_CHARS)
    except BadJSON as problem:
        raise FrameError("invalid_json", f"the frame {problem}") from None
    if not isinstance(frame, dict):
        raise FrameError("invalid_frame", "a frame is a JSON object")
    kind = frame.get("type")
    if frame.get("v") != VERSION:
        raise FrameError("unsupported_version", f'frames need "v": {VERSION}', str(kind))
    check = validator("client", kind) if isinstance(kind, str) else None
    if check is None:
        raise FrameError("unknown_type", f"unknown frame type {kind!r}", str(kind))
    error = next(iter(sorted(check.iter_errors(frame), key=lambda e: list(e.path))), None)
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path) or "frame"
        raise FrameError("invalid_frame", f"{where}: {error.message}", kind)
    return frame


def out(kind: str, **fields: Any) -> dict[str, Any]:
    return {"v": VERSION, "type": kind, **fields}


def error(code: str, message: str, ref: str | None = None) -> dict[str, Any]:
    return out("error", code=code, message=message, ref=ref)
