"""Configured apps: the app id is the channel account; a secret makes signed user ids mandatory.

The file (``THREADLINE_APPS_FILE``, default ``DATA_DIR/apps.json``) is a JSON list of apps or an
object ``{"apps": [...]}``. Without a file there is one app, ``default``, with no secret.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

DEFAULT_APP = "default"
DEFAULT_MAX_UPLOAD_BYTES = 10 * 1024 * 1024
DEFAULT_UPLOAD_TYPES = ("image/*", "video/*", "audio/*", "application/pdf")
APP_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


class AppConfigError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class AppConfig:
    id: str
    secret: str | None = None
    flow: str | None = None  # the flow for this app's messages (else the server's default flow)
    # Event name -> flow started with trigger ``incomingRequest`` when no execution is active.
    event_flows: dict[str, str] = field(default_factory=dict)
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    upload_types: tuple[str, ...] = DEFAULT_UPLOAD_TYPES

    def accepts_type(self, content_type: str) -> bool:
        major = content_type.split("/", 1)[0]
        return any(t == content_type or t == f"{major}/*" for t in self.upload_types)


def default_apps() -> dict[str, AppConfig]:
    return {DEFAULT_APP: AppConfig(DEFAULT_APP)}


def parse_apps(data: Any) -> dict[str, AppConfig]:
    """Validate the apps file's JSON; errors name the app and the field."""
    items = data.get("apps") if isinstance(data, dict) else data
    if not isinstance(items, list) or not items:
        raise AppConfigError("the apps file must be a non-empty list of apps or {'apps': [...]}")
    apps: dict[str, AppConfig] = {}
    for index, item in enumerate(items):
        app = _parse_app(item, f"apps[{index}]")
        if app.id in apps:
            raise AppConfigError(f"apps[{index}].id: app {app.id!r} is configured twice")
        apps[app.id] = app
    return apps


def _parse_app(item: Any, where: str) -> AppConfig:
    if not isinstance(item, dict):
        raise AppConfigError(f"{where}: must be an object")
    app_id = item.get("id")
    if not isinstance(app_id, str) or not APP_ID.match(app_id):
        raise AppConfigError(f"{where}.id: 1-64 letters, digits, '_', '.' or '-'")
    secret = _optional_str(item, "secret", where)
    flow = _optional_str(item, "flow", where)
    event_flows = item.get("event_flows", {})
    if not isinstance(event_flows, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in event_flows.items()
    ):
        raise AppConfigError(f"{where}.event_flows: must map event names to flow names")
    max_bytes = item.get("max_upload_bytes", DEFAULT_MAX_UPLOAD_BYTES)
    if not isinstance(max_bytes, int) or isinstance(max_bytes, bool) or max_bytes < 1:
        raise AppConfigError(f"{where}.max_upload_bytes: must be a positive integer")
    types = item.get("upload_types", list(DEFAULT_UPLOAD_TYPES))
    if not isinstance(types, list) or not all(isinstance(t, str) and "/" in t for t in types):
        raise AppConfigError(f"{where}.upload_types: must be a list of MIME types like 'image/*'")
    return AppConfig(
        id=app_id,
        secret=secret,
        flow=flow,
        event_flows=dict(event_flows),
        max_upload_bytes=max_bytes,
        upload_types=tuple(t.lower() for t in types),
    )


def _optional_str(item: dict[str, Any], name: str, where: str) -> str | None:
    value = item.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise AppConfigError(f"{where}.{name}: must be a non-empty string")
    return value
