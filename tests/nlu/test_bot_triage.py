"""``bot-triage`` as a table: events in, effects and transitions out, no model and no I/O."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

import widgets
from server.engine import Execution, StepResult, compile_flow, new_context, step
from server.engine.effects import Custom
from server.engine.events import Result, Start
from widgets import bot_triage

widgets.register(bot_triage.WIDGET)

AT = 1_700_000_000.0
INTENTS = [
    {"name": "billing", "examples": ["my bill is wrong", "I was charged twice"]},
    {"name": "delivery", "examples": ["where is my parcel", "my order has not arrived"]},
]


def triage_flow(**properties: Any) -> Any:
    properties.setdefault("intents", INTENTS)
    states = [
        {
            "name": "Trigger",
            "type": "trigger",
            "transitions": [{"event": "incomingMessage", "next": "triage"}],
            "properties": {},
        },
        {
            "name": "triage",
            "type": "bot-triage",
            "transitions": [
                {"event": "billing", "next": "to_billing"},
                {"event": "delivery", "next": "to_delivery"},
                {"event": "fallback", "next": "to_human"},
                {"event": "failed", "next": "to_human"},
            ],
            "properties": properties,
        },
        *(
            {
                "name": name,
                "type": "send-message",
                "transitions": [{"event": "sent", "next": ""}],
                "properties": {"body": name},
            }
            for name in ("to_billing", "to_delivery", "to_human")
        ),
    ]
    definition = {"description": "t", "initial_state": "Trigger", "states": states}
    return compile_flow(definition, widgets.REGISTRY, sid="FW1", name="triage")


def started(body: str, **properties: Any) -> tuple[Any, Execution, StepResult]:
    flow = triage_flow(**properties)
    execution = Execution(
        id="FN1",
        flow_sid=flow.sid,
        flow_version=flow.version,
        conversation_id="CH1",
        contact_id="CT1",
        started_at=AT,
        context=new_context(flow_sid=flow.sid, execution_id="FN1"),
    )
    result = step(flow, execution, Start("incomingMessage", AT, message={"Body": body}))
    return flow, result.execution, result


def classify_effect(result: StepResult) -> Custom:
    (effect,) = [e for e in result.effects if isinstance(e, Custom)]
    return effect


def test_enter_asks_the_runtime_to_classify_the_message() -> None:
    _, execution, result = started("  I was billed twice ", threshold="0.6")
    effect = classify_effect(result)
    assert execution.state == "triage"
    assert effect.kind == "nlu.classify"
    assert effect.request_id == "FN1:1:nlu"
    assert effect.payload == {"text": "I was billed twice", "intents": INTENTS, "threshold": 0.6}


def test_payload_carries_the_rendered_input_the_nlu_url_and_the_model() -> None:
    _, _, result = started(
        "hi",
        input="{{trigger.message.Body}} there",
        nlu_url="http://127.0.0.1:5005/model/parse",
        model="minilm",
    )
    payload = classify_effect(result).payload
    assert payload["text"] == "hi there"
    assert payload["threshold"] == bot_triage.DEFAULT_THRESHOLD
    assert payload["nlu_url"] == "http://127.0.0.1:5005/model/parse"
    assert payload["model"] == "minilm"


RANKING = [{"name": "billing", "confidence": 0.7}, {"name": "delivery", "confidence": 0.2}]


@pytest.mark.parametrize(
    ("answer", "event", "next_state"),
    [
        pytest.param(
            Result("FN1:1:nlu", AT + 1, ok=True, data={"intent": "billing", "confidence": 0.7}),
            "billing",
            "to_billing",
            id="intent-transition",
        ),
        pytest.param(
            Result("FN1:1:nlu", AT + 1, ok=True, data={"intent": "delivery", "confidence": 0.5}),
            "delivery",
            "to_delivery",
            id="at-threshold-routes",
        ),
        pytest.param(
            Result("FN1:1:nlu", AT + 1, ok=True, data={"intent": "billing", "confidence": 0.49}),
            "fallback",
            "to_human",
            id="below-threshold-falls-back",
        ),
        pytest.param(
            Result("FN1:1:nlu", AT + 1, ok=True, data={"intent": "refund", "confidence": 0.99}),
            "fallback",
            "to_human",
            id="unknown-intent-falls-back",
        ),
        pytest.param(
            Result("FN1:1:nlu", AT + 1, ok=False, error="external NLU answered HTTP 500"),
            "failed",
            "to_human",
            id="failed",
        ),
    ],
)
def test_result_picks_the_transition(answer: Result, event: str, next_state: str) -> None:
    flow, execution, _ = started("I was billed twice", threshold=0.5)
    result = step(flow, execution, answer)
    first = result.steps[0]
    assert (first.from_state, first.event, first.to_state) == ("triage", event, next_state)
    outputs = result.execution.context["widgets"]["triage"]
    assert outputs["text"] == "I was billed twice"
    if answer.ok:
        assert outputs["intent"] == answer.data["intent"]
        assert outputs["confidence"] == answer.data["confidence"]
    else:
        assert outputs["error"] == "external NLU answered HTTP 500"


def test_outputs_keep_the_ranking_for_later_widgets() -> None:
    flow, execution, _ = started("bill")
    data = {"intent": "billing", "confidence": 0.7, "ranking": RANKING}
    result = step(flow, execution, Result("FN1:1:nlu", AT + 1, ok=True, data=data))
    assert result.execution.context["widgets"]["triage"]["ranking"] == RANKING


def test_a_result_for_another_request_is_not_handled() -> None:
    flow, execution, _ = started("bill")
    data = {"intent": "billing", "confidence": 0.9}
    result = step(flow, execution, Result("FN1:0:other", AT + 1, ok=True, data=data))
    assert not result.handled
    assert result.execution.state == "triage"


def test_an_empty_message_falls_back_without_classifying() -> None:
    _, execution, result = started("   ")
    assert not [e for e in result.effects if isinstance(e, Custom)]
    assert [(s.event, s.to_state) for s in result.steps][1] == ("fallback", "to_human")
    assert execution.context["widgets"]["triage"]["intent"] is None


@pytest.mark.parametrize(
    ("properties", "valid"),
    [
        ({"intents": INTENTS, "threshold": "0.4", "nlu_url": "http://x/model/parse"}, True),
        ({"intents": INTENTS[:1]}, False),
        ({"intents": [*INTENTS, {"name": "fallback", "examples": ["x"]}]}, False),
        ({"intents": [*INTENTS, {"name": "a#b", "examples": ["x"]}]}, False),
        ({"intents": [*INTENTS, {"name": "empty", "examples": []}]}, False),
        ({"intents": INTENTS, "model": "gpt"}, False),
    ],
)
def test_properties_schema(properties: dict[str, Any], valid: bool) -> None:
    validator = Draft202012Validator(bot_triage.WIDGET.properties_schema)
    assert validator.is_valid(properties) is valid


def test_transition_events_name_the_intents() -> None:
    assert bot_triage.WIDGET.events == ("fallback", "failed")
    events = bot_triage.transition_events({"intents": INTENTS})
    assert events == ("fallback", "failed", "billing", "delivery")
