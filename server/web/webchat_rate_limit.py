"""A bound on the new web chat sessions one client address may open per minute.

Opening a session stores nothing, but each one may become a contact and a conversation once it
writes, so an address may not mint sessions in bulk. ``THREADLINE_WEBCHAT_SESSIONS_PER_MINUTE``
(default 60, more than an office behind one NAT opens; 0: no limit) counts every session token
the server issues; a socket that resumes its token is not new.

The client address is the socket's peer as the ASGI server reports it: uvicorn replaces it with
the X-Forwarded-For address only when the peer is one of ``THREADLINE_TRUSTED_PROXIES`` (see
``server.serve``). Counts live in this process's memory, in the ``limits`` package's moving
window; its Redis storage has the same interface, for when nodes must share the count.
"""

from __future__ import annotations

from limits import RateLimitItemPerMinute
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from starlette.types import Scope

RETRY_AFTER_SECONDS = 60  # a full window: by then the oldest counted session has aged out
NAMESPACE = "webchat-sessions"


class NewSessionLimit:
    def __init__(self, per_minute: int, storage: Storage | None = None) -> None:
        self._item = RateLimitItemPerMinute(per_minute) if per_minute > 0 else None
        self._limiter = MovingWindowRateLimiter(storage or MemoryStorage())

    async def allow(self, address: str) -> bool:
        """Count one new session from ``address``; False when it is one too many."""
        if self._item is None:
            return True
        return await self._limiter.hit(self._item, NAMESPACE, address)


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"
