"""The agent desk in headless Chromium against a real server and a real web chat customer."""

from __future__ import annotations

import re
from pathlib import Path

from playwright.async_api import Browser, Page, expect

from tests.agents.conftest import AgentClient
from tests.desk.conftest import make_agent, open_desk
from tests.server.conftest import ChatClient, ServerProcess


async def shoot(page: Page, tmp_path: Path, name: str) -> None:
    await page.screenshot(path=str(tmp_path / f"{name}.png"))


async def test_agent_takes_a_conversation_from_offer_to_close(
    desk_server: ServerProcess, browser: Browser, tmp_path: Path
) -> None:
    bea = make_agent(desk_server, "bea", attributes={"skills": {"billing": 3}})
    page = await open_desk(browser, desk_server, "bea")
    await expect(page.locator("#who")).to_contain_text("Bea")
    await expect(page.get_by_role("button", name="Supervisor")).to_be_hidden()

    chat = await ChatClient.connect(desk_server.ws_url)
    await chat.say("my invoice is wrong")
    greeting = await chat.bot()
    assert greeting["text"].startswith("Hi, I am the bot")

    offer = page.locator(".offer")
    await expect(offer).to_be_visible(timeout=10_000)
    await expect(offer).to_contain_text("my invoice is wrong")
    countdown = offer.locator(".countdown")
    await expect(countdown).to_have_text(re.compile(r"^1m \d\ds$|^\d+s$"))
    first = await countdown.inner_text()
    conversation_id = await offer.get_attribute("data-conversation")
    await shoot(page, tmp_path, "1-offer")
    await page.wait_for_timeout(1100)
    assert await countdown.inner_text() != first  # it counts down

    await offer.get_by_role("button", name="Accept").click()
    await expect(offer).to_have_count(0)
    transcript = page.get_by_role("log", name="Transcript")
    await expect(transcript.locator(".msg.contact")).to_contain_text("my invoice is wrong")
    await expect(transcript.locator(".msg.bot")).to_contain_text("Hi, I am the bot")
    context = page.locator("#context-body")
    await expect(context).to_contain_text("topic")  # flow variables
    await expect(context).to_contain_text("billing")
    await expect(context).to_contain_text("plan")  # the send-to-agent context fields
    await expect(context).to_contain_text("gold")
    await expect(context).to_contain_text("message.inbound")  # the journey

    # A canned response fills the box; Enter sends it.
    await page.get_by_label("Canned response").select_option(label="Check")
    reply_box = page.get_by_label("Reply", exact=True)
    await expect(reply_box).to_have_value("Let me check that for you.")
    await reply_box.press("Enter")
    reply = await chat.bot()
    assert reply["text"] == "Let me check that for you."
    assert reply["author"] == f"agent:{bea['id']}"
    mine = transcript.locator(".msg.agent")
    await expect(mine.locator(".status")).to_have_attribute(
        "data-status", re.compile("sent|delivered|read")
    )

    await chat.say("thanks, it is invoice 42")
    await expect(transcript.locator(".msg.contact").last).to_contain_text("invoice 42")

    await page.get_by_label("Internal note").check()
    await expect(page.get_by_role("button", name="Add note")).to_be_visible()
    await reply_box.fill("customer was double charged")
    await reply_box.press("Enter")
    await expect(transcript.locator(".msg.note")).to_contain_text("double charged")
    await expect(transcript.locator(".msg.note")).to_contain_text("Internal note")
    await shoot(page, tmp_path, "2-conversation")

    await page.get_by_label("Disposition").select_option("resolved")
    await page.get_by_role("button", name="Wrap up").click()
    await expect(page.locator("#conversation-meta")).to_contain_text("wrap-up")
    await page.get_by_role("button", name="Close", exact=True).click()
    await expect(page.locator("#conversation-meta")).to_contain_text("closed")
    await expect(transcript).to_contain_text("Closed (resolved)")
    await shoot(page, tmp_path, "3-closed")

    stored = desk_server.api(f"/api/v1/conversations/{conversation_id}").json()
    assert stored["status"] == "closed"
    assert "customer was double charged" not in [m["text"] for m in stored["messages"]]
    await chat.close()


async def test_desk_rebuilds_a_conversation_after_a_reload(
    desk_server: ServerProcess, browser: Browser, tmp_path: Path
) -> None:
    make_agent(desk_server, "bea", attributes={"skills": {"billing": 3}})
    page = await open_desk(browser, desk_server, "bea")
    chat = await ChatClient.connect(desk_server.ws_url)
    await chat.say("where is my refund?")
    await page.locator(".offer").get_by_role("button", name="Accept").click()
    transcript = page.get_by_role("log", name="Transcript")
    await expect(transcript).to_contain_text("where is my refund?")

    await page.reload()  # acknowledged frames are not replayed: the desk asks for the context
    await expect(page.locator("#connection")).to_have_text("Connected")
    await page.locator(".conversation-list button").first.click()
    await expect(transcript).to_contain_text("where is my refund?")
    await chat.say("still there?")
    await expect(transcript).to_contain_text("still there?")
    await shoot(page, tmp_path, "reloaded")
    await chat.close()


async def test_supervisor_sees_queues_and_agents_and_force_closes(
    desk_server: ServerProcess, browser: Browser, tmp_path: Path
) -> None:
    bea = make_agent(desk_server, "bea", attributes={"skills": {"billing": 3}})
    make_agent(desk_server, "sue", roles=["agent", "supervisor"])
    agent_page = await open_desk(browser, desk_server, "bea")
    supervisor_page = await open_desk(browser, desk_server, "sue")

    # The agent's desk has no supervisor controls, and the server refuses the frames anyway.
    await expect(agent_page.get_by_role("button", name="Supervisor")).to_be_hidden()
    await expect(agent_page.locator("#supervisor-view")).to_be_hidden()
    raw = await AgentClient.connect(desk_server, bea["token"])
    await raw.send("stats")
    refused = await raw.frame("error")
    assert refused["code"] == "forbidden"
    await raw.send("force_close", conversation_id="CVnothing", disposition="x")
    assert (await raw.frame("error"))["code"] == "forbidden"
    await raw.close()

    chat = await ChatClient.connect(desk_server.ws_url)
    await chat.say("I need help with billing")
    await supervisor_page.get_by_role("button", name="Supervisor").click()
    queues = supervisor_page.locator("#queues-table tbody")
    await expect(queues.locator("tr")).to_have_count(1)
    await expect(queues.locator("tr").first).to_contain_text("default")
    agents = supervisor_page.locator("#agents-table tbody")
    await expect(agents).to_contain_text("Bea")
    await expect(agents).to_contain_text("You")  # the supervisor's own row
    await expect(agents.locator("tr", has_text="Bea")).to_contain_text("1 offered")

    await agent_page.locator(".offer").get_by_role("button", name="Accept").click()
    bea_row = agents.locator("tr", has_text="Bea")
    await expect(bea_row).to_contain_text("1 assigned")
    await expect(queues.locator("tr").first.locator("td").nth(3)).to_have_text("1")
    await shoot(supervisor_page, tmp_path, "supervisor")

    await bea_row.get_by_role("button", name="Force close").click()
    await expect(agent_page.locator("#conversation-meta")).to_contain_text("closed")
    await expect(agent_page.locator("#transcript")).to_contain_text("by Sue (supervisor)")
    await expect(bea_row).to_contain_text("0 assigned")
    await shoot(agent_page, tmp_path, "force-closed")
    await chat.close()
