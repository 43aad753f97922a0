"""Messages: idempotent echo ids, device context in flows, history paging."""

from __future__ import annotations

import asyncio

import httpx

from tests.app.conftest import AppUser
from tests.server.conftest import ServerProcess


async def test_device_context_reaches_the_flow(http: httpx.AsyncClient) -> None:
    user = await AppUser.start(http, "u-device", platform="ios", app_version="5.2.1")
    assert (await user.send("e1", "hello")).status_code == 201
    reply = await user.wait_for_text("You run app")
    assert reply["text"] == "You run app 5.2.1 on ios"
    assert reply["author"] == "bot" and reply["direction"] == "outbound"


async def test_signed_user_messages_reach_the_flow(http: httpx.AsyncClient) -> None:
    user = await AppUser.start(http, "u-signed-msg", app_id="signed", platform="android")
    assert (await user.send("e1", "hi")).status_code == 201
    assert (await user.wait_for_text("You run app"))["text"].endswith("on android")


async def test_the_same_echo_id_is_stored_once(
    http: httpx.AsyncClient, app_server: ServerProcess
) -> None:
    user = await AppUser.start(http, "u-echo")
    first = await user.send("echo-1", "only once")
    again = await user.send("echo-1", "only once")
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["duplicate"] is False and again.json()["duplicate"] is True
    assert again.json()["message"]["id"] == first.json()["message"]["id"]
    await user.wait_for_text("You run app")
    texts = [m["text"] for m in (await user.history())["messages"] if m["direction"] == "inbound"]
    assert texts == ["only once"]
    # Echo ids are scoped per user: another user's same echo id is a new message.
    other = await AppUser.start(http, "u-echo-other")
    assert (await other.send("echo-1", "mine")).status_code == 201


async def test_choice_ids_and_bad_messages(http: httpx.AsyncClient) -> None:
    user = await AppUser.start(http, "u-choice")
    picked = await user.send("c1", "Billing", choice_id="billing")
    assert picked.status_code == 201
    assert picked.json()["message"]["parts"] == [
        {"kind": "choice_reply", "choice_id": "billing", "label": "Billing"}
    ]
    no_echo = await user.http.post("/api/app/v1/messages", json={"text": "x"}, headers=user.headers)
    assert no_echo.status_code == 400 and "'echo_id'" in no_echo.json()["error"]["message"]
    empty = await user.send("c2", "")
    assert empty.status_code == 400 and "'text'" in empty.json()["error"]["message"]


async def test_history_pages_back_by_seq(http: httpx.AsyncClient) -> None:
    user = await AppUser.start(http, "u-history", app_version="2")
    await user.send("h1", "message 1")
    await user.wait_for_text("You run app")  # seq 2; the flow then waits for an event
    for n in range(2, 6):
        assert (await user.send(f"h{n}", f"message {n}")).status_code == 201
    newest = await user.history(limit=4)
    assert [m["seq"] for m in newest["messages"]] == [3, 4, 5, 6]
    assert newest["messages"][-1]["text"] == "message 5"
    assert newest["next_before"] == 3
    older = await user.history(limit=4, before=newest["next_before"])
    assert [m["seq"] for m in older["messages"]] == [1, 2]
    assert older["next_before"] is None
    bad = await user.http.get("/api/app/v1/messages", params={"limit": "0"}, headers=user.headers)
    assert bad.status_code == 400 and "'limit'" in bad.json()["error"]["message"]


async def test_a_read_receipt_over_rest(http: httpx.AsyncClient) -> None:
    user = await AppUser.start(http, "u-rest-read")
    await user.send("rr1", "hello")
    reply = await user.wait_for_text("You run app")
    while (await user.wait_for_text(reply["text"]))["status"] != "sent":
        await asyncio.sleep(0.02)
    read = await user.http.post(
        "/api/app/v1/read", json={"seq": reply["seq"]}, headers=user.headers
    )
    assert read.status_code == 200
    assert (await user.wait_for_text(reply["text"]))["status"] == "read"
    bad = await user.http.post("/api/app/v1/read", json={"seq": "x"}, headers=user.headers)
    assert bad.status_code == 400 and "'seq'" in bad.json()["error"]["message"]
