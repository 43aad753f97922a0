"""The crash soak's customers: SMS (signed Twilio webhooks), WhatsApp (signed Cloud API webhooks)
and web chat (the widget's WebSocket protocol), each writing one message at a time.

A customer sends a message, waits for its reply (or gives up waiting after ``REPLY_WAIT``),
thinks a moment and sends the next. One message at a time keeps every message's expected answer
unambiguous: the soak checks that nothing acknowledged is lost or answered twice across crashes,
not how the flow treats a burst. The script cycles: plain messages (the bot answers), ``#agent``
(the agents take the conversation and answer it), plain messages (an agent answers), ``#bye``
(the agent answers and closes; the next message opens a new conversation with the bot).

Acknowledged means what the sender can see: a 2xx answer to the webhook (any other answer, or
none because the server was killed, is retried with the same MessageSid / wamid, as Twilio and
Meta retry), or the web chat echo of the message with its ``client_id`` (unconfirmed messages
are sent again with the same ``client_id`` after a reconnect, as the widget does).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import random
import time
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode

import httpx
import websockets
from twilio.request_validator import RequestValidator

from bench.soak_ledger import Entry, Ledger

SCRIPT = ("plain",) * 7 + ("agent", "plain", "plain", "bye")
PREFIX = {"plain": "msg", "agent": "#agent", "bye": "#bye"}
REPLY_WAIT = 90.0  # a reply later than this still counts; the customer just stops waiting
CLOSE_WAIT = 90.0
RETRY_FIRST, RETRY_MAX = 0.25, 4.0

TWILIO_ACCOUNT = "AC" + "5" * 32
TWILIO_TOKEN = "soak-twilio-auth-token"
TWILIO_NUMBER = "+15005550006"
PUBLIC_URL = "https://soak.threadline.test"
META_APP_SECRET = "soak-meta-app-secret"
META_VERIFY_TOKEN = "soak-meta-verify-token"
META_PHONE_NUMBER_ID = "106540352242922"


@dataclass
class Pace:
    stop_at: float  # time.monotonic() after which no new message is started
    give_up_at: float  # after which an unacknowledged message is no longer retried
    think: tuple[float, float]  # seconds between a reply and the next message


class Customer(Protocol):
    name: str
    channel: str

    async def deliver(self, entry: Entry, body: str, give_up_at: float) -> None:
        """Send until acknowledged, or until ``give_up_at``."""


async def reconnect_pause(attempt: int) -> None:
    """The wait before a socket's next reconnect: jittered, doubling, at most 5 s (as the web
    chat widget and the desk do)."""
    await asyncio.sleep(random.uniform(0.25, min(5.0, 0.5 * 2**attempt)))


async def converse(customer: Customer, ledger: Ledger, pace: Pace, rng: random.Random) -> None:
    """Write messages one at a time until ``pace.stop_at``."""
    offset = rng.randrange(len(SCRIPT))
    number = 0
    while time.monotonic() < pace.stop_at:
        kind = SCRIPT[(offset + number) % len(SCRIPT)]
        token = f"{customer.name}-{number:05d}"
        entry = ledger.new(token, customer.channel, customer.name, kind)
        await customer.deliver(entry, f"{PREFIX[kind]} {token}", pace.give_up_at)
        number += 1
        if entry.acknowledged_at is None:
            return  # past give_up_at
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(entry.answered.wait(), REPLY_WAIT)
        if kind == "bye" and entry.replies and entry.replies[0].author == "agent":
            # The next message must not reach the conversation the agent is closing.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(entry.closed.wait(), CLOSE_WAIT)
        await asyncio.sleep(rng.uniform(*pace.think))


class Webhooks:
    """Posts webhooks to the server, retrying every answer that is not a 2xx."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.client = httpx.AsyncClient(timeout=15.0)
        self.statuses: dict[str, int] = {}  # answers by status ("error" for no answer)

    async def post(
        self, entry: Entry, path: str, content: bytes, headers: dict[str, str], give_up_at: float
    ) -> None:
        delay = RETRY_FIRST
        while time.monotonic() < give_up_at:
            entry.attempts += 1
            try:
                response = await self.client.post(
                    self.base + path, content=content, headers=headers
                )
                status = str(response.status_code)
            except httpx.HTTPError:
                status = "error"
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if status.startswith("2"):
                entry.acknowledged_at = time.time()
                entry.acknowledged.set()
                return
            await asyncio.sleep(random.uniform(delay / 2, delay))
            delay = min(delay * 2, RETRY_MAX)

    async def aclose(self) -> None:
        await self.client.aclose()


class SmsCustomer:
    """A phone number texting the business number through Twilio."""

    channel = "sms"
    path = "/channels/twilio/messages"

    def __init__(self, index: int, hooks: Webhooks) -> None:
        self.name = f"sms{index}"
        self.number = f"+1555{index + 1:07d}"
        self.hooks = hooks
        self.validator = RequestValidator(TWILIO_TOKEN)

    async def deliver(self, entry: Entry, body: str, give_up_at: float) -> None:
        params = {
            "MessageSid": "SM" + hashlib.md5(entry.token.encode()).hexdigest(),
            "AccountSid": TWILIO_ACCOUNT,
            "From": self.number,
            "To": TWILIO_NUMBER,
            "Body": body,
            "NumMedia": "0",
        }
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": self.validator.compute_signature(PUBLIC_URL + self.path, params),
        }
        await self.hooks.post(entry, self.path, urlencode(params).encode(), headers, give_up_at)


