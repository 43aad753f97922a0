"""Every customer message is answered exactly once: none dropped while a flow ends, none sent
twice after a crash. Real server process, real twilio package, fake Twilio API on loopback."""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from twilio.request_validator import RequestValidator

from tests.channels.fakes import FakeTwilioApi
from tests.channels.server_helpers import (
    TWILIO_TOKEN,
    start_server,
    twilio_env,
    twilio_form,
    twilio_sends,
)
from tests.server.conftest import ServerProcess

GREETING = "What can I help you with today"
CONFIRM = "Anything else they should know?"
GOODBYE = "Have a great day!"


def customer(n: int) -> str:
    return f"+1415555{n:04d}"


async def post_signed(
    client: httpx.AsyncClient, server: ServerProcess, form: dict[str, str]
) -> None:
    url = server.base + "/channels/twilio/messages"
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, form)
    response = await client.post(
        url,
        content=urlencode(form),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        },
    )
    assert response.status_code == 200, response.text


def bodies_to(api: FakeTwilioApi, number: str) -> list[str]:
    return [r.field("Body") or "" for r in twilio_sends(api) if r.field("To") == number]


async def wait_for_sends(api: FakeTwilioApi, number: str, count: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while len(bodies_to(api, number)) < count:
        if time.monotonic() > deadline:
            raise AssertionError(f"{number} got {bodies_to(api, number)}, expected {count} sends")
        await asyncio.sleep(0.02)


def test_a_message_that_arrives_while_the_flow_ends_starts_the_next_execution(
    server_factory: Any, flows_dir: Path, twilio_api: FakeTwilioApi
) -> None:
    """hello, billing, no, and hello again 30 ms after "no" (while the goodbye is still being
    handed to Twilio, the execution's last step), from 20 numbers at once: every message is
    answered, exactly once."""
    twilio_api.delay = 0.1  # the goodbye's send is in flight when the last hello arrives
    server = start_server(server_factory, flows_dir, twilio_env(twilio_api))

    async def one_customer(client: httpx.AsyncClient, n: int) -> None:
        number = customer(n)

        async def say(text: str, step: int) -> None:
            await post_signed(client, server, twilio_form(text, f"SM{n:04d}x{step}", From=number))

        await say("hello", 1)
        await wait_for_sends(twilio_api, number, 1)
        await say("billing", 2)
        await wait_for_sends(twilio_api, number, 2)
        await say("no", 3)
        await asyncio.sleep(0.03)
        await say("hello", 4)
        await wait_for_sends(twilio_api, number, 4)

    async def everyone() -> None:
        async with httpx.AsyncClient(timeout=15) as client:
            await asyncio.gather(*(one_customer(client, n) for n in range(20)))

    asyncio.run(everyone())
    time.sleep(1.0)  # anything sent twice would show up by now
    for n in range(20):
        bodies = bodies_to(twilio_api, customer(n))
        assert len(bodies) == 4, (customer(n), bodies)
        assert GREETING in bodies[0] and CONFIRM in bodies[1], bodies
        assert Counter(GOODBYE in b for b in bodies)[True] == 1, bodies
        assert Counter(GREETING in b for b in bodies)[True] == 2, bodies


def wait_until(probe: Any, timeout: float = 20, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while not (value := probe()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
    return value


def outbound_rows(server: ServerProcess) -> list[dict[str, Any]]:
    listing = server.api("/api/v1/conversations").json()["conversations"]
    rows: list[dict[str, Any]] = []
    for summary in listing:
        detail = server.api(f"/api/v1/conversations/{summary['id']}").json()
        rows.extend(m for m in detail["messages"] if m["direction"] == "outbound")
    return rows


def test_a_reply_twilio_took_before_a_crash_is_not_sent_again(
    server_factory: Any, flows_dir: Path, twilio_api: FakeTwilioApi
) -> None:
    """Twilio has the greeting but its answer never came back: the server was killed while
    waiting. After the restart the server asks Twilio, finds it, and does not send it again."""
    twilio_api.delay = 60  # Twilio takes the message, then answers too late
    server = start_server(server_factory, flows_dir, twilio_env(twilio_api))
    post = httpx.Client(timeout=10)
    number = customer(1)

    def say(text: str, sid: str) -> None:
        url = server.base + "/channels/twilio/messages"
        form = twilio_form(text, sid, From=number)
        signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, form)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        }
        assert post.post(url, content=urlencode(form), headers=headers).status_code == 200

    say("hello", "SMcrash1")
    wait_until(lambda: twilio_sends(twilio_api), what="the greeting handed to Twilio")
    server.stop(signal.SIGKILL)
    twilio_api.delay = 0
    server.start()

    [greeting] = wait_until(
        lambda: [m for m in outbound_rows(server) if m["status"] != "accepted"],
        what="the greeting's outcome recorded after the restart",
    )
    assert twilio_api.lookups(), "the server did not ask Twilio what it had sent"
    assert len(twilio_sends(twilio_api)) == 1
    assert greeting["provider_message_id"] == twilio_api.created[0]["sid"]
    # The flow goes on from where it was: the next answer gets the next question.
    say("billing", "SMcrash2")
    wait_until(lambda: len(twilio_sends(twilio_api)) == 2, what="the flow's next question")
    assert CONFIRM in (twilio_sends(twilio_api)[1].field("Body") or "")
    post.close()


def test_a_reply_lost_on_its_way_to_twilio_is_sent_after_a_crash(
    server_factory: Any, flows_dir: Path, twilio_api: FakeTwilioApi
) -> None:
    """The send request never made it to Twilio (nothing created) and the server was killed:
    after the restart Twilio does not have it, so it is sent, once."""
    twilio_api.delay = 60
    twilio_api.lose_creates = True
    server = start_server(server_factory, flows_dir, twilio_env(twilio_api))
    url = server.base + "/channels/twilio/messages"
    form = twilio_form("hello", "SMlost1", From=customer(2))
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, form)
    response = httpx.post(
        url,
        content=urlencode(form),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        },
    )
    assert response.status_code == 200
    wait_until(lambda: twilio_sends(twilio_api), what="the send attempt")
    server.stop(signal.SIGKILL)
    twilio_api.delay = 0
    twilio_api.lose_creates = False
    server.start()

    wait_until(lambda: twilio_api.created, what="the greeting sent after the restart")
    [greeting] = wait_until(
        lambda: [m for m in outbound_rows(server) if m["status"] != "accepted"],
        what="the greeting's outcome recorded",
    )
    assert twilio_api.lookups()
    assert [m["body"] for m in twilio_api.created] == [twilio_sends(twilio_api)[1].field("Body")]
    assert GREETING in twilio_api.created[0]["body"]
    assert greeting["provider_message_id"] == twilio_api.created[0]["sid"]
