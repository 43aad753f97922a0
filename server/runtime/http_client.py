"""Outbound HTTP for flows (make-http-request, run-function, REST CRM connectors), guarded.

Flow designers write URLs; without a guard a flow could reach the metadata service or a database
admin port inside the deployment. The rules (what is internal) are in ``http_guard``; the
transport that connects only to the addresses the guard checked is in ``guarded_transport``.
Around them this client applies host rewrites for staging, one deadline for the whole call,
no redirect following, and reads a response body only up to ``MAX_RESPONSE_BYTES``.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, replace
from urllib.parse import urlsplit, urlunsplit

import httpcore
import httpx

from server.engine.effects import HttpRequest
from server.runtime.guarded_transport import GuardedTransport
from server.runtime.http_guard import BlockedAddress, HttpGuard

__all__ = [
    "MAX_RESPONSE_BYTES",
    "BlockedAddress",
    "FlowHttpClient",
    "HttpGuard",
    "HttpOutcome",
    "rewrite_url",
]

MAX_RESPONSE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class HttpOutcome:
    ok: bool
    status_code: int | None = None
    content_type: str = ""
    body: str = ""
    error: str | None = None
    truncated: bool = False  # the body is the first MAX_RESPONSE_BYTES of a longer one


async def read_capped(
    response: httpx.Response, cap: int = MAX_RESPONSE_BYTES
) -> tuple[bytes, bool]:
    """Read at most ``cap`` bytes of the body; True when there was more (left unread)."""
    body = bytearray()
    async for chunk in response.aiter_bytes():
        room = cap - len(body)
        if len(chunk) > room:
            body += chunk[:room]
            return bytes(body), True
        body += chunk
    return bytes(body), False


def rewrite_url(url: str, rewrites: dict[str, str]) -> str:
    """Send a URL whose host is in ``rewrites`` to the mapped base URL, keeping path and query.

    ``THREADLINE_HTTP_REWRITE`` fills the map: staging and tests run imported Studio flows
    unchanged while their public hosts are answered by a local stand-in.
    """
    parts = urlsplit(url)
    base = rewrites.get(parts.hostname or "")
    if base is None:
        return url
    target = urlsplit(base)
    path = target.path.rstrip("/") + parts.path
    return urlunsplit((target.scheme, target.netloc, path, parts.query, parts.fragment))


class FlowHttpClient:
    def __init__(
        self,
        guard: HttpGuard,
        rewrites: dict[str, str] | None = None,
        *,
        network_backend: httpcore.AsyncNetworkBackend | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.guard = guard
        self.rewrites: dict[str, str] = dict(rewrites or {})  # host -> base URL
        # Redirects are not followed: a 3xx is the flow's answer (make-http-request fails on it,
        # a CRM connector reports it), so no hop can lead past the guard. With its own transport
        # httpx mounts no proxies from the environment: connections go where the guard checked.
        transport = GuardedTransport(guard, network_backend, ssl_context)
        self._client = httpx.AsyncClient(transport=transport, follow_redirects=False)

    async def perform(self, request: HttpRequest) -> HttpOutcome:
        if self.rewrites:
            request = replace(request, url=rewrite_url(request.url, self.rewrites))
        try:
            self.guard.check_url(request.url)
        except BlockedAddress as exc:
            return HttpOutcome(False, error=f"refused: {exc}")
        try:
            # One deadline for the whole call: httpx's timeouts are per network operation, and a
            # server trickling its body would otherwise hold the call open for ever.
            async with asyncio.timeout(request.timeout):
                return await self._exchange(request)
        except (TimeoutError, httpx.TimeoutException):
            return HttpOutcome(False, error=f"timed out after {request.timeout:g} s")
        except BlockedAddress as exc:
            return HttpOutcome(False, error=f"refused: {exc}")
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return HttpOutcome(False, error=f"{type(exc).__name__}: {exc}")

    async def _exchange(self, request: HttpRequest) -> HttpOutcome:
        headers = dict(request.headers)
        if request.body is not None and request.content_type:
            headers.setdefault("Content-Type", request.content_type)
        async with self._client.stream(
            request.method,
            request.url,
            content=request.body.encode() if request.body is not None else None,
            headers=headers,
            timeout=request.timeout,
        ) as response:
            # Leaving the block unread closes the connection: the rest is never downloaded.
            body, truncated = await read_capped(response)
        return HttpOutcome(
            ok=True,
            status_code=response.status_code,
            content_type=response.headers.get("content-type", ""),
            body=body.decode(errors="replace"),
            truncated=truncated,
        )

    async def aclose(self) -> None:
        await self._client.aclose()
