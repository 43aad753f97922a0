"""Areas plug into the application: each contributes routes and wires itself into the runtime.

An area is a module with ``routes(settings) -> list[BaseRoute]`` and ``async setup(services)``
(and optionally ``async teardown(services)``). ``server.app`` lists the area modules; adding a
channel or a feature means adding a module and one line there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from server.config import Settings
from server.runtime.runtime import Runtime
from server.store import Store


@dataclass
class Services:
    """What areas share: one of each per process. ``extras`` holds area-owned singletons."""

    settings: Settings
    store: Store
    runtime: Runtime
    extras: dict[str, Any] = field(default_factory=dict)
