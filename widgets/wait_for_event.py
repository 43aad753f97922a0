"""``wait-for-event``: wait for a named app or web event (``received``) or the ``timeout``.

The execution's ``waiting`` holds ``{"event": NAME, "timer_id": ...}`` so the app messaging API
can find the executions waiting for an event it receives; the event's properties become the
widget's outputs.
"""

from __future__ import annotations

from server.engine.effects import StartTimer
from server.engine.events import AppEvent, Event, TimerFired
from widgets.base import WidgetCall, WidgetResult, WidgetType, as_number

DEFAULT_TIMEOUT = 3600.0


def enter(call: WidgetCall) -> WidgetResult:
    name = str(call.props.get("event") or "").strip()
    timer_id = call.request_id("timeout")
    timeout = as_number(call.props.get("timeout"), DEFAULT_TIMEOUT)
    return WidgetResult(
        effects=(StartTimer(timer_id, call.at + max(timeout, 0.0)),),
        waiting={"event": name, "timer_id": timer_id},
    )


def resume(call: WidgetCall, event: Event) -> WidgetResult | None:
    if isinstance(event, AppEvent) and event.name == call.waiting.get("event"):
        outputs = {"event": event.name, "properties": dict(event.properties), **event.properties}
        return WidgetResult(transition="received", outputs=outputs)
    if isinstance(event, TimerFired) and event.timer_id == call.waiting.get("timer_id"):
        return WidgetResult(transition="timeout")
    return None


WIDGET = WidgetType(
    type="wait-for-event",
    events=("received", "timeout"),
    properties_schema={
        "type": "object",
        "properties": {
            "event": {"type": "string", "minLength": 1},
            "timeout": {"type": ["string", "number", "integer"]},
        },
        "required": ["event"],
    },
    enter=enter,
    resume=resume,
    description="Waits for a named event from the web or app channel.",
)
