"""Our stored media behind one of our signed URLs, for channels that upload files themselves
(the WhatsApp Cloud API sender, see channels.whatsapp.media_upload)."""

from __future__ import annotations

import asyncio

from channels.whatsapp.media_upload import OwnMedia
from server.media.signing import MediaUrls
from server.web import media_types
from server.web.webchat_uploads import UploadStore


class OwnMediaSource:
    def __init__(self, urls: MediaUrls, store: UploadStore) -> None:
        self.urls = urls
        self.store = store

    async def __call__(self, url: str) -> OwnMedia | None:
        stored_id = self.urls.stored_id_of(url)
        stored = self.store.get(stored_id) if stored_id else None
        if stored is None:
            return None
        blob = self.store.blob(stored.id)
        data = await asyncio.to_thread(blob.read_bytes)
        # Decided from the bytes again, as when the file is served.
        content_type = media_types.sniff(data) or media_types.UNKNOWN
        return OwnMedia(data, content_type, stored.filename)
