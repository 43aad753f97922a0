"""Identity signing for ``Threadline.identify``: userHash = hex HMAC-SHA256(userId, secret)."""

from __future__ import annotations

import hashlib
import hmac

MAX_USER_ID = 255


def user_hash(user_id: str, secret: str) -> str:
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def verify(user_id: str, given_hash: str, secret: str) -> bool:
    if not user_id or len(user_id) > MAX_USER_ID:
        return False
    return hmac.compare_digest(user_hash(user_id, secret), given_hash.strip().lower())
