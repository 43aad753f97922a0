"""``send-and-wait-for-reply``: send, then wait for the reply, a timeout or a delivery failure."""

from __future__ import annotations

from server.engine.effects import StartTimer
from server.engine.events import DeliveryFailed, Event, InboundMessage, Result, TimerFired
from widgets.base import WidgetCall, WidgetResult, WidgetType, as_number
from widgets.messages import SEND_PROPERTIES, send_effect

DEFAULT_TIMEOUT = 3600.0  # Studio's default, in seconds


def enter(call: WidgetCall) -> WidgetResult:
    request_id = call.request_id("send")
    timer_id = call.request_id("timeout")
    timeout = as_number(call.props.get("timeout"), DEFAULT_TIMEOUT)
    return WidgetResult(
        effects=(send_effect(request_id, call.props), StartTimer(timer_id, call.at + timeout)),
        waiting={"request_id": request_id, "timer_id": timer_id, "reply": True},
    )


def resume(call: WidgetCall, event: Event) -> WidgetResult | None:
    waiting = call.waiting
    if isinstance(event, InboundMessage) and waiting.get("reply"):
        return WidgetResult(transition="incomingMessage", outputs={"inbound": dict(event.message)})
    if isinstance(event, TimerFired) and event.timer_id == waiting.get("timer_id"):
        return WidgetResult(transition="timeout")
    if isinstance(event, Result) and event.request_id == waiting.get("request_id"):
        if event.ok:
            # Accepted for delivery: keep waiting, now for the reply only.
            outputs = {"message_id": event.data.get("message_id")}
            return WidgetResult(outputs=outputs, waiting=dict(waiting))
        return WidgetResult(transition="deliveryFailure", outputs={"error": event.error})
    if isinstance(event, DeliveryFailed) and event.request_id == waiting.get("request_id"):
        outputs = {"error": event.error, "error_code": event.error_code}
        return WidgetResult(transition="deliveryFailure", outputs=outputs)
    return None


WIDGET = WidgetType(
    type="send-and-wait-for-reply",
    events=("incomingMessage", "timeout", "deliveryFailure"),
    properties_schema={
        "type": "object",
        "properties": {**SEND_PROPERTIES, "timeout": {"type": ["string", "number", "integer"]}},
        "required": ["body"],
    },
    enter=enter,
    resume=resume,
    description="Sends a message and waits for the customer's reply.",
)
