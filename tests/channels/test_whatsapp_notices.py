"""Revokes, edits and system messages from the Cloud API: parsed as notices (never as customer
messages), and stored by the real store on SQLite as what they are.

Meta's reference shapes (webhooks reference, messages: ``revoke``, ``edit``, ``system``) are
built here: the pywa fixture file has none of them. Its ``unsupported`` entries stay messages.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from channels.notices import NoticeKind
from channels.whatsapp import parse_webhook
from server.model import Identity, MediaPart, TextPart
from server.runtime.notices import record_notice
from server.store import Store
from server.store.database import sqlite_url
from server.store.schema import events, identities
from tests.channels.server_helpers import CUSTOMER_WA_ID, PHONE_NUMBER_ID, meta_messages

FIXTURES = Path("/work/shared/fixtures/whatsapp-cloud/message.json")
CUSTOMER = "+" + CUSTOMER_WA_ID
NEW_WA_ID = "972555000111"


def _message(wamid: str, kind: str, content: dict[str, Any]) -> dict[str, Any]:
    return {
        "from": CUSTOMER_WA_ID,
        "id": wamid,
        "timestamp": str(int(time.time())),
        "type": kind,
        kind: content,
    }


def revoke(wamid: str, original: str) -> dict[str, Any]:
    return _message(wamid, "revoke", {"original_message_id": original})


def edit(wamid: str, original: str, new_message: dict[str, Any]) -> dict[str, Any]:
    return _message(wamid, "edit", {"original_message_id": original, "message": new_message})


def number_change(wamid: str, new_wa_id: str = NEW_WA_ID) -> dict[str, Any]:
    return _message(
        wamid,
        "system",
        {
            "body": f"Dana changed their phone number to a new number {new_wa_id}",
            "new_wa_id": new_wa_id,
            "type": "user_changed_number",
        },
    )


def identity_change(wamid: str) -> dict[str, Any]:
    message = _message(
        wamid,
        "system",
        {
            "body": "Dana's security code changed",
            "identity": "Tvy/XYZ2J0c=",
            "type": "customer_identity_changed",
        },
    )
    message["identity"] = {"acknowledged": True, "created_timestamp": 1700000000, "hash": "h"}
    return message


# --- parsing --------------------------------------------------------------------------------


def test_notices_are_not_messages() -> None:
    body = meta_messages(
        revoke("wamid.R1", "wamid.ORIG"),
        edit("wamid.E1", "wamid.ORIG", {"type": "text", "text": {"body": "fixed"}}),
        number_change("wamid.S1"),
        identity_change("wamid.S2"),
    )
    batch = parse_webhook(body)
    assert batch.messages == []
    revoked, edited, moved, rekeyed = batch.notices
    assert (revoked.kind, revoked.original_message_id) == (NoticeKind.REVOKE, "wamid.ORIG")
    assert (revoked.channel_account, revoked.customer_address) == (PHONE_NUMBER_ID, CUSTOMER)
    assert revoked.notice_id == "wamid.R1"
    assert Identity("whatsapp", CUSTOMER) in revoked.identities
    assert (edited.kind, edited.parts) == (NoticeKind.EDIT, (TextPart("fixed"),))
    assert moved.kind is NoticeKind.NUMBER_CHANGED
    assert moved.new_identity == Identity("whatsapp", "+" + NEW_WA_ID)
    assert moved.properties["system_type"] == "user_changed_number"
    assert rekeyed.kind is NoticeKind.IDENTITY_CHANGED
    assert rekeyed.properties["identity_hash"] == "Tvy/XYZ2J0c="


def test_an_edited_caption_keeps_its_media_type() -> None:
    new = {"type": "image", "image": {"caption": "the right receipt"}}
    [notice] = parse_webhook(meta_messages(edit("wamid.E2", "wamid.IMG", new))).notices
    [part] = notice.parts
    assert isinstance(part, MediaPart)
    assert (part.media_kind, part.caption, part.media_id) == ("image", "the right receipt", None)
    # An edit whose message leaves out its type still reads by its content.
    untyped = {"text": {"body": "fixed"}}
    [notice] = parse_webhook(meta_messages(edit("wamid.E3", "wamid.T", untyped))).notices
    assert notice.parts == (TextPart("fixed"),)


def test_other_system_messages_and_odd_shapes_are_notices_too() -> None:
    odd = _message("wamid.S3", "system", {"type": "something_new", "body": "?"})
    broken = _message("wamid.S4", "system", "not an object")  # type: ignore[arg-type]
    no_target = {"from": CUSTOMER_WA_ID, "id": "wamid.R9", "type": "revoke", "revoke": 7}
    batch = parse_webhook(meta_messages(odd, broken, no_target))
    assert batch.messages == []
    assert [n.kind for n in batch.notices] == [NoticeKind.SYSTEM, NoticeKind.SYSTEM, "revoke"]
    assert batch.notices[2].original_message_id is None


def test_the_fixture_unsupported_entries_stay_messages() -> None:
    fixtures = json.loads(FIXTURES.read_text())
    for scenario in ("unsupported", "unsupported_with_type"):
        batch = parse_webhook(fixtures[scenario])
        assert batch.notices == [], scenario
        assert len(batch.messages) == 1, scenario


# --- storing --------------------------------------------------------------------------------


class _Runtime:
    """What ``record_notice`` needs of the runtime: the store, the acknowledgement gate and
    the revision listeners (here a list that records what it is shown)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.shown: list[tuple[Any, Any]] = []

    def acknowledging(self) -> Any:
        return contextlib.nullcontext()

    async def show_revision(self, conversation: Any, message: Any) -> None:
        self.shown.append((conversation, message))


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    opened = await Store.open(sqlite_url(tmp_path))
    try:
        yield opened
    finally:
        await opened.close()


