"""Customers' channels and agents, linked both ways: typing, read receipts, the customer's
device and pre-chat answers in the offer, and an SMS customer answered by an agent.

Real server processes, real WebSockets; every frame an agent receives is schema-checked
(``AgentClient``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.agents.conftest import HANDOFF_FLOW, ROUTING, AgentClient, create_agent
from tests.channels.fakes import FakeTwilioApi
from tests.channels.server_helpers import (
    BUSINESS_NUMBER,
    CUSTOMER_NUMBER,
    TWILIO_SID,
    conversation,
    inbound,
    outbound,
    post_twilio,
    start_server,
    twilio_env,
    twilio_form,
    twilio_sends,
    wait_for,
)
from tests.server.conftest import ChatClient, ServerProcess

PRECHAT = {
    "default": {"prechat": {"fields": [{"name": "name"}, {"name": "email", "type": "email"}]}}
}
DEVICE = {"platform": "ios", "app_version": "3.2.0", "device_model": "iPhone15,2"}


@pytest.fixture
def twilio_api() -> Iterator[FakeTwilioApi]:
    with FakeTwilioApi() as api:
        yield api


@pytest.fixture
def flows(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The send-to-agent flow as the default flow, and the routing file's environment."""
    folder = tmp_path / "flows"
    folder.mkdir()
    (folder / "greeting.json").write_text(json.dumps(HANDOFF_FLOW))
    routing = tmp_path / "routing.json"
    routing.write_text(json.dumps(ROUTING))
    return folder, {"THREADLINE_ROUTING_FILE": str(routing)}


@pytest.fixture
def links_server(server_factory: Any, flows: tuple[Path, dict[str, str]]) -> ServerProcess:
    folder, env = flows
    server: ServerProcess = server_factory(
        folder, env={**env, "THREADLINE_WEBCHAT_CONFIG": json.dumps(PRECHAT)}
    )
    return server


async def assigned_agent(server: ServerProcess) -> tuple[AgentClient, dict[str, Any]]:
    """A connected agent with the skills the handoff flow asks for."""
    agent = create_agent(server, "bea", attributes={"skills": {"billing": 3}})
    return await AgentClient.connect(server, agent["token"]), agent


async def from_agent(chat: ChatClient, kind: str) -> dict[str, Any]:
    """The visitor's next ``kind`` frame about the agent (the bot's typing is skipped)."""
    while True:
        frame = await chat.frame(kind)
        if "agent" in (frame.get("author"), frame.get("reader")):
            return frame


async def take(agent: AgentClient) -> dict[str, Any]:
    """Accept the next offer; returns it."""
    offer = await agent.frame("offer")
    await agent.send("accept", conversation_id=offer["conversation_id"])
    await agent.frame("assigned")
    return offer


async def test_webchat_typing_and_reads_both_ways_with_prechat_in_the_offer(
    links_server: ServerProcess,
) -> None:
    bea, _ = await assigned_agent(links_server)
    chat = await ChatClient.connect(links_server.ws_url)
    assert chat.session["prechat"] == "required"
    await chat.ws.send(
        json.dumps({"type": "prechat", "fields": {"name": "Ada", "email": "ada@example.org"}})
    )
    await chat.frame("prechat_saved")
    await chat.say("my invoice is wrong", client_id="c1")

    offer = await bea.frame("offer")
    cid = offer["conversation_id"]
    assert offer["context"]["prechat"] == {"name": "Ada", "email": "ada@example.org"}
    assert offer["context"]["contact"]["display_name"] == "Ada"
    assert offer["context"]["device"] is None
    # Offered, not yet taken: the visitor's typing is nobody's business yet.
    await chat.ws.send(json.dumps({"type": "typing", "typing": True}))
    await bea.nothing("customer_typing", wait=0.3)
    await bea.send("accept", conversation_id=cid)
    await bea.frame("assigned")

    # Visitor -> agent: typing on and off.
    await chat.ws.send(json.dumps({"type": "typing", "typing": True}))
    assert (await bea.frame("customer_typing"))["typing"] is True
    await chat.ws.send(json.dumps({"type": "typing", "typing": False}))
    typing = await bea.frame("customer_typing")
    assert (typing["conversation_id"], typing["typing"]) == (cid, False)

    # Agent -> visitor: the widget gets an agent typing frame, then the stop.
    await bea.send("typing", conversation_id=cid)
    assert (await from_agent(chat, "typing"))["typing"] is True
    await bea.send("typing", conversation_id=cid, typing=False)
    assert (await from_agent(chat, "typing"))["typing"] is False

    # Visitor read the agent's reply -> the agent learns which message.
    await bea.send("reply", conversation_id=cid, text="Let me check that", client_id="r1")
    reply = await chat.bot()
    await chat.ws.send(json.dumps({"type": "read", "seq": reply["seq"]}))
    read = await bea.frame("customer_read")
    assert (read["message_seq"], read["message_id"]) == (reply["seq"], reply["id"])

    # Agent read the visitor's message -> the widget gets the agent's read mark, stored too.
    await bea.send("read", conversation_id=cid, message_seq=1)
    assert await from_agent(chat, "read") == {"type": "read", "reader": "agent", "seq": 1}
    marks = links_server.api(f"/api/v1/webchat/conversations/{cid}").json()["reads"]
    assert marks == {"visitor": reply["seq"], "agent": 1}
    await chat.close()
    await bea.close()


