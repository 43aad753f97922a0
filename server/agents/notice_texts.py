"""What the customer is told about a hand-off, per channel account: the texts and where they come
from.

Read from ``THREADLINE_NOTICES`` (inline JSON, or the path of a JSON file) or else from
``<data dir>/notices.json``: ``{"*": {...}, "<channel>": {...}, "<channel>:<account>": {...}}``.
The most specific entry wins key by key over the less specific ones and the defaults. An empty
text turns that notice off. Texts are plain text (never HTML); ``{position}``, ``{wait}`` and
``{agent}`` are filled in where they apply (docs/agents.md).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

NOTICES_ENV = "THREADLINE_NOTICES"
DEFAULT_FILE_NAME = "notices.json"
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


class NoticeConfigError(ValueError):
    """The notices configuration is unreadable or has a field of the wrong shape."""


@dataclass(frozen=True, slots=True)
class NoticeTexts:
    connecting: str = "Connecting you to an agent…"
    queued: str = "Connecting you to an agent. You are number {position} in line (about {wait})."
    assigned: str = "{agent} joined the conversation."
    transferred: str = "Transferring you to another agent. Please hold on."
    closed: str = "The agent closed this conversation."
    # The satisfaction question is off unless an account asks for it.
    satisfaction: str = ""
    satisfaction_thanks: str = "Thank you for your feedback!"


@dataclass(frozen=True)
class NoticeConfig:
    entries: dict[str, dict[str, str]]

    def texts(self, channel: str, account: str) -> NoticeTexts:
        texts = NoticeTexts()
        for key in ("*", channel, f"{channel}:{account}"):
            if key in self.entries:
                texts = replace(texts, **self.entries[key])
        return texts


def fill(template: str, values: dict[str, str]) -> str:
    """Fill ``{name}`` placeholders; unknown ones stay as written (no ``str.format`` on
    configured text: it would read attributes of the values)."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def describe_wait(seconds: float | None) -> str:
    if seconds is None:
        return "a few minutes"
    minutes = round(seconds / 60)
    if minutes < 1:
        return "less than a minute"
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def parse_notices(data: Any) -> NoticeConfig:
    if not isinstance(data, dict):
        raise NoticeConfigError("the notices configuration must be a JSON object of accounts")
    known = {f.name for f in fields(NoticeTexts)}
    entries: dict[str, dict[str, str]] = {}
    for key, value in data.items():
        if not isinstance(value, dict):
            raise NoticeConfigError(f"notices[{key!r}] must be an object of texts")
        for name, text in value.items():
            if name not in known:
                raise NoticeConfigError(f"notices[{key!r}]: unknown notice {name!r}")
            if not isinstance(text, str):
                raise NoticeConfigError(f"notices[{key!r}].{name} must be a string")
        entries[str(key)] = dict(value)
    return NoticeConfig(entries)


def load_notices(data_dir: Path) -> NoticeConfig:
    raw = os.environ.get(NOTICES_ENV, "").strip()
    try:
        if raw.startswith("{"):
            return parse_notices(json.loads(raw))
        path = Path(raw) if raw else data_dir / DEFAULT_FILE_NAME
        if not path.exists():
            if raw:
                raise NoticeConfigError(f"{NOTICES_ENV} names {path}, which does not exist")
            return NoticeConfig({})
        return parse_notices(json.loads(path.read_text(encoding="utf-8")))
    except ValueError as exc:
        if isinstance(exc, NoticeConfigError):
            raise
        raise NoticeConfigError(f"cannot read the notices configuration: {exc}") from exc
