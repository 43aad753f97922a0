"""Sending through Twilio's Messages API with the official ``twilio`` package, asynchronously.

The client is the real ``twilio.rest.Client`` with its aiohttp-based ``AsyncTwilioHttpClient``
(``messages.create_async``), so sends never block the event loop. ``api_base`` points it at
another server (a Twilio-compatible gateway, or the fake API in tests): the package has no
base-URL setting beyond Twilio's own edge/region hostnames, so the HTTP client rewrites the
``https://*.twilio.com`` origin of every request to ``api_base``.
"""

from __future__ import annotations

import base64
import logging
import os
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import aiohttp
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from channels.base import SendCheckFailed, SendOutcome
from channels.twilio.inbound import WHATSAPP_PREFIX
from channels.twilio.render import TwilioSend, render
from channels.twilio.signature import status_callback_url
from server.model import Channel, Conversation, Message

# Twilio's times have whole seconds and its clock is not ours: a message created up to this long
# before the intent was recorded still counts as a candidate (recorded SIDs rule out our own).
CLOCK_SKEW_SECONDS = 60.0
# How many of the recipient's latest messages from the sender a look-up reads at most.
LOOKUP_LIMIT = 200
LOOKUP_PAGE_SIZE = 50


@dataclass(frozen=True, slots=True)
class SentMessage:
    """A message Twilio already holds, as its Messages list shows it."""

    sid: str
    body: str
    num_media: int
    status: str

    def carries(self, item: TwilioSend) -> bool:
        """Whether this is what sending ``item`` would have created. A content template's body
        is rendered by Twilio, so any message in the window stands for it."""
        if item.content_sid:
            return True
        same_body = comparable(self.body) == comparable(item.body)
        return same_body and self.num_media == len(item.media_urls)


