"""A WhatsApp customer edits, then deletes, a message: the agent desk (headless Chromium) shows
the new text marked as edited with the earlier one, then marks it deleted by the customer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.async_api import Browser, expect

from tests.channels.conftest import graph_api  # noqa: F401  (fixture)
from tests.channels.fakes import FakeGraphApi
from tests.channels.server_helpers import (
    meta_messages,
    meta_text,
    post_meta,
    start_whatsapp_handoff_server,
)
from tests.channels.test_whatsapp_notices import edit, revoke
from tests.desk.conftest import make_agent, open_desk


async def test_the_desk_shows_edited_and_deleted_messages(
    server_factory: Any,
    tmp_path: Path,
    browser: Browser,
    graph_api: FakeGraphApi,  # noqa: F811
) -> None:
    server = start_whatsapp_handoff_server(server_factory, tmp_path, graph_api)
    make_agent(server, "bea", attributes={"skills": {"billing": 3}})
    page = await open_desk(browser, server, "bea")

    assert post_meta(server, meta_messages(meta_text("wamid.V1", "my bill"))).status_code == 200
    offer = page.locator(".offer")
    await expect(offer).to_be_visible(timeout=10_000)
    await offer.get_by_role("button", name="Accept").click()
    transcript = page.get_by_role("log", name="Transcript")
    assert post_meta(server, meta_messages(meta_text("wamid.V2", "invoice 24"))).status_code == 200
    customer = transcript.locator(".msg.contact").last
    await expect(customer).to_contain_text("invoice 24")

    fixed = {"type": "text", "text": {"body": "invoice 42"}}
    assert post_meta(server, meta_messages(edit("wamid.V3", "wamid.V2", fixed))).status_code == 200
    await expect(customer.locator(".text")).to_have_text("invoice 42")
    marker = customer.locator(".revision.edited")
    await expect(marker).to_have_text("edited")
    await expect(marker).to_have_attribute("title", "Before: invoice 24")

    assert post_meta(server, meta_messages(revoke("wamid.V4", "wamid.V2"))).status_code == 200
    await expect(customer.locator(".revision.deleted")).to_have_text("deleted by the customer")
    await expect(transcript.locator(".msg.contact")).to_have_count(2)  # no new message
