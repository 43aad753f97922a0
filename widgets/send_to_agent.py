"""``send-to-agent``: hand the conversation to a human agent through Threadline's router.

The runtime answers the ``RouteToAgent`` request twice: first ``{"outcome": "queued"}`` with the
position and estimated wait (the widget may tell the customer, and keeps waiting), then the
outcome: ``assigned``, ``timeout``, ``no_agents`` or ``failed``, each a transition.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from server.engine.effects import RouteToAgent, SendMessage
from server.engine.events import Event, Result
from server.model import TextPart
from widgets.base import WidgetCall, WidgetResult, WidgetType, as_number

DEFAULT_TIMEOUT = 3600.0
OUTCOMES = ("assigned", "timeout", "no_agents", "failed")
INCLUDE_DEFAULTS = {"variables": True, "bot": True, "crm": True, "transcript": True}


def _object(value: Any) -> dict[str, Any]:
    """Objects may arrive as JSON text (Studio habit) after template rendering."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str) and value.strip():
        try:
            parsed = json.loads(value)
        except ValueError:
            return {}
        return dict(parsed) if isinstance(parsed, dict) else {}
    return {}


def agent_expression(props: Mapping[str, Any]) -> str | None:
    """Skill, language and raw-expression requirements as one router expression."""
    terms: list[str] = []
    for skill, level in _object(props.get("skills")).items():
        terms.append(f"skills.{skill} >= {int(as_number(level, 1))}")
    for language in props.get("languages") or []:
        terms.append(f"languages HAS {json.dumps(str(language))}")
    if props.get("expression"):
        terms.append(f"({props['expression']})")
    return " AND ".join(terms) or None


def route_effect(
    call: WidgetCall, props: Mapping[str, Any], attributes: dict[str, Any]
) -> RouteToAgent:
    include = {**INCLUDE_DEFAULTS, **_object(props.get("include"))}
    context = {"include": include, "fields": _object(props.get("context"))}
    requirements: dict[str, Any] = {
        "attributes": attributes,
        "expression": agent_expression(props),
        "workflow": props.get("workflow") or None,
    }
    return RouteToAgent(
        request_id=call.request_id("route"),
        queue=str(props.get("queue") or "") or None,
        requirements=requirements,
        priority=int(as_number(props.get("priority"), 0)),
        timeout=as_number(props.get("timeout"), DEFAULT_TIMEOUT),
        context=context,
        wait_when_no_agents=str(props.get("wait_when_no_agents", False)).lower() in ("true", "1"),
    )


def enter(call: WidgetCall) -> WidgetResult:
    effect = route_effect(call, call.props, _object(call.props.get("attributes")))
    waiting = {
        "request_id": effect.request_id,
        "wait_message": call.props.get("estimated_wait_message") or "",
    }
    return WidgetResult(effects=(effect,), waiting=waiting)


def wait_text(template: str, data: Mapping[str, Any]) -> str:
    # Single-brace placeholders: Liquid already rendered the property before the position existed.
    minutes = max(1, round(float(data.get("estimated_wait") or 0) / 60))
    return (
        template.replace("{position}", str(data.get("position")))
        .replace("{minutes}", str(minutes))
        .replace("{queue}", str(data.get("queue") or ""))
    )


def resume_outcome(
    call: WidgetCall, event: Event, events: Mapping[str, str]
) -> WidgetResult | None:
    """Shared by send-to-agent and send-to-flex; ``events`` maps outcomes to transitions."""
    if not isinstance(event, Result) or event.request_id != call.waiting.get("request_id"):
        return None
    outcome = str(event.data.get("outcome") or ("assigned" if event.ok else "failed"))
    outputs = {k: v for k, v in event.data.items() if k != "outcome"} | {"outcome": outcome}
    if outcome == "queued":
        template = str(call.waiting.get("wait_message") or "")
        effects: tuple[SendMessage, ...] = ()
        if template and event.data.get("position") is not None:
            text = wait_text(template, event.data)
            effects = (SendMessage(call.request_id("wait"), (TextPart(text),)),)
        return WidgetResult(outputs=outputs, effects=effects, waiting=dict(call.waiting))
    if outcome not in events:
        outcome = "failed"
    if event.error:
        outputs["error"] = event.error
    return WidgetResult(transition=events[outcome], outputs=outputs)


def resume(call: WidgetCall, event: Event) -> WidgetResult | None:
    return resume_outcome(call, event, {o: o for o in OUTCOMES})


NUMBER = {"type": ["string", "number", "integer"]}
OBJECT_OR_JSON = {"type": ["object", "string"]}

WIDGET = WidgetType(
    hands_off=True,
    type="send-to-agent",
    events=OUTCOMES,
    properties_schema={
        "type": "object",
        "properties": {
            "queue": {"type": "string"},
            "workflow": {"type": "string"},
            "skills": OBJECT_OR_JSON,
            "languages": {"type": "array", "items": {"type": "string"}},
            "expression": {"type": "string"},
            "attributes": OBJECT_OR_JSON,
            "priority": NUMBER,
            "timeout": NUMBER,
            "wait_when_no_agents": {"type": ["boolean", "string"]},
            "context": OBJECT_OR_JSON,
            "include": {"type": "object"},
            "estimated_wait_message": {"type": "string"},
        },
    },
    enter=enter,
    resume=resume,
    description="Routes the conversation to a human agent with its context.",
)
