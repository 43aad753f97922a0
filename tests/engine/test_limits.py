"""Studio's runtime limits and the engine's contract: ends, stale events, replays."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from server.engine import Execution, StepLog
from server.engine import effects as fx
from server.engine.events import AppEvent, Event, InboundMessage, Result, Start, TimerFired
from server.engine.step import MAX_REPEATS, MAX_STEPS
from server.engine.widget import as_number

from .harness import AT, Runner, body, flow_of, message, one, path, state, trigger


def counter(name: str, next_state: str) -> dict[str, object]:
    """A set-variables state that counts its own runs in ``flow.variables.<name>``."""
    value = "{{flow.variables." + name + " | plus: 1}}"
    return state(
        name, "set-variables", {"next": next_state}, variables=[{"key": name, "value": value}]
    )


def test_a_loop_through_two_widgets_stops_at_the_step_limit() -> None:
    flow = flow_of(
        trigger(incomingMessage="ping"), counter("ping", "pong"), counter("pong", "ping")
    )
    result = Runner(flow).start()
    execution = result.execution
    assert (execution.status, execution.step_count) == ("failed", MAX_STEPS)
    assert execution.ended_reason == f"step limit of {MAX_STEPS} reached at 'pong'"
    assert result.effects[-1] == fx.EndExecution("failed", execution.ended_reason)
    variables = execution.context["flow"]["variables"]
    assert int(variables["ping"]) + int(variables["pong"]) == MAX_STEPS - 1


def test_the_step_limit_counts_across_events() -> None:
    flow = flow_of(
        trigger(incomingMessage="ask"),
        state("ask", "send-and-wait-for-reply", {"incomingMessage": "ask"}, body="again?"),
    )
    runner = Runner(flow)
    runner.start()
    runner.execution = replace(runner.execution, step_count=MAX_STEPS - 1)
    result = runner.reply("x")
    assert result.execution.status == "failed"
    assert result.execution.ended_reason == f"step limit of {MAX_STEPS} reached at 'ask'"
    assert not [e for e in result.effects if isinstance(e, fx.SendMessage)]


def test_the_same_widget_ten_times_in_a_row_stops_the_execution() -> None:
    flow = flow_of(trigger(incomingMessage="again"), counter("again", "again"))
    result = Runner(flow).start()
    assert result.execution.status == "failed"
    assert result.execution.ended_reason == f"widget 'again' entered {MAX_REPEATS} times in a row"
    # The tenth entry is the one refused: the widget ran nine times.
    assert result.execution.context["flow"]["variables"]["again"] == str(MAX_REPEATS - 1)
    assert isinstance(result.effects[-1], fx.EndExecution)


def test_repeats_count_across_events() -> None:
    flow = flow_of(
        trigger(incomingMessage="ask"),
        state("ask", "send-and-wait-for-reply", {"timeout": "ask"}, body="there?", timeout="60"),
    )
    runner = Runner(flow)
    timers = [one(runner.start().effects, fx.StartTimer)]
    while runner.status == "active":
        result = runner.fire(timers[-1].timer_id, at=timers[-1].due_at)
        timers += [e for e in result.effects if isinstance(e, fx.StartTimer)]
    assert len(timers) == MAX_REPEATS - 1
    assert runner.execution.ended_reason == f"widget 'ask' entered {MAX_REPEATS} times in a row"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("3600", 3600.0),
        (3600, 3600.0),
        ("2.5", 2.5),
        (" 60 ", 60.0),
        ("", 7.0),
        (None, 7.0),
        ("soon", 7.0),
    ],
)
def test_studio_numbers_may_come_as_strings(raw: object, expected: float) -> None:
    assert as_number(raw, 7.0) == expected


@pytest.mark.parametrize("next_state", ["", None])
def test_a_transition_to_nothing_ends_the_execution(next_state: str | None) -> None:
    flow = flow_of(
        trigger(incomingMessage="say"),
        {
            "name": "say",
            "type": "send-message",
            "transitions": [
                {"event": "sent", **({} if next_state is None else {"next": next_state})}
            ],
            "properties": {"body": "bye"},
        },
    )
    runner = Runner(flow)
    request_id = one(runner.start().effects, fx.SendMessage).request_id
    result = runner.ok(request_id)
    assert path(result) == [("say", "sent", None)]
    assert result.execution.status == "ended"
    assert result.execution.ended_reason == "say.sent: end of flow (transition)"
    assert result.execution.waiting == {}
    assert result.effects == (fx.EndExecution("ended", "say.sent: end of flow (transition)"),)


def ended_execution() -> tuple[Runner, dict[str, str]]:
    flow = flow_of(
        trigger(incomingMessage="ask"),
        state("ask", "send-and-wait-for-reply", {"incomingMessage": None}, body="?"),
    )
    runner = Runner(flow)
    effects = runner.start().effects
    ids = {
        "request": one(effects, fx.SendMessage).request_id,
        "timer": one(effects, fx.StartTimer).timer_id,
    }
    runner.reply("done")
    assert runner.status == "ended"
    return runner, ids


@pytest.mark.parametrize(
    "make_event",
    [
        lambda ids: InboundMessage(message("more"), at=AT + 9),
        lambda ids: TimerFired(ids["timer"], at=AT + 9),
        lambda ids: Result(ids["request"], at=AT + 9, ok=True),
        lambda ids: Start("incomingMessage", at=AT + 9, message=message("again")),
        lambda ids: AppEvent("page_view", at=AT + 9),
    ],
)
def test_events_for_an_ended_execution_are_not_handled(
    make_event: Callable[[dict[str, str]], Event],
) -> None:
    runner, ids = ended_execution()
    before = runner.execution
    result = runner.feed(make_event(ids))
    assert not result.handled
    assert (result.effects, result.steps, result.execution) == ((), (), before)


Trace = list[tuple[tuple[fx.Effect, ...], tuple[StepLog, ...], Execution]]


def conversation(flow_events: list[Event], execution: Execution | None = None) -> Trace:
    flow = flow_of(
        trigger(incomingMessage="ask"),
        state("ask", "send-and-wait-for-reply", {"incomingMessage": "api"}, body="Name?"),
        state(
            "api",
            "make-http-request",
            {"success": "bye"},
            method="POST",
            url="https://x.test",
            parameters=[{"key": "name", "value": "{{widgets.ask.inbound.Body}}"}],
        ),
        state("bye", "send-message", {"sent": None}, body="Bye {{widgets.api.parsed.name}}"),
    )
    runner = Runner(flow, execution)
    return [(r.effects, r.steps, r.execution) for r in map(runner.feed, flow_events)]


EVENTS: list[Event] = [
    Start("incomingMessage", AT, message=message("hi")),
    Result("FN1:1:send", AT + 1, ok=True, data={"message_id": "SM1"}),
    InboundMessage(message("ann"), AT + 2),
    Result(
        "FN1:2:http",
        AT + 3,
        ok=True,
        data={"status_code": 200, "content_type": "application/json", "body": '{"name": "Ann"}'},
    ),
    Result("FN1:3:send", AT + 4, ok=True),
]


def test_same_events_give_the_same_effects() -> None:
    first, second = conversation(EVENTS), conversation(EVENTS)
    assert first == second
    after_http, _steps, _execution = first[3]
    assert body(one(after_http, fx.SendMessage)) == "Bye Ann"
    _effects, _steps, execution = first[-1]
    assert execution.status == "ended"


def test_an_execution_restored_from_its_dict_continues_identically() -> None:
    straight = conversation(EVENTS)
    _effects, _steps, middle = conversation(EVENTS[:2])[-1]
    restored = Execution.from_dict(middle.to_dict())
    assert conversation(EVENTS[2:], restored) == straight[2:]