# Twilio's Smart Encoding may replace these in a body it sends, and its Messages list shows the
# body as sent: compare with them mapped the same way.
_SMART_ENCODED = str.maketrans(
    {
        **dict.fromkeys("\u2018\u2019\u201a\u201b\u2032", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f\u2033", '"'),
        **dict.fromkeys("\u2013\u2014\u2212", "-"),
        **dict.fromkeys("\u00a0\u2009\u200a", " "),
        "\u2026": "...",
        "\u200b": "",
    }
)


def comparable(body: str) -> str:
    return " ".join(unicodedata.normalize("NFC", body).translate(_SMART_ENCODED).split())


class RebasedAsyncHttpClient(AsyncTwilioHttpClient):
    """``AsyncTwilioHttpClient`` that sends requests for ``*.twilio.com`` to ``api_base``."""

    # The package formats every request and response into log lines before the logger decides
    # whether to keep them; skip that work unless its logger would keep them.
    def log_request(self, kwargs: dict[str, Any]) -> None:
        if self.logger.isEnabledFor(logging.INFO):
            super().log_request(kwargs)

    def log_response(self, status_code: int, response: Any) -> None:
        if self.logger.isEnabledFor(logging.INFO):
            super().log_response(status_code, response)

    def __init__(self, api_base: str | None, timeout: float = 10.0) -> None:
        super().__init__(timeout=timeout)
        self.api_base = api_base.rstrip("/") if api_base else None
        self.request_timeout = timeout

    def rebase(self, url: str) -> str:
        if not self.api_base:
            return url
        target = urlsplit(url)
        if not (target.hostname or "").endswith("twilio.com"):
            return url
        base = urlsplit(self.api_base)
        return urlunsplit(
            (base.scheme, base.netloc, base.path + target.path, target.query, target.fragment)
        )

    async def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        # aiohttp 3.12+ deprecates the BasicAuth object the twilio package passes as ``auth``;
        # sending the same credentials as a header keeps the request identical without it.
        auth = kwargs.pop("auth", None)
        if auth is not None:
            headers = dict(kwargs.get("headers") or {})
            headers["Authorization"] = _basic_authorization(*auth)
            kwargs["headers"] = headers
        data = kwargs.get("data")
        if isinstance(data, dict):
            # The form aiohttp would build from the dict, encoded the same way (repeated keys for
            # lists such as MediaUrl) without its per-field FormData machinery; the twilio
            # package has already set the form's Content-Type header.
            kwargs["data"] = urlencode(data, doseq=True).encode()
        if kwargs.get("timeout") is None:
            # The Client passes timeout=None, which aiohttp takes as "no timeout": a stalled API
            # would hold a send forever. Bound each request, connecting to reading the answer.
            kwargs["timeout"] = self.request_timeout
        return await super().request(method, self.rebase(url), *args, **kwargs)


class TwilioSender:
    """``channels.base.Sender`` for SMS/MMS and WhatsApp conversations hosted on Twilio.

    ``conversation.channel_account`` is the business number (``+1...`` or ``whatsapp:+1...``)
    used as From, ``conversation.customer_address`` the customer's, used as To. When
    ``messaging_service_for(business number)`` names a Messaging Service, sends pass its
    ``MessagingServiceSid`` instead of From and Twilio picks the sender from the service's pool.
    """

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        api_base: str | None = None,
        public_url: str | None = None,
        timeout: float = 10.0,
        messaging_service_for: Callable[[str], str | None] | None = None,
    ) -> None:
        self.account_sid = account_sid
        self.messaging_service_for = messaging_service_for
        self.auth_token = auth_token
        self.api_base = api_base
        self.status_callback = status_callback_url(public_url)
        self.timeout = timeout
        self._client: Client | None = None
        self._http: RebasedAsyncHttpClient | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> TwilioSender | None:
        """A sender configured from ``THREADLINE_TWILIO_*`` variables, or None without them."""
        env = os.environ if environ is None else environ
        sid = env.get("THREADLINE_TWILIO_ACCOUNT_SID")
        token = env.get("THREADLINE_TWILIO_AUTH_TOKEN")
        if not sid or not token:
            return None
        return cls(
            sid,
            token,
            api_base=env.get("THREADLINE_TWILIO_API_BASE") or None,
            public_url=env.get("THREADLINE_PUBLIC_URL") or None,
        )

    def _messages_api(self) -> Any:
        # Created on first use, inside the running loop, because aiohttp sessions bind to it.
        if self._client is None:
            self._http = RebasedAsyncHttpClient(self.api_base, timeout=self.timeout)
            self._client = Client(self.account_sid, self.auth_token, http_client=self._http)
        return self._client.messages

    async def send(self, conversation: Conversation, message: Message) -> SendOutcome:
        return await self._send(conversation, message, None)

    async def send_unless_sent(
        self,
        conversation: Conversation,
        message: Message,
        intended_at: float,
        known_ids: frozenset[str] = frozenset(),
    ) -> SendOutcome:
        """Send a message whose earlier send may have reached Twilio with its answer lost (the
        process died in between): each Twilio message it renders to is first looked for among
        the Messages sent from the same sender to the same recipient since ``intended_at``
        (matched on body; ``known_ids`` are Twilio SIDs already recorded for other messages, so
        an earlier identical reply is not taken for this one), and only the missing ones are
        sent. Raises ``SendCheckFailed`` when Twilio cannot be asked; the caller tries later.
        """
        is_whatsapp = conversation.channel == Channel.WHATSAPP.value
        sender = _address(conversation.channel_account, is_whatsapp)
        recipient = _address(conversation.customer_address, is_whatsapp)
        service = self._service(conversation.channel_account)
        try:
            recent = await self._sent_since(
                sender, recipient, intended_at - CLOCK_SKEW_SECONDS, service
            )
        except (TwilioException, TimeoutError, aiohttp.ClientError) as exc:
            raise SendCheckFailed(f"Twilio's Messages list is unavailable: {exc!r}") from exc
        candidates = [m for m in recent if m.sid not in known_ids]
        found: list[SentMessage | None] = []
        for item in render(message.parts, conversation.channel):
            match = next((m for m in candidates if m.carries(item)), None)
            if match is not None:
                candidates.remove(match)
            found.append(match)
        return await self._send(conversation, message, found)

    async def _send(
        self,
        conversation: Conversation,
        message: Message,
        found: list[SentMessage | None] | None,
    ) -> SendOutcome:
        """Send what ``message`` renders to; ``found[i]``, when given, is the Twilio message
        that already carries item ``i`` (it is not sent again)."""
        sends = render(message.parts, conversation.channel)
        if not sends:
            return SendOutcome(ok=False, error="the message has nothing Twilio can send")
        is_whatsapp = conversation.channel == Channel.WHATSAPP.value
        sender = _address(conversation.channel_account, is_whatsapp)
        recipient = _address(conversation.customer_address, is_whatsapp)
        service = self._service(conversation.channel_account)
        sids: list[str] = []
        status = "queued"
        for index, item in enumerate(sends):
            already = found[index] if found is not None else None
            if already is not None:
                sids.append(already.sid)
                if len(sids) == 1:
                    status = already.status or status
                continue
            try:
                created = await self._create(sender, recipient, item, service)
            except TwilioRestException as exc:
                code = str(exc.code) if exc.code is not None else str(exc.status)
                return SendOutcome(
                    ok=False,
                    provider_message_ids=tuple(sids),
                    status="failed",
                    error=exc.msg or f"Twilio answered HTTP {exc.status}",
                    error_code=code,
                )
            except (TimeoutError, aiohttp.ClientError) as exc:
                return SendOutcome(
                    ok=False,
                    provider_message_ids=tuple(sids),
                    status="failed",
                    error=f"Twilio API unreachable: {exc!r}",
                )
            sids.append(created.sid)
            if len(sids) == 1:
                status = created.status or status
        return SendOutcome(ok=True, provider_message_ids=tuple(sids), status=str(status))

    def _service(self, business_number: str) -> str | None:
        if self.messaging_service_for is None:
            return None
        return self.messaging_service_for(business_number)

    async def _sent_since(
        self, sender: str, recipient: str, since: float, service: str | None = None
    ) -> list[SentMessage]:
        """Messages Twilio holds from ``sender`` to ``recipient`` created since ``since``, newest
        first. Filtered on To and From only: a DateSent filter would leave out messages still
        queued (they have no sent date yet), which are exactly the ones a crash leaves behind.
        Twilio lists newest first, so reading stops at the first older message.

        Sent through a Messaging Service, the sender was Twilio's pick, unknown to us (the
        queued message may not even have one yet): the list is filtered on To only, and the
        messages of that service kept."""
        found: list[SentMessage] = []
        filters: dict[str, Any] = (
            {"to": recipient} if service else {"to": recipient, "from_": sender}
        )
        stream = await self._messages_api().stream_async(
            **filters, limit=LOOKUP_LIMIT, page_size=LOOKUP_PAGE_SIZE
        )
        async for item in stream:
            created = item.date_created.timestamp() if item.date_created else None
            if created is not None and created < since:
                break
            if service and item.messaging_service_sid != service:
                continue
            found.append(
                SentMessage(
                    sid=str(item.sid),
                    body=item.body or "",
                    num_media=int(item.num_media or 0),
                    status=str(item.status or ""),
                )
            )
        return found

    async def _create(
        self, sender: str, recipient: str, item: TwilioSend, service: str | None = None
    ) -> Any:
        arguments: dict[str, Any] = {"to": recipient}
        if service:
            arguments["messaging_service_sid"] = service
        else:
            arguments["from_"] = sender
        if item.body:
            arguments["body"] = item.body
        if item.media_urls:
            arguments["media_url"] = list(item.media_urls)
        if item.content_sid:
            arguments["content_sid"] = item.content_sid
            arguments["content_variables"] = item.content_variables
        if self.status_callback:
            arguments["status_callback"] = self.status_callback
        return await self._messages_api().create_async(**arguments)

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()
        self._client = None
        self._http = None


def _basic_authorization(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


def _address(address: str, is_whatsapp: bool) -> str:
    if is_whatsapp and not address.startswith(WHATSAPP_PREFIX):
        return WHATSAPP_PREFIX + address
    return address
