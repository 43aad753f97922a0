"""``send-message``: one SendMessage effect, then ``sent`` or ``failed`` on the runtime's Result."""

from __future__ import annotations

import pytest

from server.engine import effects as fx
from server.model import MediaPart, TemplatePart, TextPart

from .harness import CUSTOMER, FLOW_ADDRESS, Runner, flow_of, one, path, state, trigger


def flow_with(**properties: object) -> Runner:
    return Runner(
        flow_of(
            trigger(incomingMessage="say"),
            state(
                "say",
                "send-message",
                {"sent": "after_sent", "failed": "after_failed"},
                **properties,
            ),
            state("after_sent", "send-and-wait-for-reply", {}, body="next?"),
            state("after_failed", "send-and-wait-for-reply", {}, body="sorry"),
        )
    )


def test_entering_sends_the_rendered_body_and_waits() -> None:
    runner = flow_with(
        body="Hi {{trigger.message.Body}}, from {{flow.channel.address}}",
        to="{{contact.channel.address}}",
        **{"from": "{{flow.channel.address}}"},
    )
    result = runner.start("ann")
    send = one(result.effects, fx.SendMessage)
    assert send.parts == (TextPart(f"Hi ann, from {FLOW_ADDRESS}"),)
    assert (send.to, send.from_) == (CUSTOMER, FLOW_ADDRESS)
    assert result.execution.state == "say"
    assert result.execution.waiting == {"request_id": send.request_id}


def test_media_urls_become_media_parts() -> None:
    urls = (
        "https://a.test/1.png, https://a.test/2.pdf?v=1, https://a.test/clip.mp4, https://a.test/3"
    )
    result = flow_with(body="look", media_url=urls).start()
    send = one(result.effects, fx.SendMessage)
    # The kind, by the URL's extension, is what WhatsApp sends the media as.
    assert send.parts == (
        TextPart("look"),
        MediaPart(url="https://a.test/1.png", media_kind="image"),
        MediaPart(url="https://a.test/2.pdf?v=1", media_kind="file"),
        MediaPart(url="https://a.test/clip.mp4", media_kind="video"),
        MediaPart(url="https://a.test/3", media_kind="file"),
    )
    assert send.media_urls == tuple(url.strip() for url in urls.split(","))


@pytest.mark.parametrize(
    ("ok", "event", "next_state", "outputs"),
    [
        (True, "sent", "after_sent", {"message_id": "SM1"}),
        (False, "failed", "after_failed", {"error": "30003 unreachable"}),
    ],
)
def test_result_fires_sent_or_failed(
    ok: bool, event: str, next_state: str, outputs: dict[str, str]
) -> None:
    runner = flow_with(body="hello")
    request_id = one(runner.start().effects, fx.SendMessage).request_id
    if ok:
        result = runner.ok(request_id, message_id="SM1")
    else:
        result = runner.fail(request_id, "30003 unreachable")
    assert path(result) == [("say", event, next_state)]
    assert result.execution.context["widgets"]["say"] == outputs
    assert result.execution.state == next_state


def test_a_result_for_another_request_is_stale() -> None:
    runner = flow_with(body="hello")
    runner.start()
    before = runner.execution
    result = runner.ok("someone-else:1:send", message_id="SM9")
    assert not result.handled
    assert result.execution == before


@pytest.mark.parametrize(
    ("attributes", "expected"),
    [
        ('{"order": "{{trigger.message.Body}}"}', {"order": "ann"}),  # Studio's form: JSON text
        ({"order": "{{trigger.message.Body}}"}, {"order": "ann"}),
        ("not json", {}),
        ("[1, 2]", {}),
        ("", {}),
    ],
)
def test_attributes_accept_json_text_or_an_object(attributes: object, expected: object) -> None:
    send = one(flow_with(body="x", attributes=attributes).start("ann").effects, fx.SendMessage)
    assert send.attributes == expected


def test_a_studio_content_template_is_sent_as_its_content_sid() -> None:
    runner = flow_with(
        message_type="content_template",
        content_sid="HX00000000000000000000000000000001",
        content_variables=[
            {"key": "{{2}}", "value": "at {{trigger.message.Body}}"},
            {"key": "{{1}}", "value": "Ann"},
        ],
    )
    send = one(runner.start("noon").effects, fx.SendMessage)
    assert send.parts == (
        TemplatePart("HX00000000000000000000000000000001", "", ("Ann", "at noon")),
    )


def test_a_custom_message_ignores_a_stale_content_sid() -> None:
    # Studio keeps the SID when a designer switches back to a custom message.
    runner = flow_with(message_type="custom", content_sid="HX1", body="Hi")
    assert one(runner.start("x").effects, fx.SendMessage).parts == (TextPart("Hi"),)
