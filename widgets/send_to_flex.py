"""``send-to-flex``: Studio's hand-off to Flex, mapped onto Threadline's router.

``workflow`` names a routing workflow (a Studio WW SID that is not configured falls back to the
default workflow), ``attributes`` (JSON text) become the task attributes the workflow filters
read, ``priority`` and ``timeout`` carry over. ``callComplete`` fires when an agent accepts;
``failedToEnqueue`` when no agent is online, the timeout passes or routing fails.

Studio lists two more events on the widget, and exports carry them (Twilio's own web chat
flow wires ``callFailure``): ``callFailure`` applies to voice calls only and
``composerStarted`` to Flex's outbound composer. Both are accepted so such exports load, and
neither ever fires on a messaging conversation. The hold-music properties (``hold_music_url``,
``url_method``) are accepted and unused for the same reason.
"""

from __future__ import annotations

from server.engine.events import Event
from widgets.base import WidgetCall, WidgetResult, WidgetType
from widgets.send_to_agent import NUMBER, OBJECT_OR_JSON, _object, resume_outcome, route_effect

EVENTS = {
    "assigned": "callComplete",
    "timeout": "failedToEnqueue",
    "no_agents": "failedToEnqueue",
    "failed": "failedToEnqueue",
}


def enter(call: WidgetCall) -> WidgetResult:
    props = {
        "workflow": call.props.get("workflow"),
        "priority": call.props.get("priority"),
        "timeout": call.props.get("timeout"),
    }
    effect = route_effect(call, props, _object(call.props.get("attributes")))
    return WidgetResult(effects=(effect,), waiting={"request_id": effect.request_id})


def resume(call: WidgetCall, event: Event) -> WidgetResult | None:
    return resume_outcome(call, event, EVENTS)


WIDGET = WidgetType(
    hands_off=True,
    type="send-to-flex",
    events=("callComplete", "failedToEnqueue", "callFailure", "composerStarted"),
    properties_schema={
        "type": "object",
        "properties": {
            "workflow": {"type": "string"},
            "channel": {"type": "string"},
            "attributes": OBJECT_OR_JSON,
            "priority": NUMBER,
            "timeout": NUMBER,
            "hold_music_url": {"type": "string"},
            "url_method": {"type": "string"},
        },
    },
    enter=enter,
    resume=resume,
    description="Studio's Send to Flex: routes the conversation to an agent.",
)
