"""Live signals in the desk: typing and read marks both ways, and supervisors monitoring."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, Page, expect

from tests.desk.conftest import make_agent, open_desk
from tests.server.conftest import ChatClient, ServerProcess


async def shoot(page: Page, tmp_path: Path, name: str) -> None:
    await page.screenshot(path=str(tmp_path / f"{name}.png"))


async def from_agent(chat: ChatClient, kind: str) -> dict[str, Any]:
    """The next `kind` frame the visitor's widget gets from the agent (the bot's are skipped)."""
    while True:
        frame = await chat.frame(kind)
        if frame.get("author", "agent") == "agent" or frame.get("reader") == "agent":
            return frame


async def accepted(page: Page, chat: ChatClient, text: str) -> None:
    await chat.say(text)
    await page.locator(".offer").get_by_role("button", name="Accept").click()
    await expect(page.get_by_role("log", name="Transcript")).to_contain_text(text)


async def test_typing_and_read_marks_between_desk_and_web_chat(
    desk_server: ServerProcess, browser: Browser, tmp_path: Path
) -> None:
    make_agent(desk_server, "bea", attributes={"skills": {"billing": 3}})
    page = await open_desk(browser, desk_server, "bea")
    chat = await ChatClient.connect(desk_server.ws_url)
    await accepted(page, chat, "my parcel is late")

    # Viewing the conversation tells the customer the agent has read their message.
    read = await from_agent(chat, "read")
    assert read == {"type": "read", "reader": "agent", "seq": 1}

    typing = page.locator("#customer-typing")
    await expect(typing).to_be_hidden()
    await chat.ws.send(json.dumps({"type": "typing", "typing": True}))
    await expect(typing).to_have_text("Customer is typing…")
    await shoot(page, tmp_path, "customer-typing")
    await chat.say("it was due Monday")  # a customer message ends the indicator
    transcript = page.get_by_role("log", name="Transcript")
    await expect(transcript.locator(".msg.contact").last).to_contain_text("due Monday")
    await expect(typing).to_be_hidden()
    await chat.ws.send(json.dumps({"type": "typing", "typing": True}))
    await expect(typing).to_be_visible()
    await chat.ws.send(json.dumps({"type": "typing", "typing": False}))
    await expect(typing).to_be_hidden()

    # The agent's typing reaches the widget; emptying the box stops it.
    reply_box = page.get_by_label("Reply", exact=True)
    await reply_box.press_sequentially("Sorry")
    assert (await from_agent(chat, "typing"))["typing"] is True
    await reply_box.fill("")
    assert (await from_agent(chat, "typing"))["typing"] is False

    await reply_box.fill("Sorry about that, I am checking.")
    await reply_box.press("Enter")
    reply = await chat.bot()
    assert reply["text"] == "Sorry about that, I am checking."
    mine = transcript.locator(".msg.agent")
    await expect(mine.locator(".status")).to_have_attribute(
        "data-status", re.compile("sent|delivered|read")
    )
    await expect(transcript.locator(".seen")).to_have_count(0)

    await chat.ws.send(json.dumps({"type": "read", "seq": reply["seq"]}))
    await expect(mine.last.locator(".seen")).to_have_text("Seen")
    await expect(transcript.locator(".seen")).to_have_count(1)
    await shoot(page, tmp_path, "seen")
    await chat.close()


async def test_supervisor_monitors_a_conversation_live(
    desk_server: ServerProcess, browser: Browser, tmp_path: Path
) -> None:
    make_agent(desk_server, "bea", attributes={"skills": {"billing": 3}})
    make_agent(desk_server, "sue", roles=["agent", "supervisor"])
    agent_page = await open_desk(browser, desk_server, "bea")
    supervisor_page = await open_desk(browser, desk_server, "sue")
    chat = await ChatClient.connect(desk_server.ws_url)
    await accepted(agent_page, chat, "can I change my plan?")

    await supervisor_page.get_by_role("button", name="Supervisor").click()
    bea_row = supervisor_page.locator("#agents-table tbody tr", has_text="Bea")
    await expect(bea_row).to_contain_text("1 assigned")
    await bea_row.get_by_role("button", name="Monitor").click()
    pane = supervisor_page.locator("#monitor-pane")
    watched = supervisor_page.get_by_role("log", name="Monitored transcript")
    await expect(watched).to_contain_text("can I change my plan?")  # the history so far
    await expect(pane).to_contain_text("with Bea")
    await expect(pane.locator("textarea, input")).to_have_count(0)  # read-only

    await chat.say("to the yearly one")
    await expect(watched.locator(".msg.contact").last).to_contain_text("yearly")
    await chat.ws.send(json.dumps({"type": "typing", "typing": True}))
    await expect(supervisor_page.locator("#monitor-typing")).to_have_text("Customer is typing…")

    reply_box = agent_page.get_by_label("Reply", exact=True)
    await reply_box.fill("Yes, done.")
    await reply_box.press("Enter")
    await expect(watched.locator(".msg.agent").last).to_contain_text("Yes, done.")
    await shoot(supervisor_page, tmp_path, "monitoring")

    await supervisor_page.get_by_role("button", name="Stop monitoring").click()
    await expect(pane).to_be_hidden()
    await chat.close()
