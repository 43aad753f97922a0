"""WhatsApp as Meta sends it, through a real server and a fake Graph API: revokes, edits and
system messages are recorded, never answered; changes for phone-number ids nobody configured
are acknowledged and dropped; agents see deleted and edited messages on their desk."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from server.store.schema import events
from tests.agents.conftest import AgentClient, create_agent
from tests.channels.fakes import FakeGraphApi
from tests.channels.server_helpers import (
    CUSTOMER_WA_ID,
    META_ACCESS_TOKEN,
    META_APP_SECRET,
    META_VERIFY_TOKEN,
    PHONE_NUMBER_ID,
    conversation,
    conversations,
    execution,
    graph_reads,
    graph_sends,
    inbound,
    meta_env,
    meta_messages,
    meta_text,
    only_conversation,
    post_meta,
    server_store,
    start_server,
    start_whatsapp_handoff_server,
    wait_for,
)
from tests.channels.test_whatsapp_notices import edit, identity_change, number_change, revoke
from tests.server.conftest import ServerProcess

OTHER_PHONE_NUMBER_ID = "998877665544"


def _tap(wamid: str, choice_id: str, title: str) -> dict[str, Any]:
    return {
        "from": CUSTOMER_WA_ID,
        "id": wamid,
        "timestamp": str(int(time.time())),
        "type": "interactive",
        "interactive": {"type": "button_reply", "button_reply": {"id": choice_id, "title": title}},
    }


async def _event_types(server: ServerProcess) -> list[str]:
    async with server_store(server) as store:
        rows = await store.read(lambda conn: conn.execute(select(events.c.type)).all())
    return [row.type for row in rows]


async def test_notices_never_answer_a_waiting_question(
    server_factory: Any, flows_dir: Path, graph_api: FakeGraphApi
) -> None:
    server = start_server(server_factory, flows_dir, meta_env(graph_api))
    assert post_meta(server, meta_messages(meta_text("wamid.N1", "hi there"))).status_code == 200
    [greeting] = wait_for(lambda: graph_sends(graph_api), what="the greeting")
    assert greeting["type"] == "interactive"  # the flow now waits for the customer's choice

    new_text = {"type": "text", "text": {"body": "hi, it is about billing"}}
    notices = meta_messages(
        edit("wamid.N2", "wamid.N1", new_text),
        number_change("wamid.N3"),
        identity_change("wamid.N4"),
    )
    response = post_meta(server, notices)
    assert response.status_code == 200
    assert response.json() == {"received": 0, "statuses": 0, "notices": 3, "ignored": 0}
    assert post_meta(server, meta_messages(revoke("wamid.N5", "wamid.N1"))).status_code == 200

    # The waiting question is answered by the customer's next real message, not by a notice.
    assert post_meta(server, meta_messages(_tap("wamid.N6", "tech", "Tech"))).status_code == 200
    sends = wait_for(lambda: graph_sends(graph_api)[1:], what="the confirmation")
    assert "technical support team" in sends[0]["interactive"]["body"]["text"]
    detail = only_conversation(server)
    run = execution(server, detail["executions"][0]["id"])
    assert run["context"]["widgets"]["greet"]["inbound"]["ChoiceId"] == "tech"
    assert len(detail["executions"]) == 1

    first, tap = inbound(detail)
    assert tap["provider_message_id"] == "wamid.N6"
    assert first["provider_message_id"] == "wamid.N1"
    assert first["text"] == "hi, it is about billing"
    assert [e["text"] for e in first["edits"]] == ["hi there"]
    assert first["deleted_at"] is not None
    # Blue ticks go to customer messages only.
    wait_for(lambda: len(graph_reads(graph_api)) >= 2, what="the read marks")
    assert sorted(graph_reads(graph_api)) == ["wamid.N1", "wamid.N6"]
    types = await _event_types(server)
    for kind in (
        "message.edited",
        "message.deleted",
        "contact.number_changed",
        "contact.identity_changed",
    ):
        assert types.count(kind) == 1, kind
    assert types.count("message.inbound") == 2


def test_a_revoke_alone_starts_nothing(
    server_factory: Any, flows_dir: Path, graph_api: FakeGraphApi
) -> None:
    """Found in production: a deleted message's notice opened a conversation, started the
    greeting and the bot answered it."""
    server = start_server(server_factory, flows_dir, meta_env(graph_api))
    for body in (
        meta_messages(revoke("wamid.R1", "wamid.LONG_AGO")),
        meta_messages(number_change("wamid.R2")),
    ):
        response = post_meta(server, body)
        assert (response.status_code, response.json()["notices"]) == (200, 1)
    # Stored before the 200: had either become a message, its conversation would be listed.
    assert conversations(server) == []
    assert graph_api.requests == []


def _channels_file(tmp_path: Path, graph_api: FakeGraphApi) -> dict[str, str]:
    path = tmp_path / "channels.json"
    account = {
        "phone_number_id": PHONE_NUMBER_ID,
        "access_token": META_ACCESS_TOKEN,
        "app_secret": META_APP_SECRET,
        "verify_token": META_VERIFY_TOKEN,
        "graph_base": graph_api.graph_base,
    }
    path.write_text(json.dumps({"whatsapp": [account]}))
    return {"THREADLINE_CHANNELS_FILE": str(path)}


def _for_phone_number_id(body: dict[str, Any], phone_number_id: str) -> dict[str, Any]:
    body["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = phone_number_id
    return body


def test_unconfigured_phone_number_ids_are_acknowledged_and_dropped(
    server_factory: Any, flows_dir: Path, tmp_path: Path, graph_api: FakeGraphApi
) -> None:
    server = start_server(server_factory, flows_dir, _channels_file(tmp_path, graph_api))
    stranger = _for_phone_number_id(
        meta_messages(meta_text("wamid.X1", "hi")), OTHER_PHONE_NUMBER_ID
    )
    for _ in range(2):  # Meta would retry anything but a 200
        response = post_meta(server, stranger)
        assert response.status_code == 200
        assert response.json() == {"received": 0, "statuses": 0, "notices": 0, "ignored": 1}
    assert conversations(server) == []
    assert graph_api.requests == []  # nothing sent, not even a read mark, from the other id
    warnings = [line for line in server.log().splitlines() if OTHER_PHONE_NUMBER_ID in line]
    assert len(warnings) == 1, warnings  # once per id per minute

    # One POST with a change for each: only ours is stored and answered, from our id.
    mixed = meta_messages(meta_text("wamid.X2", "hello"))
    theirs = _for_phone_number_id(meta_messages(meta_text("wamid.X3", "hi")), "5550001")
    mixed["entry"][0]["changes"].append(theirs["entry"][0]["changes"][0])
    response = post_meta(server, mixed)
    assert response.json() == {"received": 1, "statuses": 0, "notices": 0, "ignored": 1}
    [greeting] = wait_for(lambda: graph_sends(graph_api), what="the greeting")
    request = next(r for r in graph_api.requests if r.json == greeting)
    assert request.path.endswith(f"/{PHONE_NUMBER_ID}/messages")
    detail = only_conversation(server)
    assert detail["channel_account"] == PHONE_NUMBER_ID
    assert [m["provider_message_id"] for m in inbound(detail)] == ["wamid.X2"]


async def test_the_agent_sees_edits_and_deletions(
    server_factory: Any, tmp_path: Path, graph_api: FakeGraphApi
) -> None:
    server = start_whatsapp_handoff_server(server_factory, tmp_path, graph_api)
    agent = create_agent(server, "bea", attributes={"skills": {"billing": 3}})
    bea = await AgentClient.connect(server, agent["token"])
    try:
        body = meta_messages(meta_text("wamid.A1", "my invoice is wrong"))
        assert post_meta(server, body).status_code == 200
        offer = await bea.frame("offer")
        cid = offer["conversation_id"]
        await bea.send("accept", conversation_id=cid)
        await bea.frame("assigned")
        assert post_meta(server, meta_messages(meta_text("wamid.A2", "invoice 24"))).status_code
        message = (await bea.frame("message"))["message"]
        assert message["text"] == "invoice 24"

        fixed = {"type": "text", "text": {"body": "invoice 42"}}
        assert post_meta(server, meta_messages(edit("wamid.A3", "wamid.A2", fixed))).status_code
        edited = await bea.frame("message_updated")
        assert edited["conversation_id"] == cid
        assert (edited["message"]["id"], edited["message"]["text"]) == (message["id"], "invoice 42")
        assert [e["text"] for e in edited["message"]["edits"]] == ["invoice 24"]
        assert edited["message"]["deleted_at"] is None

        assert post_meta(server, meta_messages(revoke("wamid.A4", "wamid.A2"))).status_code
        deleted = await bea.frame("message_updated")
        assert deleted["message"]["id"] == message["id"]
        assert deleted["message"]["deleted_at"] is not None
        # Neither became a customer message (what flows and agents take turns on).
        await bea.nothing("message", wait=0.5)
        stored = inbound(conversation(server, cid))
        assert [m["provider_message_id"] for m in stored] == ["wamid.A1", "wamid.A2"]
    finally:
        await bea.close()
