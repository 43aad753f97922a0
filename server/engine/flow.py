"""A flow version compiled once: widgets resolved, templates compiled, transitions in a Machine.

The ``transitions.Machine`` is built with ``model=None`` and ``auto_transitions=False`` and never
gets executions added as models (``add_model`` is O(N) and binds methods per model). Its
transition tables are read once into a dict so the hot path is a single lookup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from transitions import Machine

from server.engine.templates import Renderer, compile_value, has_templates, render_plan
from server.engine.widget import WidgetCall, WidgetResult, WidgetType

END = "__end__"
EVENT_KEY_SEPARATOR = "#"


def event_name(key: str) -> str:
    """The Studio event name of a transition key (``match#2`` -> ``match``)."""
    return key.split(EVENT_KEY_SEPARATOR, 1)[0]


class FlowError(ValueError):
    """A flow definition that cannot be compiled (validation normally catches these first)."""


CANNOT_RUN = "__cannot_run__"  # never wired: entering a stand-in ends the execution


def _cannot_run(call: WidgetCall) -> WidgetResult:
    return WidgetResult(transition=CANNOT_RUN)


def stand_in(kind: str) -> WidgetType:
    """A widget type with no step function here (a voice widget in a Studio export that also
    takes calls). Validation lets one through only where no message reaches it; were it
    entered anyway, the execution ends there."""
    return WidgetType(type=kind, events=(), properties_schema={}, enter=_cannot_run)


@dataclass(frozen=True, slots=True)
class CompiledState:
    name: str
    type: str
    widget: WidgetType
    properties: Any  # compiled: constants and CompiledTemplate leaves
    templated: bool  # whether rendering is needed at all
    # Renders ``properties``; None renders them by walking the whole value (render_value).
    render: Renderer | None = None


@dataclass(frozen=True, slots=True)
class CompiledFlow:
    sid: str
    name: str
    version: int
    definition: dict[str, Any]
    initial_state: str
    states: dict[str, CompiledState]
    next_states: dict[tuple[str, str], str | None]
    machine: Machine
    # The initial state's wired events, looked at by every execution that starts.
    trigger_events: frozenset[str]

    def next_state(self, state: str, event: str) -> tuple[bool, str | None]:
        """(wired, next): whether ``event`` is wired on ``state`` and where it leads (None: end)."""
        key = (state, event)
        if key not in self.next_states:
            return False, None
        return True, self.next_states[key]

    def wired_events(self, state: str) -> frozenset[str]:
        """The events of ``state`` whose transition leads somewhere (not to the end)."""
        return wired_events(self.next_states, state)


def wired_events(next_states: dict[tuple[str, str], str | None], state: str) -> frozenset[str]:
    return frozenset(
        event_name(event)
        for (source, event), target in next_states.items()
        if source == state and target is not None
    )


def compile_flow(
    definition: dict[str, Any],
    registry: dict[str, WidgetType],
    *,
    sid: str,
    name: str,
    version: int = 1,
) -> CompiledFlow:
    states: dict[str, CompiledState] = {}
    machine_transitions: list[dict[str, str]] = []
    for raw in definition.get("states", []):
        widget = registry.get(raw.get("type", "")) or stand_in(raw.get("type", ""))
        props = {k: v for k, v in (raw.get("properties") or {}).items() if k != "offset"}
        conditional: list[dict[str, Any]] = []
        for index, transition in enumerate(raw.get("transitions", [])):
            event = transition["event"]
            if transition.get("conditions"):
                # Several ``match`` transitions share one event name and differ by conditions;
                # each gets its own key so the machine can tell them apart.
                event = f"{event}{EVENT_KEY_SEPARATOR}{index}"
                conditional.append(
                    {
                        "event": event,
                        "friendly_name": transition["conditions"][0].get("friendly_name", ""),
                        "conditions": transition["conditions"],
                    }
                )
            target = transition.get("next") or END
            machine_transitions.append({"trigger": event, "source": raw["name"], "dest": target})
        if conditional:
            props["_transitions"] = conditional
        compiled = compile_value(props)
        templated = has_templates(compiled)
        states[raw["name"]] = CompiledState(
            raw["name"],
            raw["type"],
            widget,
            compiled,
            templated,
            render_plan(compiled) if templated else None,
        )
    initial = definition.get("initial_state", "")
    if initial not in states:
        raise FlowError(f"initial_state {initial!r} names no state")
    machine = Machine(
        model=None,
        states=[*states, END],
        transitions=machine_transitions,
        initial=initial,
        auto_transitions=False,
        send_event=False,
    )
    next_states: dict[tuple[str, str], str | None] = {}
    for event_name, event in machine.events.items():
        for source, transitions in event.transitions.items():
            dest = transitions[0].dest
            next_states[(source, event_name)] = None if dest == END else dest
    trigger_events = wired_events(next_states, initial)
    return CompiledFlow(
        sid, name, version, definition, initial, states, next_states, machine, trigger_events
    )
