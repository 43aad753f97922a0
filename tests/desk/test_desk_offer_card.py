"""The offer card and the context panel in headless Chromium: routing reason and queue, the
bot's intent ranking as a list, and the contact named from a CRM found by the pre-chat e-mail
(the CRM is a fake HTTP server on loopback; everything else is real)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from tests.agents.conftest import start_handoff_server
from tests.desk.conftest import make_agent, open_desk
from tests.server.conftest import ChatClient, ServerProcess, server_factory
from tests.widgets.fake_http import FakeHttp, Seen, json_reply

__all__ = ["server_factory"]

INTENTS = [
    {
        "name": "billing",
        "examples": ["I was charged twice", "my invoice is wrong", "refund my payment"],
    },
    {
        "name": "delivery",
        "examples": ["where is my parcel", "my order has not arrived", "track my package"],
    },
    {"name": "password", "examples": ["I forgot my password", "reset my login"]},
]

FLOW = {
    "description": "triage, CRM look-up by what the channel knows, then an agent",
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
                *({"event": i["name"], "next": "lookup"} for i in INTENTS),
                {"event": "fallback", "next": "lookup"},
                {"event": "failed", "next": "lookup"},
            ],
            "properties": {"intents": INTENTS, "threshold": 0.2},
        },
        {
            "name": "lookup",
            "type": "crm-lookup",
            "transitions": [
                {"event": "found", "next": "handoff"},
                {"event": "not_found", "next": "handoff"},
                {"event": "failed", "next": "handoff"},
            ],
            "properties": {"connector": "crm"},
        },
        {
            "name": "handoff",
            "type": "send-to-agent",
            "transitions": [{"event": "assigned"}, {"event": "timeout"}, {"event": "no_agents"}],
            "properties": {"timeout": 120, "wait_when_no_agents": True},
        },
    ],
}

ROUTING = {
    "queues": {"billing": {"target_workers": "1==1", "strategy": "longest_idle"}},
    "workflows": {"default": {"filters": [], "default_queue": "billing"}},
    "default_workflow": "default",
    "offer_timeout": 90,
}


@pytest.fixture
def crm() -> Iterator[FakeHttp]:
    def search(seen: Seen) -> tuple[int, str, str]:
        if seen.query.get("email") == ["ada@example.com"]:
            return json_reply({"name": "Ada Lovelace", "tier": "gold"})
        return 404, "application/json", "{}"

    with FakeHttp() as fake:
        fake.routes[("GET", "/contacts")] = search
        yield fake


@pytest.fixture
def card_server(tmp_path: Path, server_factory: Any, crm: FakeHttp) -> ServerProcess:
    env = {
        "THREADLINE_WEBCHAT_CONFIG": json.dumps(
            {"*": {"prechat": {"fields": [{"name": "email", "type": "email", "required": True}]}}}
        ),
        "THREADLINE_CRM_FILE": json.dumps(
            {
                "default": "crm",
                "connectors": {
                    "crm": {"type": "rest", "url": crm.origin + "/contacts?{by}={value}"}
                },
            }
        ),
        "THREADLINE_HTTP_ALLOWED_HOSTS": "127.0.0.1",
    }
    return start_handoff_server(tmp_path, server_factory, FLOW, ROUTING, env)


async def test_offer_card_shows_reason_queue_intent_and_the_crm_name(
    card_server: ServerProcess, browser: Browser, crm: FakeHttp, tmp_path: Path
) -> None:
    make_agent(card_server, "bea")
    page = await open_desk(browser, card_server, "bea")

    chat = await ChatClient.connect(card_server.ws_url)
    assert chat.session["prechat"] == "required"
    await chat.ws.send(json.dumps({"type": "prechat", "fields": {"email": "ada@example.com"}}))
    await chat.frame("prechat_saved")
    await chat.say("I was charged twice on my invoice")

    offer = page.locator(".offer")
    await expect(offer).to_be_visible(timeout=20_000)
    await page.screenshot(path=str(tmp_path / "offer-card.png"))
    await expect(offer.locator(".who-line")).to_have_text("Ada Lovelace")
    await expect(offer).to_contain_text("queue billing")
    await expect(offer.locator(".reason")).to_have_text("Routed: longest idle in queue billing")
    await expect(offer.locator(".intent")).to_contain_text("Intent: billing (")
    # The look-up used the pre-chat e-mail, never the visitor token as a phone number.
    assert [seen.query for seen in crm.requests] == [{"email": ["ada@example.com"]}]

    await offer.get_by_role("button", name="Accept").click()
    ranking = page.get_by_role("list", name="Intent ranking")
    await expect(ranking.locator("li")).to_have_count(3)
    await expect(ranking.locator("li").first).to_have_text(re.compile(r"^billing — \d+%$"))
    context = page.locator("#context-body")
    await expect(context).to_contain_text("tier")  # the CRM's fields
    await expect(context).to_contain_text("gold")
    await expect(page.locator("#conversation-meta")).to_contain_text("queue billing")
    await page.screenshot(path=str(tmp_path / "context.png"))
    await chat.close()
