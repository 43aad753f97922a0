"""The trigger widget: each trigger event starts the flow; unwired ones end the execution."""

from __future__ import annotations

import pytest

from server.engine.events import InboundMessage, Start

from .harness import AT, Runner, flow_of, message, path, state, trigger

TRIGGER_EVENTS = (
    "incomingMessage",
    "incomingConversationMessage",
    "incomingRequest",
    "incomingParent",
)


def marker(name: str, value: str) -> dict[str, object]:
    """A set-variables state that records it ran and ends the execution."""
    return state(name, "set-variables", {"next": None}, variables=[{"key": "via", "value": value}])


@pytest.mark.parametrize("event", TRIGGER_EVENTS)
def test_each_trigger_event_takes_its_own_transition(event: str) -> None:
    flow = flow_of(
        trigger(**{e: f"on_{e}" for e in TRIGGER_EVENTS}),
        *(marker(f"on_{e}", e) for e in TRIGGER_EVENTS),
    )
    runner = Runner(flow)
    start = Start(
        trigger=event,
        at=AT,
        message=message("hi") if "Message" in event else None,
    )
    result = runner.feed(start)
    assert path(result) == [("Trigger", event, f"on_{event}"), (f"on_{event}", "next", None)]
    assert result.execution.context["flow"]["variables"] == {"via": event}
    assert result.execution.status == "ended"


@pytest.mark.parametrize(
    ("start", "expected_trigger"),
    [
        (
            Start("incomingMessage", AT, message=message("hello")),
            {"message": message("hello")},
        ),
        (
            Start("incomingConversationMessage", AT, message=message("hello")),
            {"conversation": message("hello"), "message": message("hello")},
        ),
        (
            Start("incomingRequest", AT, data={"order": "42"}, parameters={"p": "1"}),
            {"request": {"parameters": {"p": "1"}}},
        ),
        (
            Start("incomingParent", AT, parameters={"name": "ann"}),
            {"parent": {"parameters": {"name": "ann"}}},
        ),
    ],
)
def test_trigger_fills_the_trigger_namespace(start: Start, expected_trigger: object) -> None:
    flow = flow_of(trigger(**{start.trigger: "wait"}), send_wait("wait"))
    result = Runner(flow).feed(start)
    assert result.execution.context["trigger"] == expected_trigger
    assert result.execution.context["flow"]["data"] == start.data


def send_wait(name: str) -> dict[str, object]:
    return state(name, "send-and-wait-for-reply", {"incomingMessage": None}, body="?")


@pytest.mark.parametrize(
    ("transitions", "reason"),
    [
        # Studio exports list every trigger event; the ones with no ``next`` end the execution.
        ({"incomingMessage": "wait", "incomingRequest": None}, "transition"),
        ({"incomingMessage": "wait", "incomingRequest": ""}, "transition"),
        # An event missing from the transitions altogether ends it too.
        ({"incomingMessage": "wait"}, "unwired event"),
    ],
)
def test_unwired_trigger_events_end_the_execution(
    transitions: dict[str, str | None], reason: str
) -> None:
    flow = flow_of(state("Trigger", "trigger", transitions), send_wait("wait"))
    result = Runner(flow).start(trigger="incomingRequest")
    assert result.execution.status == "ended"
    assert result.execution.ended_reason == f"Trigger.incomingRequest: end of flow ({reason})"
    assert [type(e).__name__ for e in result.effects] == ["EndExecution"]
    assert path(result) == [("Trigger", "incomingRequest", None)]


def test_a_second_start_is_not_handled() -> None:
    flow = flow_of(trigger(incomingMessage="wait"), send_wait("wait"))
    runner = Runner(flow)
    runner.start()
    before = runner.execution
    again = runner.start()
    assert not again.handled
    assert again.effects == ()
    assert again.execution == before


def test_events_other_than_start_do_not_start_a_flow() -> None:
    flow = flow_of(trigger(incomingMessage="wait"), send_wait("wait"))
    result = Runner(flow).feed(InboundMessage(message("hi"), at=AT))
    assert not result.handled
    assert result.execution.state is None


def test_a_transition_back_to_the_trigger_ends_the_execution() -> None:
    flow = flow_of(
        trigger(incomingMessage="again"),
        state("again", "set-variables", {"next": "Trigger"}, variables=[]),
    )
    result = Runner(flow).start()
    assert result.execution.status == "ended"
    assert path(result)[-1] == ("Trigger", "__reentered__", None)


def test_a_widget_type_that_cannot_run_here_compiles_and_ends_the_run_if_entered() -> None:
    # Validation lets one through only where no message reaches it (the voice branch of an
    # export that also takes calls); the engine still never crashes on one.
    flow = flow_of(
        trigger(incomingMessage="say", incomingCall="greet_caller"),
        state("say", "say-play", {"audioComplete": "after"}, say="Hello"),
        state("greet_caller", "say-play", {"audioComplete": None}, say="Hello"),
        marker("after", "after"),
    )
    result = Runner(flow).feed(Start("incomingMessage", AT, message=message("hi")))
    assert result.execution.status == "ended"
    assert result.execution.ended_reason == "say.__cannot_run__: end of flow (unwired event)"
    assert result.execution.context["flow"]["variables"] == {}
