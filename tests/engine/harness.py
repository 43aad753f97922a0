"""Building blocks for engine tables: small flows, a runner that keeps the execution, effect picks.

Everything here is pure: no server, no clock, no I/O. A test feeds events and reads effects,
transitions (step logs) and the execution that comes out, as h11's and websockets' tests do.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

import widgets
from server.engine import CompiledFlow, Execution, StepResult, compile_flow, new_context, step
from server.engine import effects as fx
from server.engine.events import Event, InboundMessage, Result, Start, TimerFired
from server.model import text_of

AT = 1_700_000_000.0  # every event carries its own time; tests pick it
EXECUTION_ID = "FN1"
CUSTOMER = "+15550001111"
FLOW_ADDRESS = "+15550002222"

E = TypeVar("E")


def state(
    name: str, widget_type: str, transitions: dict[str, str | None], **properties: Any
) -> dict[str, Any]:
    """A Studio state; ``transitions`` maps event -> next (None or "" ends the execution)."""
    return {
        "name": name,
        "type": widget_type,
        "transitions": [
            {"event": event, "next": target or ""} for event, target in transitions.items()
        ],
        "properties": properties,
    }


def trigger(**events: str | None) -> dict[str, Any]:
    """The trigger state: ``incomingMessage="greet"`` wires that trigger event to ``greet``."""
    return state("Trigger", "trigger", events)


def flow_of(*states: dict[str, Any]) -> CompiledFlow:
    definition = {"description": "test", "initial_state": "Trigger", "states": list(states)}
    return compile_flow(definition, widgets.REGISTRY, sid="FW1", name="test")


def new_execution(flow: CompiledFlow, **context: Any) -> Execution:
    ctx = new_context(
        flow_sid=flow.sid,
        execution_id=EXECUTION_ID,
        customer_address=CUSTOMER,
        flow_address=FLOW_ADDRESS,
        **context,
    )
    return Execution(
        id=EXECUTION_ID,
        flow_sid=flow.sid,
        flow_version=flow.version,
        conversation_id="CH1",
        contact_id="CT1",
        started_at=AT,
        context=ctx,
    )


def message(body: str, **fields: Any) -> dict[str, Any]:
    return {"Body": body, "From": CUSTOMER, "To": FLOW_ADDRESS, **fields}


class Runner:
    """Feeds events to one execution in order and keeps every result."""

    def __init__(self, flow: CompiledFlow, execution: Execution | None = None) -> None:
        self.flow = flow
        self.execution = execution or new_execution(flow)
        self.results: list[StepResult] = []

    def feed(self, event: Event) -> StepResult:
        result = step(self.flow, self.execution, event)
        self.execution = result.execution
        self.results.append(result)
        return result

    def start(self, body: str = "hi", *, at: float = AT, **start: Any) -> StepResult:
        start.setdefault("trigger", "incomingMessage")
        if start["trigger"] == "incomingMessage" and "message" not in start:
            start["message"] = message(body)
        return self.feed(Start(at=at, **start))

    def reply(self, body: str, *, at: float = AT + 1) -> StepResult:
        return self.feed(InboundMessage(message(body), at=at))

    def ok(self, request_id: str, *, at: float = AT + 1, **data: Any) -> StepResult:
        return self.feed(Result(request_id, at=at, ok=True, data=data))

    def fail(self, request_id: str, error: str, *, at: float = AT + 1) -> StepResult:
        return self.feed(Result(request_id, at=at, ok=False, error=error))

    def fire(self, timer_id: str, *, at: float = AT + 3600) -> StepResult:
        return self.feed(TimerFired(timer_id, at=at))

    @property
    def state(self) -> str | None:
        return self.execution.state

    @property
    def status(self) -> str:
        return self.execution.status


def of_type(effects: Iterable[object], kind: type[E]) -> list[E]:
    return [e for e in effects if isinstance(e, kind)]


def one(effects: Iterable[object], kind: type[E]) -> E:
    found = of_type(effects, kind)
    assert len(found) == 1, f"expected one {kind.__name__}, got {found}"
    return found[0]


def path(result: StepResult) -> list[tuple[str, str, str | None]]:
    """The transitions a step took, as (from, event, to)."""
    return [(s.from_state, s.event, s.to_state) for s in result.steps]


def kinds(effects: Sequence[object]) -> list[str]:
    return [type(e).__name__ for e in effects]


def body(send: fx.SendMessage) -> str:
    """The text of a message the flow sent."""
    return text_of(send.parts)
