"""On a real server, a flow triaging all of BANKING77 (10,003 examples, a minute and more of
training on 2 cores) answers its first message at once: its model trains in the background from
the moment the flow is loaded, and the keyword classifier answers meanwhile."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from server.nlu import banking77
from tests.server.conftest import ChatClient, server_factory

__all__ = ["server_factory"]


def banking_flow() -> dict[str, Any]:
    intents = [{"name": name, "examples": examples} for name, examples in banking77.load().items()]
    return {
        "description": "triage on all of BANKING77",
        "initial_state": "Trigger",
        "states": [
            {
                "name": "Trigger",
                "type": "trigger",
                "transitions": [{"event": "incomingMessage", "next": "triage"}],
                "properties": {},
            },
            {
                "name": "triage",
                "type": "bot-triage",
                "transitions": [
                    *({"event": i["name"], "next": "answer"} for i in intents),
                    {"event": "fallback", "next": "answer"},
                    {"event": "failed", "next": "answer"},
                ],
                "properties": {"intents": intents, "threshold": 0.01},
            },
            {
                "name": "answer",
                "type": "send-message",
                "transitions": [{"event": "sent"}, {"event": "failed"}],
                "properties": {
                    "body": "{{widgets.triage.intent}} by {{widgets.triage.classifier}}"
                    "{{widgets.triage.error}}"
                },
            },
        ],
    }


async def test_the_first_message_is_answered_while_the_model_trains(
    tmp_path: Path, server_factory: Any
) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "greeting.json").write_text(json.dumps(banking_flow()), encoding="utf-8")
    server = server_factory(flows)
    chat = await ChatClient.connect(server.ws_url)
    await chat.say("My card still hasn't arrived, when will it come?")
    reply = await chat.bot(timeout=30)
    # "keyword": the flow's own model was not ready, and the message did not wait for it.
    assert reply["text"].endswith(" by keyword"), reply["text"]
    assert reply["text"].split(" by ")[0] in banking77.load()
    await chat.close()
