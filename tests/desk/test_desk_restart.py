"""A server restart: agents in their reconnect grace period still count, and the desk is back soon.

Before, every agent was absent for routing until their desk reconnected (up to 15 s of backoff),
so a hand-off right after a restart answered ``no_agents`` and the customer got the fallback.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, WebSocketRoute, expect

from tests.agents.conftest import start_handoff_server
from tests.desk.conftest import DESK_FLOW, make_agent, open_desk
from tests.server.conftest import ChatClient, ServerProcess, server_factory  # noqa: F401


@pytest.fixture
def strict_server(tmp_path: Path, server_factory: Any) -> ServerProcess:  # noqa: F811
    """The desk flow, but a hand-off with nobody present answers ``no_agents`` at once."""
    flow = copy.deepcopy(DESK_FLOW)
    handoff = next(s for s in flow["states"] if s["name"] == "handoff")
    handoff["properties"]["wait_when_no_agents"] = False
    routing = {"disconnect_grace": 60, "offer_timeout": 90}
    return start_handoff_server(tmp_path, server_factory, flow, routing)


async def test_hand_off_during_the_grace_period_after_a_restart_waits_for_the_desk(
    strict_server: ServerProcess, browser: Browser
) -> None:
    make_agent(strict_server, "bea", attributes={"skills": {"billing": 3}})
    page = await open_desk(browser, strict_server, "bea")
    # While ``held``, the desk's reconnects fail as if the server were still down, so the
    # hand-off below surely happens while Bea is only in her grace period.
    held = True

    async def agent_socket(route: WebSocketRoute) -> None:
        if held:
            await route.close()
        else:
            route.connect_to_server()

    await page.route_web_socket(re.compile(r"/agents/ws$"), agent_socket)

    strict_server.stop()
    pill = page.locator("#connection")
    # Every early attempt is scheduled within 2 s (1.5 s at most, plus jitter).
    await expect(pill).to_have_text(re.compile(r"^Reconnecting in [12]s…$"), timeout=10_000)
    await page.wait_for_timeout(3000)  # several failed attempts while the server is down
    await expect(pill).to_have_text(re.compile(r"^Reconnecting in [12]s…$|^Connecting…$"))

    strict_server.start()
    chat = await ChatClient.connect(strict_server.ws_url)
    await chat.say("my invoice is wrong")
    greeting = await chat.bot(timeout=30)
    assert greeting["text"].startswith("Hi, I am the bot")
    notice = await chat.notice(timeout=30)
    assert notice["author"] == "system"
    assert notice["text"].startswith("Connecting you to an agent. You are number 1 in line")
    cid = chat.session["conversation_id"]
    assert strict_server.api(f"/api/v1/conversations/{cid}").json()["status"] == "queued"

    held = False
    offer = page.locator(".offer")
    await expect(offer).to_be_visible(timeout=20_000)
    await expect(offer).to_contain_text("my invoice is wrong")
    await expect(pill).to_have_text("Connected")
    with pytest.raises(TimeoutError):  # the customer never got the no-agents fallback
        while True:
            message = await chat.bot(timeout=1)
            assert message["text"] != "No agents are online"
    await chat.close()
