"""Studio exports as Studio publishes them: every documented widget event and property loads,
what Studio publishes with mistakes in it loads with warnings, and Twilio's web chat flow (its
structure mirrored in ``data/studio-webchat-flex.json``) runs end to end on a real server."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from server.flows import validate_flow
from server.flows.simulator import BotReply, Simulator
from tests.agents.conftest import AgentClient, create_agent, start_handoff_server
from tests.server.conftest import ChatClient, ServerProcess, server_factory  # noqa: F401

REPO = Path(__file__).resolve().parents[2]
WEBCHAT_FLEX = Path(__file__).parent / "data" / "studio-webchat-flex.json"


def webchat_flex() -> dict[str, Any]:
    return json.loads(WEBCHAT_FLEX.read_text(encoding="utf-8"))


def threadline(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


# Each messaging widget's transition events as Studio's widget reference lists them, with the
# properties its exports carry beyond the ones every flow uses.
STUDIO_WIDGETS: list[tuple[str, tuple[str, ...], dict[str, Any]]] = [
    (
        "trigger",
        (
            "incomingMessage",
            "incomingCall",
            "incomingConversationMessage",
            "incomingRequest",
            "incomingParent",
        ),
        {},
    ),
    (
        "send-message",
        ("sent", "failed"),
        {
            "body": "Hi",
            "from": "{{flow.channel.address}}",
            "to": "{{contact.channel.address}}",
            "media_url": "https://example.com/a.png",
            "service": "{{trigger.message.InstanceSid}}",
            "channel": "{{trigger.message.ChannelSid}}",
            "attributes": "",
        },
    ),
    (
        "send-message",
        ("sent", "failed"),
        {
            # A content template instead of a body, as Studio exports it.
            "message_type": "content_template",
            "content_sid": "HX00000000000000000000000000000001",
            "content_variables": [{"key": "{{1}}", "value": "{{flow.variables.name}}"}],
        },
    ),
    (
        "send-and-wait-for-reply",
        ("incomingMessage", "timeout", "deliveryFailure"),
        {"body": "?", "timeout": "3600", "attributes": '{"selections": ["A", "B"]}'},
    ),
    ("split-based-on", ("noMatch",), {"input": "{{trigger.message.Body}}"}),
    (
        "set-variables",
        ("next",),
        {"variables": [{"key": "k", "value": "{{trigger.message.Body}}", "type": "string"}]},
    ),
    (
        "make-http-request",
        ("success", "failed"),
        {
            "method": "POST",
            "url": "https://example.com/hook",
            "content_type": "application/json;charset=utf-8",
            "body": "{}",
            "add_twilio_auth": False,
        },
    ),
    (
        "run-function",
        ("success", "fail"),
        {
            "service_sid": "ZS00000000000000000000000000000001",
            "environment_sid": "ZE00000000000000000000000000000001",
            "function_sid": "ZH00000000000000000000000000000001",
            "url": "https://example-1234.twil.io/lookup",
            "parameters": [{"key": "from", "value": "{{contact.channel.address}}"}],
        },
    ),
    (
        "run-subflow",
        ("completed", "failed"),
        {
            "flow_sid": "FW00000000000000000000000000000001",
            "flow_revision": "LatestPublished",
            "parameters": [{"key": "name", "value": "ann"}],
        },
    ),
    (
        "send-to-flex",
        ("callComplete", "failedToEnqueue", "callFailure", "composerStarted"),
        {
            "workflow": "WW00000000000000000000000000000001",
            "channel": "TC00000000000000000000000000000001",
            "attributes": '{"name": "{{trigger.message.From}}"}',
            "priority": "0",
            "timeout": "3600",
            "hold_music_url": "https://example.com/hold",
            "url_method": "GET",
        },
    ),
]


@pytest.mark.parametrize(
    ("kind", "events", "properties"), STUDIO_WIDGETS, ids=[w[0] for w in STUDIO_WIDGETS]
)
def test_every_documented_event_and_property_loads(
    kind: str, events: tuple[str, ...], properties: dict[str, Any]
) -> None:
    widget = {
        "name": "widget",
        "type": kind,
        "transitions": [{"event": event} for event in events],
        "properties": {"offset": {"x": 0, "y": 0}, **properties},
    }
    states = [widget] if kind == "trigger" else [trigger_to("widget"), widget]
    definition = {"description": kind, "initial_state": states[0]["name"], "states": states}
    assert [str(i) for i in validate_flow(definition, file="export.json", warnings=True)] == []


def trigger_to(target: str) -> dict[str, Any]:
    return {
        "name": "Trigger",
        "type": "trigger",
        "transitions": [{"event": "incomingMessage", "next": target}],
        "properties": {},
    }


def test_the_web_chat_export_loads_with_its_one_warning() -> None:
    definition = webchat_flex()
    assert validate_flow(definition, file="x") == []
    (warning,) = validate_flow(definition, file="x", warnings=True)
    assert (warning.severity, warning.state) == ("warning", "loop_checker")
    assert "unreachable" in warning.message


def broken_liquid_export(tmp_path: Path) -> Path:
    """A published export with markup left open in a property, as found in the wild."""
    definition = webchat_flex()
    for state in definition["states"]:
        if state["name"] == "send_thank_you":
            state["properties"]["body"] = "Booked: {{flow.variables.reservation_id"
    path = tmp_path / "reservations.json"
    path.write_text(json.dumps(definition), encoding="utf-8")
    return path


def test_validate_reports_warnings_and_exits_0(tmp_path: Path) -> None:
    path = broken_liquid_export(tmp_path)
    result = threadline("flows", "validate", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert any(
        line.startswith(
            f"{path}: state 'send_thank_you': property 'body': warning: Liquid syntax error"
        )
        for line in lines
    ), lines
    assert f"{path}: state 'loop_checker': warning: unreachable from initial_state 'Trigger'" in (
        lines
    )
    assert lines[-1] == f"ok  {path} (2 warnings)"


def test_validate_strict_fails_on_warnings(tmp_path: Path) -> None:
    path = broken_liquid_export(tmp_path)
    result = threadline("flows", "validate", "--strict", str(path))
    assert result.returncode == 1
    assert "property 'body': warning: Liquid syntax error" in result.stdout
    assert "1 of 1 flow files invalid or with warnings (--strict)" in result.stderr
    clean = threadline("flows", "validate", "--strict", str(REPO / "flows" / "greeting.json"))
    assert clean.returncode == 0, clean.stdout + clean.stderr


def test_validate_keeps_errors_for_what_cannot_run(tmp_path: Path) -> None:
    definition = webchat_flex()
    definition["states"][0]["transitions"][2]["next"] = "no_such_state"
    path = tmp_path / "dangling.json"
    path.write_text(json.dumps(definition), encoding="utf-8")
    result = threadline("flows", "validate", str(path))
    assert result.returncode == 1
    assert f"{path}: state 'Trigger': property 'transitions[2].next': names no state" in (
        result.stdout
    )


def execution_of(server: ServerProcess, conversation_id: str) -> dict[str, Any]:
    body = server.api(f"/api/v1/conversations/{conversation_id}").json()
    (summary,) = body["executions"]
    response = server.api(f"/api/v1/executions/{summary['id']}")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def ended_execution(server: ServerProcess, conversation_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        execution = execution_of(server, conversation_id)
        if execution["status"] != "active" or time.monotonic() > deadline:
            return execution
        time.sleep(0.1)


async def test_twilio_web_chat_export_runs_end_to_end(
    tmp_path: Path,
    server_factory: Any,  # noqa: F811
) -> None:
    routing = {"disconnect_grace": 1, "offer_timeout": 20}
    server = start_handoff_server(tmp_path, server_factory, webchat_flex(), routing)
    mechanic = create_agent(server, "max")
    desk = await AgentClient.connect(server, mechanic["token"])
    chat = await ChatClient.connect(server.ws_url)

    await chat.say("hi")
    assert (await chat.bot())["text"].startswith("Hi there! A few quick questions")
    assert (await chat.bot())["text"] == "What brings you here today? Pick one:"
    for answer, question in [
        ("Repairs", "Have you ridden with us before?"),
        ("Returning", "What is your first name?"),
        ("Ada", "And your last name?"),
        ("Lovelace", "Which day did you buy the bike (YYYY-mm-dd)?"),
        ("2020-05-01", "Thanks! One moment while we find a mechanic to chat with you."),
    ]:
        await chat.say(answer)
        assert (await chat.bot())["text"] == question

    offer = await desk.frame("offer")
    conversation_id = offer["conversation_id"]
    await desk.send("accept", conversation_id=conversation_id)
    await desk.frame("assigned")

    execution = ended_execution(server, conversation_id)
    steps = [(s["from"], s["event"], s["to"]) for s in execution["steps"]]
    assert steps[0] == ("Trigger", "incomingConversationMessage", "loop_1")
    assert steps[-1] == ("send_to_flex_agent", "callComplete", None)
    assert execution["status"] == "ended"
    context = execution["context"]
    assert context["flow"]["variables"] == {"count": "0"}
    # Studio fills trigger.conversation for a conversation's message; trigger.message holds
    # the same fields, for flows that wire both message events to one widget.
    trigger = context["trigger"]["conversation"]
    assert context["trigger"]["message"] == trigger
    assert trigger["ConversationSid"] == conversation_id
    assert (trigger["Body"], trigger["Source"], trigger["Index"]) == ("hi", "SDK", 0)
    customer = server.api(f"/api/v1/conversations/{conversation_id}").json()["customer_address"]
    assert trigger["Author"] == customer
    assert trigger["ParticipantSid"].startswith("MB") and len(trigger["ParticipantSid"]) == 34
    assert trigger["MessageSid"] and trigger["DateCreated"].endswith("Z")
    for client in (desk, chat):
        await client.close()


def test_flows_run_starts_a_conversations_flow(tmp_path: Path) -> None:
    # The simulated customer writes by SMS; the export wires only incomingConversationMessage.
    script = tmp_path / "webchat.script"
    script.write_text(
        "> hi\n< /^Hi there!/\n< What brings you here today? Pick one:\n"
        "> Sales\n< Have you ridden with us before?\n"
        "> maybe\n< /^Thanks! One moment/\n",
        encoding="utf-8",
    )
    result = threadline("flows", "run", str(WEBCHAT_FLEX), "--script", str(script))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "send_to_flex_agent.failedToEnqueue" in result.stdout


def voice_and_messaging_export() -> dict[str, Any]:
    """One Studio flow for a number that takes calls and texts: the call branch never fires
    here (Threadline fires no ``incomingCall``), so its voice widgets never run."""
    return {
        "description": "calls and texts",
        "initial_state": "Trigger",
        "states": [
            {
                "name": "Trigger",
                "type": "trigger",
                "transitions": [
                    {"event": "incomingMessage", "next": "reply"},
                    {"event": "incomingCall", "next": "greet_caller"},
                ],
                "properties": {},
            },
            {
                "name": "reply",
                "type": "send-message",
                "transitions": [{"event": "sent"}, {"event": "failed"}],
                "properties": {"body": "Text us any time."},
            },
            {
                "name": "greet_caller",
                "type": "say-play",
                "transitions": [{"event": "audioComplete", "next": "to_twiml"}],
                "properties": {"say": "Hello", "loop": 1},
            },
            {
                "name": "to_twiml",
                "type": "add-twiml-redirect",
                "transitions": [{"event": "return"}, {"event": "timeout"}, {"event": "fail"}],
                "properties": {"url": "https://example.com/twiml", "timeout": "14400"},
            },
        ],
    }


def test_widgets_only_a_call_reaches_are_warnings_and_the_flow_runs(tmp_path: Path) -> None:
    definition = voice_and_messaging_export()
    assert validate_flow(definition, file="x") == []
    warnings = validate_flow(definition, file="x", warnings=True)
    assert {(w.state, w.severity) for w in warnings} == {
        ("greet_caller", "warning"),
        ("to_twiml", "warning"),
    }
    assert all("never runs here" in w.message for w in warnings), [str(w) for w in warnings]
    path = tmp_path / "calls-and-texts.json"
    path.write_text(json.dumps(definition), encoding="utf-8")
    script = tmp_path / "text.script"
    script.write_text("> hi\n< Text us any time.\n", encoding="utf-8")
    result = threadline("flows", "run", str(path), "--script", str(script))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("say-play", "is voice-only"),
        ("run-conversation-relay", "is voice-only"),
        ("add-twiml-redirect", "TwiML"),
        ("start-conversation", "Twilio Conversation"),
        ("send-to-auto-pilot", "Autopilot"),
        ("send-fax", "unknown widget type"),
    ],
)
def test_a_widget_that_cannot_run_is_an_error_where_a_message_reaches_it(
    kind: str, reason: str
) -> None:
    definition = voice_and_messaging_export()
    definition["states"][1]["type"] = kind
    (error,) = validate_flow(definition, file="x")
    assert (error.state, error.severity) == ("reply", "error")
    assert reason in error.message and repr(kind) in error.message


def test_the_simulator_fills_trigger_conversation() -> None:
    definition = {
        "initial_state": "Trigger",
        "states": [
            {
                "name": "Trigger",
                "type": "trigger",
                "transitions": [{"event": "incomingConversationMessage", "next": "echo"}],
            },
            {
                "name": "echo",
                "type": "send-message",
                "transitions": [{"event": "sent"}],
                "properties": {
                    "body": "{{trigger.conversation.Author}} {{trigger.conversation.Source}} "
                    "{{trigger.conversation.Body}} {{trigger.conversation.ConversationSid | size}}"
                },
            },
        ],
    }
    simulator = Simulator(definition, name="echo", customer_address="+15557654321")
    (reply,) = [o for o in simulator.customer_says("hello") if isinstance(o, BotReply)]
    assert reply.text == "+15557654321 SMS hello 34"