class AppUser:
    """An app user: a session over REST and the app WebSocket."""

    def __init__(self, server: ServerProcess, session: dict[str, Any], ws: Any) -> None:
        self.server = server
        self.session = session
        self.ws = ws
        self.headers = {"Authorization": f"Bearer {session['session_token']}"}

    @classmethod
    async def start(cls, server: ServerProcess, user_id: str) -> AppUser:
        body = {"app_id": "default", "user_id": user_id, "device": DEVICE}
        response = httpx.post(server.base + "/api/app/v1/sessions", json=body, timeout=10)
        assert response.status_code == 201, response.text
        session = response.json()
        url = f"ws://127.0.0.1:{server.port}/api/app/v1/ws?token={session['session_token']}"
        ws = await websockets.connect(url)
        user = cls(server, session, ws)
        await user.frame("ready")
        return user

    def send(self, echo_id: str, text: str) -> None:
        response = httpx.post(
            self.server.base + "/api/app/v1/messages",
            json={"echo_id": echo_id, "text": text},
            headers=self.headers,
            timeout=10,
        )
        assert response.status_code in (200, 201), response.text

    async def frame(self, kind: str, **match: Any) -> dict[str, Any]:
        while True:
            data = json.loads(await asyncio.wait_for(self.ws.recv(), 10))
            if data["type"] == kind and all(data.get(k) == v for k, v in match.items()):
                return data  # type: ignore[no-any-return]

    async def put(self, frame: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(frame))


async def test_app_typing_and_reads_both_ways_with_the_device_in_the_offer(
    links_server: ServerProcess,
) -> None:
    bea, agent = await assigned_agent(links_server)
    by = f"agent:{agent['id']}"
    user = await AppUser.start(links_server, "user-7")
    user.send("e1", "my invoice is wrong")

    offer = await take(bea)
    cid = offer["conversation_id"]
    assert offer["context"]["channel"]["kind"] == "app"
    assert offer["context"]["device"] == DEVICE
    assert offer["context"]["prechat"] == {}

    # App user -> agent: typing.
    await user.put({"type": "typing", "busy": True})
    typing = await bea.frame("customer_typing")
    assert (typing["conversation_id"], typing["typing"]) == (cid, True)

    # Agent -> app user: typing, named by the agent like the agent's messages are.
    await bea.send("typing", conversation_id=cid)
    assert await user.frame("typing", author=by) == {"type": "typing", "author": by, "busy": True}

    # App user read the agent's reply: a live receipt and the reply's sequenced status.
    await bea.send("reply", conversation_id=cid, text="Which invoice?", client_id="r1")
    reply = await user.frame("message", direction="outbound", author=by)
    assert reply["author_name"] == "Bea"
    await user.put({"type": "read", "seq": reply["seq"]})
    read = await bea.frame("customer_read")
    assert (read["message_seq"], read["message_id"]) == (reply["seq"], reply["id"])
    # The status frame comes first (the status is stored, then the receipt is passed on).
    statuses = [(f["message_id"], f["status"]) for f in bea.seen if f["type"] == "message_status"]
    assert (reply["id"], "read") in statuses

    # Agent read the user's message -> the app gets the agent's read receipt.
    await bea.send("read", conversation_id=cid, message_seq=1)
    assert await user.frame("read") == {"type": "read", "author": by, "seq": 1}
    await user.ws.close()
    await bea.close()


