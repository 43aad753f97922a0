"""``make-http-request``: the request as an effect, then ``success``/``failed`` from the Result."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

import pytest

from server.engine import effects as fx
from server.engine.events import Result

from .harness import AT, Runner, body, flow_of, one, path, state, trigger


def call(**properties: Any) -> Runner:
    properties.setdefault("method", "GET")
    properties.setdefault("url", "https://api.test/orders")
    return Runner(
        flow_of(
            trigger(incomingMessage="api"),
            state("api", "make-http-request", {"success": "ok", "failed": "ko"}, **properties),
            state(
                "ok", "send-message", {"sent": None}, body="Status: {{widgets.api.parsed.status}}"
            ),
            state("ko", "send-message", {"sent": None}, body="Failed: {{widgets.api.status_code}}"),
        )
    )


def request_of(runner: Runner, body: str = "ann") -> fx.HttpRequest:
    result = runner.start(body)
    assert result.execution.state == "api"
    return one(result.effects, fx.HttpRequest)


def test_get_puts_parameters_in_the_query() -> None:
    request = request_of(
        call(
            url="https://api.test/orders?v=2",
            parameters=[
                {"key": "q", "value": "{{trigger.message.Body}}"},
                {"key": "n", "value": "a b"},
            ],
            headers=[{"key": "Authorization", "value": "Bearer t"}],
        )
    )
    assert request.method == "GET"
    assert request.url == "https://api.test/orders?v=2&q=ann&n=a+b"
    assert request.body is None
    assert request.headers == {"Authorization": "Bearer t"}


def test_post_sends_parameters_as_a_form() -> None:
    request = request_of(
        call(method="POST", parameters=[{"key": "name", "value": "{{trigger.message.Body}}"}])
    )
    assert request.content_type == "application/x-www-form-urlencoded"
    assert parse_qs(request.body or "") == {"name": ["ann"]}
    assert request.url == "https://api.test/orders"


def test_post_sends_a_rendered_json_body() -> None:
    request = request_of(
        call(
            method="POST",
            content_type="application/json;charset=utf-8",
            body='{"name": "{{trigger.message.Body}}", "vars": {{flow.variables | to_json}}}',
        )
    )
    assert request.content_type == "application/json;charset=utf-8"
    assert json.loads(request.body or "") == {"name": "ann", "vars": {}}


@pytest.mark.parametrize(
    ("timeout", "seconds"),
    [(None, 10.0), ("5", 5.0), (3, 3.0), ("3600", 10.0), (3600, 10.0), ("0", 10.0), (-1, 10.0)],
)
def test_timeout_is_capped_at_ten_seconds(timeout: object, seconds: float) -> None:
    props = {} if timeout is None else {"timeout": timeout}
    assert request_of(call(**props)).timeout == seconds


def finish(runner: Runner, ok: bool = True, error: str | None = None, **data: Any) -> Any:
    request = request_of(runner)
    return runner.feed(Result(request.request_id, at=AT + 1, ok=ok, data=data, error=error))


@pytest.mark.parametrize("status", [200, 201, 204, 299, "200"])
def test_2xx_is_success_with_parsed_json(status: int | str) -> None:
    result = finish(
        call(), status_code=status, content_type="application/json", body='{"status": "shipped"}'
    )
    assert path(result)[0] == ("api", "success", "ok")
    outputs = result.execution.context["widgets"]["api"]
    assert outputs["parsed"] == {"status": "shipped"}
    assert body(one(result.effects, fx.SendMessage)) == "Status: shipped"


@pytest.mark.parametrize("status", [500, 404, 301, 199])
def test_other_statuses_fail(status: int) -> None:
    result = finish(call(), status_code=status, content_type="text/plain", body="oops")
    assert path(result)[0] == ("api", "failed", "ko")
    assert body(one(result.effects, fx.SendMessage)) == f"Failed: {status}"


def test_a_transport_error_fails_with_the_error() -> None:
    result = finish(call(), ok=False, error="connect timeout")
    assert path(result)[0] == ("api", "failed", "ko")
    assert result.execution.context["widgets"]["api"]["error"] == "connect timeout"


@pytest.mark.parametrize(
    ("content_type", "body"),
    [("text/html", "<p>hi</p>"), ("application/json", "not json"), ("text/plain", "{broken")],
)
def test_a_body_that_is_not_json_has_no_parsed(content_type: str, body: str) -> None:
    result = finish(call(), status_code=200, content_type=content_type, body=body)
    outputs = result.execution.context["widgets"]["api"]
    assert "parsed" not in outputs
    assert outputs["body"] == body


def test_json_without_a_json_content_type_is_still_parsed() -> None:
    result = finish(call(), status_code=200, content_type="text/plain", body="[1, 2]")
    assert result.execution.context["widgets"]["api"]["parsed"] == [1, 2]


def test_a_result_for_another_request_is_stale() -> None:
    runner = call()
    request_of(runner)
    result = runner.feed(Result("other", at=AT + 1, ok=True, data={"status_code": 200}))
    assert not result.handled


def test_a_body_cut_at_the_cap_says_so() -> None:
    # A cut body can happen to parse ("[1]" then padding); it is still not the document.
    result = finish(
        call(), status_code=200, content_type="application/json", body="[1]  ", truncated=True
    )
    assert path(result)[0] == ("api", "success", "ok")
    outputs = result.execution.context["widgets"]["api"]
    assert outputs["truncated"] is True and outputs["body"] == "[1]  "
    assert "parsed" not in outputs


def test_a_whole_body_has_no_truncated_output() -> None:
    result = finish(call(), status_code=200, content_type="text/plain", body="x")
    assert "truncated" not in result.execution.context["widgets"]["api"]
