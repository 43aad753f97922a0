"""On a real server, a flow triaging all of BANKING77 (10,003 examples, a minute and more of
training on 2 cores) answers its first message at once: its model trains in the background from
the moment the flow is loaded, and the keyword classifier answers meanwhile."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

from server.nlu import banking77
from tests.server.conftest import ChatClient, server_factory

__all__ = ["server_factory"]


def flows_training(server: Any) -> float:
    """The ``threadline_nlu_flows_training`` gauge on the server's /metrics."""
    text = server.api("/metrics").text
    found = re.search(r"^threadline_nlu_flows_training (\S+)$", text, re.MULTILINE)
    assert found is not None, "the gauge is missing from /metrics"
    return float(found.group(1))


def banking_flow(intents: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    if intents is None:
        intents = [
            {"name": name, "examples": examples} for name, examples in banking77.load().items()
        ]
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
    assert flows_training(server) == 1  # start-up work still under way, and it shows
    await chat.close()


async def test_the_training_gauge_falls_to_0_when_the_model_is_ready(
    tmp_path: Path, server_factory: Any
) -> None:
    data = banking77.load()
    few = [{"name": name, "examples": data[name][:20]} for name in sorted(data)[:3]]
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "greeting.json").write_text(json.dumps(banking_flow(few)), encoding="utf-8")
    server = server_factory(flows)
    for _ in range(600):  # a few intents train in seconds; bounded at 2 minutes
        if flows_training(server) == 0:
            break
        await asyncio.sleep(0.2)
    assert flows_training(server) == 0
    chat = await ChatClient.connect(server.ws_url)
    await chat.say(data[few[0]["name"]][0])
    reply = await chat.bot(timeout=30)
    assert reply["text"].endswith(" by trained"), reply["text"]  # the gauge fell once ready
    await chat.close()
