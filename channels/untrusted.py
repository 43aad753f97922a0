"""Bounds on what arrives from outside: JSON documents and the integers in them.

Every request body and socket frame from outside is parsed here. orjson refuses documents nested
deeper than 1,024 levels by itself (the standard library's ``json`` raises ``RecursionError``
instead, which no handler expects), but a value nested a few hundred levels deep still breaks
what comes after parsing: orjson cannot serialize past 254 levels, and ``jsonschema`` and the
template engine recurse per level. Real bodies (Meta's webhooks, flow definitions) nest fewer
than a dozen levels, so ``MAX_DEPTH`` is far above what anyone sends and far below those limits.

Integers that reach the database must fit a signed 64-bit column (SQLite's INTEGER, PostgreSQL's
BIGINT): ``MAX_STORED_INT``. orjson reads integers up to 2**64 - 1 as ``int`` (larger ones
become ``float``), so a decoded ``int`` still needs that check.

It lives in ``channels`` because channels may import only the model, and both the channels'
frame parsers and the server's HTTP endpoints use it.
"""

from __future__ import annotations

from typing import Any

import orjson

MAX_DEPTH = 64
MAX_STORED_INT = 2**63 - 1


class BadJSON(ValueError):
    """What is wrong with a document, worded to follow its name ("the body ...")."""


def loads(raw: bytes | str, *, max_length: int, max_depth: int = MAX_DEPTH) -> Any:
    """``raw`` decoded, or ``BadJSON``: longer than ``max_length`` (bytes, or characters for
    text), not JSON, or containers nested deeper than ``max_depth``."""
    if len(raw) > max_length:
        unit = "characters" if isinstance(raw, str) else "bytes"
        raise BadJSON(f"is longer than {max_length} {unit}")
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if str(exc).startswith("depth limit exceeded"):  # orjson's own bound, at 1,024 levels
            raise BadJSON(f"nests deeper than {max_depth} levels") from None
        raise BadJSON(f"is not valid JSON: {exc}") from None
    if deeper_than(value, max_depth):
        raise BadJSON(f"nests deeper than {max_depth} levels")
    return value


def deeper_than(value: Any, limit: int) -> bool:
    """Whether lists and objects nest more than ``limit`` levels (``[]`` is one level).

    Iterative, so no document can exhaust the interpreter's stack while it is measured.
    """
    if not isinstance(value, dict | list):
        return False
    pending: list[tuple[dict[str, Any] | list[Any], int]] = [(value, 1)]
    while pending:
        container, depth = pending.pop()
        if depth > limit:
            return True
        for child in container.values() if isinstance(container, dict) else container:
            if isinstance(child, dict | list):
                pending.append((child, depth + 1))
    return False
