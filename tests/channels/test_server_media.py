"""Inbound media on phone channels through a real server: WhatsApp Cloud API payloads (Meta's
own fixtures, as they are) and Twilio MMS webhooks, with fake Graph and Twilio APIs serving the
media. The media is copied into our store, typed from its bytes, shown to the flow as Twilio's
``MediaUrl0``/``MediaContentType0`` (a signed URL of ours), and sent back out."""

from __future__ import annotations

import copy
import json
import shutil
import signal
from pathlib import Path
from typing import Any

import httpx

from tests.agents.conftest import AgentClient, create_agent
from tests.channels.fakes import FakeGraphApi, FakeTwilioApi
from tests.channels.server_helpers import (
    META_ACCESS_TOKEN,
    TWILIO_SID,
    TWILIO_TOKEN,
    graph_sends,
    inbound,
    meta_env,
    meta_messages,
    meta_text,
    only_conversation,
    post_meta,
    post_twilio,
    start_server,
    start_whatsapp_handoff_server,
    twilio_env,
    twilio_form,
    twilio_sends,
    wait_for,
)
from tests.channels.test_whatsapp_inbound import MESSAGES
from tests.server.conftest import REPO

# A PNG by its signature: the fixtures say image/jpeg, the bytes decide.
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(range(200))
PDF = b"%PDF-1.7\n" + b"1 0 obj << >> endobj\n" * 20

ECHO_FLOW = {
    "description": "media echo",
    "initial_state": "Trigger",
    "flags": {},
    "states": [
        {
            "name": "Trigger",
            "type": "trigger",
            "transitions": [{"event": "incomingMessage", "next": "echo"}],
            "properties": {},
        },
        {
            "name": "echo",
            "type": "send-message",
            "transitions": [{"event": "sent"}, {"event": "failed"}],
            "properties": {
                "body": "got {{trigger.message.NumMedia}}"
                " type={{trigger.message.MediaContentType0}}"
                " status={{trigger.message.MediaStatus0}}"
                " url={{trigger.message.MediaUrl0}}",
                "media_url": "{{trigger.message.MediaUrl0}}",
            },
        },
    ],
}


def _flows(tmp_path: Path) -> Path:
    flows = tmp_path / "flows"
    flows.mkdir()
    shutil.copy(REPO / "flows" / "greeting.json", flows / "greeting.json")
    (flows / "media_echo.json").write_text(json.dumps(ECHO_FLOW))
    return flows


def _echo_env(env: dict[str, str]) -> dict[str, str]:
    return {**env, "THREADLINE_DEFAULT_FLOW": "media_echo"}


def _fixture(scenario: str) -> dict[str, Any]:
    return copy.deepcopy(MESSAGES[scenario])


def _stored_media(server: Any) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        messages = inbound(only_conversation(server))
        media = [p for m in messages for p in m["parts"] if p["kind"] == "media"]
        return media[0] if media and media[0].get("status") else None

    return wait_for(probe, what="the media part fetched")


def test_whatsapp_image_fixture_is_fetched_typed_from_bytes_and_served_signed(
    server_factory: Any, tmp_path: Path, graph_api: FakeGraphApi
) -> None:
    graph_api.access_token = META_ACCESS_TOKEN
    payload = _fixture("image")
    media_id = payload["entry"][0]["changes"][0]["value"]["messages"][0]["image"]["id"]
    graph_api.add_media(PNG, "image/jpeg", media_id=media_id)
    server = start_server(server_factory, _flows(tmp_path), _echo_env(meta_env(graph_api)))

    assert post_meta(server, payload).status_code == 200
    part = _stored_media(server)
    assert part["status"] == "stored"
    assert part["content_type"] == "image/png"  # from the bytes, not Meta's "image/jpeg"
    assert part["media_kind"] == "image" and part["media_id"] == media_id
    assert part["url"].startswith(server.base + "/media/")
    # Graph API: the media id's metadata, then its URL, both with the access token.
    fetches = graph_api.media_fetches()
    assert [r.path for r in fetches] == [f"/v21.0/{media_id}", "/download/"]
    assert all(r.headers["authorization"] == f"Bearer {META_ACCESS_TOKEN}" for r in fetches)

    served = httpx.get(part["url"], timeout=10)
    assert served.status_code == 200 and served.content == PNG
    assert served.headers["content-type"] == "image/png"
    assert served.headers["content-security-policy"].startswith("sandbox")
    assert served.headers["x-content-type-options"] == "nosniff"
    assert httpx.get(part["url"].replace("sig=", "sig=0"), timeout=10).status_code == 403
    later = part["url"].replace("exp=", "exp=9")  # a longer life is a different signature
    assert httpx.get(later, timeout=10).status_code == 403
    unsigned = part["url"].split("?")[0]
    assert httpx.get(unsigned, timeout=10).status_code == 403

    # The flow saw Twilio's media fields, pointing at our copy, and sent it back by link.
    sends = wait_for(lambda: len(graph_sends(graph_api)) == 2 and graph_sends(graph_api))
    [text] = [s for s in sends if s["type"] == "text"]
    assert f"got 1 type=image/png status=stored url={part['url']}" == text["text"]["body"]
    # Our own media goes to Meta by upload (no public link for Meta to fetch), sent by its id.
    [image] = [s for s in sends if s["type"] == "image"]
    [upload] = graph_api.uploads
    assert (upload["data"], upload["type"]) == (PNG, "image/png")
    assert image["image"] == {"id": upload["id"]}


