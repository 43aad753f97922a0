"""``send-and-wait-for-reply``: reply, timeout, delivery failure, and timers that come too late."""

from __future__ import annotations

import pytest

from server.engine import effects as fx
from server.engine.events import DeliveryFailed

from .harness import AT, Runner, body, flow_of, kinds, one, path, state, trigger


def ask(**properties: object) -> Runner:
    properties.setdefault("body", "How was it, {{trigger.message.Body}}?")
    return Runner(
        flow_of(
            trigger(incomingMessage="ask"),
            state(
                "ask",
                "send-and-wait-for-reply",
                {"incomingMessage": "thanks", "timeout": "nudge", "deliveryFailure": "failed"},
                **properties,
            ),
            state(
                "thanks",
                "send-message",
                {"sent": None},
                body="Thanks: {{widgets.ask.inbound.Body}}",
            ),
            state("nudge", "send-message", {"sent": None}, body="Still there?"),
            state("failed", "send-message", {"sent": None}, body="(log)"),
        )
    )


@pytest.mark.parametrize(
    ("timeout", "seconds"),
    [("3600", 3600), (120, 120), ("90.5", 90.5), (None, 3600), ("", 3600)],
)
def test_entering_sends_and_arms_the_timeout(timeout: object, seconds: float) -> None:
    props = {} if timeout is None else {"timeout": timeout}
    result = ask(**props).start("ann")
    assert kinds(result.effects) == ["SendMessage", "StartTimer"]
    send, timer = result.effects
    assert isinstance(send, fx.SendMessage) and isinstance(timer, fx.StartTimer)
    assert body(send) == "How was it, ann?"
    assert timer.due_at == AT + seconds
    assert result.execution.waiting == {
        "request_id": send.request_id,
        "timer_id": timer.timer_id,
        "reply": True,
    }


def test_send_accepted_keeps_waiting_for_the_reply() -> None:
    runner = ask()
    send = one(runner.start().effects, fx.SendMessage)
    waiting = runner.execution.waiting
    result = runner.ok(send.request_id, message_id="SM1")
    assert result.handled
    assert result.effects == ()
    assert result.steps == ()
    assert result.execution.state == "ask"
    assert result.execution.waiting == waiting
    assert result.execution.context["widgets"]["ask"] == {"message_id": "SM1"}


def test_reply_moves_on_and_cancels_the_timer() -> None:
    runner = ask()
    timer = one(runner.start().effects, fx.StartTimer)
    result = runner.reply("great")
    assert path(result) == [("ask", "incomingMessage", "thanks")]
    assert one(result.effects, fx.CancelTimer) == fx.CancelTimer(timer.timer_id)
    assert result.execution.context["widgets"]["ask"]["inbound"]["Body"] == "great"
    assert body(one(result.effects, fx.SendMessage)) == "Thanks: great"


def test_timer_fires_timeout_without_cancelling_itself() -> None:
    runner = ask(timeout="600")
    timer = one(runner.start().effects, fx.StartTimer)
    result = runner.fire(timer.timer_id, at=AT + 600)
    assert path(result) == [("ask", "timeout", "nudge")]
    assert fx.CancelTimer(timer.timer_id) not in result.effects


def test_stale_timer_after_the_reply_is_ignored() -> None:
    runner = ask()
    timer = one(runner.start().effects, fx.StartTimer)
    runner.reply("great")
    before = runner.execution
    result = runner.fire(timer.timer_id)
    assert not result.handled
    assert result.effects == ()
    assert result.execution == before


def test_reply_before_the_send_is_acknowledged_still_counts() -> None:
    runner = ask()
    runner.start()
    result = runner.reply("fast")
    assert path(result) == [("ask", "incomingMessage", "thanks")]


def test_send_rejected_is_a_delivery_failure() -> None:
    runner = ask()
    effects = runner.start().effects
    send, timer = one(effects, fx.SendMessage), one(effects, fx.StartTimer)
    result = runner.fail(send.request_id, "21610 unsubscribed")
    assert path(result) == [("ask", "deliveryFailure", "failed")]
    assert fx.CancelTimer(timer.timer_id) in result.effects
    assert result.execution.context["widgets"]["ask"]["error"] == "21610 unsubscribed"


def test_delivery_failed_after_acceptance_is_a_delivery_failure() -> None:
    runner = ask()
    effects = runner.start().effects
    send, timer = one(effects, fx.SendMessage), one(effects, fx.StartTimer)
    runner.ok(send.request_id, message_id="SM1")
    result = runner.feed(
        DeliveryFailed(send.request_id, at=AT + 5, error_code="30006", error="landline")
    )
    assert path(result) == [("ask", "deliveryFailure", "failed")]
    assert fx.CancelTimer(timer.timer_id) in result.effects
    assert result.execution.context["widgets"]["ask"] == {
        "message_id": "SM1",
        "error": "landline",
        "error_code": "30006",
    }


def test_delivery_failed_for_another_message_is_stale() -> None:
    runner = ask()
    runner.start()
    result = runner.feed(DeliveryFailed("other:1:send", at=AT + 5, error_code="30006"))
    assert not result.handled
