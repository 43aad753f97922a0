"""``set-variables``: assign ``flow.variables`` from rendered key/value pairs, then ``next``."""

from __future__ import annotations

from typing import Any

from widgets.base import WidgetCall, WidgetResult, WidgetType


def enter(call: WidgetCall) -> WidgetResult:
    variables: dict[str, Any] = {}
    for item in call.props.get("variables") or []:
        key = str(item.get("key") or "").strip()
        if key:
            variables[key] = item.get("value", "")
    return WidgetResult(transition="next", variables=variables)


WIDGET = WidgetType(
    type="set-variables",
    events=("next",),
    properties_schema={
        "type": "object",
        "properties": {
            "variables": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"key": {"type": "string"}, "value": {}},
                    "required": ["key"],
                },
            }
        },
    },
    enter=enter,
    description="Sets flow variables.",
)
