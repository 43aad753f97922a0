"""The NPS survey exported from Studio, run unchanged from the first message to the thank-you."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

import widgets
from server.engine import compile_flow
from server.engine import effects as fx

from .harness import AT, CUSTOMER, FLOW_ADDRESS, Runner, body, new_execution, one, path

FIXTURE = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "studio" / "nps-survey.json"


@pytest.fixture
def survey() -> Runner:
    definition: dict[str, Any] = json.loads(FIXTURE.read_text())
    flow = compile_flow(definition, widgets.REGISTRY, sid="FWnps", name="nps-survey")
    return Runner(flow, new_execution(flow))


def text(effect: fx.SendMessage) -> str:
    return body(effect)


def ask_nps(survey: Runner, at: float) -> fx.SendMessage:
    send = one(survey.results[-1].effects, fx.SendMessage)
    assert text(send).startswith("👋 Ahoy!")
    assert (send.from_, send.to) == (FLOW_ADDRESS, None)
    assert one(survey.results[-1].effects, fx.StartTimer).due_at == at + 3600  # "3600"
    survey.ok(send.request_id, message_id="SMnps", at=at + 1)
    return send


def test_from_first_message_to_the_sheet_and_thank_you(survey: Runner) -> None:
    survey.start("survey", at=AT)
    assert survey.state == "nps"
    ask_nps(survey, AT)

    # Not a number from 1 to 10: the flow apologises and asks again.
    result = survey.reply("eleven", at=AT + 10)
    assert path(result) == [
        ("nps", "incomingMessage", "check_nps"),
        ("check_nps", "noMatch", "unknown_answer_1"),
    ]
    sorry = one(result.effects, fx.SendMessage)
    assert sorry.to == CUSTOMER
    assert text(sorry).startswith("I'm sorry")
    result = survey.ok(sorry.request_id, at=AT + 11)
    assert path(result) == [("unknown_answer_1", "sent", "nps")]
    ask_nps(survey, AT + 11)

    result = survey.reply("9", at=AT + 20)
    assert path(result) == [
        ("nps", "incomingMessage", "check_nps"),
        ("check_nps", "match", "feedback"),
    ]
    assert result.execution.context["widgets"]["check_nps"]["matched"] == "1-10"
    feedback = one(result.effects, fx.SendMessage)
    assert text(feedback).startswith("Is there any other feedback")
    assert one(result.effects, fx.StartTimer).due_at == AT + 20 + 600
    survey.ok(feedback.request_id, at=AT + 21)

    result = survey.reply("Loved the workshop", at=AT + 30)
    assert path(result) == [("feedback", "incomingMessage", "send_results_to_sheets")]
    post = one(result.effects, fx.HttpRequest)
    assert post.method == "POST"
    assert post.url == "https://script.google.com/macros/s/YOUR-ACTUAL-SCRIPT-HERE/exec"
    assert post.content_type == "application/x-www-form-urlencoded"
    assert post.timeout == 10.0  # the export asks for 3600
    # The export's values end with a space ("{{widgets.nps.inbound.Body}} "); kept as written.
    assert parse_qs(post.body or "") == {"NPS": ["9 "], "Feedback": ["Loved the workshop "]}

    result = survey.ok(
        post.request_id,
        at=AT + 31,
        status_code=200,
        content_type="application/json",
        body='{"result": "success"}',
    )
    assert path(result) == [("send_results_to_sheets", "success", "thank_you")]
    thanks = one(result.effects, fx.SendMessage)
    assert text(thanks).startswith("We value your feedback!")
    assert (thanks.from_, thanks.to) == (FLOW_ADDRESS, CUSTOMER)

    result = survey.ok(thanks.request_id, at=AT + 32)
    assert path(result) == [("thank_you", "sent", None)]
    assert result.execution.status == "ended"
    assert result.execution.step_count == 8


def test_feedback_timeout_still_posts_the_score(survey: Runner) -> None:
    survey.start("survey")
    survey.reply("10", at=AT + 5)
    timer = one(survey.results[-1].effects, fx.StartTimer)
    result = survey.fire(timer.timer_id, at=timer.due_at)
    assert path(result) == [("feedback", "timeout", "send_results_to_sheets")]
    post = one(result.effects, fx.HttpRequest)
    assert parse_qs(post.body or "", keep_blank_values=True) == {"NPS": ["10 "], "Feedback": [" "]}


def test_no_answer_to_the_score_ends_the_survey(survey: Runner) -> None:
    timer = one(survey.start("survey").effects, fx.StartTimer)
    result = survey.fire(timer.timer_id, at=timer.due_at)
    assert path(result) == [("nps", "timeout", None)]
    assert result.execution.status == "ended"
