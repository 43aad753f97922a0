"""The same server on PostgreSQL: the greeting conversation, a restart mid-wait, the API."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

from tests.server.conftest import ChatClient, ServerProcess


async def test_greeting_and_restart_on_postgresql(
    server_factory: Any, flows_dir: Path, pg_url: str
) -> None:
    server: ServerProcess = server_factory(flows_dir, env={"THREADLINE_DATABASE_URL": pg_url})
    chat = await ChatClient.connect(server.ws_url)
    token = chat.session["token"]
    await chat.say("hello")
    assert "What can I help you with" in (await chat.bot())["text"]
    await chat.close()
    server.stop(signal.SIGKILL)
    server.start()
    chat = await ChatClient.connect(server.ws_url, token=token, after=2)
    await chat.say("I have a billing question")
    assert "billing team" in (await chat.bot())["text"]
    await chat.close()
    detail = server.api(f"/api/v1/conversations/{chat.session['conversation_id']}").json()
    assert [m["seq"] for m in detail["messages"]] == [1, 2, 3, 4]
    assert not (server.data_dir / "threadline.db").exists()  # nothing went to SQLite
