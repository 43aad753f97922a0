"""``set-variables``: rendered values land in ``flow.variables`` for every later widget."""

from __future__ import annotations

from server.engine import effects as fx

from .harness import Runner, body, flow_of, one, state, trigger


def test_values_are_rendered_and_later_widgets_see_them() -> None:
    flow = flow_of(
        trigger(incomingMessage="remember"),
        state(
            "remember",
            "set-variables",
            {"next": "count"},
            variables=[
                {"key": "name", "value": "{{trigger.message.Body | upcase}}"},
                {"key": "tries", "value": "1"},
                {"key": "", "value": "keys that are blank are skipped"},
                {"key": "limit", "value": 3},
            ],
        ),
        state(
            "count",
            "set-variables",
            {"next": "greet"},
            variables=[{"key": "tries", "value": "{{flow.variables.tries | plus: 1}}"}],
        ),
        state(
            "greet",
            "send-message",
            {"sent": None},
            body="{{flow.variables.name}} try {{flow.variables.tries}} of {{flow.variables.limit}}",
        ),
    )
    result = Runner(flow).start("ann")
    assert result.execution.context["flow"]["variables"] == {
        "name": "ANN",
        "tries": "2",
        "limit": 3,
    }
    send = one(result.effects, fx.SendMessage)
    assert body(send) == "ANN try 2 of 3"


def test_variables_survive_across_events() -> None:
    flow = flow_of(
        trigger(incomingMessage="remember"),
        state(
            "remember",
            "set-variables",
            {"next": "ask"},
            variables=[{"key": "first", "value": "{{trigger.message.Body}}"}],
        ),
        state("ask", "send-and-wait-for-reply", {"incomingMessage": "echo"}, body="and?"),
        state(
            "echo",
            "send-message",
            {"sent": None},
            body="{{flow.variables.first}} then {{widgets.ask.inbound.Body}}",
        ),
    )
    runner = Runner(flow)
    runner.start("one")
    result = runner.reply("two")
    assert body(one(result.effects, fx.SendMessage)) == "one then two"


def test_the_input_execution_is_never_mutated() -> None:
    flow = flow_of(
        trigger(incomingMessage="remember"),
        state("remember", "set-variables", {"next": None}, variables=[{"key": "x", "value": "1"}]),
    )
    runner = Runner(flow)
    before = runner.execution
    runner.start()
    assert before.context["flow"]["variables"] == {}
    assert before.status == "active"
