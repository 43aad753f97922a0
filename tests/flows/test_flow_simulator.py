from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from server.flows.script import (
    Expect,
    FireTimeout,
    RecordHttp,
    Say,
    ScriptError,
    ScriptRun,
    format_output,
    parse_script,
)
from server.flows.simulator import (
    BotReply,
    Note,
    Output,
    RecordedResponse,
    SimulationError,
    Simulator,
)

REPO = Path(__file__).resolve().parents[2]
NPS = REPO.parent / "shared" / "fixtures" / "studio" / "nps-survey.json"
GREETING = Path(__file__).parent / "data" / "greeting.json"


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def replies(outputs: list[Output]) -> list[str]:
    return [o.text for o in outputs if isinstance(o, BotReply)]


def test_nps_survey_runs_to_the_end_with_a_recorded_http_answer() -> None:
    simulator = Simulator(load(NPS), name="nps-survey", now=1000.0)

    first = simulator.customer_says("hi")
    assert replies(first)[0].startswith("👋 Ahoy!")
    assert list(simulator.timers.values()) == [1000.0 + 1 + 3600]

    assert replies(simulator.customer_says("eleven")) == [
        "I'm sorry, I didn't understand. Please enter a number from 1 - 10.",
        replies(first)[0],
    ]
    assert len(simulator.timers) == 1  # the first question's timer was cancelled on the reply

    assert replies(simulator.customer_says("9"))[0].startswith("Is there any other feedback")
    simulator.record_http(RecordedResponse.from_spec({"status": 200, "json": {"ok": True}}))
    outputs = simulator.customer_says("Loved it")
    assert replies(outputs)[0].startswith("We value your feedback!")
    assert any("-> 200 (recorded)" in o.text for o in outputs if isinstance(o, Note))
    assert not simulator.active
    assert simulator.execution is not None
    assert simulator.execution.context["widgets"]["feedback"]["inbound"]["Body"] == "Loved it"


def test_timeout_fires_on_the_simulated_clock() -> None:
    simulator = Simulator(load(NPS), name="nps-survey", now=0.0)
    simulator.customer_says("hi")
    simulator.customer_says("10")
    simulator.record_http(RecordedResponse(500, "boom"))
    outputs = simulator.fire_timeout()
    assert simulator.now == 2.0 + 600
    # The sheet call failed, and the flow ends on ``failed`` without thanking.
    assert replies(outputs) == []
    assert simulator.execution is not None
    assert simulator.execution.ended_reason == (
        "send_results_to_sheets.failed: end of flow (transition)"
    )
    with pytest.raises(SimulationError):
        simulator.fire_timeout()


def test_a_number_picks_the_offered_choice() -> None:
    simulator = Simulator(load(GREETING), name="greeting")
    (greeting,) = [o for o in simulator.customer_says("ada") if isinstance(o, BotReply)]
    assert greeting.text == "Hi ADA! What do you need?"
    assert [c.label for c in greeting.choices] == ["Sales", "Support"]
    assert "\n     2. Support" in format_output(greeting)
    assert replies(simulator.customer_says("2")) == ["Connecting you to support."]


def test_a_new_message_after_the_end_starts_a_new_execution() -> None:
    simulator = Simulator(load(GREETING), name="greeting")
    simulator.customer_says("hi")
    simulator.customer_says("Sales")
    assert not simulator.active
    first = simulator.execution
    assert replies(simulator.customer_says("hello again")) == ["Hi HELLO AGAIN! What do you need?"]
    assert simulator.execution is not None and first is not None
    assert simulator.execution.id != first.id


class Crm(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status, body = (200, {"name": "Ada"}) if "from=" in self.path else (404, {})
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def crm_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Crm)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/contacts"
    finally:
        server.shutdown()
        server.server_close()


