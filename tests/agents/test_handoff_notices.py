"""What the customer is told about a hand-off, and the satisfaction question after the close.

A real server, real agent and web chat sockets, real SQLite (the answer's event is read there).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.agents.conftest import (
    HANDOFF_FLOW,
    ROUTING,
    AgentClient,
    create_agent,
    start_handoff_server,
)
from tests.server.conftest import ChatClient, ServerProcess, server_factory  # noqa: F401

SURVEY = {
    "webchat": {"satisfaction": "How did we do? Pick 1 (poor) to 5 (great)."},
    "webchat:quiet": {"assigned": "", "closed": "Bye <b>now</b>"},
}


@pytest.fixture
def notice_server(tmp_path: Path, server_factory: Any) -> ServerProcess:  # noqa: F811
    env = {
        "THREADLINE_NOTICES": json.dumps(SURVEY),
        "THREADLINE_WEBCHAT_CONFIG": json.dumps({"quiet": {}}),
    }
    return start_handoff_server(tmp_path, server_factory, HANDOFF_FLOW, ROUTING, env)


async def accept(agent: AgentClient) -> str:
    offer = await agent.frame("offer")
    await agent.send("accept", conversation_id=offer["conversation_id"])
    await agent.frame("assigned")
    return str(offer["conversation_id"])


def conversation(server: ServerProcess, cid: str) -> dict[str, Any]:
    response = server.api(f"/api/v1/conversations/{cid}")
    assert response.status_code == 200
    return response.json()  # type: ignore[no-any-return]


async def test_position_agent_names_transfer_and_close_are_told_to_the_customer(
    notice_server: ServerProcess,
) -> None:
    skills = {"skills": {"billing": 3}}
    bea = create_agent(notice_server, "bea", attributes=skills, capacity={"webchat": 1})
    bea_desk = await AgentClient.connect(notice_server, bea["token"])
    first = await ChatClient.connect(notice_server.ws_url)
    await first.say("my invoice is wrong")
    connecting = await first.notice()
    assert (connecting["author"], connecting["text"]) == ("system", "Connecting you to an agent…")
    assert "author_name" not in connecting
    cid = await accept(bea_desk)
    assert (await first.notice())["text"] == "Bea joined the conversation."
    await bea_desk.send("reply", conversation_id=cid, text="Hi, Bea here")
    reply = await first.bot()
    assert (reply["author"], reply["author_name"]) == (f"agent:{bea['id']}", "Bea")

    # Bea is full: the next customer waits in line, and is told where and for about how long
    # (position x the default handle time of 300 s / one agent).
    second = await ChatClient.connect(notice_server.ws_url)
    await second.say("me too")
    queued = await second.notice()
    assert queued["text"] == (
        "Connecting you to an agent. You are number 1 in line (about 5 minutes)."
    )

    dan = create_agent(notice_server, "dan", attributes=skills, capacity={"webchat": 2})
    dan_desk = await AgentClient.connect(notice_server, dan["token"])
    await accept(dan_desk)  # the customer waiting in line
    assert (await second.notice())["text"] == "Dan joined the conversation."
    await bea_desk.send("transfer", conversation_id=cid, to_agent=dan["id"], note="VIP")
    transferred = await first.notice()
    assert transferred["text"] == "Transferring you to another agent. Please hold on."
    assert await accept(dan_desk) == cid
    assert (await first.notice())["text"] == "Dan joined the conversation."
    await dan_desk.send("reply", conversation_id=cid, text="Dan here")
    last = await first.bot()
    assert last["author_name"] == "Dan"

    # A page reload replays the stored messages: the agents' names come back with them.
    again = await ChatClient.connect(notice_server.ws_url, token=first.session["token"], after=0)
    replayed = [await again.frame("message") for _ in range(last["seq"])]
    assert [m["seq"] for m in replayed] == list(range(1, last["seq"] + 1))
    names = [(m["text"], m.get("author_name")) for m in replayed if m["author"].startswith("agent")]
    assert names == [("Hi, Bea here", "Bea"), ("Dan here", "Dan")]

    await dan_desk.send("close", conversation_id=cid, disposition="resolved")
    assert (await first.notice())["text"] == "The agent closed this conversation."
    question = await first.notice()
    assert question["text"] == SURVEY["webchat"]["satisfaction"]
    assert [c["id"] for c in question["choices"]] == ["1", "2", "3", "4", "5"]

    for client in (first, second, again, bea_desk, dan_desk):
        await client.close()


async def test_satisfaction_answer_is_stored_with_the_closed_conversation(
    notice_server: ServerProcess,
) -> None:
    bea = create_agent(notice_server, "bea", attributes={"skills": {"billing": 3}})
    desk = await AgentClient.connect(notice_server, bea["token"])
    chat = await ChatClient.connect(notice_server.ws_url)
    await chat.say("my invoice is wrong")
    cid = await accept(desk)
    await desk.send("close", conversation_id=cid, disposition="resolved")
    await desk.frame("closed")
    question = await chat.notice()
    while question["text"] != SURVEY["webchat"]["satisfaction"]:
        question = await chat.notice()

    await chat.say("4", choice_id="4", client_id="csat-1")
    echo = await chat.frame("message")
    assert (echo["direction"], echo["client_id"], echo["seq"]) == (
        "inbound",
        "csat-1",
        question["seq"] + 1,  # on the closed conversation, right after the question
    )
    assert (await chat.notice())["text"] == "Thank you for your feedback!"
    stored = conversation(notice_server, cid)
    assert (stored["status"], stored["satisfaction"]) == ("closed", 4)
    assert stored["messages"][-2]["text"] == "4"
    await desk.nothing("offer", wait=1.0)  # no flow ran on the answer: nothing was handed off

    database = sqlite3.connect(notice_server.data_dir / "threadline.db")
    rows = database.execute(
        "SELECT conversation_id, properties FROM events WHERE type = 'conversation.satisfaction'"
    ).fetchall()
    database.close()
    assert [(row[0], json.loads(row[1])["score"]) for row in rows] == [(cid, 4)]

    # Answered: the next message is a new customer turn again, handed off as usual.
    await chat.say("one more thing")
    moved = await chat.frame("conversation")
    assert moved["conversation_id"] != cid
    assert await accept(desk) == moved["conversation_id"]
    await chat.close()
    await desk.close()


async def test_not_an_answer_drops_the_question_and_texts_are_per_account(
    notice_server: ServerProcess,
) -> None:
    bea = create_agent(notice_server, "bea", attributes={"skills": {"billing": 3}})
    desk = await AgentClient.connect(notice_server, bea["token"])
    chat = await ChatClient.connect(notice_server.ws_url + "?channel=quiet")
    await chat.say("my invoice is wrong")
    cid = await accept(desk)
    await desk.send("reply", conversation_id=cid, text="Hello")
    assert (await chat.bot())["text"] == "Hello"
    await desk.send("close", conversation_id=cid)
    closed = await chat.notice()
    # The account turned the "joined" notice off; its texts are sent as plain text, verbatim.
    assert closed["text"] == "Bye <b>now</b>"
    await chat.notice()  # the question (the "webchat" entry applies to every web chat account)

    await chat.say("great service, thanks")
    moved = await chat.frame("conversation")
    assert moved["conversation_id"] != cid
    assert await accept(desk) == moved["conversation_id"]
    assert conversation(notice_server, cid)["satisfaction"] is None
    told = [m["text"] for m in conversation(notice_server, cid)["messages"]]
    assert "Bea joined the conversation." not in told
    await chat.close()
    await desk.close()
