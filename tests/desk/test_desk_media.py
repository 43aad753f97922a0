"""A WhatsApp customer's photo in the agent desk (headless Chromium): downloaded from a fake
Graph API, shown as a thumbnail linking to our signed URL."""

from __future__ import annotations

import copy
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
from tests.channels.test_whatsapp_inbound import MESSAGES
from tests.desk.conftest import make_agent, open_desk

# A whole 1x1 PNG, so the browser really draws the thumbnail.
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d494441"
    "54789c63f8cfc0f01f00050001ff89993d1d0000000049454e44ae426082"
)


async def test_the_desk_shows_a_customers_whatsapp_photo(
    server_factory: Any,
    tmp_path: Path,
    browser: Browser,
    graph_api: FakeGraphApi,  # noqa: F811
) -> None:
    server = start_whatsapp_handoff_server(server_factory, tmp_path, graph_api)
    make_agent(server, "bea", attributes={"skills": {"billing": 3}})
    page = await open_desk(browser, server, "bea")

    assert post_meta(server, meta_messages(meta_text("wamid.D1", "my bill"))).status_code == 200
    offer = page.locator(".offer")
    await expect(offer).to_be_visible(timeout=10_000)
    await offer.get_by_role("button", name="Accept").click()
    transcript = page.get_by_role("log", name="Transcript")
    await expect(transcript.locator(".msg.contact")).to_contain_text("my bill")

    payload = copy.deepcopy(MESSAGES["image"])
    media_id = payload["entry"][0]["changes"][0]["value"]["messages"][0]["image"]["id"]
    graph_api.add_media(PIXEL, "image/jpeg", media_id=media_id)
    assert post_meta(server, payload).status_code == 200
    link = transcript.locator(".msg.contact .attachment").last
    await expect(link).to_be_visible(timeout=10_000)
    href = await link.get_attribute("href")
    assert href is not None and href.startswith(server.base + "/media/")
    image = link.locator("img")
    await expect(image).to_be_visible()
    # Loaded and drawn: the signed URL served a real image to the desk's page.
    width = await image.evaluate("img => img.complete && img.naturalWidth")
    assert width == 1
