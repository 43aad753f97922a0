"""The ``history`` frame of a visitor's earlier conversations (after an agent closed one), with
real sockets: only the visitor's own conversations, each naming the one before it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from channels.frames import FrameError
from channels.webchat import protocol
from tests.agents.conftest import AgentClient, create_agent
from tests.server.conftest import ChatClient, ServerProcess
from tests.webchat.conftest import GREETING

NO_LIMIT = 2**53 - 1  # what the widget sends for "the latest messages"


async def history(chat: ChatClient, **fields: Any) -> dict[str, Any]:
    await chat.ws.send(json.dumps({"type": "history", "limit": 50, **fields}))
    while (frame := await chat.frame())["type"] not in ("history", "error"):
        pass
    return frame


async def conversation_closed_by_an_agent(server: ServerProcess) -> tuple[ChatClient, str]:
    """A visitor whose first conversation an agent closed; the conversation's id."""
    agent = create_agent(server, "dee", attributes={"skills": {"billing": 3}})
    dee = await AgentClient.connect(server, agent["token"])
    chat = await ChatClient.connect(server.ws_url)
    await chat.say("first question")
    first = (await dee.frame("offer"))["conversation_id"]
    await dee.send("accept", conversation_id=first)
    await dee.frame("assigned")
    await dee.send("close", conversation_id=first, disposition="resolved")
    await dee.frame("closed")
    await dee.close()
    return chat, first


async def test_the_first_page_names_the_earlier_conversation_the_visitor_may_read(
    chat_server: ServerProcess,
) -> None:
    chat, first = await conversation_closed_by_an_agent(chat_server)
    await chat.say("one more thing", client_id="c-2")
    moved = await chat.frame("conversation")
    while moved["conversation_id"] == first:
        moved = await chat.frame("conversation")
    second = moved["conversation_id"]

    page = await history(chat, before=moved["last_seq"] + 1)
    assert page["conversation_id"] == second
    assert [m["text"] for m in page["messages"]] == ["one more thing"]
    assert page["more"] is False
    assert page["previous_conversation_id"] == first

    earlier = await history(chat, conversation_id=first, before=NO_LIMIT)
    assert earlier["conversation_id"] == first
    texts = [m["text"] for m in earlier["messages"]]
    assert texts[:2] == ["first question", GREETING]
    assert earlier["previous_conversation_id"] is None  # the visitor's first conversation

    # A page of one, the latest: the older ones are "more", and no previous is named yet.
    latest = await history(chat, conversation_id=first, before=NO_LIMIT, limit=1)
    assert [m["text"] for m in latest["messages"]] == texts[-1:]
    assert latest["more"] is True and latest["previous_conversation_id"] is None

    # A page reloaded on the same token gets the same answers.
    again = await ChatClient.connect(chat_server.ws_url, token=chat.session["token"])
    assert again.session["conversation_id"] == second
    assert (await history(again, before=1))["previous_conversation_id"] == first
    await again.close()
    await chat.close()


async def test_another_visitor_cannot_read_the_conversation(chat_server: ServerProcess) -> None:
    chat, first = await conversation_closed_by_an_agent(chat_server)
    stranger = await ChatClient.connect(chat_server.ws_url)
    refused = await history(stranger, conversation_id=first, before=NO_LIMIT)
    assert refused["type"] == "error" and refused["code"] == "bad_field"
    await stranger.say("hello")  # now a visitor with a conversation of their own
    await stranger.frame("conversation")
    refused = await history(stranger, conversation_id=first, before=NO_LIMIT)
    assert refused["type"] == "error" and refused["code"] == "bad_field"
    assert "first question" not in json.dumps(refused)
    own = await history(stranger, before=NO_LIMIT)
    assert own["previous_conversation_id"] is None  # nothing of the other visitor's
    await stranger.close()
    await chat.close()


def test_a_history_frame_names_a_conversation_by_its_id() -> None:
    frame = {"type": "history", "before": 3, "conversation_id": "CV0123"}
    assert protocol.parse_frame(json.dumps(frame), max_chars=100) == protocol.History(
        3, 50, "CV0123"
    )


@pytest.mark.parametrize("conversation_id", [5, "", "x" * 65, ["CV0123"], {"id": "CV0123"}])
def test_a_history_frame_refuses_what_is_not_a_conversation_id(conversation_id: Any) -> None:
    frame = {"type": "history", "before": 3, "conversation_id": conversation_id}
    parsed = protocol.parse_frame(json.dumps(frame), max_chars=100)
    assert isinstance(parsed, FrameError) and parsed.code == "bad_field"