def test_whatsapp_document_fixture_keeps_its_name_and_caption(
    server_factory: Any, tmp_path: Path, graph_api: FakeGraphApi
) -> None:
    payload = _fixture("document")
    content = payload["entry"][0]["changes"][0]["value"]["messages"][0]["document"]
    graph_api.add_media(PDF, content["mime_type"], media_id=content["id"])
    server = start_server(server_factory, _flows(tmp_path), _echo_env(meta_env(graph_api)))
    assert post_meta(server, payload).status_code == 200
    part = _stored_media(server)
    assert (part["status"], part["content_type"], part["media_kind"]) == (
        "stored",
        "application/pdf",
        "document",
    )
    assert (part["filename"], part["caption"]) == ("filename.pdf", "caption")
    served = httpx.get(part["url"], timeout=10)
    assert served.content == PDF
    assert served.headers["content-disposition"].startswith("attachment")
    sends = wait_for(lambda: len(graph_sends(graph_api)) == 2 and graph_sends(graph_api))
    [document] = [s for s in sends if s["type"] == "document"]
    [upload] = graph_api.uploads
    assert upload["data"] == PDF and upload["filename"] == "filename.pdf"
    assert document["document"] == {"id": upload["id"], "filename": "filename.pdf"}


def test_media_over_the_size_limit_is_recorded_failed_and_the_flow_still_runs(
    server_factory: Any, tmp_path: Path, graph_api: FakeGraphApi
) -> None:
    payload = _fixture("video")
    content = payload["entry"][0]["changes"][0]["value"]["messages"][0]["video"]
    graph_api.add_media(b"\x00\x00\x00\x18ftypmp42" + bytes(4096), "video/mp4", content["id"])
    env = {**_echo_env(meta_env(graph_api)), "THREADLINE_MEDIA_MAX_BYTES": "1024"}
    server = start_server(server_factory, _flows(tmp_path), env)
    assert post_meta(server, payload).status_code == 200
    part = _stored_media(server)
    assert part["status"] == "failed" and "larger than 1024 bytes" in part["error"]
    assert "stored_id" not in part
    sends = wait_for(lambda: graph_sends(graph_api), what="the reply")
    assert [s["text"]["body"] for s in sends] == ["got 1 type= status=failed url="]


def test_media_of_a_message_stored_before_a_crash_is_fetched_on_restart(
    server_factory: Any, tmp_path: Path, graph_api: FakeGraphApi
) -> None:
    payload = _fixture("image")
    media_id = payload["entry"][0]["changes"][0]["value"]["messages"][0]["image"]["id"]
    graph_api.add_media(PNG, "image/jpeg", media_id=media_id)
    graph_api.delay = 30.0  # Meta is slow: the webhook is answered anyway, the fetch hangs
    server = start_server(server_factory, _flows(tmp_path), _echo_env(meta_env(graph_api)))
    assert post_meta(server, payload).status_code == 200
    wait_for(lambda: graph_api.media_fetches(), what="the fetch to start")
    server.stop(signal.SIGKILL)
    [message] = inbound(_detail_offline(server))
    assert message["parts"][0].get("status") is None  # stored, not fetched yet

    graph_api.delay = 0.0
    server.start()
    part = _stored_media(server)
    assert part["status"] == "stored" and part["content_type"] == "image/png"
    assert httpx.get(part["url"], timeout=10).content == PNG
    wait_for(lambda: [s for s in graph_sends(graph_api) if s["type"] == "image"], what="echo")


def _detail_offline(server: Any) -> dict[str, Any]:
    server.start()
    try:
        return only_conversation(server)
    finally:
        server.stop(signal.SIGKILL)


def test_twilio_mms_media_is_fetched_with_the_account_credentials(
    server_factory: Any, tmp_path: Path, twilio_api: FakeTwilioApi
) -> None:
    media_url = twilio_api.add_media(TWILIO_SID, TWILIO_TOKEN, PNG, "image/jpeg")
    server = start_server(server_factory, _flows(tmp_path), _echo_env(twilio_env(twilio_api)))
    form = twilio_form(
        "look", "MMmedia1", NumMedia="1", MediaUrl0=media_url, MediaContentType0="image/jpeg"
    )
    assert post_twilio(server, form).status_code == 200
    part = _stored_media(server)
    assert (part["status"], part["content_type"]) == ("stored", "image/png")
    first, redirected = twilio_api.media_fetches()
    assert first.headers["authorization"].startswith("Basic ")
    assert redirected.path.startswith("/storage/") and "authorization" not in redirected.headers
    assert httpx.get(part["url"], timeout=10).content == PNG

    [echo] = wait_for(lambda: twilio_sends(twilio_api), what="the echo")
    assert echo.field("Body") == f"got 1 type=image/png status=stored url={part['url']}"
    assert echo.form["MediaUrl"] == [part["url"]]


