"""A real server with a hand-off flow, agents made through the admin API, and headless Chromium.

Chromium is Debian's (/usr/bin/chromium) driven by Playwright's Python package; no browser is
downloaded. Screenshots go to the test's tmp dir so a person can look at the layout.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, ViewportSize, async_playwright, expect

from tests.agents.conftest import create_agent, start_handoff_server
from tests.server.conftest import ServerProcess, server_factory  # noqa: F401

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
LAPTOP: ViewportSize = {"width": 1366, "height": 768}

DESK_FLOW = {
    "description": "the bot greets, remembers the topic and hands over to a billing agent",
    "initial_state": "Trigger",
    "flags": {},
    "states": [
        {
            "name": "Trigger",
            "type": "trigger",
            "transitions": [{"event": "incomingMessage", "next": "greet"}],
            "properties": {},
        },
        {
            "name": "greet",
            "type": "send-message",
            "transitions": [{"event": "sent", "next": "remember"}, {"event": "failed"}],
            "properties": {"body": "Hi, I am the bot. Let me find a person for you."},
        },
        {
            "name": "remember",
            "type": "set-variables",
            "transitions": [{"event": "next", "next": "handoff"}],
            "properties": {"variables": [{"key": "topic", "value": "billing"}]},
        },
        {
            "name": "handoff",
            "type": "send-to-agent",
            "transitions": [
                {"event": "assigned"},
                {"event": "timeout", "next": "sorry"},
                {"event": "no_agents", "next": "sorry"},
                {"event": "failed", "next": "sorry"},
            ],
            "properties": {
                "skills": {"billing": 2},
                "timeout": 120,
                "wait_when_no_agents": True,
                "context": {"plan": "gold"},
            },
        },
        {
            "name": "sorry",
            "type": "send-message",
            "transitions": [{"event": "sent"}, {"event": "failed"}],
            "properties": {"body": "No agents are online"},
        },
    ],
}

ROUTING = {"disconnect_grace": 2, "offer_timeout": 90}


@pytest.fixture
def desk_server(tmp_path: Path, server_factory: Any) -> ServerProcess:  # noqa: F811
    canned = tmp_path / "canned.json"
    canned.write_text(
        json.dumps(
            {
                "responses": [{"title": "Check", "text": "Let me check that for you."}],
                "dispositions": ["resolved", "callback"],
            }
        )
    )
    env = {"THREADLINE_CANNED_RESPONSES": str(canned)}
    return start_handoff_server(tmp_path, server_factory, DESK_FLOW, ROUTING, env)


def make_agent(server: ServerProcess, login: str, **fields: Any) -> dict[str, Any]:
    return create_agent(server, login, password=f"{login}-password", **fields)


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        await launched.close()


async def open_desk(browser: Browser, server: ServerProcess, login: str) -> Page:
    """A fresh browser context signed in with login and password, connected."""
    context = await browser.new_context(viewport=LAPTOP)
    page = await context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    await page.goto(server.base + "/desk/")
    await page.get_by_label("Login", exact=True).fill(login)
    await page.get_by_label("Password", exact=True).fill(f"{login}-password")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#connection")).to_have_text("Connected", timeout=10_000)
    return page
