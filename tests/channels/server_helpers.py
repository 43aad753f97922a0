"""Helpers for the channel tests that run a real server: signed webhook requests, the admin
API, polling, and direct store access for what a test must set up (an old last inbound time)."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import httpx
from twilio.request_validator import RequestValidator

from server.store import Store
from server.store.database import sqlite_url
from tests.agents.conftest import HANDOFF_FLOW, ROUTING
from tests.channels.fakes import FakeGraphApi, FakeTwilioApi, RecordedRequest
from tests.server.conftest import ServerProcess

T = TypeVar("T")

TWILIO_SID = "AC" + "1" * 32
TWILIO_TOKEN = "twilio-auth-token-for-tests"
BUSINESS_NUMBER = "+14155550100"
CUSTOMER_NUMBER = "+14155550199"
META_APP_SECRET = "meta-app-secret-for-tests"
META_VERIFY_TOKEN = "meta-verify-token"
META_ACCESS_TOKEN = "meta-access-token"
PHONE_NUMBER_ID = "1122334455667"
CUSTOMER_WA_ID = "972987654321"


def twilio_env(twilio_api: FakeTwilioApi) -> dict[str, str]:
    return {
        "THREADLINE_TWILIO_ACCOUNT_SID": TWILIO_SID,
        "THREADLINE_TWILIO_AUTH_TOKEN": TWILIO_TOKEN,
        "THREADLINE_TWILIO_API_BASE": twilio_api.base_url,
    }


def meta_env(graph_api: FakeGraphApi) -> dict[str, str]:
    return {
        "THREADLINE_WHATSAPP_VERIFY_TOKEN": META_VERIFY_TOKEN,
        "THREADLINE_WHATSAPP_APP_SECRET": META_APP_SECRET,
        "THREADLINE_WHATSAPP_ACCESS_TOKEN": META_ACCESS_TOKEN,
        "THREADLINE_WHATSAPP_GRAPH_BASE": graph_api.graph_base,
    }


def start_server(factory: Any, flows: Path, env: dict[str, str]) -> ServerProcess:
    """A server whose public URL is its own address (so status callbacks point back at it)."""
    server: ServerProcess = factory(flows, env, start=False)
    server.env["THREADLINE_PUBLIC_URL"] = server.base
    server.start()
    return server


def start_whatsapp_handoff_server(
    factory: Any, tmp_path: Path, graph_api: FakeGraphApi
) -> ServerProcess:
    """A WhatsApp server whose flow hands every conversation to the billing queue (the agents
    tests' ``HANDOFF_FLOW`` and ``ROUTING``): for tests of what agents see."""
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "greeting.json").write_text(json.dumps(HANDOFF_FLOW))
    routing = tmp_path / "routing.json"
    routing.write_text(json.dumps(ROUTING))
    env = {**meta_env(graph_api), "THREADLINE_ROUTING_FILE": str(routing)}
    return start_server(factory, flows, env)


# --- Twilio --------------------------------------------------------------------------------


def twilio_form(body: str, sid: str, **extra: str) -> dict[str, str]:
    form = {
        "AccountSid": TWILIO_SID,
        "MessageSid": sid,
        "SmsMessageSid": sid,
        "From": CUSTOMER_NUMBER,
        "To": BUSINESS_NUMBER,
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "ApiVersion": "2010-04-01",
    }
    form.update(extra)
    return form


def post_twilio(
    server: ServerProcess,
    form: dict[str, str],
    path: str = "/channels/twilio/messages",
    *,
    signed_url: str | None = None,
    signed_form: dict[str, str] | None = None,
    sign: bool = True,
    token: str = TWILIO_TOKEN,
) -> httpx.Response:
    """POST ``form`` as Twilio does, signed by the real twilio package (for another URL or form
    when a test wants a signature that does not match)."""
    url = server.base + path
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if sign:
        validator = RequestValidator(token)
        signature = validator.compute_signature(signed_url or url, signed_form or form)
        headers["X-Twilio-Signature"] = signature
    return httpx.post(url, content=urlencode(form), headers=headers, timeout=10)


def twilio_sends(api: FakeTwilioApi) -> list[RecordedRequest]:
    """The send requests the fake received (look-ups of sent messages left out)."""
    return [r for r in api.requests if r.method == "POST" and r.path.endswith("/Messages.json")]


# --- Meta ----------------------------------------------------------------------------------


def meta_signature(raw: bytes, secret: str = META_APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def post_meta(
    server: ServerProcess, body: Any, *, signature: str | None = "auto"
) -> httpx.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if signature == "auto":
        headers["X-Hub-Signature-256"] = meta_signature(raw)
    elif signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return httpx.post(server.base + "/channels/whatsapp", content=raw, headers=headers, timeout=10)


def meta_messages(*messages: dict[str, Any], name: str = "Dana") -> dict[str, Any]:
    """A Cloud API webhook body carrying ``messages`` from the test customer."""
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "1234567890",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "15550100",
                                "phone_number_id": PHONE_NUMBER_ID,
                            },
                            "contacts": [{"profile": {"name": name}, "wa_id": CUSTOMER_WA_ID}],
                            "messages": list(messages),
                        },
                    }
                ],
            }
        ],
    }


def meta_text(wamid: str, text: str) -> dict[str, Any]:
    return {
        "from": CUSTOMER_WA_ID,
        "id": wamid,
        "timestamp": str(int(time.time())),
        "type": "text",
        "text": {"body": text},
    }


def meta_status(wamid: str, status: str) -> dict[str, Any]:
    body = meta_messages()
    value = body["entry"][0]["changes"][0]["value"]
    del value["messages"]
    value["statuses"] = [
        {
            "id": wamid,
            "status": status,
            "timestamp": str(int(time.time())),
            "recipient_id": CUSTOMER_WA_ID,
        }
    ]
    return body


def graph_sends(api: FakeGraphApi) -> list[dict[str, Any]]:
    """The message bodies POSTed to the fake Graph API (mark-as-read calls left out)."""
    return [r.json for r in api.requests if r.json and r.json.get("status") != "read"]


def graph_reads(api: FakeGraphApi) -> list[str]:
    return [r.json["message_id"] for r in api.requests if r.json and r.json.get("status") == "read"]


# --- the server's state --------------------------------------------------------------------


def wait_for(probe: Callable[[], T | None], timeout: float = 10.0, what: str = "") -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or probe}")
        time.sleep(0.05)


def conversations(server: ServerProcess) -> list[dict[str, Any]]:
    response = server.api("/api/v1/conversations")
    assert response.status_code == 200, response.text
    return list(response.json()["conversations"])


def conversation(server: ServerProcess, conversation_id: str) -> dict[str, Any]:
    response = server.api(f"/api/v1/conversations/{conversation_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def only_conversation(server: ServerProcess) -> dict[str, Any]:
    [summary] = conversations(server)
    return conversation(server, summary["id"])


def execution(server: ServerProcess, execution_id: str) -> dict[str, Any]:
    response = server.api(f"/api/v1/executions/{execution_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def outbound(detail: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in detail["messages"] if m["direction"] == "outbound"]


def inbound(detail: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in detail["messages"] if m["direction"] == "inbound"]


@contextlib.asynccontextmanager
async def server_store(server: ServerProcess) -> AsyncIterator[Store]:
    """The running server's own database, for state a test cannot reach over HTTP."""
    store = await Store.open(sqlite_url(server.data_dir), migrate=False)
    try:
        yield store
    finally:
        await store.close()
