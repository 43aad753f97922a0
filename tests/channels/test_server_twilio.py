"""Twilio (SMS and WhatsApp through Twilio) through a real server process, with the real twilio
package signing webhooks and sending to a fake Twilio API."""

from __future__ import annotations

import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from tests.channels.fakes import FakeTwilioApi
from tests.channels.server_helpers import (
    BUSINESS_NUMBER,
    CUSTOMER_NUMBER,
    TWILIO_SID,
    TWILIO_TOKEN,
    conversations,
    execution,
    inbound,
    only_conversation,
    outbound,
    post_twilio,
    start_server,
    twilio_env,
    twilio_form,
    twilio_sends,
    wait_for,
)
from tests.server.conftest import REPO

GREETING_LIST = "1. Billing\n2. Technical support\n3. Order status"


def test_signatures_are_checked_and_nothing_is_stored_without_one(
    server_factory: Any, flows_dir: Path, twilio_api: FakeTwilioApi
) -> None:
    server = start_server(server_factory, flows_dir, twilio_env(twilio_api))
    url = server.base + "/channels/twilio/messages"

    tampered = post_twilio(
        server, twilio_form("send money", "SMtampered"), signed_form=twilio_form("hi", "SMtampered")
    )
    wrong_url = post_twilio(
        server, twilio_form("hi", "SMwrongurl"), signed_url=url.replace("127.0.0.1", "evil.example")
    )
    missing = post_twilio(server, twilio_form("hi", "SMmissing"), sign=False)
    wrong_token = post_twilio(server, twilio_form("hi", "SMwrongtoken"), token="not-the-token")
    for response in (tampered, wrong_url, missing, wrong_token):
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "invalid_signature"
    assert conversations(server) == []

    valid = post_twilio(server, twilio_form("hello", "SMvalid"))
    assert valid.status_code == 200
    assert valid.headers["content-type"].startswith("text/xml")
    assert valid.text.replace(" ", "").endswith("<Response/>")
    detail = only_conversation(server)
    assert [m["provider_message_id"] for m in inbound(detail)] == ["SMvalid"]
    # A signed status callback for an unknown message is accepted; an unsigned one is not.
    status = {"AccountSid": TWILIO_SID, "MessageSid": "SMnope", "MessageStatus": "delivered"}
    assert post_twilio(server, status, "/channels/twilio/status").status_code == 204
    assert post_twilio(server, status, "/channels/twilio/status", sign=False).status_code == 403
    assert TWILIO_TOKEN not in server.log()
    # The webhooks skip Starlette's stack (server.web.front) but not the body limit.
    too_big = httpx.post(url, content=b"Body=" + b"z" * (2 * 1024 * 1024), timeout=10)
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "body_too_large"


def test_signature_on_the_public_url_behind_a_proxy(
    server_factory: Any, flows_dir: Path, twilio_api: FakeTwilioApi
) -> None:
    public = "https://chat.example.com/threadline"
    server = server_factory(flows_dir, {**twilio_env(twilio_api), "THREADLINE_PUBLIC_URL": public})
    form = twilio_form("hello", "SMproxied")
    as_seen_here = post_twilio(server, form)  # signed for the internal URL: not what Twilio signs
    assert as_seen_here.status_code == 403
    signed_public = post_twilio(server, form, signed_url=public + "/channels/twilio/messages")
    assert signed_public.status_code == 200
    assert len(conversations(server)) == 1


def test_no_account_configured_means_404(server_factory: Any, flows_dir: Path) -> None:
    server = server_factory(flows_dir)
    response = post_twilio(server, twilio_form("hello", "SMnoaccount"))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    status = post_twilio(server, {"MessageSid": "SM1"}, "/channels/twilio/status")
    assert status.status_code == 404
    meta = httpx.post(server.base + "/channels/whatsapp", json={"entry": []}, timeout=10)
    assert meta.status_code == 404
    paths = httpx.get(server.base + "/api/v1/openapi.json", timeout=10).json()["paths"]
    assert {"/channels/twilio/messages", "/channels/twilio/status"} <= set(paths)
    assert set(paths["/channels/whatsapp"]) == {"get", "post"}