async def test_sms_customer_answered_by_an_agent(
    server_factory: Any, flows: tuple[Path, dict[str, str]], twilio_api: FakeTwilioApi
) -> None:
    folder, env = flows
    server = start_server(server_factory, folder, {**env, **twilio_env(twilio_api)})
    bea, agent = await assigned_agent(server)
    assert post_twilio(server, twilio_form("my invoice is wrong", "SMin1")).status_code == 200

    offer = await take(bea)
    cid = offer["conversation_id"]
    assert offer["context"]["channel"] == {
        "kind": "sms",
        "account": BUSINESS_NUMBER,
        "customer_address": CUSTOMER_NUMBER,
    }
    assert [m["text"] for m in offer["context"]["transcript"]] == ["my invoice is wrong"]

    # The agent's reply goes out as an SMS through the (fake) Twilio API.
    await bea.send("reply", conversation_id=cid, text="Which invoice number?", client_id="r1")
    sent = await bea.frame("message_status")
    # Twilio answers "queued"; "sent" and "delivered" come by status callback.
    assert (sent["client_id"], sent["status"]) == ("r1", "queued")
    # Before it, the hand-off notices went out as plain SMS too (their order is not fixed).
    sends = wait_for(lambda: len(twilio_sends(twilio_api)) >= 3 and twilio_sends(twilio_api))
    assert sorted(s.field("Body") for s in sends) == [
        "Bea joined the conversation.",
        "Connecting you to an agent…",
        "Which invoice number?",
    ]
    [sms] = [s for s in sends if s.field("Body") == "Which invoice number?"]
    assert (sms.field("From"), sms.field("To")) == (BUSINESS_NUMBER, CUSTOMER_NUMBER)

    # The customer's next SMS goes to the agent, not into a flow.
    assert post_twilio(server, twilio_form("invoice 42", "SMin2")).status_code == 200
    message = await bea.frame("message")
    assert (message["conversation_id"], message["message"]["text"]) == (cid, "invoice 42")
    assert len(twilio_sends(twilio_api)) == 3  # no bot answered it

    # Twilio reports the reply delivered: the agent sees it on the reply.
    [reply_row] = [m for m in outbound(conversation(server, cid)) if m["author"] != "system"]
    assert reply_row["author"] == f"agent:{agent['id']}"
    callback = {
        "AccountSid": TWILIO_SID,
        "MessageSid": reply_row["provider_message_id"],
        "MessageStatus": "delivered",
    }
    assert post_twilio(server, callback, "/channels/twilio/status").status_code == 204
    delivered = await bea.frame("message_status")
    assert (delivered["message_id"], delivered["status"]) == (sent["message_id"], "delivered")
    await bea.close()


async def test_sms_customer_rates_the_closed_conversation_by_text(
    server_factory: Any, flows: tuple[Path, dict[str, str]], twilio_api: FakeTwilioApi
) -> None:
    folder, env = flows
    survey = {"sms": {"satisfaction": "How did we do? Reply 1 (poor) to 5 (great)."}}
    env = {**env, **twilio_env(twilio_api), "THREADLINE_NOTICES": json.dumps(survey)}
    server = start_server(server_factory, folder, env)
    bea, _ = await assigned_agent(server)
    assert post_twilio(server, twilio_form("my invoice is wrong", "SMin1")).status_code == 200
    cid = (await take(bea))["conversation_id"]
    await bea.send("close", conversation_id=cid, disposition="resolved")
    await bea.frame("closed")
    bodies = lambda: [s.field("Body") for s in twilio_sends(twilio_api)]  # noqa: E731
    wait_for(lambda: survey["sms"]["satisfaction"] in bodies(), what="the question by SMS")
    assert "1. 1" not in "".join(bodies())  # a question in words, not a numbered choice list

    assert post_twilio(server, twilio_form(" 5 ", "SMin2")).status_code == 200
    wait_for(lambda: "Thank you for your feedback!" in bodies(), what="the thanks")
    detail = conversation(server, cid)
    assert detail["satisfaction"] == 5
    assert [m["text"] for m in inbound(detail)] == ["my invoice is wrong", " 5 "]
    await bea.nothing("offer", wait=1.0)  # the answer was not a new hand-off
    # A resend of the same SMS (Twilio retries) is stored once, on the same conversation.
    assert post_twilio(server, twilio_form(" 5 ", "SMin2")).status_code == 200
    assert len(inbound(conversation(server, cid))) == 2
    await bea.close()