async def _post(store: Store, runtime: _Runtime, *messages: dict[str, Any]) -> list[Any]:
    """Store a webhook body as the route does: its messages, then its notices."""
    batch = parse_webhook(meta_messages(*messages))
    for envelope in batch.messages:
        await store.ingest(envelope)
    return [await record_notice(runtime, notice) for notice in batch.notices]  # type: ignore[arg-type]


async def _events(store: Store, kind: str) -> list[Any]:
    rows = await store.read(
        lambda conn: conn.execute(select(events).where(events.c.type == kind)).all()
    )
    return list(rows)


async def test_a_revoke_marks_the_message_deleted_once(store: Store) -> None:
    runtime = _Runtime(store)
    text = _message("wamid.T1", "text", {"body": "my card number is 4111"})
    await _post(store, runtime, text)
    [applied] = await _post(store, runtime, revoke("wamid.R1", "wamid.T1"))
    assert applied.message["deleted_at"] is not None
    assert applied.message["text"] == "my card number is 4111"  # kept for the record
    [(_, shown)] = runtime.shown
    assert shown["id"] == applied.message["id"]
    [retry] = await _post(store, runtime, revoke("wamid.R1", "wamid.T1"))  # Meta's retry
    assert retry.duplicate and len(runtime.shown) == 1
    [event] = await _events(store, "message.deleted")
    assert event.properties["message_id"] == applied.message["id"]
    assert event.conversation_id == applied.conversation["id"]
    messages = await store.messages(applied.conversation["id"])
    assert [m["provider_message_id"] for m in messages] == ["wamid.T1"]  # no new message


async def test_a_revoke_of_an_unknown_message_is_recorded_only(store: Store) -> None:
    runtime = _Runtime(store)
    [applied] = await _post(store, runtime, revoke("wamid.R2", "wamid.NEVER"))
    assert (applied.message, applied.conversation) == (None, None)
    assert runtime.shown == []
    [event] = await _events(store, "message.deleted")
    assert event.properties["original_message_id"] == "wamid.NEVER"
    assert event.properties["message_id"] is None


async def test_a_notice_never_touches_another_customers_message(store: Store) -> None:
    runtime = _Runtime(store)
    await _post(store, runtime, _message("wamid.T3", "text", {"body": "mine"}))
    stranger = revoke("wamid.R3", "wamid.T3")
    stranger["from"] = "15550001111"
    body = meta_messages(stranger)
    body["entry"][0]["changes"][0]["value"]["contacts"][0]["wa_id"] = "15550001111"
    [notice] = parse_webhook(body).notices
    applied = await record_notice(runtime, notice)  # type: ignore[arg-type]
    assert applied.message is None
    [row] = await store.read(
        lambda conn: conn.execute(
            select(events.c.properties).where(events.c.type == "message.deleted")
        ).all()
    )
    assert row.properties["message_id"] is None


