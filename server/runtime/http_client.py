"""Outbound HTTP for flows (make-http-request, run-function), guarded against internal addresses.

Flow designers write URLs; without a guard a flow could reach the metadata service or a database
admin port inside the deployment. Hosts that resolve to private, loopback, link-local or reserved
addresses are refused unless ``THREADLINE_HTTP_ALLOW_PRIVATE`` or an allow-list permits them.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass, replace
from urllib.parse import urlsplit, urlunsplit

import httpx

from server.engine.effects import HttpRequest

MAX_RESPONSE_BYTES = 1024 * 1024


class BlockedAddress(Exception):
    pass


@dataclass(frozen=True)
class HttpGuard:
    allow_private: bool = False
    allowed_hosts: tuple[str, ...] = ()

    async def check(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise BlockedAddress(f"scheme {parts.scheme!r} is not allowed")
        host = parts.hostname or ""
        if not host:
            raise BlockedAddress("URL has no host")
        if self.allow_private or host in self.allowed_hosts:
            return
        infos = await asyncio.get_running_loop().getaddrinfo(host, parts.port or 443)
        for info in infos:
            address = ipaddress.ip_address(info[4][0])
            if not address.is_global:
                raise BlockedAddress(
                    f"{host} resolves to {address}, an internal address; set "
                    "THREADLINE_HTTP_ALLOWED_HOSTS or THREADLINE_HTTP_ALLOW_PRIVATE to allow it"
                )


@dataclass(frozen=True)
class HttpOutcome:
    ok: bool
    status_code: int | None = None
    content_type: str = ""
    body: str = ""
    error: str | None = None


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
    def __init__(self, guard: HttpGuard, rewrites: dict[str, str] | None = None) -> None:
        self.guard = guard
        self.rewrites: dict[str, str] = dict(rewrites or {})  # host -> base URL
        self._client = httpx.AsyncClient(follow_redirects=False)

    async def perform(self, request: HttpRequest) -> HttpOutcome:
        if self.rewrites:
            request = replace(request, url=rewrite_url(request.url, self.rewrites))
        try:
            await self.guard.check(request.url)
        except (BlockedAddress, socket.gaierror, OSError) as exc:
            return HttpOutcome(False, error=f"refused: {exc}")
        headers = dict(request.headers)
        if request.body is not None and request.content_type:
            headers.setdefault("Content-Type", request.content_type)
        try:
            response = await self._client.request(
                request.method,
                request.url,
                content=request.body.encode() if request.body is not None else None,
                headers=headers,
                timeout=request.timeout,
            )
        except httpx.TimeoutException:
            return HttpOutcome(False, error=f"timed out after {request.timeout:g} s")
        except httpx.HTTPError as exc:
            return HttpOutcome(False, error=f"{type(exc).__name__}: {exc}")
        body = response.content[:MAX_RESPONSE_BYTES].decode(errors="replace")
        return HttpOutcome(
            ok=True,
            status_code=response.status_code,
            content_type=response.headers.get("content-type", ""),
            body=body,
        )

    async def aclose(self) -> None:
        await self._client.aclose()
