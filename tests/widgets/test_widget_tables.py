"""Engine tables for run-function, run-subflow, wait-for-event, crm-lookup and business-hours."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from server.engine import effects as fx
from server.engine.events import AppEvent
from tests.engine.harness import AT, Runner, flow_of, one, path, state, trigger

WEEKDAYS = ["mon", "tue", "wed", "thu", "fri"]


def run_function_flow() -> Runner:
    return Runner(
        flow_of(
            trigger(incomingMessage="fn"),
            state(
                "fn",
                "run-function",
                {"success": None, "fail": None},
                function_sid="ZH1",
                url="https://example.twil.io/f",
                parameters=[{"key": "body", "value": "{{trigger.message.Body}}"}],
            ),
        )
    )


def test_run_function_calls_with_rendered_parameters() -> None:
    runner = run_function_flow()
    call = one(runner.start("hello").effects, fx.CallFunction)
    assert (call.function, call.url, call.parameters) == (
        "ZH1",
        "https://example.twil.io/f",
        {"body": "hello"},
    )
    assert call.timeout == 10.0
    assert runner.execution.waiting == {"request_id": call.request_id}


@pytest.mark.parametrize(
    ("ok", "data", "error", "event", "outputs"),
    [
        (
            True,
            {"status_code": 200, "content_type": "application/json", "body": '{"a": 1}'},
            None,
            "success",
            {"status_code": 200, "parsed": {"a": 1}},
        ),
        (
            True,
            {"status_code": 500, "content_type": "text/plain", "body": "boom"},
            None,
            "fail",
            {"status_code": 500, "body": "boom"},
        ),
        (False, {}, "timed out after 10 s", "fail", {"error": "timed out after 10 s"}),
        (
            True,
            {"status_code": 200, "content_type": "application/json", "body": "{not json"},
            None,
            "fail_free_parsed",
            {"body": "{not json"},
        ),
    ],
)
def test_run_function_events(
    ok: bool, data: dict[str, Any], error: str | None, event: str, outputs: dict[str, Any]
) -> None:
    runner = run_function_flow()
    call = one(runner.start().effects, fx.CallFunction)
    result = runner.ok(call.request_id, **data) if ok else runner.fail(call.request_id, error or "")
    expected = "success" if event == "fail_free_parsed" else event
    assert path(result) == [("fn", expected, None)]
    widget = runner.execution.context["widgets"]["fn"]
    assert outputs.items() <= widget.items()
    if event == "fail_free_parsed":  # malformed JSON: no ``parsed``, as in Studio
        assert "parsed" not in widget


def subflow_runner() -> Runner:
    return Runner(
        flow_of(
            trigger(incomingMessage="sub"),
            state(
                "sub",
                "run-subflow",
                {"completed": "done", "failed": None},
                flow_sid="FW50120385f4d1e8dcf30c0bcd83695969",
                parameters=[{"key": "name", "value": "{{trigger.message.Body}}"}],
            ),
            state(
                "done",
                "send-message",
                {"sent": None, "failed": None},
                body="Hi {{widgets.sub.name}}",
            ),
        )
    )


def test_run_subflow_completed_exposes_child_variables() -> None:
    runner = subflow_runner()
    start = one(runner.start("ada").effects, fx.StartSubflow)
    assert (start.flow, start.parameters) == ("FW50120385f4d1e8dcf30c0bcd83695969", {"name": "ada"})
    result = runner.ok(start.request_id, name="ADA")
    assert path(result) == [("sub", "completed", "done")]
    assert runner.execution.context["widgets"]["sub"] == {"name": "ADA"}


def test_run_subflow_failed() -> None:
    runner = subflow_runner()
    start = one(runner.start("ada").effects, fx.StartSubflow)
    result = runner.fail(start.request_id, "no flow 'x'")
    assert path(result) == [("sub", "failed", None)]
    assert runner.execution.context["widgets"]["sub"] == {"error": "no flow 'x'"}


def wait_runner() -> Runner:
    return Runner(
        flow_of(
            trigger(incomingMessage="wait"),
            state(
                "wait",
                "wait-for-event",
                {"received": None, "timeout": None},
                event="checkout",
                timeout="60",
            ),
        )
    )


def test_wait_for_event_received_outputs_properties() -> None:
    runner = wait_runner()
    timer = one(runner.start().effects, fx.StartTimer)
    assert timer.due_at == AT + 60
    assert runner.execution.waiting == {"event": "checkout", "timer_id": timer.timer_id}
    assert not runner.feed(AppEvent("page_view", AT + 1)).handled
    result = runner.feed(AppEvent("checkout", AT + 2, {"total": 42}))
    assert path(result) == [("wait", "received", None)]
    assert one(result.effects, fx.CancelTimer).timer_id == timer.timer_id
    assert runner.execution.context["widgets"]["wait"]["total"] == 42


def test_wait_for_event_timeout() -> None:
    runner = wait_runner()
    timer = one(runner.start().effects, fx.StartTimer)
    assert path(runner.fire(timer.timer_id)) == [("wait", "timeout", None)]


def crm_runner(**props: Any) -> Runner:
    return Runner(
        flow_of(
            trigger(incomingMessage="crm"),
            state("crm", "crm-lookup", {"found": None, "not_found": None, "failed": None}, **props),
        )
    )


def test_crm_lookup_found_attaches_fields_to_contact_and_conversation() -> None:
    runner = crm_runner()
    custom = one(runner.start().effects, fx.Custom)
    assert custom.kind == "crm.lookup"
    # No value: the runtime picks the key from what the channel knows (server.crm.keys).
    assert custom.payload == {
        "connector": "",
        "by": "auto",
        "value": "",
        "contact_id": None,
        "channel": None,
        "address": "+15550001111",
    }
    result = runner.ok(
        custom.request_id, found=True, fields={"tier": "gold"}, by="phone", value="+15550001111"
    )
    assert path(result) == [("crm", "found", None)]
    attached = [e for e in result.effects if isinstance(e, fx.SetConversationAttributes)]
    assert attached == [
        fx.SetConversationAttributes({"tier": "gold"}),
        fx.SetConversationAttributes({"tier": "gold"}, contact=True),
    ]
    assert runner.execution.context["widgets"]["crm"]["tier"] == "gold"
    assert runner.execution.context["widgets"]["crm"]["by"] == "phone"  # the key the runtime chose


def test_crm_lookup_not_found_and_failed() -> None:
    runner = crm_runner(by="email", value="a@b.c", connector="sheet")
    custom = one(runner.start().effects, fx.Custom)
    assert custom.payload["by"] == "email" and custom.payload["connector"] == "sheet"
    assert path(runner.ok(custom.request_id, found=False)) == [("crm", "not_found", None)]
    runner = crm_runner()
    custom = one(runner.start().effects, fx.Custom)
    result = runner.fail(custom.request_id, "CRM answered 500")
    assert path(result) == [("crm", "failed", None)]
    assert runner.execution.context["widgets"]["crm"]["error"] == "CRM answered 500"


def test_crm_lookup_strips_the_whatsapp_prefix() -> None:
    runner = crm_runner(value="whatsapp:+15550009999")
    payload = one(runner.start().effects, fx.Custom).payload
    assert (payload["by"], payload["value"]) == ("phone", "+15550009999")
    assert "channel" not in payload  # the designer's value is the only key


HOURS = [
    {"days": WEEKDAYS, "open": "09:00", "close": "17:00"},
    {"days": ["sat"], "open": "22:00", "close": "02:00"},
]
HOLIDAYS = {"country": "US", "subdivision": "CA", "dates": ["2026-12-24"]}


def at(text: str, zone: str = "America/Los_Angeles") -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp()


@pytest.mark.parametrize(
    ("local", "event"),
    [
        ("2026-03-10 09:00", "open"),  # Tuesday, opening minute
        ("2026-03-10 16:59", "open"),
        ("2026-03-10 17:00", "closed"),  # closing is exclusive
        ("2026-03-10 08:59", "closed"),
        ("2026-03-08 12:00", "closed"),  # Sunday
        ("2026-03-14 23:30", "open"),  # Saturday night window
        ("2026-03-15 01:30", "open"),  # ... runs past midnight into Sunday
        ("2026-03-15 02:00", "closed"),
        ("2026-07-03 10:00", "holiday"),  # Independence Day observed (a Friday)
        ("2026-03-31 10:00", "holiday"),  # Cesar Chavez Day: California only
        ("2026-12-24 10:00", "holiday"),  # a listed date
    ],
)
def test_business_hours(local: str, event: str) -> None:
    runner = Runner(
        flow_of(
            trigger(incomingMessage="hours"),
            state(
                "hours",
                "business-hours",
                {"open": None, "closed": None, "holiday": None},
                timezone="America/Los_Angeles",
                hours=HOURS,
                holidays=HOLIDAYS,
            ),
        )
    )
    result = runner.start(at=at(local))
    assert path(result)[1:] == [("hours", event, None)]
    outputs = runner.execution.context["widgets"]["hours"]
    assert outputs["local_time"].startswith(local.replace(" ", "T"))


def test_business_hours_uses_the_named_zone() -> None:
    # 17:30 in New York is 14:30 in Los Angeles: open there, closed here.
    moment = at("2026-03-10 17:30", "America/New_York")
    for zone, event in (("America/Los_Angeles", "open"), ("America/New_York", "closed")):
        runner = Runner(
            flow_of(
                trigger(incomingMessage="hours"),
                state(
                    "hours",
                    "business-hours",
                    {"open": None, "closed": None, "holiday": None},
                    timezone=zone,
                    hours=HOURS,
                ),
            )
        )
        assert path(runner.start(at=moment))[1:] == [("hours", event, None)]


def test_business_hours_unknown_zone_is_closed() -> None:
    runner = Runner(
        flow_of(
            trigger(incomingMessage="hours"),
            state(
                "hours",
                "business-hours",
                {"open": None, "closed": None, "holiday": None},
                timezone="Mars/Olympus",
                hours=HOURS,
            ),
        )
    )
    assert path(runner.start())[1:] == [("hours", "closed", None)]
    assert "Mars/Olympus" in runner.execution.context["widgets"]["hours"]["error"]
