"""``trigger``: where every execution starts; fires the trigger event it was started with."""

from __future__ import annotations

from server.engine.events import Event, Start
from widgets.base import WidgetCall, WidgetResult, WidgetType

EVENTS = (
    "incomingMessage",
    "incomingConversationMessage",
    "incomingRequest",
    "incomingParent",
    "incomingCall",  # voice: kept so Studio exports validate; never fired here
)


def enter(call: WidgetCall) -> WidgetResult:
    # Looping back to the trigger has nothing to wait for: the execution ends.
    return WidgetResult(transition="__reentered__")


def resume(call: WidgetCall, event: Event) -> WidgetResult | None:
    if not isinstance(event, Start):
        return None
    return WidgetResult(transition=event.trigger)


WIDGET = WidgetType(
    type="trigger",
    events=EVENTS,
    properties_schema={"type": "object"},
    enter=enter,
    resume=resume,
    description="Starts the flow on an inbound message, a REST request or a parent flow.",
)
