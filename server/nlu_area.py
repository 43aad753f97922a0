"""The NLU area: performs ``nlu.classify`` effects of ``bot-triage`` widgets.

The classifier (scikit-learn, optionally PyTorch) is imported on the first classification, not
at start: a server whose flows never triage does not pay seconds of imports to start.
"""

from __future__ import annotations

import importlib
from typing import Any

from starlette.routing import BaseRoute

from server.areas import Services
from server.config import Settings

KIND = "nlu.classify"


def routes(settings: Settings) -> list[BaseRoute]:
    return []


async def classify(payload: dict[str, Any]) -> dict[str, Any]:
    service = importlib.import_module("server.nlu.service")
    result: dict[str, Any] = await service.classify(payload)
    return result


async def setup(services: Services) -> None:
    services.runtime.custom_handlers[KIND] = classify
