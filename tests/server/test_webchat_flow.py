"""The greeting flow end to end over the web chat WebSocket of a real server process."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path
from typing import Any

from tests.server.conftest import ChatClient, ServerProcess


async def test_greeting_branches_on_the_answer(server: ServerProcess) -> None:
    chat = await ChatClient.connect(server.ws_url)
    assert chat.session["token"] and chat.session["resumed"] is False
    assert chat.session["conversation_id"] is None  # nothing is stored before the visitor writes
    await chat.say("hello")
    greeting = await chat.bot()
    assert chat.session["conversation_id"].startswith("CV")  # told by a "conversation" frame
    assert "What can I help you with" in greeting["text"]
    assert [c["label"] for c in greeting["choices"]] == [
        "Billing",
        "Technical support",
        "Order status",
    ]
    await chat.say("my app keeps showing an error")  # the regex branch
    confirm = await chat.bot()
    assert "technical support team" in confirm["text"]
    await chat.say("no")
    goodbye = await chat.bot()
    assert goodbye["text"].startswith("Thank you! Your technical support request is noted")
    await chat.close()


async def test_choice_button_and_unknown_answer(server: ServerProcess) -> None:
    chat = await ChatClient.connect(server.ws_url)
    await chat.say("hi")
    await chat.bot()
    await chat.say("what is the meaning of life")  # noMatch: asked again
    assert (await chat.bot())["text"].startswith("Sorry, I didn't catch that")
    assert "What can I help you with" in (await chat.bot())["text"]
    await chat.say("Billing", choice_id="billing")
    assert "billing team" in (await chat.bot())["text"]
    await chat.say("Please call me after 5pm")
    assert "with your details" in (await chat.bot())["text"]
    await chat.close()


async def test_reconnect_with_token_resumes_conversation(server: ServerProcess) -> None:
    chat = await ChatClient.connect(server.ws_url)
    await chat.say("hello")
    await chat.bot()
    token, conversation_id = chat.session["token"], chat.session["conversation_id"]
    await chat.close()

    again = await ChatClient.connect(server.ws_url, token=token)
    assert {k: again.session[k] for k in ("type", "token", "conversation_id", "resumed")} == {
        "type": "session",
        "token": token,
        "conversation_id": conversation_id,
        "resumed": True,
    }
    history = [await again.frame("message"), await again.frame("message")]
    assert [m["seq"] for m in history] == [1, 2]
    assert history[0]["text"] == "hello" and history[1]["direction"] == "outbound"
    await again.say("order status please")  # the same execution continues where it waited
    assert "orders team" in (await again.bot())["text"]
    await again.close()

    partial = await ChatClient.connect(server.ws_url, token=token, after=3)
    first = await partial.frame("message")
    assert first["seq"] == 4  # only what came after the given sequence number is replayed
    await partial.close()


def _short_timeout_flow(flows_dir: Path) -> None:
    flow = json.loads((flows_dir / "greeting.json").read_text())
    for state in flow["states"]:
        if state["name"] == "greet":
            state["properties"]["timeout"] = "2"
    (flows_dir / "greeting.json").write_text(json.dumps(flow))


async def _restart_mid_wait(server: ServerProcess, sig: int) -> None:
    chat = await ChatClient.connect(server.ws_url)
    token = chat.session["token"]
    await chat.say("hello")
    await chat.bot()
    await chat.close()
    server.stop(sig)
    server.start()
    chat = await ChatClient.connect(server.ws_url, token=token, after=2)
    await chat.say("billing")
    assert "billing team" in (await chat.bot())["text"]
    await chat.close()


async def test_restart_with_sigterm_in_the_middle_of_a_wait(server: ServerProcess) -> None:
    await _restart_mid_wait(server, signal.SIGTERM)


async def test_restart_with_sigkill_in_the_middle_of_a_wait(server: ServerProcess) -> None:
    await _restart_mid_wait(server, signal.SIGKILL)


async def test_timeout_that_fell_due_while_down_fires_once_after_start(
    server_factory: Any, flows_dir: Path
) -> None:
    _short_timeout_flow(flows_dir)
    server: ServerProcess = server_factory(flows_dir)
    chat = await ChatClient.connect(server.ws_url)
    await chat.say("hello")
    await chat.bot()
    token, conversation_id = chat.session["token"], chat.session["conversation_id"]
    await chat.close()
    server.stop(signal.SIGKILL)
    await asyncio.sleep(3)  # the 2 s timeout falls due while the server is down
    server.start()
    chat = await ChatClient.connect(server.ws_url, token=token, after=2)
    late = await chat.bot(timeout=15)
    assert late["text"].startswith("We haven't heard back")
    await asyncio.sleep(1.5)
    body = server.api(f"/api/v1/conversations/{conversation_id}").json()
    timeouts = [m for m in body["messages"] if m["text"].startswith("We haven't heard back")]
    assert len(timeouts) == 1
    execution = server.api(f"/api/v1/executions/{body['executions'][0]['id']}").json()
    assert execution["status"] == "ended"
    assert ("greet", "timeout", "goodbye_timeout") in [
        (s["from"], s["event"], s["to"]) for s in execution["steps"]
    ]
    await chat.close()
