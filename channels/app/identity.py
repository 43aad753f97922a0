"""The contact identity an app user gets: shared across apps only when the app signed the user id.

A signed user id (the app has a secret) is vouched for by the app's backend, so every signed app
and the web chat's ``Threadline.identify`` name that user ``app:<user id>`` and meet on one
contact. Nobody vouches for an unsigned user id: anyone can claim any, so it names a user of that
one app only (``app_unsigned:<app id>:<user id>``) and never reaches another app's or a signed
user's contact. App ids have no ``:``, so the value is unambiguous.
"""

from __future__ import annotations

from server.model import Identity

SIGNED = "app"
UNSIGNED = "app_unsigned"


def user_identity(app_id: str, user_id: str, *, signed: bool) -> Identity:
    if signed:
        return Identity(SIGNED, user_id)
    return Identity(UNSIGNED, f"{app_id}:{user_id}")