def lookup_flow(url: str, with_params: bool) -> dict[str, Any]:
    parameters = [{"key": "from", "value": "{{contact.channel.address}}"}] if with_params else []
    states = [
        {
            "name": "Trigger",
            "type": "trigger",
            "transitions": [{"event": "incomingMessage", "next": "lookup"}],
        },
        {
            "name": "lookup",
            "type": "make-http-request",
            "transitions": [
                {"event": "success", "next": "hello"},
                {"event": "failed", "next": "sorry"},
            ],
            "properties": {"method": "GET", "url": url, "parameters": parameters},
        },
        {
            "name": "hello",
            "type": "send-message",
            "transitions": [{"event": "sent"}],
            "properties": {"body": "Hello {{widgets.lookup.parsed.name}}"},
        },
        {
            "name": "sorry",
            "type": "send-message",
            "transitions": [{"event": "sent"}],
            "properties": {"body": "Sorry, {{widgets.lookup.status_code}}"},
        },
    ]
    return {"initial_state": "Trigger", "states": states}


def test_http_requests_are_performed_for_real(crm_url: str) -> None:
    found = Simulator(lookup_flow(crm_url, with_params=True), name="lookup")
    assert replies(found.customer_says("hi")) == ["Hello Ada"]
    missing = Simulator(lookup_flow(crm_url, with_params=False), name="lookup")
    assert replies(missing.customer_says("hi")) == ["Sorry, 404"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_unreachable_http_endpoint_takes_the_failed_branch() -> None:
    closed = f"http://127.0.0.1:{free_port()}/contacts"  # bound then released: nothing listens
    simulator = Simulator(lookup_flow(closed, with_params=True), name="lookup")
    outputs = simulator.customer_says("hi")
    assert replies(outputs) == ["Sorry, "]
    assert any("failed" in o.text for o in outputs if isinstance(o, Note))


def test_parse_script_reads_every_instruction() -> None:
    script = (
        "# a comment\n"
        "\n"
        "> hello\\nthere\n"
        "< /^Hi/\n"
        "< Two\\nlines\n"
        "~ timeout\n"
        '@http {"status": 500, "body": "down"}\n'
    )
    say, regex, literal, timeout, http = parse_script(script)
    assert say == Say(3, "hello\nthere")
    assert isinstance(regex, Expect) and regex.matches("Hi you") and not regex.matches("Oh Hi")
    assert isinstance(literal, Expect) and literal.matches("Two\nlines")
    assert timeout == FireTimeout(6)
    assert http == RecordHttp(7, RecordedResponse(500, "down"))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("hello", "unknown instruction"),
        ("~ later", "unknown clock instruction"),
        ("@http {nope", "invalid @http response"),
        ('@http {"status": "ok"}', "status must be an integer"),
        ("< /[/", "invalid regex"),
    ],
)
def test_bad_script_lines_name_their_line(line: str, message: str) -> None:
    with pytest.raises(ScriptError) as raised:
        parse_script(f"> hi\n{line}\n")
    assert raised.value.line == 2
    assert message in str(raised.value)


def test_script_run_reports_the_first_mismatch() -> None:
    shown: list[str] = []
    run = ScriptRun(Simulator(load(GREETING), name="greeting"), show=shown.append)
    mismatch = run.run(parse_script("> ada\n< Hi ADA! What do you need?\n> 1\n< Wrong\n"))
    assert mismatch is not None
    assert str(mismatch) == "line 4: expected bot reply 'Wrong', got 'Bye for now.'"
    assert run.checked == 1
    assert "you> ada" in shown and "bot> Bye for now." in shown


def test_script_run_reports_a_missing_reply() -> None:
    run = ScriptRun(Simulator(load(GREETING), name="greeting"), show=lambda _: None)
    mismatch = run.run(parse_script("> ada\n< /What do you need/\n< Anything else?\n"))
    assert str(mismatch) == "line 3: expected bot reply 'Anything else?', got no reply"


def test_script_run_reports_a_timeout_with_no_pending_timer() -> None:
    run = ScriptRun(Simulator(load(GREETING), name="greeting"), show=lambda _: None)
    mismatch = run.run(parse_script("> ada\n> 1\n~ timeout\n"))
    assert str(mismatch) == "line 3: expected a pending timer to fire, got no timer is pending"
