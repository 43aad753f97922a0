"""The NLU area: performs ``nlu.classify`` effects of ``bot-triage`` widgets, and trains each
flow's classifiers in the background when the flow is loaded or published.

The classifier (scikit-learn, optionally PyTorch) is imported with the first flow that triages,
not at start: a server whose flows never triage does not pay seconds of imports to start.
"""

from __future__ import annotations

import importlib
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from starlette.routing import BaseRoute

from server.areas import Services
from server.config import Settings
from server.engine import CompiledFlow
from server.runtime.metrics import NLU_FLOWS_TRAINING

log = logging.getLogger(__name__)

KIND = "nlu.classify"
TRIAGE = "bot-triage"


def routes(settings: Settings) -> list[BaseRoute]:
    return []


class Training:
    """The server's background trainer (``server.nlu.background``), made when first needed."""

    def __init__(self) -> None:
        self.trainer: Any = None
        self._made = threading.Lock()
        # Importing scikit-learn takes seconds: a loaded flow's training is handed to this
        # thread (in load order), so neither start-up nor a publish waits for the import.
        self._loads = ThreadPoolExecutor(1, thread_name_prefix="nlu-load")

    def get(self) -> Any:
        with self._made:
            if self.trainer is None:
                background = importlib.import_module("server.nlu.background")
                self.trainer = background.BackgroundTrainer()
            return self.trainer

    def flow_loaded(self, flow: CompiledFlow) -> None:
        if any(state.type == TRIAGE for state in flow.states.values()):
            NLU_FLOWS_TRAINING.inc()
            self._loads.submit(self._train, flow)

    def _train(self, flow: CompiledFlow) -> None:
        """Train the flow's classifiers; the gauge counts the flow until they are ready, so an
        operator (or a benchmark) can tell start-up work from serving."""
        try:
            trainer = self.get()
            for key in trainer.train_flow(flow):
                pending = trainer.pending(key)
                if pending is not None:
                    pending.result()
        except Exception:  # a thread's exception is otherwise lost with its future
            log.exception("could not train flow %s", flow.name)
        finally:
            NLU_FLOWS_TRAINING.dec()

    async def classify(self, payload: dict[str, Any]) -> dict[str, Any]:
        service = importlib.import_module("server.nlu.service")
        result: dict[str, Any] = await service.classify(payload, trainer=self.get())
        return result

    def close(self) -> None:
        self._loads.shutdown(wait=False, cancel_futures=True)
        if self.trainer is not None:
            self.trainer.close()


async def setup(services: Services) -> None:
    training = Training()
    flows = services.runtime.flows
    for name in flows.names():  # loaded before the areas were set up
        flow = flows.latest(name)
        if flow is not None:
            training.flow_loaded(flow)
    flows.listeners.append(training.flow_loaded)
    services.extras["nlu_training"] = training
    services.runtime.custom_handlers[KIND] = training.classify


async def teardown(services: Services) -> None:
    services.extras["nlu_training"].close()