def test_twilio_media_urls_not_on_twilio_are_never_fetched(
    server_factory: Any, tmp_path: Path, twilio_api: FakeTwilioApi
) -> None:
    server = start_server(server_factory, _flows(tmp_path), _echo_env(twilio_env(twilio_api)))
    elsewhere = server.base + "/healthz"  # a signed webhook still may not aim us anywhere
    form = twilio_form("x", "MMmedia2", NumMedia="1", MediaUrl0=elsewhere)
    assert post_twilio(server, form).status_code == 200
    part = _stored_media(server)
    assert part["status"] == "failed" and "not a Twilio API URL" in part["error"]
    assert twilio_api.media_fetches() == []


async def test_agents_see_inbound_media_as_attachments_and_send_media_back(
    server_factory: Any, tmp_path: Path, graph_api: FakeGraphApi
) -> None:
    server = start_whatsapp_handoff_server(server_factory, tmp_path, graph_api)
    agent = create_agent(server, "bea", attributes={"skills": {"billing": 3}})
    bea = await AgentClient.connect(server, agent["token"])
    try:
        assert post_meta(server, meta_messages(meta_text("wamid.M1", "my bill"))).status_code == 200
        offer = await bea.frame("offer")
        await bea.send("accept", conversation_id=offer["conversation_id"])
        await bea.frame("assigned")

        payload = _fixture("image")
        media_id = payload["entry"][0]["changes"][0]["value"]["messages"][0]["image"]["id"]
        graph_api.add_media(PNG, "image/jpeg", media_id=media_id)
        assert post_meta(server, payload).status_code == 200
        frame = await bea.frame("message")
        [part] = frame["message"]["parts"]
        assert (part["kind"], part["status"], part["content_type"]) == (
            "media",
            "stored",
            "image/png",
        )
        assert httpx.get(part["url"], timeout=10).content == PNG

        attachment = {"url": part["url"], "content_type": "image/png", "filename": "x.png"}
        await bea.send(
            "reply",
            conversation_id=offer["conversation_id"],
            client_id="c1",
            attachments=[attachment],
        )
        await bea.frame("message_status")
        [image] = wait_for(
            lambda: [s for s in graph_sends(graph_api) if s["type"] == "image"], what="the image"
        )
        [upload] = graph_api.uploads
        assert image["image"] == {"id": upload["id"]} and upload["data"] == PNG
    finally:
        await bea.close()


def test_a_waiting_widget_sees_the_media_of_the_reply(
    server_factory: Any, tmp_path: Path, twilio_api: FakeTwilioApi
) -> None:
    flow = {
        **ECHO_FLOW,
        "states": [
            {
                **ECHO_FLOW["states"][0],
                "transitions": [{"event": "incomingMessage", "next": "ask"}],
            },
            {
                "name": "ask",
                "type": "send-and-wait-for-reply",
                "transitions": [
                    {"event": "incomingMessage", "next": "thanks"},
                    {"event": "timeout"},
                    {"event": "deliveryFailure"},
                ],
                "properties": {"body": "Send a photo of the receipt", "timeout": "600"},
            },
            {
                "name": "thanks",
                "type": "send-message",
                "transitions": [{"event": "sent"}, {"event": "failed"}],
                "properties": {
                    "body": "{{widgets.ask.inbound.MediaContentType0}}"
                    " {{widgets.ask.inbound.MediaUrl0}}"
                },
            },
        ],
    }
    flows = _flows(tmp_path)
    (flows / "media_echo.json").write_text(json.dumps(flow))
    server = start_server(server_factory, flows, _echo_env(twilio_env(twilio_api)))
    assert post_twilio(server, twilio_form("hi", "SMwait1")).status_code == 200
    wait_for(lambda: twilio_sends(twilio_api), what="the question")
    media_url = twilio_api.add_media(TWILIO_SID, TWILIO_TOKEN, PDF, "application/pdf")
    form = twilio_form("", "MMwait2", NumMedia="1", MediaUrl0=media_url)
    assert post_twilio(server, form).status_code == 200
    _, thanks = wait_for(lambda: twilio_sends(twilio_api)[1:] and twilio_sends(twilio_api))
    content_type, url = thanks.field("Body").split(" ")
    assert content_type == "application/pdf"
    assert url.startswith(server.base + "/media/") and httpx.get(url, timeout=10).content == PDF
