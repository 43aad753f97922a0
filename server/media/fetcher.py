"""Inbound media copied into the media store before a flow or an agent sees the message.

The webhook answers once the message is stored (Meta and Twilio want a fast answer); the media
is fetched in the conversation's own queue, right before the message is handed to its flow or
agent (``Runtime.inbound_preparers``), within ``fetch_timeout_seconds``. The stored message is
then rewritten in one commit: each media part gets our signed URL, the type decided from its
bytes and ``status="stored"``, or ``status="failed"`` with the reason; the Twilio-style
``MediaUrlN``/``MediaContentTypeN`` fields flows read point at our copies.

Nothing is lost on a crash: a message stays unhandled until its flow or agent took it, and
unhandled messages are dispatched again on start, so media not fetched yet is fetched then.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import replace
from functools import partial
from typing import Any

import httpx

from server.channel_accounts import ChannelAccounts
from server.media import download
from server.media.message_rows import record_fetched_media
from server.media.settings import MediaSettings
from server.media.signing import MediaUrls
from server.model import Channel, MediaPart, Part, part_from_dict, part_to_dict
from server.store import Store
from server.store.ops import Row
from server.web import media_types
from server.web.webchat_uploads import UploadStore

log = logging.getLogger(__name__)

PROVIDER_CHANNELS = (Channel.SMS.value, Channel.WHATSAPP.value)
STORED, FAILED = "stored", "failed"


# Provider kinds that refine a type: kept when the bytes are of that type.
_REFINED_KINDS = {"voice": "audio", "sticker": "image"}


def media_kind_of(content_type: str, provider_kind: str) -> str:
    """The kind a stored file is shown as: what its bytes are, refined by the provider's kind
    (a voice note, a sticker) when the bytes agree, and a document when it was sent as one."""
    major = content_type.split("/", 1)[0]
    if _REFINED_KINDS.get(provider_kind) == major or provider_kind == "document":
        return provider_kind
    return major if major in ("image", "video", "audio") else "document"


class InboundMediaFetcher:
    def __init__(
        self,
        store: Store,
        accounts: ChannelAccounts,
        media: UploadStore,
        urls: MediaUrls,
        settings: MediaSettings,
    ) -> None:
        self.store = store
        self.accounts = accounts
        self.media = media
        self.urls = urls
        self.settings = settings
        self._http = httpx.AsyncClient(
            timeout=settings.fetch_timeout_seconds, max_redirects=download.MAX_REDIRECTS
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def prepare(self, conversation: Row, message: Row) -> Row:
        """``message`` with its provider media fetched and stored (the row as now stored)."""
        if conversation["channel"] not in PROVIDER_CHANNELS or message["direction"] != "inbound":
            return message
        parts = [part_from_dict(p) for p in message["parts"] or []]
        if not any(_pending(p) for p in parts):
            return message
        fetched: list[Part] = []
        for part in parts:
            if isinstance(part, MediaPart) and _pending(part):
                part = await self._fetch(conversation, part)
            fetched.append(part)
        fields = self._fields(dict(message["fields"] or {}), fetched)
        values = {
            "parts": [part_to_dict(p) for p in fetched],
            "fields": fields,
            "updated_at": time.time(),
        }
        await self.store.write_sync(
            partial(record_fetched_media, message_id=message["id"], values=values)
        )
        return {**message, **values}

    async def _fetch(self, conversation: Row, part: MediaPart) -> MediaPart:
        try:
            downloaded = await asyncio.wait_for(
                self._download(conversation, part), self.settings.fetch_timeout_seconds
            )
        except (download.MediaFetchError, TimeoutError) as exc:
            reason = str(exc) or "the download took too long"
            log.warning("media of %s not fetched: %s", conversation["id"], reason)
            return replace(part, status=FAILED, error=reason)
        # The type is what the bytes are; the provider's claim is only a hint for the kind.
        content_type = media_types.sniff(downloaded.data) or media_types.UNKNOWN
        filename = media_types.safe_filename(part.filename, content_type, default="media")
        stored_id = secrets.token_urlsafe(24)
        meta = {
            "token_hash": "",
            "content_type": content_type,
            "filename": filename,
            "size": len(downloaded.data),
            "url": "",
            "conversation_id": conversation["id"],
            "provider_type": downloaded.declared_type or part.content_type,
        }
        await asyncio.to_thread(self.media.save, stored_id, downloaded.data, meta)
        return replace(
            part,
            url=self.urls.url(stored_id, filename),
            content_type=content_type,
            filename=filename,
            media_kind=media_kind_of(content_type, part.media_kind),
            stored_id=stored_id,
            status=STORED,
            error=None,
        )

    async def _download(self, conversation: Row, part: MediaPart) -> download.Downloaded:
        limit = self.settings.max_bytes
        account = conversation["channel_account"]
        if conversation["channel"] == Channel.SMS.value or account.startswith("whatsapp:"):
            twilio = self.accounts.twilio_for_number(account)
            if twilio is None or not part.url:
                raise download.MediaFetchError(f"no Twilio account receives on {account}")
            return await download.twilio_media(
                self._http, part.url, twilio.account_sid, twilio.auth_token, twilio.api_base, limit
            )
        meta = self.accounts.whatsapp_for(account)
        if meta is None or not meta.access_token or not part.media_id:
            raise download.MediaFetchError(f"no WhatsApp Cloud API account for {account}")
        return await download.graph_media(
            self._http, meta.graph_base, meta.access_token, part.media_id, limit
        )

    @staticmethod
    def _fields(fields: dict[str, Any], parts: list[Part]) -> dict[str, Any]:
        """Twilio's media fields for the parts: our URL and the type from the bytes for stored
        media; a failed one keeps what the provider sent, with ``MediaStatusN`` saying so."""
        media = [p for p in parts if isinstance(p, MediaPart)]
        fields["NumMedia"] = str(len(media))
        for index, part in enumerate(media):
            if part.status == STORED:
                fields[f"MediaUrl{index}"] = part.url or ""
                fields[f"MediaContentType{index}"] = part.content_type or ""
            fields[f"MediaStatus{index}"] = part.status or ""
        return fields


def _pending(part: Part) -> bool:
    return isinstance(part, MediaPart) and part.status is None
