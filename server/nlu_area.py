"""The NLU area: performs ``nlu.classify`` effects of ``bot-triage`` widgets."""

from __future__ import annotations

from starlette.routing import BaseRoute

from server import nlu
from server.areas import Services
from server.config import Settings


def routes(settings: Settings) -> list[BaseRoute]:
    return []


async def setup(services: Services) -> None:
    services.runtime.custom_handlers[nlu.KIND] = nlu.classify
