"""What the app API shares per process: the configured apps, the socket hub, the upload folder."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import orjson

from channels.app.apps import AppConfig, AppConfigError, default_apps, parse_apps
from server.config import Settings
from server.web.app_hub import AppHub


@dataclass(frozen=True)
class AppState:
    apps: dict[str, AppConfig]
    hub: AppHub
    uploads_dir: Path


def apps_file(settings: Settings) -> Path:
    configured = os.environ.get("THREADLINE_APPS_FILE")
    return Path(configured) if configured else settings.data_dir / "apps.json"


def load_apps(settings: Settings) -> dict[str, AppConfig]:
    """The apps file's apps, or the ``default`` app when there is no file."""
    path = apps_file(settings)
    if not path.exists():
        if os.environ.get("THREADLINE_APPS_FILE"):
            raise AppConfigError(f"THREADLINE_APPS_FILE names {path}, which does not exist")
        return default_apps()
    try:
        data = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise AppConfigError(f"{path}: not valid JSON: {exc}") from exc
    try:
        return parse_apps(data)
    except AppConfigError as exc:
        raise AppConfigError(f"{path}: {exc}") from exc
