"""Two server processes on one PostgreSQL database, one conversation going back and forth.

Each node keeps the active execution of the conversations it served in memory (no reads per
event). When the other node has stepped the execution since, the store refuses the step computed
from the old copy (its revision moved on) and the node reads again: the count below only comes
out right if no node ever steps a stale copy.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.server.conftest import ChatClient, ServerProcess

COUNTER_FLOW = {
    "description": "Counts the customer's messages.",
    "initial_state": "Trigger",
    "flags": {"allow_concurrent_calls": True},
    "states": [
        {
            "name": "Trigger",
            "type": "trigger",
            "transitions": [
                {"event": "incomingMessage", "next": "ask"},
                {"event": "incomingConversationMessage", "next": "ask"},
            ],
            "properties": {},
        },
        {
            "name": "ask",
            "type": "send-and-wait-for-reply",
            "transitions": [
                {"event": "incomingMessage", "next": "count"},
                {"event": "timeout"},
                {"event": "deliveryFailure"},
            ],
            "properties": {"body": "Say something", "timeout": "3600"},
        },
        {
            "name": "count",
            "type": "set-variables",
            "transitions": [{"event": "next", "next": "heard"}],
            "properties": {
                "variables": [{"key": "heard", "value": "{{flow.variables.heard | plus: 1}}"}]
            },
        },
        {
            "name": "heard",
            "type": "send-and-wait-for-reply",
            "transitions": [
                {"event": "incomingMessage", "next": "count"},
                {"event": "timeout"},
                {"event": "deliveryFailure"},
            ],
            "properties": {"body": "Heard {{flow.variables.heard}}", "timeout": "3600"},
        },
    ],
}


async def _say(
    server: ServerProcess, token: str | None, seen: int, text: str
) -> tuple[str, int, str]:
    """Connect to ``server`` as the visitor who has seen messages up to ``seen``, say ``text``;
    returns (token, the answer's seq, the answer)."""
    chat = await ChatClient.connect(server.ws_url, token=token, after=seen if token else None)
    try:
        await chat.say(text)
        answer = await chat.bot()
        return chat.session["token"], answer["seq"], answer["text"]
    finally:
        await chat.close()


async def test_nodes_never_step_a_stale_execution(
    server_factory: Any, tmp_path: Path, pg_url: str
) -> None:
    flows = tmp_path / "counter-flows"
    flows.mkdir()
    (flows / "greeting.json").write_text(json.dumps(COUNTER_FLOW))
    env = {"THREADLINE_DATABASE_URL": pg_url}
    first: ServerProcess = server_factory(flows, env=env)
    second: ServerProcess = server_factory(flows, env=env)

    token, seen, answer = await _say(first, None, 0, "hi")
    assert answer == "Say something"
    answers = []
    for turn in range(1, 7):  # alternate nodes: each one's cached copy is stale every time
        node = second if turn % 2 else first
        token, seen, answer = await _say(node, token, seen, f"message {turn}")
        answers.append(answer)
    assert answers == [f"Heard {n}" for n in range(1, 7)]

    chat = await ChatClient.connect(first.ws_url, token=token, after=seen)
    conversation_id = chat.session["conversation_id"]
    await chat.close()
    detail = first.api(f"/api/v1/conversations/{conversation_id}").json()
    assert [m["seq"] for m in detail["messages"]] == list(range(1, 15))
    assert len(detail["executions"]) == 1  # one execution, stepped by both nodes
    execution = second.api(f"/api/v1/executions/{detail['executions'][0]['id']}").json()
    assert execution["context"]["flow"]["variables"]["heard"] == "6"
