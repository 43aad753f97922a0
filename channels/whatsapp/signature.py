"""Meta webhook verification: the subscription handshake and ``X-Hub-Signature-256``."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

SIGNATURE_HEADER = "X-Hub-Signature-256"


def verify_handshake(params: Mapping[str, str], verify_token: str) -> str | None:
    """The ``hub.challenge`` to echo back when Meta's GET subscribe request carries our verify
    token; None when the request must be refused (answer 403)."""
    if not verify_token:
        return None
    if params.get("hub.mode") != "subscribe":
        return None
    if not hmac.compare_digest(params.get("hub.verify_token", ""), verify_token):
        return None
    return params.get("hub.challenge")


def verify_signature(app_secret: str, raw_body: bytes, header: str | None) -> bool:
    """True when ``header`` is ``sha256=`` + HMAC-SHA256 of the raw request body under the app
    secret. The body must be the bytes as received, before any JSON parsing."""
    if not header or not app_secret or not header.startswith("sha256="):
        return False
    expected = hmac.new(app_secret.encode(), raw_body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(header.removeprefix("sha256=").lower(), expected)
