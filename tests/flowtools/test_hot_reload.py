"""Hot reload on a real server: an edited flow file serves new conversations within seconds,
while a conversation that started on the old version finishes on it; an invalid edit is refused
with its errors logged and the previous version stays live."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from tests.server.conftest import ChatClient, ServerProcess

WATCH = {"THREADLINE_FLOWS_WATCH_SECONDS": "0.2"}


def edit_greeting(flows_dir: Path, greet: str, confirm: str) -> None:
    path = flows_dir / "greeting.json"
    flow = json.loads(path.read_text())
    for state in flow["states"]:
        if state["name"] == "greet":
            state["properties"]["body"] = greet
        if state["name"] == "confirm":
            state["properties"]["body"] = confirm
    path.write_text(json.dumps(flow, indent=2))


async def live_version(server: ServerProcess, wanted: int, timeout: float = 8) -> int:
    deadline = time.monotonic() + timeout
    version = 0
    while time.monotonic() < deadline:
        version = server.api("/api/v1/flows/greeting").json()["version"]
        if version == wanted:
            return int(version)
        await asyncio.sleep(0.1)
    return int(version)


def executions(server: ServerProcess, conversation_id: str) -> list[dict[str, Any]]:
    body = server.api(f"/api/v1/conversations/{conversation_id}").json()
    return body["executions"]  # type: ignore[no-any-return]


async def test_edit_while_serving(server_factory: Any, flows_dir: Path) -> None:
    server = server_factory(flows_dir, env=WATCH)
    old = await ChatClient.connect(server.ws_url)
    await old.say("hello")
    assert "What can I help you with today" in (await old.bot())["text"]  # version 1 waits

    edit_greeting(
        flows_dir, "Version two here: what do you need?", "V2 confirm for {{flow.variables.team}}."
    )
    started = time.monotonic()
    assert await live_version(server, 2) == 2
    assert time.monotonic() - started < 5

    new = await ChatClient.connect(server.ws_url)
    await new.say("hello")
    assert (await new.bot())["text"] == "Version two here: what do you need?"
    await new.say("I was charged twice")
    assert (await new.bot())["text"] == "V2 confirm for billing team."

    # The conversation that started on version 1 finishes on version 1.
    await old.say("I was charged twice")
    assert (await old.bot())["text"].startswith("Got it, I'll pass this to our billing team.")
    await old.say("no")
    assert (await old.bot())["text"].startswith("Thank you! Your billing request is noted")
    [old_execution] = executions(server, old.session["conversation_id"])
    [new_execution] = executions(server, new.session["conversation_id"])
    assert old_execution["flow_version"] == 1 and old_execution["status"] != "active"
    assert new_execution["flow_version"] == 2
    await old.close()
    await new.close()


async def test_invalid_edit_is_refused(server_factory: Any, flows_dir: Path) -> None:
    server = server_factory(flows_dir, env=WATCH)
    path = flows_dir / "greeting.json"
    flow = json.loads(path.read_text())
    flow["states"][1]["transitions"][0]["next"] = "nowhere"  # greet -> a state that is not there
    path.write_text(json.dumps(flow))
    deadline = time.monotonic() + 8
    while "flow greeting refused" not in server.log() and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    log = server.log()
    assert "flow greeting refused" in log
    assert "names no state: 'nowhere'" in log
    assert "version 1 stays live" in log
    assert server.api("/api/v1/flows/greeting").json()["version"] == 1
    chat = await ChatClient.connect(server.ws_url)
    await chat.say("hello")
    assert "What can I help you with today" in (await chat.bot())["text"]
    await chat.say("order 55")
    assert "orders team" in (await chat.bot())["text"]  # version 1 still wired as before

    path.write_text("{ not json")
    deadline = time.monotonic() + 8
    while "invalid JSON" not in server.log() and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert "invalid JSON" in server.log()
    assert server.api("/api/v1/flows/greeting").json()["version"] == 1
    await chat.close()
