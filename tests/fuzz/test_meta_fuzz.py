"""The WhatsApp Cloud API webhook under arbitrary signed JSON.

Bodies are signed with the app secret (``X-Hub-Signature-256``), so they get past the signature
check to the parser: arbitrary JSON trees, and Meta's real webhook bodies
(/work/shared/fixtures/whatsapp-cloud, used as they are) with a few nodes broken. Each gets a
200 or a 4xx with the error body, never a 5xx, and the server logs no escaped exception. A 200
means every message of the body is stored whole (its payload as posted); a 4xx that none is.
Statuses about a real outbound message move its status forward or leave it alone, never back.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from server.model import advance_status
from server.store.schema import messages
from tests.channels.server_helpers import meta_signature
from tests.fuzz.strategies import json_values, mutated, raw_bodies
from tests.fuzz.support import (
    WatchedServer,
    assert_error_body,
    assert_not_5xx,
    brief,
    fixtures_dir,
    fuzz,
    tally,
)

WEBHOOK = "/channels/whatsapp"
FIXTURES = fixtures_dir() / "whatsapp-cloud"
SEEDS: list[Any] = [
    body
    for name in ("message.json", "message_status.json")
    for body in json.loads((FIXTURES / name).read_text()).values()
]
TEXT = json.loads((FIXTURES / "message.json").read_text())["text"]


def post_signed(server: WatchedServer, raw: bytes) -> httpx.Response:
    headers = {"Content-Type": "application/json", "X-Hub-Signature-256": meta_signature(raw)}
    return server.http.post(WEBHOOK, content=raw, headers=headers)


def objects(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def items(body: Any, kind: str) -> Iterator[dict[str, Any]]:
    """The messages (or statuses) of a body, where Meta puts them: entry[].changes[].value."""
    for entry in objects(body.get("entry") if isinstance(body, dict) else None):
        for change in objects(entry.get("changes")):
            value = change.get("value")
            if change.get("field", "messages") == "messages" and isinstance(value, dict):
                yield from objects(value.get(kind))


def with_ids(body: Any, status_id: str | None) -> list[dict[str, Any]]:
    """Give the body's messages fresh wamids (the same seed id, the same fresh one) so no
    example is a duplicate of an earlier one, and point its statuses at ``status_id``; the
    messages, first of each id, as posted."""
    fresh: dict[str, str] = {}
    firsts: dict[str, dict[str, Any]] = {}
    for message in items(body, "messages"):
        if isinstance(message.get("id"), str):
            message["id"] = fresh.setdefault(message["id"], f"wamid.FUZZ{uuid.uuid4().hex}")
            firsts.setdefault(message["id"], message)
    for status in items(body, "statuses"):
        if status_id is not None and isinstance(status.get("id"), str):
            status["id"] = status_id
    return list(firsts.values())


def stored(database: Engine, provider_id: str) -> list[Any]:
    with database.connect() as conn:
        query = select(messages).where(messages.c.provider_message_id == provider_id)
        return list(conn.execute(query))


@pytest.fixture(scope="module")
def outbound_wamid(server: WatchedServer, database: Engine) -> str:
    """The wamid of a real outbound message: the greeting flow's answer to a customer."""
    body = json.loads(json.dumps(TEXT))
    with_ids(body, None)
    assert post_signed(server, json.dumps(body).encode()).status_code == 200
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with database.connect() as conn:
            query = select(messages.c.provider_message_id).where(
                messages.c.direction == "outbound",
                messages.c.provider_message_id.like("wamid.FAKE%"),
            )
            found = conn.execute(query).scalar()
        if found:
            return str(found)
        time.sleep(0.05)
    raise AssertionError("the greeting flow sent nothing through the Graph API")


