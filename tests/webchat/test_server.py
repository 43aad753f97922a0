"""The web chat server with real WebSocket and HTTP clients: replay, typing, uploads, identity,
pre-chat form, proactive greeting, read receipts."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from server.web.webchat_identity import user_hash
from tests.server.conftest import ChatClient, ServerProcess
from tests.webchat.conftest import SECRET, SLOW_SECONDS, UPLOAD_LIMIT, write_png


async def connect(server: ServerProcess, **query: Any) -> ChatClient:
    q = "&".join(f"{k}={v}" for k, v in query.items() if v is not None)
    ws = await websockets.connect(server.ws_url + ("?" + q if q else ""))
    client = ChatClient(ws)
    client.session = await client.frame("session")
    return client


async def frames_before_pong(chat: ChatClient) -> list[dict[str, Any]]:
    """Frames before the answer to a ping: what the server still had queued for us."""
    await chat.ws.send(json.dumps({"type": "ping"}))
    seen = []
    while (frame := await chat.frame())["type"] != "pong":
        seen.append(frame)
    return seen


async def no_more_messages(chat: ChatClient) -> list[dict[str, Any]]:
    return [f for f in await frames_before_pong(chat) if f["type"] == "message"]


def visitor(server: ServerProcess, conversation_id: str) -> dict[str, Any]:
    response = server.api(f"/api/v1/webchat/conversations/{conversation_id}")
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_replay_resumes_after_the_acknowledged_seq(webchat_server: ServerProcess) -> None:
    chat = await connect(webchat_server)
    token = chat.session["token"]
    await chat.say("hello", client_id="c1")
    echo = await chat.frame("message")
    assert echo["seq"] == 1 and echo["client_id"] == "c1"
    assert (await chat.bot())["seq"] == 2
    await chat.ws.send(json.dumps({"type": "ack", "seq": 1}))  # the bot's answer never shown
    assert await no_more_messages(chat) == []
    await chat.close()

    again = await connect(webchat_server, token=token)
    assert again.session["acked_seq"] == 1 and again.session["last_seq"] == 2
    replayed = await no_more_messages(again)
    assert [m["seq"] for m in replayed] == [2]  # only what was not acknowledged
    await again.ws.send(json.dumps({"type": "ack", "seq": 2}))
    history_request = {"type": "history", "before": 2, "limit": 50}
    await again.ws.send(json.dumps(history_request))
    page = await again.frame("history")
    assert [m["seq"] for m in page["messages"]] == [1] and page["more"] is False
    await again.close()

    third = await connect(webchat_server, token=token)
    assert await no_more_messages(third) == []  # everything acknowledged: nothing repeated
    await third.say("billing")
    frames = [await third.frame("message"), await third.bot()]
    assert [f["seq"] for f in frames] == [3, 4]  # nothing lost either
    await third.close()


async def test_bot_typing_while_a_slow_step_works(webchat_server: ServerProcess) -> None:
    chat = await connect(webchat_server, channel="slow")
    await chat.say("go")
    typing: list[tuple[float, bool]] = []
    while True:
        frame = await chat.frame(timeout=15)
        if frame["type"] == "typing":
            assert frame["author"] == "bot"
            typing.append((time.monotonic(), frame["typing"]))
        elif frame["type"] == "message" and frame["direction"] == "outbound":
            answered = time.monotonic()
            break
    assert frame["text"] == "The slow answer is in."
    # The bot shows as typing for the whole slow call, and stops once it is done.
    longest = max(
        (end - start for (start, on), (end, _) in itertools.pairwise(typing) if on),
        default=0.0,
    )
    assert longest >= SLOW_SECONDS * 0.6 and answered - typing[0][0] >= SLOW_SECONDS * 0.6
    await asyncio.sleep(0.2)
    late = [f for f in await frames_before_pong(chat) if f["type"] == "typing"]
    assert (late or [{"typing": typing[-1][1]}])[-1]["typing"] is False
    await chat.ws.send(json.dumps({"type": "typing", "typing": True}))  # visitor typing: accepted
    assert await no_more_messages(chat) == []
    await chat.close()


async def test_upload_limits_and_an_image_message(
    webchat_server: ServerProcess, tmp_path: Path
) -> None:
    chat = await connect(webchat_server)
    token = chat.session["token"]
    url = webchat_server.base + "/channels/webchat/uploads"
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(timeout=10) as http:
        bad_token = await http.post(
            url, headers={"Authorization": "Bearer nope"}, files={"file": ("a.txt", b"hi")}
        )
        assert bad_token.status_code == 401
        assert bad_token.json()["error"]["code"] == "unauthorized"
        too_big = await http.post(
            url, headers=auth, files={"file": ("big.txt", b"a" * (UPLOAD_LIMIT + 1))}
        )
        assert too_big.status_code == 413
        assert too_big.json()["error"]["code"] == "file_too_large"
        # An executable that claims to be a PNG: the bytes decide, not the claim.
        fake = b"MZ\x90\x00\x03\x00\x00\x00" + bytes(range(256))
        bad_type = await http.post(
            url, headers=auth, files={"file": ("cat.png", fake, "image/png")}
        )
        assert bad_type.status_code == 415
        assert bad_type.json()["error"]["code"] == "unsupported_type"
        html = await http.post(
            url, headers=auth, files={"file": ("x.html", b"\x00<script>", "text/html")}
        )
        assert html.status_code == 415
        png = write_png(tmp_path / "pic.png")
        ok = await http.post(
            url, headers=auth, files={"file": ("pic.png", png.read_bytes(), "image/png")}
        )
        assert ok.status_code == 201, ok.text
        uploaded = ok.json()
        assert uploaded["content_type"] == "image/png" and uploaded["media_kind"] == "image"
        served = await http.get(uploaded["url"])
        assert served.status_code == 200 and served.content == png.read_bytes()
        assert served.headers["content-type"] == "image/png"
        assert served.headers["x-content-type-options"] == "nosniff"
        missing = await http.get(webchat_server.base + "/webchat/uploads/" + "A" * 32)
        assert missing.status_code == 404
        preflight = await http.options(url, headers={"Origin": "https://shop.example"})
        assert preflight.headers["access-control-allow-origin"] == "https://shop.example"

    await chat.ws.send(json.dumps({"type": "message", "text": "", "attachments": [uploaded["id"]]}))
    echo = await chat.frame("message")
    assert echo["media"] == [
        {
            "url": uploaded["url"],
            "content_type": "image/png",
            "filename": "pic.png",
            "media_kind": "image",
        }
    ]
    await chat.close()

    other = await connect(webchat_server)  # another visitor cannot send someone else's upload
    await other.ws.send(
        json.dumps({"type": "message", "text": "x", "attachments": [uploaded["id"]]})
    )
    assert (await other.frame("error"))["code"] == "bad_attachment"
    await other.close()


async def test_identity_signing_links_and_switches_users(webchat_server: ServerProcess) -> None:
    bad = await websockets.connect(
        webchat_server.ws_url + "?channel=signed&user_id=alice&user_hash=" + "0" * 64
    )
    refusal = json.loads(await bad.recv())
    assert refusal["type"] == "error" and refusal["code"] == "bad_identity"
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await bad.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403

    # An anonymous visitor signs in mid-chat: same conversation, now linked to app:alice.
    anon = await connect(webchat_server, channel="signed")
    await anon.say("hello")
    await anon.bot()
    token, conversation = anon.session["token"], anon.session["conversation_id"]
    await anon.close()
    alice = await connect(
        webchat_server,
        channel="signed",
        token=token,
        user_id="alice",
        user_hash=user_hash("alice", SECRET),
    )
    assert alice.session["conversation_id"] == conversation
    assert alice.session["user_id"] == "alice"
    contact = visitor(webchat_server, conversation)["contact"]
    assert {"kind": "app", "value": "alice", "verified": True} in contact["identities"]
    alice_token = alice.session["token"]
    await alice.close()

    # Bob signs in on the same browser (Alice's token still stored): his own conversation.
    bob = await connect(
        webchat_server,
        channel="signed",
        token=alice_token,
        user_id="bob",
        user_hash=user_hash("bob", SECRET),
    )
    assert bob.session["user_id"] == "bob"
    assert bob.session["conversation_id"] != conversation
    assert await no_more_messages(bob) == []  # none of Alice's messages
    bob_token = bob.session["token"]
    await bob.close()

    # Alice back, with Bob's token in storage: her own conversation and history again.
    back = await connect(
        webchat_server,
        channel="signed",
        token=bob_token,
        user_id="alice",
        user_hash=user_hash("alice", SECRET),
    )
    assert back.session["conversation_id"] == conversation
    assert [m["seq"] for m in await no_more_messages(back)] == [1, 2]
    await back.close()

    # A signed-in user's token used by an anonymous page: a fresh anonymous conversation.
    anonymous = await connect(webchat_server, channel="signed", token=alice_token)
    assert anonymous.session["conversation_id"] != conversation
    assert anonymous.session["user_id"] is None
    await anonymous.close()


async def test_prechat_form_goes_into_the_contact_then_the_flow_greets(
    webchat_server: ServerProcess,
) -> None:
    config = httpx.get(webchat_server.base + "/webchat/config?channel=pre").json()
    assert [f["name"] for f in config["prechat"]["fields"]] == ["name", "email", "plan"]
    assert "identity_secret" not in json.dumps(config)
    chat = await connect(webchat_server, channel="pre")
    assert chat.session["prechat"] == "required"
    await chat.ws.send(json.dumps({"type": "prechat", "fields": {"name": "Ada"}}))
    assert (await chat.frame("error"))["code"] == "bad_prechat"  # email is required
    fields = {"name": "Ada Lovelace", "email": "ada@example.org", "plan": "pro", "x": "y"}
    await chat.ws.send(json.dumps({"type": "prechat", "fields": fields}))
    assert (await chat.frame("prechat_saved"))["fields"] == ["email", "name", "plan"]
    greeting = await chat.bot()  # the flow speaks first once the form is in
    assert "What can I help you with" in greeting["text"]
    contact = visitor(webchat_server, chat.session["conversation_id"])["contact"]
    assert contact["display_name"] == "Ada Lovelace"
    assert contact["attributes"] == {
        "name": "Ada Lovelace",
        "email": "ada@example.org",
        "plan": "pro",
    }
    token = chat.session["token"]
    await chat.close()
    again = await connect(webchat_server, channel="pre", token=token)
    assert again.session["prechat"] == "done"
    await again.close()


async def test_proactive_greeting_and_read_receipts(webchat_server: ServerProcess) -> None:
    chat = await connect(webchat_server, channel="greet")
    await chat.ws.send(json.dumps({"type": "opened"}))  # the visitor opens the chat window
    greeting = await chat.bot()  # nobody typed anything
    assert greeting["seq"] == 1 and "What can I help you with" in greeting["text"]
    conversation_id = chat.session["conversation_id"]
    body = webchat_server.api(f"/api/v1/conversations/{conversation_id}").json()
    execution = webchat_server.api(f"/api/v1/executions/{body['executions'][0]['id']}").json()
    assert ("Trigger", "incomingRequest", "greet") in [
        (s["from"], s["event"], s["to"]) for s in execution["steps"]
    ]
    second_tab = await connect(webchat_server, token=chat.session["token"])
    await no_more_messages(second_tab)
    await chat.ws.send(json.dumps({"type": "read", "seq": 1}))
    assert await second_tab.frame("read") == {"type": "read", "reader": "visitor", "seq": 1}
    await chat.ws.send(json.dumps({"type": "read", "seq": 0}))  # never moves back
    await asyncio.sleep(0.2)
    assert visitor(webchat_server, conversation_id)["reads"] == {"visitor": 1}
    token = chat.session["token"]
    await chat.close()
    await second_tab.close()
    again = await connect(webchat_server, channel="greet", token=token)
    assert again.session["read_seq"] == 1
    assert await no_more_messages(again) != []  # resumed: no second greeting, the first replayed
    body = webchat_server.api(f"/api/v1/conversations/{conversation_id}").json()
    assert len(body["messages"]) == 1
    await again.close()


async def test_origin_is_checked_on_the_handshake(webchat_server: ServerProcess) -> None:
    url = webchat_server.ws_url + "?channel=walled"
    async with websockets.connect(url, origin="https://elsewhere.example") as refused:
        frame = json.loads(await refused.recv())
        assert frame["type"] == "error" and frame["code"] == "origin_not_allowed"
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await refused.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    async with websockets.connect(url, origin="https://shop.example") as allowed:
        assert json.loads(await allowed.recv())["type"] == "session"


async def test_a_binary_frame_gets_an_error_and_the_chat_goes_on(
    webchat_server: ServerProcess,
) -> None:
    chat = await connect(webchat_server)
    await chat.ws.send(json.dumps({"type": "ping"}).encode())  # the right JSON, as bytes
    error = await chat.frame("error")
    assert error["code"] == "bad_frame"
    await chat.say("hello")
    assert (await chat.bot())["seq"] == 2
    await chat.close()


async def test_a_tab_opening_while_messages_arrive_sees_each_once_in_order(
    webchat_server: ServerProcess,
) -> None:
    """Messages stored while a socket replays come either replayed or pushed, never both."""
    chat = await connect(webchat_server)
    await chat.say("hello")
    await chat.bot()
    token = chat.session["token"]
    for _ in range(5):
        # The second tab's replay (from seq 0) races the messages this exchange stores.
        await chat.say("billing")
        tab = await connect(webchat_server, token=token, after=0)
        reply = await chat.bot()
        seqs = [m["seq"] for m in await no_more_messages(tab)]
        assert seqs == list(range(1, len(seqs) + 1)), seqs  # no repeat, no gap, in order
        assert seqs[-1] >= reply["seq"]
        await tab.close()
    await chat.close()


async def test_widget_script_and_config_are_served(webchat_server: ServerProcess) -> None:
    script = httpx.get(webchat_server.base + "/webchat/widget.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "max-age" in script.headers["cache-control"]
    assert "attachShadow" in script.text
    cached = httpx.get(
        webchat_server.base + "/webchat/widget.js",
        headers={"If-None-Match": script.headers["etag"]},
    )
    assert cached.status_code == 304
    config = httpx.get(
        webchat_server.base + "/webchat/config?channel=greet",
        headers={"Origin": "https://shop.example"},
    )
    assert config.json()["title"] == "Greeter" and config.json()["greeting"] is True
    assert config.headers["access-control-allow-origin"] == "https://shop.example"
