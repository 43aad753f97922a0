"""Settings holding a JSON object: the value itself, or the path of a file that holds it.

``THREADLINE_FLOW_ALIASES``, ``THREADLINE_FUNCTIONS_FILE``, ``THREADLINE_CRM_FILE`` and
``THREADLINE_HTTP_REWRITE`` are read this way, so a short mapping fits in the environment and a
long one lives in a file next to the flows.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


class SettingError(ValueError):
    pass


def json_setting(name: str, environ: dict[str, str] | None = None) -> dict[str, Any]:
    raw = (environ if environ is not None else os.environ).get(name, "").strip()
    if not raw:
        return {}
    text = raw
    if not raw.startswith("{"):
        try:
            text = Path(raw).read_text(encoding="utf-8")
        except OSError as exc:
            raise SettingError(f"{name}: cannot read {raw}: {exc}") from exc
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SettingError(f"{name}: invalid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise SettingError(f"{name}: expected a JSON object")
    return value


def string_map(name: str, environ: dict[str, str] | None = None) -> dict[str, str]:
    """A JSON object of strings (aliases, URL maps); anything else names the bad key."""
    value = json_setting(name, environ)
    for key, item in value.items():
        if not isinstance(item, str):
            raise SettingError(f"{name}: the value of {key!r} must be a string")
    return dict(value)
