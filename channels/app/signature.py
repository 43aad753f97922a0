"""Signed user ids: the app's backend signs the user id so a client cannot claim another user.

``user_hash`` is the lowercase hex HMAC-SHA256 of the UTF-8 user id under the app's secret (the
scheme Intercom's and Crisp's identity verification use, so app backends may already have it).
"""

from __future__ import annotations

import hashlib
import hmac


def user_hash(secret: str, user_id: str) -> str:
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def verify_user_hash(secret: str, user_id: str, given: str) -> bool:
    return hmac.compare_digest(user_hash(secret, user_id), given.strip().lower())