def test_sms_conversation_with_numbered_choices(
    server_factory: Any, flows_dir: Path, twilio_api: FakeTwilioApi
) -> None:
    server = start_server(server_factory, flows_dir, twilio_env(twilio_api))
    assert post_twilio(server, twilio_form("hello", "SMin1")).status_code == 200
    retried = post_twilio(server, twilio_form("hello", "SMin1"))  # Twilio retries the webhook
    assert retried.status_code == 200 and "<Response" in retried.text

    [greeting] = wait_for(lambda: twilio_sends(twilio_api), what="the greeting")
    assert len(inbound(only_conversation(server))) == 1  # stored once, the flow ran once
    assert greeting.path == f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
    assert greeting.field("From") == BUSINESS_NUMBER
    assert greeting.field("To") == CUSTOMER_NUMBER
    assert greeting.field("Body").endswith(GREETING_LIST)
    assert greeting.field("StatusCallback") == server.base + "/channels/twilio/status"
    assert greeting.headers["authorization"].startswith("Basic ")

    sent = wait_for(lambda: outbound(only_conversation(server)), what="the outbound row")[0]
    sid = sent["provider_message_id"]
    assert sid.startswith("SM")
    for status in ("sent", "delivered", "sent"):  # out of order: never moves back
        form = {"AccountSid": TWILIO_SID, "MessageSid": sid, "MessageStatus": status}
        assert post_twilio(server, form, "/channels/twilio/status").status_code == 204
    assert outbound(only_conversation(server))[0]["status"] == "delivered"

    assert post_twilio(server, twilio_form("2", "SMin2")).status_code == 200
    sends = wait_for(lambda: twilio_sends(twilio_api)[1:], what="the confirmation")
    assert "technical support team" in sends[0].field("Body")
    assert sends[0].field("Body").endswith("1. No")

    detail = only_conversation(server)
    run = execution(server, detail["executions"][0]["id"])
    assert run["context"]["flow"]["variables"]["topic"] == "technical_support"
    answer = run["context"]["widgets"]["greet"]["inbound"]
    assert answer["Body"] == "Technical support"
    assert answer["ChoiceId"] == "tech" and answer["OriginalBody"] == "2"

    assert post_twilio(server, twilio_form("1", "SMin3")).status_code == 200  # "1. No"
    wait_for(lambda: len(twilio_sends(twilio_api)) >= 3, what="the goodbye")
    assert twilio_sends(twilio_api)[2].field("Body").startswith("Thank you!")


def test_twilio_whatsapp_conversation(
    server_factory: Any, flows_dir: Path, twilio_api: FakeTwilioApi
) -> None:
    server = start_server(server_factory, flows_dir, twilio_env(twilio_api))
    extra = {"From": "whatsapp:" + CUSTOMER_NUMBER, "To": "whatsapp:" + BUSINESS_NUMBER}
    form = twilio_form("hi", "SMwa1", ProfileName="Dana", WaId=CUSTOMER_NUMBER[1:], **extra)
    assert post_twilio(server, form).status_code == 200
    [greeting] = wait_for(lambda: twilio_sends(twilio_api), what="the greeting")
    assert greeting.field("From") == "whatsapp:" + BUSINESS_NUMBER
    assert greeting.field("To") == "whatsapp:" + CUSTOMER_NUMBER
    assert greeting.field("Body").endswith(GREETING_LIST)

    detail = only_conversation(server)
    assert detail["channel"] == "whatsapp"
    assert detail["channel_account"] == "whatsapp:" + BUSINESS_NUMBER

    answer = twilio_form("technical SUPPORT", "SMwa2", **extra)  # the label, any case
    assert post_twilio(server, answer).status_code == 200
    sends = wait_for(lambda: twilio_sends(twilio_api)[1:], what="the confirmation")
    assert "technical support team" in sends[0].field("Body")
    assert sends[0].field("To") == "whatsapp:" + CUSTOMER_NUMBER


def _write_flow(flows: Path, name: str, states: list[dict[str, Any]]) -> None:
    definition = {"description": name, "initial_state": "Trigger", "flags": {}, "states": states}
    (flows / f"{name}.json").write_text(json.dumps(definition))


def _trigger(next_state: str) -> dict[str, Any]:
    return {
        "name": "Trigger",
        "type": "trigger",
        "transitions": [{"event": "incomingMessage", "next": next_state}],
        "properties": {},
    }


