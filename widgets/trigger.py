"""``trigger``: where every execution starts; fires the trigger event it was started with."""

from __future__ import annotations

from collections.abc import Collection

from server.engine.events import Event, Start
from widgets.base import WidgetCall, WidgetResult, WidgetType

MESSAGE = "incomingMessage"
CONVERSATION_MESSAGE = "incomingConversationMessage"

EVENTS = (
    MESSAGE,
    CONVERSATION_MESSAGE,
    "incomingRequest",
    "incomingParent",
    "incomingCall",  # voice: kept so Studio exports validate; never fired here
)

# Trigger events Threadline never fires: what only they reach never runs here.
NEVER_FIRED = frozenset({"incomingCall"})

# Channels that are conversations in Twilio's sense (web chat and in-app chat run on Twilio
# Conversations, not on Programmable Messaging): Studio starts their flows with
# ``incomingConversationMessage``. SMS and WhatsApp numbers fire ``incomingMessage``.
CONVERSATION_CHANNELS = frozenset({"webchat", "app"})


def message_trigger(channel: str, wired: Collection[str]) -> str:
    """The trigger event an inbound customer message fires on a flow whose trigger state
    wires ``wired`` (the events with a ``next``).

    Each channel has the event Studio would fire for it; when the flow wires only the other
    message event, that one fires instead: a flow built for Twilio Conversations (only
    ``incomingConversationMessage`` wired) attached to an SMS number would otherwise end
    silently on the first message, as would a flow built for SMS attached to web chat.
    """
    preferred, other = (
        (CONVERSATION_MESSAGE, MESSAGE)
        if channel in CONVERSATION_CHANNELS
        else (MESSAGE, CONVERSATION_MESSAGE)
    )
    if preferred not in wired and other in wired:
        return other
    return preferred


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
