"""Nobody fills the database without writing: idle sockets, made-up channels and floods of new
sessions store nothing; the first message (or pre-chat answer, or a greeting the visitor asked
for by opening the chat) stores the visitor. Counts are read from the server's SQLite file."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.server.conftest import REPO, ChatClient, ServerProcess

TABLES = ("contacts", "conversations", "webchat_sessions", "identities")
CONFIG = {
    "default": {},
    "greet": {"greeting": True},
    "pre": {"prechat": {"fields": [{"name": "name", "required": True}]}},
}
RATE = 3  # new sessions per client address per minute on the rate-limited server


def _server(root: Path, env: dict[str, str]) -> ServerProcess:
    flows = root / "flows"
    flows.mkdir()
    shutil.copy(REPO / "flows" / "greeting.json", flows / "greeting.json")
    data = root / "data"
    data.mkdir()
    (data / "webchat.json").write_text(json.dumps(CONFIG))
    server = ServerProcess(data, flows, env)
    server.start()
    return server


@pytest.fixture(scope="module")
def lazy_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = _server(
        tmp_path_factory.mktemp("lazy"), {"THREADLINE_WEBCHAT_SESSIONS_PER_MINUTE": "0"}
    )
    yield server
    server.stop()


@pytest.fixture(scope="module")
def limited_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {
        "THREADLINE_WEBCHAT_SESSIONS_PER_MINUTE": str(RATE),
        "THREADLINE_TRUSTED_PROXIES": "127.0.0.1",
    }
    server = _server(tmp_path_factory.mktemp("limited"), env)
    yield server
    server.stop()


def rows(server: ServerProcess) -> dict[str, int]:
    """How many rows each table of interest holds, read from the database file itself."""
    path = server.data_dir / "threadline.db"
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES}


def grown(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {t: after[t] - before[t] for t in TABLES}


async def connect(server: ServerProcess, query: str = "", **options: Any) -> ChatClient:
    ws = await websockets.connect(server.ws_url + ("?" + query if query else ""), **options)
    client = ChatClient(ws)
    client.session = await client.frame("session")
    return client


async def refused(server: ServerProcess, query: str, **options: Any) -> tuple[dict[str, Any], int]:
    """The error frame and the close code of a socket the server turns away."""
    ws = await websockets.connect(server.ws_url + "?" + query, **options)
    frame = json.loads(await ws.recv())
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await ws.recv()
    assert closed.value.rcvd is not None
    return frame, closed.value.rcvd.code


async def test_idle_sockets_store_nothing_and_the_first_message_stores_one_visitor(
    lazy_server: ServerProcess,
) -> None:
    before = rows(lazy_server)
    idle = [await connect(lazy_server) for _ in range(50)]
    assert all(c.session["conversation_id"] is None for c in idle)
    assert len({c.session["token"] for c in idle}) == 50
    await asyncio.gather(*(c.close() for c in idle))
    assert grown(before, rows(lazy_server)) == dict.fromkeys(TABLES, 0)

    chat = await connect(lazy_server)
    await chat.say("hello")
    opened = await chat.frame("conversation")
    assert opened["conversation_id"].startswith("CV")
    assert "What can I help you with" in (await chat.bot())["text"]
    assert chat.session["conversation_id"] == opened["conversation_id"]
    # One contact with its web chat identity, one conversation, one session row.
    assert grown(before, rows(lazy_server)) == {
        "contacts": 1,
        "conversations": 1,
        "webchat_sessions": 1,
        "identities": 1,
    }
    await chat.close()


async def test_a_token_never_used_keeps_its_visitor(lazy_server: ServerProcess) -> None:
    first = await connect(lazy_server)
    token = first.session["token"]
    await first.close()
    before = rows(lazy_server)

    again = await connect(lazy_server, f"token={token}")
    assert again.session["token"] == token and again.session["conversation_id"] is None
    assert again.session["resumed"] is True
    other_tab = await connect(lazy_server, f"token={token}")
    await again.say("hello", client_id="c1")
    conversation_id = (await again.frame("conversation"))["conversation_id"]
    assert "What can I help you with" in (await again.bot())["text"]
    # The other tab of the same visitor joins the conversation as it opens.
    assert (await other_tab.frame("conversation"))["conversation_id"] == conversation_id
    assert "What can I help you with" in (await other_tab.bot())["text"]
    await again.close()
    await other_tab.close()
    assert grown(before, rows(lazy_server))["contacts"] == 1

    resumed = await connect(lazy_server, f"token={token}")
    assert resumed.session["conversation_id"] == conversation_id
    assert [m["seq"] for m in await _replayed(resumed)] == [1, 2]
    visitor = lazy_server.api(f"/api/v1/webchat/conversations/{conversation_id}").json()
    assert [i["kind"] for i in visitor["contact"]["identities"]] == ["webchat"]
    await resumed.close()


async def _replayed(chat: ChatClient) -> list[dict[str, Any]]:
    """The messages the server sent before answering a ping."""
    await chat.ws.send(json.dumps({"type": "ping"}))
    seen = []
    while (frame := await chat.frame())["type"] != "pong":
        if frame["type"] == "message":
            seen.append(frame)
    return seen


async def test_a_made_up_token_starts_anew_without_storing(lazy_server: ServerProcess) -> None:
    before = rows(lazy_server)
    ws = await websockets.connect(lazy_server.ws_url + "?token=not-a-token")
    error = json.loads(await ws.recv())
    assert (error["type"], error["code"]) == ("error", "invalid_token")
    session = json.loads(await ws.recv())
    assert session["type"] == "session" and session["token"] != "not-a-token"
    await ws.close()
    assert grown(before, rows(lazy_server)) == dict.fromkeys(TABLES, 0)


async def test_unknown_or_huge_channels_are_refused_and_nothing_stored(
    lazy_server: ServerProcess,
) -> None:
    before = rows(lazy_server)
    for channel in ("nope", "x" * 5000):
        frame, code = await refused(lazy_server, f"channel={channel}")
        assert (frame["type"], frame["code"], code) == ("error", "unknown_channel", 4403)
        assert len(frame["message"]) < 200
    assert grown(before, rows(lazy_server)) == dict.fromkeys(TABLES, 0)
    for channel in ("default", "greet"):  # configured ones (and "default") still open
        chat = await connect(lazy_server, f"channel={channel}")
        assert chat.session["channel"] == channel
        await chat.close()


async def test_prechat_answer_stores_the_visitor(lazy_server: ServerProcess) -> None:
    before = rows(lazy_server)
    chat = await connect(lazy_server, "channel=pre")
    assert chat.session["prechat"] == "required"
    await chat.ws.send(json.dumps({"type": "prechat", "fields": {"name": "Ada"}}))
    conversation_id = (await chat.frame("conversation"))["conversation_id"]
    assert (await chat.frame("prechat_saved"))["fields"] == ["name"]
    visitor = lazy_server.api(f"/api/v1/webchat/conversations/{conversation_id}").json()
    assert visitor["contact"]["attributes"] == {"name": "Ada"}
    assert grown(before, rows(lazy_server))["conversations"] == 1
    await chat.close()


async def test_a_greeting_account_greets_when_the_chat_is_opened_not_on_connect(
    lazy_server: ServerProcess,
) -> None:
    before = rows(lazy_server)
    idle = [await connect(lazy_server, "channel=greet") for _ in range(20)]
    for chat in idle:  # nothing comes, nothing is stored
        await chat.ws.send(json.dumps({"type": "ping"}))
        assert (await chat.frame())["type"] == "pong"
    await asyncio.gather(*(c.close() for c in idle))
    assert grown(before, rows(lazy_server)) == dict.fromkeys(TABLES, 0)

    chat = await connect(lazy_server, "channel=greet")
    await chat.ws.send(json.dumps({"type": "opened"}))  # the visitor opened the chat window
    conversation_id = (await chat.frame("conversation"))["conversation_id"]
    greeting = await chat.bot()  # the flow speaks first
    assert greeting["seq"] == 1 and "What can I help you with" in greeting["text"]
    body = lazy_server.api(f"/api/v1/conversations/{conversation_id}").json()
    execution = lazy_server.api(f"/api/v1/executions/{body['executions'][0]['id']}").json()
    assert ("Trigger", "incomingRequest", "greet") in [
        (s["from"], s["event"], s["to"]) for s in execution["steps"]
    ]
    await chat.ws.send(json.dumps({"type": "opened"}))  # opened again: no second greeting
    await chat.say("billing")
    assert "billing team" in (await chat.bot())["text"]
    assert grown(before, rows(lazy_server))["conversations"] == 1
    token = chat.session["token"]
    await chat.close()
    again = await connect(lazy_server, f"channel=greet&token={token}")
    await again.ws.send(json.dumps({"type": "opened"}))
    assert [m["seq"] for m in await _replayed(again)] == [1, 2, 3]
    await again.close()

    plain = await connect(lazy_server)  # without a greeting, opening the chat stores nothing
    await plain.ws.send(json.dumps({"type": "opened"}))
    assert await _replayed(plain) == []
    await plain.close()
    assert grown(before, rows(lazy_server))["conversations"] == 1


async def test_new_sessions_per_address_are_bounded(limited_server: ServerProcess) -> None:
    office = {"additional_headers": {"X-Forwarded-For": "203.0.113.7"}}
    tokens = []
    for _ in range(RATE):
        chat = await connect(limited_server, **office)
        tokens.append(chat.session["token"])
        await chat.close()
    frame, code = await refused(limited_server, "", **office)
    assert (frame["code"], code) == ("rate_limited", 4429)
    assert frame["retry_after"] > 0
    # Another address is not affected; a visitor of the busy address reconnecting is not new.
    elsewhere = await connect(
        limited_server, additional_headers={"X-Forwarded-For": "198.51.100.2"}
    )
    await elsewhere.close()
    back = await connect(limited_server, f"token={tokens[0]}", **office)
    assert back.session["token"] == tokens[0]
    await back.close()

    # A peer that is not a trusted proxy is counted by its own address, whatever it claims.
    for n in range(RATE):
        spoofed = {"X-Forwarded-For": f"192.0.2.{n}"}
        chat = await connect(
            limited_server, additional_headers=spoofed, local_addr=("127.0.0.2", 0)
        )
        await chat.close()
    frame, code = await refused(
        limited_server,
        "",
        additional_headers={"X-Forwarded-For": "192.0.2.99"},
        local_addr=("127.0.0.2", 0),
    )
    assert (frame["code"], code) == ("rate_limited", 4429)
