"""The hand-off as the web chat visitor sees it, in headless Chromium: notices, agent names, the
bot, the agent and notices styled apart, and the satisfaction question answered with a tap."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from tests.agents.conftest import (
    HANDOFF_FLOW,
    ROUTING,
    AgentClient,
    create_agent,
    start_handoff_server,
)
from tests.desk.conftest import CHROMIUM, browser  # noqa: F401
from tests.server.conftest import ServerProcess, server_factory  # noqa: F401

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs /usr/bin/chromium")

NOTICES = {"*": {"satisfaction": "How did we do? 1 (poor) to 5 (great)"}}
HOSTILE_NAME = "Bea <img src=x onerror=window.pwned=1>"


@pytest.fixture
def widget_server(tmp_path: Path, server_factory: Any) -> ServerProcess:  # noqa: F811
    flow = json.loads(json.dumps(HANDOFF_FLOW))
    remember = next(s for s in flow["states"] if s["name"] == "remember")
    remember["type"] = "send-message"  # the bot says something first, so all three show
    remember["properties"] = {"body": "I am the bot, finding you a person."}
    remember["transitions"] = [{"event": "sent", "next": "handoff"}, {"event": "failed"}]
    env = {"THREADLINE_NOTICES": json.dumps(NOTICES)}
    return start_handoff_server(tmp_path, server_factory, flow, ROUTING, env)


async def test_visitor_sees_notices_the_agent_by_name_and_rates_the_chat(
    widget_server: ServerProcess,
    browser: Browser,  # noqa: F811
    tmp_path: Path,
) -> None:
    agent = create_agent(
        widget_server, "bea", name=HOSTILE_NAME, attributes={"skills": {"billing": 3}}
    )
    desk = await AgentClient.connect(widget_server, agent["token"])
    page = await browser.new_page(viewport={"width": 390, "height": 760})
    await page.goto(widget_server.base + "/")
    await page.get_by_role("button", name="Open chat").click()
    box = page.get_by_label("Message", exact=True)
    await box.fill("my invoice is wrong")
    await box.press("Enter")

    log = page.get_by_role("log", name="Conversation")
    await expect(log.locator(".msg.bot")).to_contain_text("I am the bot", timeout=15_000)
    notices = log.locator(".msg.notice")
    await expect(notices.first).to_contain_text("Connecting you to an agent…")

    offer = await desk.frame("offer")
    cid = offer["conversation_id"]
    await desk.send("accept", conversation_id=cid)
    await desk.frame("assigned")
    await expect(notices.nth(1)).to_contain_text(f"{HOSTILE_NAME} joined the conversation.")
    await desk.send("reply", conversation_id=cid, text="Hi, Bea here")
    reply = log.locator(".msg.agent")
    await expect(reply).to_contain_text("Hi, Bea here")
    await expect(reply.locator(".author")).to_have_text(HOSTILE_NAME)  # as text, not markup
    assert await log.locator("img").count() == 0
    assert await page.evaluate("window.pwned === undefined")

    # Bot, agent and notices do not look alike.
    styles = [
        await log.locator(selector).first.evaluate(
            "e => [getComputedStyle(e).backgroundColor, getComputedStyle(e).borderLeftWidth,"
            " getComputedStyle(e).fontStyle].join()"
        )
        for selector in (".msg.bot", ".msg.agent", ".msg.notice")
    ]
    assert len(set(styles)) == 3, styles
    await page.screenshot(path=str(tmp_path / "handoff.png"))

    await desk.send("close", conversation_id=cid, disposition="resolved")
    await expect(log.locator(".msg.notice", has_text="closed this conversation")).to_be_visible()
    question = log.locator(".msg.notice", has_text="How did we do?")
    await expect(question).to_be_visible()
    await question.get_by_role("button", name="4").click()
    await expect(log.locator(".msg.inbound").last).to_contain_text("4")
    await expect(log.locator(".msg.notice").last).to_contain_text("Thank you for your feedback!")
    await expect(log.locator(".msg.inbound.pending")).to_have_count(0)  # the answer is stored
    stored = widget_server.api(f"/api/v1/conversations/{cid}").json()
    assert stored["satisfaction"] == 4
    await desk.nothing("offer", wait=1.0)  # the answer started no new hand-off
    await desk.close()
