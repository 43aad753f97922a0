"""Signed, expiring URLs for stored media: ``/media/<id>/<name>?exp=<epoch>&sig=<hmac>``.

The HMAC (SHA-256, keyed with the server's secret) covers the id and the expiry, so a URL
cannot be stretched in time or pointed at another file; the trailing name is only a hint for
providers and browsers (an extension), not part of what is checked. Every node with the same
secret checks every other node's URLs.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import parse_qs, quote, urlsplit

MEDIA_PATH = "/media"


class MediaUrls:
    def __init__(self, secret: str, base_url: str, ttl_seconds: int) -> None:
        self._key = hashlib.sha256(b"threadline media url\0" + secret.encode()).digest()
        self.base_url = base_url.rstrip("/")
        self.ttl_seconds = ttl_seconds

    def signature(self, stored_id: str, expires: int) -> str:
        message = f"{stored_id}:{expires}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def url(self, stored_id: str, filename: str, now: float | None = None) -> str:
        expires = int((time.time() if now is None else now) + self.ttl_seconds)
        signature = self.signature(stored_id, expires)
        name = quote(filename, safe="")
        return f"{self.base_url}{MEDIA_PATH}/{stored_id}/{name}?exp={expires}&sig={signature}"

    def stored_id_of(self, url: str, now: float | None = None) -> str | None:
        """The stored file a URL of ours points at, when its signature is valid; else None
        (someone else's URL, or one expired or altered)."""
        prefix = f"{self.base_url}{MEDIA_PATH}/"
        if not url.startswith(prefix):
            return None
        target = urlsplit(url)
        stored_id = url[len(prefix) :].split("/", 1)[0]
        query = parse_qs(target.query)
        expires, signature = query.get("exp", [""])[0], query.get("sig", [""])[0]
        return stored_id if self.valid(stored_id, expires, signature, now) else None

    def valid(self, stored_id: str, expires: str, signature: str, now: float | None = None) -> bool:
        if not expires.isdigit() or int(expires) < (time.time() if now is None else now):
            return False
        return hmac.compare_digest(self.signature(stored_id, int(expires)), signature)
