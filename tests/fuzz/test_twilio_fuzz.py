"""Twilio webhooks under arbitrary form bodies.

Signed forms (signed by the real ``twilio`` package, as Twilio signs them) with any fields and
values: unicode, NULs, values near the body limit, From/To/Body/MessageSid missing, repeated
keys, NumMedia that lies. Each gets a 2xx or a 4xx with the error body, never a 5xx; a 2xx
means the message is in the database whole (every field as posted), a 4xx that nothing of it
is. Status callbacks about a real outbound message move its status forward or leave it alone,
never back. Any answer to the greeting's numbered choices (numbers of any length and script,
labels, anything) gets the flow going on. Unsigned garbage gets a 4xx and stores nothing.
"""

from __future__ import annotations

import time
import uuid
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select
from twilio.request_validator import RequestValidator

from server.model import advance_status
from server.store.schema import messages
from tests.channels.fakes import FakeTwilioApi
from tests.channels.server_helpers import TWILIO_SID, TWILIO_TOKEN, twilio_form
from tests.fuzz.strategies import long_texts, raw_bodies, texts
from tests.fuzz.support import (
    WatchedServer,
    assert_error_body,
    assert_not_5xx,
    fuzz,
    tally,
)

MESSAGES_PATH = "/channels/twilio/messages"
STATUS_PATH = "/channels/twilio/status"
SID_FIELDS = ("MessageSid", "SmsMessageSid")
# Fields Twilio posts and the adapter reads; fuzzed keys are drawn from these and from any text.
KNOWN_FIELDS = (
    "AccountSid",
    "From",
    "To",
    "Body",
    "NumMedia",
    "NumSegments",
    "MediaUrl0",
    "MediaContentType0",
    "MediaUrl1",
    "MediaContentType1",
    "ButtonText",
    "ButtonPayload",
    "ProfileName",
    "WaId",
    "Latitude",
    "Longitude",
    "Label",
    "Address",
    "SmsSid",
    "MessageStatus",
    "SmsStatus",
    "ErrorCode",
    "ErrorMessage",
)
TELLING_VALUES = (
    "",
    "0",
    "-1",
    "3",
    "10",
    "1000000000000",
    "99999999999999999999999",
    "1e9",
    "nan",
    "inf",
    "whatsapp:",
    "whatsapp:+14155550199",
    "+14155550199",
    "+1 (415) 555-0199",
    "image/png",
    "https://example.com/a.png",
    "delivered",
)

field_values = st.one_of(texts, long_texts, st.sampled_from(TELLING_VALUES), st.integers().map(str))
fuzzed_fields = st.lists(
    st.tuples(st.one_of(st.sampled_from(KNOWN_FIELDS), texts), field_values), max_size=8
)


@st.composite
def twilio_forms(draw: st.DrawFn) -> tuple[list[tuple[str, str]], bool]:
    """A real inbound form with fields dropped, changed and repeated (pairs, in order), and
    whether it names its message (the test gives it a MessageSid of its own)."""
    base = twilio_form("hello", "placeholder")
    for name in SID_FIELDS:
        del base[name]
    dropped = draw(st.sets(st.sampled_from(sorted(base))))
    pairs = [(k, v) for k, v in base.items() if k not in dropped]
    pairs += [(k, v) for k, v in draw(fuzzed_fields) if k not in SID_FIELDS]
    return pairs, draw(st.booleans())


STATUSES = ("accepted", "queued", "sending", "sent", "delivered", "read", "failed", "undelivered")


@st.composite
def status_forms(draw: st.DrawFn) -> list[tuple[str, str]]:
    """A status callback as Twilio posts it (MessageStatus of Twilio's, or any text; an error
    code with failures) with fields dropped, changed and repeated; no MessageSid."""
    status = draw(
        st.one_of(st.sampled_from(STATUSES), st.sampled_from(STATUSES).map(str.upper), texts)
    )
    base = {
        "AccountSid": TWILIO_SID,
        "From": "+14155550100",
        "To": "+14155550199",
        draw(st.sampled_from(["MessageStatus", "SmsStatus"])): status,
        "ErrorCode": draw(st.one_of(st.just("30003"), field_values)),
        "ErrorMessage": draw(field_values),
    }
    dropped = draw(st.sets(st.sampled_from(sorted(base))))
    pairs = [(k, v) for k, v in base.items() if k not in dropped]
    return pairs + [(k, v) for k, v in draw(fuzzed_fields) if k not in SID_FIELDS]


