"""``run-subflow``: run another flow as a child execution; ``completed`` or ``failed``.

The child starts with trigger ``incomingParent`` and the ``parameters`` as
``trigger.parent.parameters``; while it runs it gets the conversation's messages. When it ends,
its flow variables come back as this widget's outputs (``widgets.NAME.*``), as in Studio.
``flow_sid`` may be a flow name, a Threadline SID or a Studio SID mapped in
``THREADLINE_FLOW_ALIASES``.
"""

from __future__ import annotations

from server.engine.effects import StartSubflow
from server.engine.events import Event, Result
from widgets.base import WidgetCall, WidgetResult, WidgetType
from widgets.params import KEY_VALUES, key_values


def enter(call: WidgetCall) -> WidgetResult:
    request_id = call.request_id("subflow")
    flow = str(call.props.get("flow") or call.props.get("flow_sid") or "").strip()
    effect = StartSubflow(request_id, flow, key_values(call.props))
    return WidgetResult(effects=(effect,), waiting={"request_id": request_id})


def resume(call: WidgetCall, event: Event) -> WidgetResult | None:
    if not isinstance(event, Result) or event.request_id != call.waiting.get("request_id"):
        return None
    if event.ok:
        return WidgetResult(transition="completed", outputs=dict(event.data))
    return WidgetResult(transition="failed", outputs={"error": event.error})


WIDGET = WidgetType(
    type="run-subflow",
    events=("completed", "failed"),
    properties_schema={
        "type": "object",
        "properties": {
            "flow_sid": {"type": "string", "minLength": 1},
            "flow": {"type": "string", "minLength": 1},
            "flow_revision": {"type": "string"},
            "parameters": KEY_VALUES,
        },
        "anyOf": [{"required": ["flow_sid"]}, {"required": ["flow"]}],
    },
    enter=enter,
    resume=resume,
    description="Runs another flow as a subflow and returns its variables.",
)