def test_failed_status_takes_delivery_failure_in_the_flow_of_its_number(
    server_factory: Any, tmp_path: Path, twilio_api: FakeTwilioApi
) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    shutil.copy(REPO / "flows" / "greeting.json", flows / "greeting.json")
    states = [
        _trigger("ask"),
        {
            "name": "ask",
            "type": "send-and-wait-for-reply",
            "transitions": [
                {"event": "incomingMessage"},
                {"event": "timeout"},
                {"event": "deliveryFailure", "next": "note_failure"},
            ],
            "properties": {"body": "Are you there?", "timeout": "600"},
        },
        {
            "name": "note_failure",
            "type": "set-variables",
            "transitions": [{"event": "next"}],
            "properties": {
                "variables": [{"key": "failure", "value": "{{widgets.ask.error_code}}"}]
            },
        },
    ]
    _write_flow(flows, "delivery_check", states)
    support_number = "+14155550111"
    channels = {
        "twilio": [
            {
                "account_sid": TWILIO_SID,
                "auth_token": "file-token",
                "api_base": twilio_api.base_url,
                "numbers": {BUSINESS_NUMBER: None, support_number: "delivery_check"},
            }
        ]
    }
    channels_file = tmp_path / "channels.json"
    channels_file.write_text(json.dumps(channels))
    server = start_server(server_factory, flows, {"THREADLINE_CHANNELS_FILE": str(channels_file)})

    form = twilio_form("hello", "SMfail1", To=support_number)
    assert post_twilio(server, form, token="file-token").status_code == 200
    [ask] = wait_for(lambda: twilio_sends(twilio_api), what="the question")
    assert ask.field("Body") == "Are you there?" and ask.field("From") == support_number
    sid = wait_for(lambda: outbound(only_conversation(server)), what="the row")[0][
        "provider_message_id"
    ]
    failed = {
        "AccountSid": TWILIO_SID,
        "MessageSid": sid,
        "MessageStatus": "failed",
        "ErrorCode": "30003",
        "ErrorMessage": "Unreachable destination handset",
    }
    response = post_twilio(server, failed, "/channels/twilio/status", token="file-token")
    assert response.status_code == 204

    def ended() -> dict[str, Any] | None:
        detail = only_conversation(server)
        run = execution(server, detail["executions"][0]["id"])
        return run if run["status"] != "active" else None

    run = wait_for(ended, what="the execution to end")
    assert [s["event"] for s in run["steps"]][-2:] == ["deliveryFailure", "next"]
    assert run["context"]["flow"]["variables"]["failure"] == "30003"
    message = outbound(only_conversation(server))[0]
    assert (message["status"], message["error_code"]) == ("failed", "30003")


class SlowService:
    """An HTTP service that takes 5 s to answer (or until released), recording the order."""

    def __init__(self, order: list[str]) -> None:
        self.release = threading.Event()
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                order.append("slow call started")
                service.release.wait(5)
                order.append("slow call finished")
                data = b'{"ok": true}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/lookup"

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def test_webhook_answers_before_a_slow_flow_step_finishes(
    server_factory: Any, tmp_path: Path, twilio_api: FakeTwilioApi
) -> None:
    order: list[str] = []
    slow = SlowService(order)
    try:
        flows = tmp_path / "flows"
        flows.mkdir()
        states = [
            _trigger("lookup"),
            {
                "name": "lookup",
                "type": "make-http-request",
                "transitions": [
                    {"event": "success", "next": "reply"},
                    {"event": "failed", "next": "reply"},
                ],
                "properties": {"method": "GET", "url": slow.url},
            },
            {
                "name": "reply",
                "type": "send-message",
                "transitions": [{"event": "sent"}, {"event": "failed"}],
                "properties": {"body": "Looked you up: {{widgets.lookup.status_code}}"},
            },
        ]
        _write_flow(flows, "greeting", states)
        env = {**twilio_env(twilio_api), "THREADLINE_HTTP_ALLOW_PRIVATE": "1"}
        server = start_server(server_factory, flows, env)

        response = post_twilio(server, twilio_form("hello", "SMslow"))
        order.append("webhook answered")
        assert response.status_code == 200
        assert "slow call finished" not in order
        wait_for(lambda: "slow call started" in order, what="the slow call")
        slow.release.set()
        [reply] = wait_for(lambda: twilio_sends(twilio_api), what="the reply after the call")
        assert reply.field("Body") == "Looked you up: 200"
        assert order.index("webhook answered") < order.index("slow call finished")
    finally:
        slow.stop()
