"""The app WebSocket: bot replies, typing, read receipts, replay, bad tokens."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import websockets

from tests.app.conftest import AppSocket, AppUser
from tests.server.conftest import ServerProcess


async def test_the_socket_gets_the_reply_and_typing(
    http: httpx.AsyncClient, app_server: ServerProcess
) -> None:
    user = await AppUser.start(http, "u-socket", platform="web", app_version="9")
    socket = await user.socket(app_server)
    try:
        await user.send("s1", "hello")
        echo = await socket.frame("message", direction="inbound")
        assert echo["text"] == "hello" and echo["author"] == "contact"
        reply = await socket.bot()
        assert reply["text"] == "You run app 9 on web"
        assert reply["parts"] == [{"kind": "text", "text": "You run app 9 on web"}]
        assert reply["seq"] == echo["seq"] + 1
        typing = [f for f in socket.seen if f["type"] == "typing"]
        assert typing[0] == {"type": "typing", "author": "bot", "busy": True}
        if not any(f["busy"] is False for f in typing):
            await socket.frame("typing", busy=False)
    finally:
        await socket.close()


async def test_every_device_of_the_user_gets_the_messages(
    http: httpx.AsyncClient, app_server: ServerProcess
) -> None:
    phone = await AppUser.start(http, "u-two-devices", platform="ios")
    tablet = await AppUser.start(http, "u-two-devices", platform="ipados")
    phone_socket, tablet_socket = await phone.socket(app_server), await tablet.socket(app_server)
    try:
        await phone.send("d1", "from the phone")
        assert (await tablet_socket.bot())["text"].endswith("on ipados")
        assert (await phone_socket.bot())["text"].endswith("on ipados")
    finally:
        await phone_socket.close()
        await tablet_socket.close()


async def test_a_read_frame_marks_the_bot_messages_read(
    http: httpx.AsyncClient, app_server: ServerProcess
) -> None:
    user = await AppUser.start(http, "u-read")
    socket = await user.socket(app_server)
    try:
        await user.send("r1", "hello")
        reply = await socket.bot()
        # Pushed when stored; wait until the sender has handed it over (status "sent").
        while (await user.wait_for_text(reply["text"]))["status"] != "sent":
            await asyncio.sleep(0.02)
        await socket.send({"type": "read", "seq": reply["seq"]})
        read = await socket.frame("message", id=reply["id"], status="read")
        assert read["seq"] == reply["seq"]
        await socket.send({"type": "ping"})
        await socket.frame("pong")
        await socket.send({"type": "read", "seq": -1})
        assert (await socket.frame("error"))["code"] == "bad_field"
    finally:
        await socket.close()
    stored = [m for m in (await user.history())["messages"] if m["id"] == reply["id"]]
    assert stored[0]["status"] == "read"


async def test_a_reconnect_replays_what_was_missed(
    http: httpx.AsyncClient, app_server: ServerProcess
) -> None:
    user = await AppUser.start(http, "u-replay")
    await user.send("p1", "while offline")
    await user.wait_for_text("You run app")
    url = f"ws://127.0.0.1:{app_server.port}/api/app/v1/ws"
    replay = await AppSocket.connect(f"{url}?token={user.session['session_token']}&after=0")
    try:
        assert (await replay.frame("message"))["text"] == "while offline"
        assert (await replay.bot())["text"].startswith("You run app")
    finally:
        await replay.close()


async def test_a_bad_token_closes_the_socket(app_server: ServerProcess) -> None:
    url = f"ws://127.0.0.1:{app_server.port}/api/app/v1/ws?token=nope"
    async with websockets.connect(url) as ws:
        assert '"invalid_token"' in await ws.recv()
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
