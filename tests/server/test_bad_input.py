"""Hostile and broken input: each gets a clear error, and nothing already stored is lost."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.server.conftest import ADMIN_TOKEN, ChatClient, ServerProcess


async def test_malformed_frames_get_errors_and_the_chat_goes_on(server: ServerProcess) -> None:
    chat = await ChatClient.connect(server.ws_url)
    await chat.say("hello")
    await chat.bot()
    cases = [
        ("not json", "bad_frame"),
        ("[1, 2]", "bad_frame"),
        (json.dumps({"type": "shout", "text": "x"}), "unknown_type"),
        (json.dumps({"type": "message", "text": 42}), "bad_field"),
        (json.dumps({"type": "message", "text": "   "}), "bad_field"),
        (json.dumps({"type": "ack", "seq": "seven"}), "bad_field"),
        (json.dumps({"type": "message", "text": "x" * 5000}), "too_long"),
    ]
    for raw, code in cases:
        await chat.ws.send(raw)
        frame = await chat.frame("error")
        assert frame["code"] == code, raw
        assert frame["message"]
    await chat.say("billing")  # the execution still waits where it was
    assert "billing team" in (await chat.bot())["text"]
    body = server.api(f"/api/v1/conversations/{chat.session['conversation_id']}").json()
    texts = [m["text"] for m in body["messages"]]
    assert "not json" not in texts and "x" * 5000 not in texts
    assert texts[0] == "hello" and "billing" in texts
    await chat.close()


async def test_oversized_frame_closes_only_that_socket(server: ServerProcess) -> None:
    chat = await ChatClient.connect(server.ws_url)
    token = chat.session["token"]
    await chat.say("hello")
    await chat.bot()
    await chat.ws.send(json.dumps({"type": "message", "text": "y" * 200_000}))
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await chat.frame(timeout=5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009  # message too big
    again = await ChatClient.connect(server.ws_url, token=token)
    history = [await again.frame("message"), await again.frame("message")]
    assert [m["seq"] for m in history] == [1, 2]  # nothing stored was lost
    await again.close()


async def test_duplicate_client_id_is_stored_once(server: ServerProcess) -> None:
    chat = await ChatClient.connect(server.ws_url)
    await chat.say("hello", client_id="c-1")
    await chat.bot()
    await chat.say("hello", client_id="c-1")  # a resend after a lost acknowledgement
    await chat.say("billing", client_id="c-2")
    assert "billing team" in (await chat.bot())["text"]
    body = server.api(f"/api/v1/conversations/{chat.session['conversation_id']}").json()
    assert [m["text"] for m in body["messages"] if m["direction"] == "inbound"] == [
        "hello",
        "billing",
    ]
    await chat.close()


async def test_unknown_token_is_reported_and_a_new_session_issued(server: ServerProcess) -> None:
    ws = await websockets.connect(server.ws_url + "?token=not-a-real-token")
    first = json.loads(await ws.recv())
    second = json.loads(await ws.recv())
    assert first == {
        "type": "error",
        "code": "invalid_token",
        "message": "unknown session; starting anew",
    }
    assert second["type"] == "session" and second["token"] != "not-a-real-token"
    await ws.close()


def test_oversized_http_body_is_refused(server: ServerProcess) -> None:
    response = httpx.post(
        server.base + "/api/v1/conversations", content=b"z" * (2 * 1024 * 1024), timeout=10
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"


def test_oversized_chunked_body_is_refused_while_it_streams(server: ServerProcess) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: the bound is counted as it arrives
        for _ in range(32):
            yield b"z" * 65_536

    response = httpx.post(
        server.base + "/api/v1/flows/greeting/executions",
        content=chunks(),
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": "application/json"},
        timeout=10,
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "body_too_large"


def _break(flows_dir: Path) -> None:
    flow = json.loads((flows_dir / "greeting.json").read_text())
    flow["states"][1]["transitions"][0]["next"] = "no_such_state"
    (flows_dir / "greeting.json").write_text(json.dumps(flow))


async def test_invalid_flow_at_start_keeps_the_previous_version(
    server_factory: Any, flows_dir: Path
) -> None:
    server: ServerProcess = server_factory(flows_dir)
    chat = await ChatClient.connect(server.ws_url)
    await chat.say("hello")
    await chat.bot()
    await chat.close()
    server.stop()
    _break(flows_dir)
    server.start()
    log = server.log()
    assert "greeting.json: state 'greet'" in log and "no_such_state" in log
    assert "serving the previous valid version" in log
    chat = await ChatClient.connect(server.ws_url, token=chat.session["token"], after=2)
    await chat.say("billing")
    assert "billing team" in (await chat.bot())["text"]
    await chat.close()


def test_invalid_default_flow_on_first_start_fails_clearly(
    server_factory: Any, flows_dir: Path
) -> None:
    _break(flows_dir)
    server: ServerProcess = server_factory(flows_dir, start=False)
    server.start(wait=False)
    assert server.proc is not None
    assert server.proc.wait(timeout=30) != 0
    log = server.log()
    assert "no_such_state" in log
    assert "the default flow 'greeting'" in log