@pytest.fixture(scope="module")
def outbound_sid(server: WatchedServer, database: Engine, twilio_api: FakeTwilioApi) -> str:
    """The MessageSid of a real outbound message: the greeting flow's answer to a customer."""
    sent_before = len(twilio_api.created)
    response = post_signed(server, MESSAGES_PATH, list(twilio_form("hi", new_sid()).items()))
    assert response.status_code == 200, response.text
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for resource in twilio_api.created[sent_before:]:
            if stored(database, resource["sid"]):
                return str(resource["sid"])
        time.sleep(0.05)
    raise AssertionError("the greeting flow sent nothing through Twilio")


def new_sid() -> str:
    return f"SM{uuid.uuid4().hex}"


def post_signed(server: WatchedServer, path: str, pairs: list[tuple[str, str]]) -> httpx.Response:
    """The form signed over what the server reads (a repeated key keeps its last value)."""
    url = server.base + path
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, as_read(pairs))
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": signature,
    }
    return server.http.post(path, content=urlencode(pairs), headers=headers)


def as_read(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """The form as the server reads the encoded body: the last value of a repeated key."""
    return dict(parse_qsl(urlencode(pairs), keep_blank_values=True))


def stored(database: Engine, sid: str) -> list[Any]:
    with database.connect() as conn:
        query = select(messages).where(messages.c.provider_message_id == sid)
        return list(conn.execute(query))


def inbound_count(database: Engine) -> int:
    with database.connect() as conn:
        query = select(func.count()).where(messages.c.direction == "inbound")
        return int(conn.execute(query).scalar_one())


@fuzz(150)
@given(form=twilio_forms())
# NumMedia far beyond the media present once made the adapter count to it (the request hung).
@example(form=([*twilio_form("hi", "x").items(), ("NumMedia", "1000000000000")], True))
# Found by the long run: an answer of 5,000 digits to the greeting's choices was read as a
# choice number, and int() refused it (ValueError, a 500).
@example(form=([*twilio_form("hi", "x").items()], True))
@example(form=([*twilio_form("1" * 5000, "x").items()], True))
def test_signed_forms_are_stored_whole_or_refused(
    server: WatchedServer, database: Engine, form: tuple[list[tuple[str, str]], bool]
) -> None:
    pairs, named = form
    pairs = [(k, v) for k, v in pairs if k not in SID_FIELDS]
    sid = new_sid()
    if named:
        pairs.append(("MessageSid", sid))
    response = post_signed(server, MESSAGES_PATH, pairs)
    tally(f"answered {response.status_code}")
    assert_not_5xx(response, pairs)
    found = stored(database, sid)
    posted = as_read(pairs)
    if response.is_success:
        assert len(found) == 1, (pairs, found)
        row = found[0]
        assert row.direction == "inbound"
        assert row.raw == posted, "the stored payload is not what Twilio posted"
        assert row.fields["MessageSid"] == sid
        if not (posted.get("ButtonText") or posted.get("ButtonPayload")):
            assert row.text == posted.get("Body", "")
    else:
        assert 400 <= response.status_code < 500
        assert_error_body(response, pairs)
        assert found == [], "a refused webhook stored its message"
    server.assert_healthy(pairs)


@fuzz(80)
@given(form=status_forms(), about=st.sampled_from(["real", "real", "unknown", "none"]))
def test_signed_status_callbacks_only_move_a_status_forward(
    server: WatchedServer,
    database: Engine,
    outbound_sid: str,
    form: list[tuple[str, str]],
    about: str,
) -> None:
    pairs = list(form)
    if about != "none":
        pairs.append(("MessageSid", outbound_sid if about == "real" else new_sid()))
    before = stored(database, outbound_sid)[0].status
    response = post_signed(server, STATUS_PATH, pairs)
    tally(f"answered {response.status_code}")
    assert_not_5xx(response, pairs)
    if not response.is_success:
        assert_error_body(response, pairs)
    after = stored(database, outbound_sid)[0].status
    if about != "real" or not response.is_success:
        assert after == before, (pairs, before, after)
    else:  # a delivery status never moves back (delivered -> sent), nor leaves a failure
        assert after == before or advance_status(before, after) == after, (pairs, before, after)
    server.assert_healthy(pairs)


# Header values are Latin-1 on the wire: printable ASCII, as a forged signature would be.
signatures = st.one_of(
    st.none(),
    # (no space at either end: HTTP clients refuse to send such a header value at all)
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E)).map(str.strip),
    st.just("A" * 28),
)
content_types = st.sampled_from(
    [
        "application/x-www-form-urlencoded",
        "application/json",
        "multipart/form-data",
        "",
        "text/plain",
    ]
)


