"""Outbound media on the WhatsApp Cloud API: our own files by upload, other URLs by link."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from channels.whatsapp import WhatsAppSender
from channels.whatsapp.media_upload import OwnMedia
from server.model import MediaPart, TextPart
from tests.channels.fakes import FakeError, FakeGraphApi
from tests.channels.test_whatsapp_sender import NOW, OPEN, PHONE_NUMBER_ID, TOKEN, message

PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)
OURS = "https://chat.example.com/media/abc/photo.png?exp=1&sig=2"


async def own_media(url: str) -> OwnMedia | None:
    return OwnMedia(PNG, "image/png", "photo.png") if url == OURS else None


@pytest.fixture
async def sender(graph_api: FakeGraphApi) -> AsyncIterator[WhatsAppSender]:
    sender = WhatsAppSender(
        TOKEN, graph_base=graph_api.graph_base, clock=lambda: NOW, media_source=own_media
    )
    yield sender
    await sender.aclose()


def _sends(graph_api: FakeGraphApi) -> list[Any]:
    return [r.json for r in graph_api.requests if r.path.endswith("/messages")]


async def test_our_media_is_uploaded_and_sent_by_id(
    sender: WhatsAppSender, graph_api: FakeGraphApi
) -> None:
    outcome = await sender.send(OPEN, message(MediaPart(url=OURS, media_kind="image")))
    assert outcome.ok
    upload_request = next(r for r in graph_api.requests if r.path.endswith("/media"))
    assert upload_request.path == f"/v21.0/{PHONE_NUMBER_ID}/media"
    assert upload_request.headers["authorization"] == f"Bearer {TOKEN}"
    [upload] = graph_api.uploads
    assert (upload["data"], upload["type"], upload["filename"]) == (PNG, "image/png", "photo.png")
    [sent] = _sends(graph_api)
    assert sent["type"] == "image" and sent["image"] == {"id": upload["id"]}


async def test_other_media_goes_by_link(sender: WhatsAppSender, graph_api: FakeGraphApi) -> None:
    elsewhere = "https://cdn.example.com/brochure.pdf"
    part = MediaPart(url=elsewhere, filename="brochure.pdf", caption="Our prices")
    assert (await sender.send(OPEN, message(TextPart("here"), part))).ok
    assert graph_api.uploads == []
    text, document = _sends(graph_api)
    assert text["text"]["body"] == "here"
    assert document["document"] == {
        "link": elsewhere,
        "caption": "Our prices",
        "filename": "brochure.pdf",
    }


async def test_a_refused_upload_fails_the_send_before_any_message(
    sender: WhatsAppSender, graph_api: FakeGraphApi
) -> None:
    graph_api.fail_with = FakeError(400, 131053, "Media upload error")
    outcome = await sender.send(OPEN, message(MediaPart(url=OURS, media_kind="image")))
    assert not outcome.ok
    assert (outcome.error, outcome.error_code) == ("Media upload error", "131053")
    assert _sends(graph_api) == []