def check(
    server: WatchedServer, database: Engine, body: Any, outbound: str | None
) -> httpx.Response:
    """Post ``body`` (fresh message ids, statuses about ``outbound``) and check the answer and
    what it stored."""
    posted = with_ids(body, outbound)
    before = stored(database, outbound)[0].status if outbound else None
    raw = json.dumps(body).encode()
    response = post_signed(server, raw)
    tally(f"answered {response.status_code}")
    assert_not_5xx(response, raw)
    if response.is_success:
        counts = response.json()
        assert isinstance(counts["received"], int) and isinstance(counts["statuses"], int)
        for message in posted:
            rows = stored(database, message["id"])
            assert len(rows) == 1, f"message {message['id']} of {brief(raw)} stored {len(rows)}x"
            assert rows[0].direction == "inbound"
            # As the server reads JSON: integers past 64 bits become floats (channels.untrusted).
            assert rows[0].raw == orjson.loads(json.dumps(message)), "the payload is not whole"
    else:
        assert_error_body(response, raw)
        for message in posted:
            assert stored(database, message["id"]) == [], "a refused body stored a message"
    if outbound is not None:
        after = stored(database, outbound)[0].status
        # A delivery status never moves back (delivered -> sent), nor leaves a failure.
        assert after == before or advance_status(str(before), after) == after, (before, after)
    server.assert_healthy(raw)
    return response


def test_the_real_payloads_are_accepted(
    server: WatchedServer, database: Engine, outbound_wamid: str
) -> None:
    """The seeds themselves: every real body is taken and stored (so the mutations start from
    bodies that reach the whole parser)."""
    for seed in SEEDS:
        body = json.loads(json.dumps(seed))
        assert check(server, database, body, outbound_wamid).status_code == 200, body
        # Meta retries what it thinks failed: the same body again is taken, and stored once.
        assert check_again(server, database, body).status_code == 200


def check_again(server: WatchedServer, database: Engine, body: Any) -> httpx.Response:
    response = post_signed(server, json.dumps(body).encode())
    for message in items(body, "messages"):
        if isinstance(message.get("id"), str):
            assert len(stored(database, message["id"])) == 1, message
    return response


def first_message(body: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A copy of real ``body`` whose first message has ``changes``."""
    copied = json.loads(json.dumps(body))
    copied["entry"][0]["changes"][0]["value"]["messages"][0].update(changes)
    return copied


@fuzz(150)
@given(body=st.sampled_from(SEEDS).flatmap(mutated))
# Found by this test: each was a 500 (an entry, message or field of another type than Meta's).
@example(body={**TEXT, "entry": [TEXT["entry"]]})
@example(body=first_message(TEXT, text="not an object"))
@example(body=first_message(TEXT, text={"body": ["a list"]}))
@example(body=first_message(TEXT, type="location", location={"latitude": "north"}))
@example(body=first_message(TEXT, type=["text"]))
@example(body=first_message(TEXT, timestamp=10**30))
def test_mutated_real_payloads_are_stored_whole_or_refused(
    server: WatchedServer, database: Engine, outbound_wamid: str, body: Any
) -> None:
    check(server, database, body, outbound_wamid)


@fuzz(60)
@given(body=json_values)
def test_arbitrary_signed_json_is_stored_whole_or_refused(
    server: WatchedServer, database: Engine, body: Any
) -> None:
    check(server, database, body, None)


@fuzz(40)
@given(raw=raw_bodies)
def test_any_signed_bytes_get_an_answer(server: WatchedServer, raw: bytes) -> None:
    response = post_signed(server, raw)
    tally(f"answered {response.status_code}")
    assert_not_5xx(response, raw)
    if not response.is_success:
        assert_error_body(response, raw)
    server.assert_healthy(raw)


@fuzz(20)
@given(body=raw_bodies, signature=st.one_of(st.none(), st.just("sha256=" + "0" * 64)))
def test_unsigned_bodies_are_refused(
    server: WatchedServer, body: bytes, signature: str | None
) -> None:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    response = server.http.post(WEBHOOK, content=body, headers=headers)
    assert response.status_code == 401, (body, response.text)
    assert_error_body(response, body)