@fuzz(60)
@given(body=raw_bodies, signature=signatures, content_type=content_types)
def test_unsigned_garbage_is_refused_and_stores_nothing(
    server: WatchedServer,
    database: Engine,
    body: bytes,
    signature: str | None,
    content_type: str,
) -> None:
    before = inbound_count(database)
    headers = {"Content-Type": content_type}
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    for path in (MESSAGES_PATH, STATUS_PATH):
        response = server.http.post(path, content=body, headers=headers)
        assert 400 <= response.status_code < 500, (body, response.status_code, response.text)
        assert_error_body(response, body)
    assert inbound_count(database) == before
    server.assert_healthy(body)


# What customers type back to a numbered list of choices (SMS has no buttons): numbers written
# every way, with leading zeros, in other scripts, far too long; labels; anything.
answers = st.one_of(
    st.integers(0, 5).map(str),
    st.sampled_from(["1.", " 2 ", "3)", "01", "\u00b2", "\u0661", "\u0663", "0" * 5000 + "1"]),
    st.integers(0, 6000).map(lambda digits: "1" * digits),
    st.sampled_from(["Billing", "billing", "BILLING ", "Technical support", "order status"]),
    texts,
    long_texts,
)


def sent_to(twilio_api: FakeTwilioApi, number: str) -> int:
    return sum(1 for message in list(twilio_api.created) if message["to"] == number)


def wait_for_reply(twilio_api: FakeTwilioApi, number: str, count: int) -> None:
    deadline = time.monotonic() + 10
    while sent_to(twilio_api, number) <= count:
        assert time.monotonic() < deadline, f"the flow never answered {number}"
        time.sleep(0.02)


@fuzz(40)
@given(answer=answers)
# Found by the long run: 5,000 digits were read as a choice number and int() refused them.
@example(answer="1" * 5000)
def test_any_answer_to_a_list_of_choices_gets_the_flow_going(
    server: WatchedServer, twilio_api: FakeTwilioApi, answer: str
) -> None:
    """A fresh customer gets the greeting and its numbered choices, then answers: the flow
    answers back (a choice taken or the question asked again), and nothing fails on the way."""
    customer = f"+1415{uuid.uuid4().int % 10**7:07d}"
    before = sent_to(twilio_api, customer)
    first = post_signed(
        server, MESSAGES_PATH, list(twilio_form("hi", new_sid(), From=customer).items())
    )
    assert first.status_code == 200, first.text
    wait_for_reply(twilio_api, customer, before)
    answered = post_signed(
        server, MESSAGES_PATH, list(twilio_form(answer, new_sid(), From=customer).items())
    )
    tally(f"answered {answered.status_code}")
    assert_not_5xx(answered, answer)
    if answered.is_success:
        wait_for_reply(twilio_api, customer, before + 1)
    else:
        assert_error_body(answered, answer)
    server.assert_healthy(answer)
