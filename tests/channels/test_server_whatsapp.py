"""The WhatsApp Cloud API through a real server process: signed webhooks in, Graph API sends
out to a fake Graph API, and Meta's own fixture payloads posted as they are."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import update

from server.model import TemplatePart, part_to_dict
from server.store.schema import conversations as conversations_table
from server.store.schema import messages as messages_table
from server.store.writes import OutboundDraft
from tests.channels.fakes import FakeGraphApi
from tests.channels.server_helpers import (
    CUSTOMER_WA_ID,
    META_ACCESS_TOKEN,
    META_APP_SECRET,
    META_VERIFY_TOKEN,
    PHONE_NUMBER_ID,
    conversations,
    execution,
    graph_reads,
    graph_sends,
    inbound,
    meta_env,
    meta_messages,
    meta_signature,
    meta_status,
    meta_text,
    only_conversation,
    outbound,
    post_meta,
    server_store,
    start_server,
    wait_for,
)
from tests.channels.test_whatsapp_inbound import EXPECTED_PARTS, EXPECTED_STATUS, MESSAGES, STATUSES
from tests.server.conftest import ServerProcess


def test_handshake_and_signatures(
    server_factory: Any, flows_dir: Path, graph_api: FakeGraphApi
) -> None:
    server = start_server(server_factory, flows_dir, meta_env(graph_api))
    hub = {"hub.mode": "subscribe", "hub.challenge": "1158201444"}
    url = server.base + "/channels/whatsapp"
    ok = httpx.get(url, params={**hub, "hub.verify_token": META_VERIFY_TOKEN})
    assert (ok.status_code, ok.text) == (200, "1158201444")
    assert httpx.get(url, params={**hub, "hub.verify_token": "guess"}).status_code == 403

    raw = json.dumps(meta_messages(meta_text("wamid.SIGNED", "hello"))).encode()
    tampered = raw.replace(b"hello", b"HELLO")
    assert post_meta(server, tampered, signature=meta_signature(raw)).status_code == 401
    assert post_meta(server, raw, signature=None).status_code == 401
    assert post_meta(server, raw, signature=meta_signature(raw, "other")).status_code == 401
    assert conversations(server) == []
    assert post_meta(server, raw).status_code == 200
    detail = only_conversation(server)
    assert [m["provider_message_id"] for m in inbound(detail)] == ["wamid.SIGNED"]
    log = server.log()
    assert META_APP_SECRET not in log and META_ACCESS_TOKEN not in log


def test_duplicates_are_stored_once(
    server_factory: Any, flows_dir: Path, graph_api: FakeGraphApi
) -> None:
    server = start_server(server_factory, flows_dir, meta_env(graph_api))
    first = meta_text("wamid.DUP1", "hello")
    twice_in_one = meta_messages(first, first, meta_text("wamid.DUP2", "billing"))
    assert post_meta(server, twice_in_one).status_code == 200
    assert post_meta(server, meta_messages(first)).status_code == 200  # Meta's retry
    detail = only_conversation(server)
    assert [m["provider_message_id"] for m in inbound(detail)] == ["wamid.DUP1", "wamid.DUP2"]
    # Each stored message is marked read once, after it was stored.
    assert sorted(
        wait_for(lambda: len(graph_reads(graph_api)) >= 2 and graph_reads(graph_api))
    ) == [
        "wamid.DUP1",
        "wamid.DUP2",
    ]


async def test_every_fixture_payload_is_stored(
    server_factory: Any, flows_dir: Path, graph_api: FakeGraphApi
) -> None:
    server = start_server(server_factory, flows_dir, meta_env(graph_api))
    for scenario in sorted(MESSAGES):
        response = post_meta(server, MESSAGES[scenario])
        assert response.status_code == 200, scenario
        [summary] = conversations(server)
        last = conversation_last_inbound(server, summary["id"])
        kinds, detail_kind = EXPECTED_PARTS[scenario]
        assert tuple(p["kind"] for p in last["parts"]) == kinds, scenario
        first = last["parts"][0]
        if detail_kind is not None:
            assert detail_kind in (first.get("data_kind"), first.get("media_kind")), scenario
        # Every fixture reuses a few wamids; forget the key so the next one is a new message.
        async with server_store(server) as store:

            async def forget(conn: Any, message_id: str = last["id"]) -> None:
                await conn.execute(
                    update(messages_table)
                    .where(messages_table.c.id == message_id)
                    .values(idempotency_key=None, provider_message_id=None)
                )

            await store.write(forget)

    # Statuses: one outbound message takes each fixture's id and starts over each time.
    sent = wait_for(lambda: outbound(only_conversation(server)), what="a bot message")[0]
    for scenario in sorted(STATUSES):
        raw = STATUSES[scenario]["entry"][0]["changes"][0]["value"]["statuses"][0]
        async with server_store(server) as store:

            async def reset(conn: Any, wamid: str = raw["id"]) -> None:
                await conn.execute(
                    update(messages_table)
                    .where(messages_table.c.id == sent["id"])
                    .values(provider_message_id=wamid, status="queued", error_code=None)
                )

            await store.write(reset)
        assert post_meta(server, STATUSES[scenario]).status_code == 200, scenario
        row = next(m for m in only_conversation(server)["messages"] if m["id"] == sent["id"])
        assert row["status"] == EXPECTED_STATUS[scenario], scenario
        if scenario == "failed":
            assert row["error_code"] == "130472"


def conversation_last_inbound(server: ServerProcess, conversation_id: str) -> dict[str, Any]:
    detail = server.api(f"/api/v1/conversations/{conversation_id}").json()
    return inbound(detail)[-1]  # type: ignore[no-any-return]


def _interactive(wamid: str, kind: str, choice_id: str, title: str) -> dict[str, Any]:
    return {
        "from": CUSTOMER_WA_ID,
        "id": wamid,
        "timestamp": str(int(time.time())),
        "type": "interactive",
        "interactive": {"type": kind, kind: {"id": choice_id, "title": title}},
    }


def test_meta_whatsapp_conversation_with_button_and_list_replies(
    server_factory: Any, flows_dir: Path, graph_api: FakeGraphApi
) -> None:
    server = start_server(server_factory, flows_dir, meta_env(graph_api))
    assert post_meta(server, meta_messages(meta_text("wamid.IN1", "hi"))).status_code == 200
    [greeting] = wait_for(lambda: graph_sends(graph_api), what="the greeting")
    assert greeting["to"] == "+" + CUSTOMER_WA_ID
    assert greeting["type"] == "interactive"
    buttons = greeting["interactive"]["action"]["buttons"]
    assert [(b["reply"]["id"], b["reply"]["title"]) for b in buttons] == [
        ("billing", "Billing"),
        ("tech", "Technical support"),
        ("order", "Order status"),
    ]
    request = next(r for r in graph_api.requests if r.json == greeting)
    assert request.path == f"/v21.0/{PHONE_NUMBER_ID}/messages"
    assert request.headers["authorization"] == "Bearer meta-access-token"

    wamid = wait_for(lambda: outbound(only_conversation(server)), what="the row")[0][
        "provider_message_id"
    ]
    assert post_meta(server, meta_status(wamid, "delivered")).status_code == 200
    assert outbound(only_conversation(server))[0]["status"] == "delivered"

    tap = _interactive("wamid.IN2", "button_reply", "tech", "Technical support")
    assert post_meta(server, meta_messages(tap)).status_code == 200
    sends = wait_for(lambda: graph_sends(graph_api)[1:], what="the confirmation")
    assert "technical support team" in sends[0]["interactive"]["body"]["text"]

    row = _interactive("wamid.IN3", "list_reply", "no", "No")
    assert post_meta(server, meta_messages(row)).status_code == 200
    wait_for(lambda: len(graph_sends(graph_api)) >= 3, what="the goodbye")
    assert graph_sends(graph_api)[2]["text"]["body"].startswith("Thank you! Your technical")

    detail = only_conversation(server)
    run = execution(server, detail["executions"][0]["id"])
    assert run["context"]["widgets"]["greet"]["inbound"]["ChoiceId"] == "tech"
    assert run["context"]["flow"]["variables"]["topic"] == "technical_support"
    assert sorted(
        wait_for(lambda: len(graph_reads(graph_api)) >= 3 and graph_reads(graph_api))
    ) == [
        "wamid.IN1",
        "wamid.IN2",
        "wamid.IN3",
    ]


async def test_24_hour_window(server_factory: Any, tmp_path: Path, graph_api: FakeGraphApi) -> None:
    flows = tmp_path / "flows"
    flows.mkdir()
    states = [
        {
            "name": "Trigger",
            "type": "trigger",
            "transitions": [{"event": "incomingMessage", "next": "ask"}],
            "properties": {},
        },
        {
            "name": "ask",
            "type": "send-and-wait-for-reply",
            "transitions": [
                {"event": "incomingMessage"},
                {"event": "timeout", "next": "follow_up"},
                {"event": "deliveryFailure"},
            ],
            "properties": {"body": "Hello!", "timeout": "3"},
        },
        {
            "name": "follow_up",
            "type": "send-message",
            "transitions": [{"event": "sent"}, {"event": "failed", "next": "note_closed"}],
            "properties": {"body": "Still there?"},
        },
        {
            "name": "note_closed",
            "type": "set-variables",
            "transitions": [{"event": "next"}],
            "properties": {"variables": [{"key": "why", "value": "{{widgets.follow_up.error}}"}]},
        },
    ]
    definition = {"description": "w", "initial_state": "Trigger", "flags": {}, "states": states}
    (flows / "greeting.json").write_text(json.dumps(definition))
    server = start_server(server_factory, flows, meta_env(graph_api))
    assert post_meta(server, meta_messages(meta_text("wamid.W1", "hi"))).status_code == 200
    wait_for(lambda: graph_sends(graph_api), what="the first message")
    [summary] = conversations(server)
    day_ago = time.time() - 25 * 3600
    async with server_store(server) as store:

        async def age(conn: Any) -> None:
            await conn.execute(
                update(conversations_table)
                .where(conversations_table.c.id == summary["id"])
                .values(last_inbound_at=day_ago)
            )

        await store.write(age)

    def ended() -> dict[str, Any] | None:
        detail = only_conversation(server)
        run = execution(server, detail["executions"][0]["id"])
        return run if run["status"] != "active" else None

    run = wait_for(ended, what="the follow-up to fail")
    assert "window" in run["context"]["flow"]["variables"]["why"]
    assert len(graph_sends(graph_api)) == 1  # the refused send never reached Meta
    refused = outbound(only_conversation(server))[-1]
    assert (refused["status"], refused["error_code"]) == ("failed", "window_closed")

    # A message that names an approved template still goes out with the window closed.
    server.stop()
    async with server_store(server) as store:
        template = TemplatePart("order_update", "en_US", ("Dana",))
        await store.add_outbound(
            OutboundDraft(summary["id"], "agent:a1", [part_to_dict(template)], "order_update")
        )
    server.start()
    sends = wait_for(lambda: graph_sends(graph_api)[1:], what="the template")
    assert sends[0]["type"] == "template"
    assert sends[0]["template"]["name"] == "order_update"
    assert sends[0]["template"]["components"][0]["parameters"] == [{"type": "text", "text": "Dana"}]


def test_a_reply_meta_accepted_is_not_sent_again_after_a_crash(
    server_factory: Any, flows_dir: Path, graph_api: FakeGraphApi
) -> None:
    """Meta answers a send with its wamid and the status "accepted", which is also the outbox's
    "no answer yet": found by the crash soak (bench/soak.py), a restart sent every such reply
    again. Only a row with no provider id recorded is in doubt."""
    server = start_server(server_factory, flows_dir, meta_env(graph_api))
    assert post_meta(server, meta_messages(meta_text("wamid.CRASH1", "hello"))).status_code == 200
    [reply] = wait_for(
        lambda: [m for m in outbound(only_conversation(server)) if m["provider_message_id"]],
        what="the greeting's wamid recorded",
    )
    assert reply["status"] == "accepted"
    server.stop(signal.SIGKILL)
    server.start()
    time.sleep(1.0)  # recovery runs as the server starts; give its sends time to go out
    assert len(graph_sends(graph_api)) == 1
    assert [m["provider_message_id"] for m in outbound(only_conversation(server))] == [
        reply["provider_message_id"]
    ]
