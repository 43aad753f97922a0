"""Studio's key/value lists (``parameters``, ``headers``) read into plain dictionaries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

KEY_VALUES: dict[str, Any] = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"key": {"type": "string"}, "value": {}},
        "required": ["key"],
    },
}


def key_values(props: Mapping[str, Any], name: str = "parameters") -> dict[str, Any]:
    """``[{"key": k, "value": v}, ...]`` as ``{k: v}``; blank keys are skipped, as Studio does."""
    pairs: dict[str, Any] = {}
    for item in props.get(name) or []:
        key = str(item.get("key") or "").strip()
        if key:
            pairs[key] = item.get("value", "")
    return pairs