async def test_an_edit_replaces_the_content_and_keeps_the_earlier_text(store: Store) -> None:
    runtime = _Runtime(store)
    await _post(store, runtime, _message("wamid.T4", "text", {"body": "I ordered 3"}))
    new = {"type": "text", "text": {"body": "I ordered 4"}}
    [applied] = await _post(store, runtime, edit("wamid.E4", "wamid.T4", new))
    message = applied.message
    assert message["text"] == "I ordered 4"
    assert message["parts"] == [{"kind": "text", "text": "I ordered 4"}]
    assert message["fields"]["Body"] == "I ordered 4"
    [earlier] = message["edits"]
    assert (earlier["text"], earlier["notice_id"]) == ("I ordered 3", "wamid.E4")
    again = {"type": "text", "text": {"body": "I ordered 5"}}
    [second] = await _post(store, runtime, edit("wamid.E5", "wamid.T4", again))
    assert [e["text"] for e in second.message["edits"]] == ["I ordered 3", "I ordered 4"]
    assert len(await _events(store, "message.edited")) == 2
    [retry] = await _post(store, runtime, edit("wamid.E5", "wamid.T4", again))
    assert retry.duplicate and len(await _events(store, "message.edited")) == 2


async def test_a_caption_edit_keeps_the_media(store: Store) -> None:
    runtime = _Runtime(store)
    image = {"id": "1479537139650973", "mime_type": "image/jpeg", "caption": "old receipt"}
    await _post(store, runtime, _message("wamid.IMG", "image", image))
    new = {"type": "image", "image": {"caption": "the right receipt"}}
    [applied] = await _post(store, runtime, edit("wamid.E6", "wamid.IMG", new))
    [part] = applied.message["parts"]
    assert part["media_id"] == "1479537139650973"
    assert part["content_type"] == "image/jpeg"
    assert part["caption"] == "the right receipt"
    assert applied.message["edits"][0]["parts"][0]["caption"] == "old receipt"


async def test_a_number_change_adds_the_number_to_the_contact(store: Store) -> None:
    runtime = _Runtime(store)
    await _post(store, runtime, _message("wamid.T7", "text", {"body": "hi"}))
    [applied] = await _post(store, runtime, number_change("wamid.S7"))
    assert applied.message is None and runtime.shown == []
    held = {(i["kind"], i["value"]) for i in await store.contact_identities(applied.contact_id)}
    assert ("whatsapp", "+" + NEW_WA_ID) in held
    assert ("whatsapp", CUSTOMER) in held
    [event] = await _events(store, "contact.number_changed")
    assert event.properties["new_number"] == "+" + NEW_WA_ID
    assert event.properties["added"] is True
    messages = await store.messages(applied.conversation["id"])
    assert len(messages) == 1  # the notice is no customer turn


async def test_a_number_another_contact_holds_is_not_taken(store: Store) -> None:
    runtime = _Runtime(store)
    other = _message("wamid.T8", "text", {"body": "I am the new number's owner"})
    other["from"] = NEW_WA_ID
    body = meta_messages(other)
    body["entry"][0]["changes"][0]["value"]["contacts"][0]["wa_id"] = NEW_WA_ID
    [envelope] = parse_webhook(body).messages
    owner = (await store.ingest(envelope)).conversation["contact_id"]
    [applied] = await _post(store, runtime, number_change("wamid.S8"))
    [event] = await _events(store, "contact.number_changed")
    assert (event.properties["added"], event.properties["held_by_contact"]) == (False, owner)
    rows = await store.read(
        lambda conn: conn.execute(
            select(identities.c.contact_id).where(identities.c.value == "+" + NEW_WA_ID)
        ).all()
    )
    assert [r.contact_id for r in rows] == [owner]
    assert applied.contact_id != owner


async def test_an_identity_change_is_recorded(store: Store) -> None:
    runtime = _Runtime(store)
    await _post(store, runtime, identity_change("wamid.S9"))
    [event] = await _events(store, "contact.identity_changed")
    assert event.properties["identity_hash"] == "Tvy/XYZ2J0c="
    assert event.properties["notice_id"] == "wamid.S9"


async def test_a_notice_naming_no_customer_is_ignored(store: Store) -> None:
    runtime = _Runtime(store)
    anonymous = revoke("wamid.R10", "wamid.T10")
    del anonymous["from"]
    body = meta_messages(anonymous)
    del body["entry"][0]["changes"][0]["value"]["contacts"]
    [notice] = parse_webhook(body).notices
    assert await record_notice(runtime, notice) is None  # type: ignore[arg-type]
    assert await _events(store, "message.deleted") == []
