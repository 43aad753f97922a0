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
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import aiohttp
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from channels.base import SendOutcome
from channels.twilio.inbound import WHATSAPP_PREFIX
from channels.twilio.render import TwilioSend, render
from channels.twilio.signature import status_callback_url
from server.model import Channel, Conversation, Message


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
    used as From, ``conversation.customer_address`` the customer's, used as To.
    """

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        api_base: str | None = None,
        public_url: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.account_sid = account_sid
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
        sends = render(message.parts, conversation.channel)
        if not sends:
            return SendOutcome(ok=False, error="the message has nothing Twilio can send")
        is_whatsapp = conversation.channel == Channel.WHATSAPP.value
        sender = _address(conversation.channel_account, is_whatsapp)
        recipient = _address(conversation.customer_address, is_whatsapp)
        sids: list[str] = []
        status = "queued"
        for item in sends:
            try:
                created = await self._create(sender, recipient, item)
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

    async def _create(self, sender: str, recipient: str, item: TwilioSend) -> Any:
        arguments: dict[str, Any] = {"from_": sender, "to": recipient}
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
