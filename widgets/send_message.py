"""``send-message``: send one message, then fire ``sent`` (accepted for delivery) or ``failed``."""

from __future__ import annotations

from server.engine.events import Event, Result
from widgets.base import WidgetCall, WidgetResult, WidgetType
from widgets.messages import SEND_PROPERTIES, send_effect


def enter(call: WidgetCall) -> WidgetResult:
    request_id = call.request_id("send")
    return WidgetResult(
        effects=(send_effect(request_id, call.props),), waiting={"request_id": request_id}
    )


def resume(call: WidgetCall, event: Event) -> WidgetResult | None:
    if not isinstance(event, Result) or event.request_id != call.waiting.get("request_id"):
        return None
    if event.ok:
        return WidgetResult(transition="sent", outputs={"message_id": event.data.get("message_id")})
    return WidgetResult(transition="failed", outputs={"error": event.error})


WIDGET = WidgetType(
    type="send-message",
    events=("sent", "failed"),
    properties_schema={
        "type": "object",
        "properties": SEND_PROPERTIES,
        # A body, or a Content template in its place (Studio's message_type content_template).
        "if": {
            "properties": {"message_type": {"const": "content_template"}},
            "required": ["message_type"],
        },
        "then": {"required": ["content_sid"]},
        "else": {"required": ["body"]},
    },
    enter=enter,
    resume=resume,
    description="Sends a message to the customer.",
)
