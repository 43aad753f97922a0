"""``bot-triage``: classify the customer's message into one of the flow's intents.

The widget stays pure: it asks the runtime for a classification with a ``Custom`` effect of kind
``nlu.classify`` (handled by ``server.nlu.classify``) and waits for the ``Result``. It then fires
the transition named after the intent, ``fallback`` when the confidence is below the threshold
or the intent is not one the widget declares (an external NLU may know more intents), and
``failed`` when classification failed.

Its transition events are therefore ``fallback``, ``failed`` and one event per declared intent:
``WidgetType.events`` lists the fixed two, and ``transition_events(properties)`` gives the full
set a validator should accept for a given state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from server.engine.effects import Custom
from server.engine.events import Event, Result
from widgets.base import WidgetCall, WidgetResult, WidgetType, as_number

KIND = "nlu.classify"
FALLBACK = "fallback"
FAILED = "failed"
FIXED_EVENTS = (FALLBACK, FAILED)
# Measured on BANKING77 10-shot with the default model (docs/nlu.md): at 0.3 about half of the
# utterances of a 77-intent set pass, at about 90% accuracy; flows with fewer intents pass more.
DEFAULT_THRESHOLD = 0.3


def intent_names(props: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(str(i.get("name", "")) for i in props.get("intents") or [] if i.get("name"))


def transition_events(props: Mapping[str, Any]) -> tuple[str, ...]:
    """Every event a ``bot-triage`` state with these properties can fire."""
    return (*FIXED_EVENTS, *intent_names(props))


def _text(call: WidgetCall) -> str:
    if "input" in call.props:
        return str(call.props["input"] or "").strip()
    # The default input is {{trigger.message.Body}}, read from the context rather than rendered.
    message = call.context.get("trigger", {}).get("message") or {}
    return str(message.get("Body") or "").strip()


def payload_of(props: Mapping[str, Any], text: str) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "text": text,
        "intents": [
            {"name": str(i["name"]), "examples": [str(e) for e in i.get("examples") or []]}
            for i in props.get("intents") or []
            if i.get("name")
        ],
        "threshold": as_number(props.get("threshold"), DEFAULT_THRESHOLD),
    }
    for optional in ("nlu_url", "model"):
        if props.get(optional):
            payload[optional] = str(props[optional])
    return payload


def enter(call: WidgetCall) -> WidgetResult:
    text = _text(call)
    if not text:
        # Nothing to classify (a media-only message, an empty input): no model can do better.
        outputs: dict[str, Any] = {"intent": None, "confidence": 0.0, "ranking": [], "text": text}
        return WidgetResult(transition=FALLBACK, outputs=outputs)
    request_id = call.request_id("nlu")
    effect = Custom(request_id, KIND, payload_of(call.props, text))
    return WidgetResult(effects=(effect,), waiting={"request_id": request_id, "text": text})


def resume(call: WidgetCall, event: Event) -> WidgetResult | None:
    if not isinstance(event, Result) or event.request_id != call.waiting.get("request_id"):
        return None
    text = call.waiting.get("text", "")
    if not event.ok:
        return WidgetResult(transition=FAILED, outputs={"text": text, "error": event.error})
    intent = event.data.get("intent")
    confidence = as_number(event.data.get("confidence"), 0.0)
    outputs = {
        "intent": intent,
        "confidence": confidence,
        "ranking": list(event.data.get("ranking") or []),
        "text": text,
    }
    if event.data.get("classifier"):
        # Which classifier answered: "trained", or "previous"/"keyword" while the flow's own
        # model was still training (server.nlu.background).
        outputs["classifier"] = str(event.data["classifier"])
    threshold = as_number(call.props.get("threshold"), DEFAULT_THRESHOLD)
    routed = intent in intent_names(call.props) and confidence >= threshold
    return WidgetResult(transition=str(intent) if routed else FALLBACK, outputs=outputs)


INTENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        # The name is the transition event: '#' is reserved by the flow compiler's event keys.
        "name": {"type": "string", "pattern": "^[^#]+$", "not": {"enum": list(FIXED_EVENTS)}},
        "examples": {"type": "array", "items": {"type": "string"}, "minItems": 1},
    },
    "required": ["name", "examples"],
}

WIDGET = WidgetType(
    type="bot-triage",
    events=FIXED_EVENTS,
    dynamic_events=intent_names,
    properties_schema={
        "type": "object",
        "properties": {
            "input": {"type": "string"},
            "intents": {"type": "array", "items": INTENT_SCHEMA, "minItems": 2},
            "threshold": {"type": ["string", "number"]},
            "nlu_url": {"type": "string"},
            "model": {"enum": ["light", "minilm"]},
        },
        "required": ["intents"],
    },
    enter=enter,
    resume=resume,
    description="Classifies the customer's message into one of the flow's intents.",
)
