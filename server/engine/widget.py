"""The widget protocol: each widget type is a pure step function over rendered properties.

A widget is entered when an execution transitions to its state (``enter``) and, if it waits,
resumed by the events the runtime feeds back (``resume``). Both return a ``WidgetResult``: the
transition event to fire (or ``None`` to wait), outputs for ``widgets.NAME.*``, and effects.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from server.engine.effects import Effect
from server.engine.events import Event


@dataclass(frozen=True, slots=True)
class WidgetCall:
    name: str  # the state's name
    props: Mapping[str, Any]  # properties rendered with the execution's context
    execution_id: str
    step: int
    at: float
    context: Mapping[str, Any]
    waiting: Mapping[str, Any] = field(default_factory=dict)

    def request_id(self, suffix: str = "req") -> str:
        # Deterministic ids keep a replayed execution's effects identical to the original run's.
        return f"{self.execution_id}:{self.step}:{suffix}"


@dataclass(frozen=True, slots=True)
class WidgetResult:
    transition: str | None = None  # the event to fire; None means wait
    outputs: dict[str, Any] | None = None  # merged into widgets.NAME
    effects: tuple[Effect, ...] = ()
    waiting: dict[str, Any] | None = None  # what the widget waits for when it does not transition
    variables: dict[str, Any] | None = None  # merged into flow.variables


def _ignore(call: WidgetCall, event: Event) -> WidgetResult | None:
    return None


@dataclass(frozen=True, slots=True)
class WidgetType:
    type: str
    events: tuple[str, ...]  # the transition events the widget can fire
    properties_schema: dict[str, Any]  # JSON Schema of ``properties``
    enter: Callable[[WidgetCall], WidgetResult]
    resume: Callable[[WidgetCall, Event], WidgetResult | None] = _ignore
    # Widgets whose events depend on their properties (bot-triage fires one event per intent)
    # name them here; validation then requires each of these extra events to be wired.
    dynamic_events: Callable[[Mapping[str, Any]], tuple[str, ...]] | None = None
    description: str = ""
    # While an execution waits in this widget, the conversation may pass to a human agent at any
    # moment (the hand-off widgets): the runtime then reads the conversation afresh per message.
    hands_off: bool = False

    def events_for(self, props: Mapping[str, Any]) -> tuple[str, ...]:
        if self.dynamic_events is None:
            return self.events
        return (*self.events, *self.dynamic_events(props))


def as_number(value: Any, default: float) -> float:
    """Studio exports numbers as strings ("3600"); accept both, and blanks as the default."""
    if value is None or value == "":
        return default
    try:
        return float(value)
    except (TypeError, ValueError):
        return default
