"""An httpx transport whose TCP connections go only to addresses the HTTP guard has checked.

Checking a host and then letting httpx connect by name resolves the name twice: a DNS server that
answers a global address to the check and 127.0.0.1 to the connection (rebinding) wins. So the
check sits where the socket is opened. httpcore, httpx's connection layer, documents *network
backends* as its extension point for custom DNS and connection behaviour
(https://www.encode.io/httpcore/network-backends/): ``GuardedBackend.connect_tcp`` receives the
URL's host name, resolves it once through the guard, refuses internal addresses, and opens the
socket to the checked IP. Everything above the socket still sees the name: httpcore starts TLS
with ``server_hostname`` set to the URL's host (SNI and certificate verification are for the
name, not the IP), httpx sends the ``Host`` header from the URL, and the pool keys connections
by name, so a connection verified for one name is never reused for another.

httpx does not take a network backend (encode/httpx#3749 proposes it), so this module implements
httpx's documented transport API over an ``httpcore.AsyncConnectionPool`` built with the guarded
backend, rather than reaching into ``httpx.AsyncHTTPTransport``'s private pool. Rewriting the
URL to the IP with the ``sni_hostname`` extension was the other documented route; it was not
taken because the pool would then key connections by IP and could reuse a TLS connection
verified for one name for another name served from the same address.
"""

from __future__ import annotations

import ssl
import typing
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from contextlib import contextmanager

import httpcore
import httpx

from server.runtime.http_guard import HttpGuard

# The connection pool sizes of httpx's own default transport.
LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)

# httpcore's exceptions as httpx's, most specific first, so callers catch httpx's only.
HTTPX_ERRORS: dict[type[Exception], type[httpx.TransportError]] = {
    httpcore.ConnectTimeout: httpx.ConnectTimeout,
    httpcore.ReadTimeout: httpx.ReadTimeout,
    httpcore.WriteTimeout: httpx.WriteTimeout,
    httpcore.PoolTimeout: httpx.PoolTimeout,
    httpcore.TimeoutException: httpx.TimeoutException,
    httpcore.ConnectError: httpx.ConnectError,
    httpcore.ReadError: httpx.ReadError,
    httpcore.WriteError: httpx.WriteError,
    httpcore.NetworkError: httpx.NetworkError,
    httpcore.RemoteProtocolError: httpx.RemoteProtocolError,
    httpcore.LocalProtocolError: httpx.LocalProtocolError,
    httpcore.ProtocolError: httpx.ProtocolError,
    httpcore.UnsupportedProtocol: httpx.UnsupportedProtocol,
}


@contextmanager
def httpx_errors(request: httpx.Request) -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for kind in type(exc).__mro__:
            if kind in HTTPX_ERRORS:
                raise HTTPX_ERRORS[kind](str(exc), request=request) from exc
        raise


class GuardedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, guard: HttpGuard, inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self.guard = guard
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await self.guard.addresses(host, port)
        except OSError as exc:  # the name does not resolve
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        failure: Exception = httpcore.ConnectError(f"no address to connect to for {host}")
        for address in addresses:  # every one was checked; try them in the resolver's order
            try:
                return await self.inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise failure

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class ResponseStream(httpx.AsyncByteStream):
    def __init__(self, stream: AsyncIterable[bytes], request: httpx.Request) -> None:
        self._stream = stream
        self._request = request

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with httpx_errors(self._request):
            async for part in self._stream:
                yield part

    async def aclose(self) -> None:
        close = getattr(self._stream, "aclose", None)
        if close is not None:
            await close()


class GuardedTransport(httpx.AsyncBaseTransport):
    def __init__(
        self,
        guard: HttpGuard,
        network_backend: httpcore.AsyncNetworkBackend | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context or httpx.create_ssl_context(),
            max_connections=LIMITS.max_connections,
            max_keepalive_connections=LIMITS.max_keepalive_connections,
            keepalive_expiry=LIMITS.keepalive_expiry,
            network_backend=GuardedBackend(guard, network_backend),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with httpx_errors(request):
            response = await self._pool.handle_async_request(core_request)
        assert isinstance(response.stream, AsyncIterable)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=ResponseStream(response.stream, request),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()
