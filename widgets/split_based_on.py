"""``split-based-on``: take the first ``match`` transition whose conditions all hold.

Studio puts conditions on the transitions, not in the properties; the compiler renders them into
``props["_transitions"]`` (see ``server.engine.flow``) with a unique event key per transition.
"""

from __future__ import annotations

from typing import Any

from widgets.base import WidgetCall, WidgetResult, WidgetType
from widgets.operators import OPERATORS


def _holds(condition: dict[str, Any], default_input: str) -> bool:
    operator = OPERATORS.get(str(condition.get("type", "")))
    if operator is None:
        return False
    arguments = condition.get("arguments") or [default_input]
    subject = str(arguments[0]) if arguments else default_input
    return operator(subject, str(condition.get("value", "")))


def enter(call: WidgetCall) -> WidgetResult:
    subject = str(call.props.get("input", ""))
    for transition in call.props.get("_transitions", []):
        conditions = transition.get("conditions") or []
        if conditions and all(_holds(c, subject) for c in conditions):
            outputs = {"input": subject, "matched": transition.get("friendly_name", "")}
            return WidgetResult(transition=transition["event"], outputs=outputs)
    return WidgetResult(transition="noMatch", outputs={"input": subject, "matched": None})


CONDITION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "friendly_name": {"type": "string"},
        "arguments": {"type": "array", "items": {"type": "string"}},
        "type": {"enum": sorted(OPERATORS)},
        "value": {"type": ["string", "number"]},
    },
    "required": ["type"],
}

WIDGET = WidgetType(
    type="split-based-on",
    events=("noMatch", "match"),
    properties_schema={
        "type": "object",
        "properties": {"input": {"type": "string"}},
        "required": ["input"],
    },
    enter=enter,
    description="Branches on conditions over a value.",
)