class WhatsAppCustomer:
    """A WhatsApp user writing to the business through the Cloud API."""

    channel = "whatsapp"
    path = "/channels/whatsapp"

    def __init__(self, index: int, hooks: Webhooks) -> None:
        self.name = f"wa{index}"
        self.wa_id = f"447700900{index:03d}"
        self.hooks = hooks

    async def deliver(self, entry: Entry, body: str, give_up_at: float) -> None:
        message = {
            "from": self.wa_id,
            "id": "wamid.IN" + hashlib.md5(entry.token.encode()).hexdigest(),
            "timestamp": str(int(time.time())),
            "type": "text",
            "text": {"body": body},
        }
        value = {
            "messaging_product": "whatsapp",
            "metadata": {
                "display_phone_number": "15550100",
                "phone_number_id": META_PHONE_NUMBER_ID,
            },
            "contacts": [{"profile": {"name": self.name}, "wa_id": self.wa_id}],
            "messages": [message],
        }
        payload = {
            "object": "whatsapp_business_account",
            "entry": [{"id": "soak", "changes": [{"field": "messages", "value": value}]}],
        }
        raw = json.dumps(payload).encode()
        signature = hmac.new(META_APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": "sha256=" + signature}
        await self.hooks.post(entry, self.path, raw, headers, give_up_at)


class WebchatCustomer:
    """A visitor with the web chat widget open: one socket, reconnected whenever it drops.

    Like the widget: it keeps its session token, reconnects with ``after`` = the highest seq it
    has shown of its conversation, acknowledges what it shows, tells messages apart by id, and
    sends unconfirmed messages again with the same ``client_id`` on every new session.
    """

    channel = "webchat"

    def __init__(self, index: int, ws_url: str, ledger: Ledger) -> None:
        self.name = f"web{index}"
        self.ws_url = ws_url
        self.ledger = ledger
        self.session_token: str | None = None
        self.conversation: str | None = None
        self.max_seq = 0
        self.shown: set[str] = set()  # message ids
        self.unconfirmed: dict[str, dict[str, Any]] = {}  # client_id -> message frame
        self.socket: Any = None
        self.connects = 0
        self.errors: dict[str, int] = {}
        self.stopped = False

    async def deliver(self, entry: Entry, body: str, give_up_at: float) -> None:
        frame = {"type": "message", "text": body, "client_id": entry.token}
        self.unconfirmed[entry.token] = frame
        await self._send_unconfirmed(frame)
        timeout = max(0.0, give_up_at - time.monotonic())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(entry.acknowledged.wait(), timeout)

    async def _send_unconfirmed(self, frame: dict[str, Any]) -> None:
        socket = self.socket
        if socket is None:
            return  # sent on the next session frame
        entry = self.ledger.entries.get(frame["client_id"])
        if entry is not None:
            entry.attempts += 1
        with contextlib.suppress(websockets.ConnectionClosed, OSError):
            await socket.send(json.dumps(frame))

    async def run(self) -> None:
        """Keep a socket open until stopped, backing off between attempts (full jitter)."""
        attempt = 0
        while not self.stopped:
            query = {"channel": "default"}
            if self.session_token:
                query["token"] = self.session_token
            if self.max_seq:
                query["after"] = str(self.max_seq)
            try:
                async with websockets.connect(
                    f"{self.ws_url}?{urlencode(query)}", open_timeout=10, close_timeout=1
                ) as socket:
                    self.connects += 1
                    attempt = 0
                    async for raw in socket:
                        await self._on_frame(json.loads(raw), socket)
            except (OSError, TimeoutError, websockets.WebSocketException):
                pass
            finally:
                self.socket = None
            if self.stopped:
                return
            attempt += 1
            await reconnect_pause(attempt)

    async def _on_frame(self, frame: dict[str, Any], socket: Any) -> None:
        kind = frame.get("type")
        if kind == "session":
            self.session_token = frame["token"]
            if frame.get("conversation_id") != self.conversation:
                # Not the conversation ``after`` was about: fetch what it holds from the start.
                self.conversation = frame.get("conversation_id")
                self.max_seq = 0
                if self.conversation and frame.get("last_seq"):
                    await socket.send(
                        json.dumps(
                            {"type": "history", "before": frame["last_seq"] + 1, "limit": 100}
                        )
                    )
            self.socket = socket
            for pending in list(self.unconfirmed.values()):
                await self._send_unconfirmed(pending)
        elif kind == "conversation":
            if frame["conversation_id"] != self.conversation:
                self.conversation = frame["conversation_id"]
                self.max_seq = 0
                if frame.get("last_seq"):
                    await socket.send(
                        json.dumps(
                            {"type": "history", "before": frame["last_seq"] + 1, "limit": 100}
                        )
                    )
        elif kind == "message":
            self._show(frame)
            await socket.send(json.dumps({"type": "ack", "seq": self.max_seq}))
        elif kind == "history":
            for message in frame.get("messages") or []:
                self._show(message)
        elif kind == "error":
            code = str(frame.get("code"))
            self.errors[code] = self.errors.get(code, 0) + 1

    def _show(self, message: dict[str, Any]) -> None:
        self.max_seq = max(self.max_seq, int(message.get("seq") or 0))
        if message["id"] in self.shown:
            return
        self.shown.add(message["id"])
        if message.get("direction") == "inbound":
            client_id = message.get("client_id")
            if client_id and self.unconfirmed.pop(client_id, None) is not None:
                self.ledger.acknowledge(client_id)
        elif message.get("author") != "system":
            self.ledger.reply(message.get("text") or "", message["id"])

    async def stop(self) -> None:
        self.stopped = True
        if self.socket is not None:
            await self.socket.close()
