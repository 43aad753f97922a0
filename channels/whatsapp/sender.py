"""Sending through the WhatsApp Cloud API (Meta Graph API) with ``httpx.AsyncClient``."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx

from channels.base import SendOutcome
from channels.whatsapp.media_upload import MediaSource, OwnMedia
from channels.whatsapp.render import render, render_templates
from channels.whatsapp.window import WINDOW_CLOSED_CODE, WINDOW_CLOSED_REASON, window_open
from server.model import Conversation, MediaPart, Message, Part, TemplatePart

DEFAULT_GRAPH_BASE = "https://graph.facebook.com/v21.0"


class WhatsAppSender:
    """``channels.base.Sender`` for WhatsApp Cloud API conversations.

    ``conversation.channel_account`` is the business phone-number id; the customer address is an
    E.164 number (sent as ``to``) or, for customers known only by a business-scoped user id,
    that id (sent as ``recipient``). Free-form messages outside the 24-hour window are refused
    before any HTTP call; a message with a template part sends its template(s) instead.
    """

    def __init__(
        self,
        access_token: str,
        graph_base: str = DEFAULT_GRAPH_BASE,
        timeout: float = 10.0,
        clock: Callable[[], datetime] | None = None,
        media_source: MediaSource | None = None,
    ) -> None:
        self.graph_base = graph_base.rstrip("/")
        self.media_source = media_source
        self._clock = clock or (lambda: datetime.now(UTC))
        self._http = httpx.AsyncClient(
            headers={"Authorization": f"Bearer {access_token}"}, timeout=timeout
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> WhatsAppSender | None:
        """A sender configured from ``THREADLINE_WHATSAPP_*`` variables, or None without them."""
        env = os.environ if environ is None else environ
        token = env.get("THREADLINE_WHATSAPP_ACCESS_TOKEN")
        if not token:
            return None
        return cls(token, env.get("THREADLINE_WHATSAPP_GRAPH_BASE") or DEFAULT_GRAPH_BASE)

    async def send(self, conversation: Conversation, message: Message) -> SendOutcome:
        if window_open(conversation.last_inbound_at, self._clock()):
            parts = await self._with_uploads(conversation.channel_account, message.parts)
            if isinstance(parts, SendOutcome):
                return parts
            bodies = render(parts)
        elif any(isinstance(part, TemplatePart) for part in message.parts):
            bodies = render_templates(message.parts)
        else:
            return SendOutcome(
                ok=False, status="failed", error=WINDOW_CLOSED_REASON, error_code=WINDOW_CLOSED_CODE
            )
        if not bodies:
            return SendOutcome(ok=False, error="the message has nothing WhatsApp can send")
        recipient = _recipient(conversation.customer_address)
        wamids: list[str] = []
        for body in bodies:
            payload = {"messaging_product": "whatsapp", "recipient_type": "individual"}
            payload.update(recipient)
            answer = await self._post(conversation.channel_account, {**payload, **body})
            if isinstance(answer, SendOutcome):
                return SendOutcome(
                    ok=False,
                    provider_message_ids=tuple(wamids),
                    status="failed",
                    error=answer.error,
                    error_code=answer.error_code,
                    store_at_once=bool(wamids),
                )
            wamids.extend(str(m["id"]) for m in answer.get("messages") or [] if "id" in m)
        # The Graph API has no way to list what was sent, so a lost answer cannot be checked
        # after a crash: it is stored at once (see SendOutcome.store_at_once, docs/channels.md).
        return SendOutcome(
            ok=True, provider_message_ids=tuple(wamids), status="accepted", store_at_once=True
        )

    async def _with_uploads(
        self, phone_number_id: str, parts: tuple[Part, ...]
    ) -> tuple[Part, ...] | SendOutcome:
        """``parts`` with our own media uploaded to Meta and referred to by its media id."""
        if self.media_source is None:
            return parts
        out: list[Part] = []
        for part in parts:
            own = None
            if isinstance(part, MediaPart) and part.url and not part.media_id:
                own = await self.media_source(part.url)
            if own is None:
                out.append(part)
                continue
            assert isinstance(part, MediaPart)
            uploaded = await self.upload_media(phone_number_id, own)
            if isinstance(uploaded, SendOutcome):
                return uploaded
            filename = part.filename or own.filename
            out.append(
                replace(part, media_id=uploaded, content_type=own.content_type, filename=filename)
            )
        return tuple(out)

    async def upload_media(self, phone_number_id: str, media: OwnMedia) -> str | SendOutcome:
        """Upload a file to Meta: its media id, or a failed outcome."""
        url = f"{self.graph_base}/{phone_number_id}/media"
        form = {"messaging_product": "whatsapp", "type": media.content_type}
        files = {"file": (media.filename, media.data, media.content_type)}
        try:
            response = await self._http.post(url, data=form, files=files)
        except httpx.HTTPError as exc:
            return SendOutcome(ok=False, status="failed", error=f"Graph API unreachable: {exc!r}")
        answer = _json(response)
        if response.is_success and isinstance(answer.get("id"), str | int):
            return str(answer["id"])
        return _failure(response, answer)

    async def mark_read(self, phone_number_id: str, wamid: str) -> bool:
        """Mark an inbound message as read (blue ticks); True when Meta accepted it."""
        payload = {"messaging_product": "whatsapp", "status": "read", "message_id": wamid}
        answer = await self._post(phone_number_id, payload)
        return not isinstance(answer, SendOutcome) and bool(answer.get("success"))

    async def _post(
        self, phone_number_id: str, payload: dict[str, Any]
    ) -> dict[str, Any] | SendOutcome:
        """The Graph API's JSON answer, or a failed outcome describing the error."""
        url = f"{self.graph_base}/{phone_number_id}/messages"
        try:
            response = await self._http.post(url, json=payload)
        except httpx.HTTPError as exc:
            return SendOutcome(ok=False, status="failed", error=f"Graph API unreachable: {exc!r}")
        answer = _json(response)
        if response.is_success:
            return answer
        return _failure(response, answer)

    async def aclose(self) -> None:
        await self._http.aclose()


def _json(response: httpx.Response) -> dict[str, Any]:
    """The answer's JSON object; empty when it is not one."""
    try:
        answer = response.json()
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def _failure(response: httpx.Response, answer: dict[str, Any]) -> SendOutcome:
    error = answer.get("error")
    error = error if isinstance(error, dict) else {}
    return SendOutcome(
        ok=False,
        status="failed",
        error=str(error.get("message") or f"Graph API answered HTTP {response.status_code}"),
        error_code=str(error["code"]) if "code" in error else str(response.status_code),
    )


def _recipient(address: str) -> dict[str, str]:
    # A phone number is digits with an optional plus; anything else is a business-scoped user id.
    if address.lstrip("+").isdigit():
        return {"to": address}
    return {"recipient": address}
