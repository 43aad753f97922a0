"""The guard on flows' outbound HTTP (make-http-request, run-function, REST CRM connectors).

Which addresses are internal is a pure function of the address, tested as tables. The client is
tested for real against loopback servers: it must connect to the very address it checked (a
resolver that changes its answer cannot steer it to 127.0.0.1), keep TLS on the host name, and
stop reading a response at the cap instead of downloading it.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from ipaddress import IPv4Address, IPv6Address, ip_address
from pathlib import Path
from typing import Any

import httpcore
import httpx
import pytest

from server.engine.effects import HttpRequest
from server.runtime.http_client import MAX_RESPONSE_BYTES, FlowHttpClient, HttpGuard
from server.runtime.http_guard import is_internal, literal_address
from tests.server.conftest import ChatClient, ServerProcess
from tests.widgets.fake_http import FakeHttp, json_reply

TLS = Path(__file__).parent / "tls"
MIB = 1024 * 1024

# Every one of these reaches an internal address, however it is spelled.
REFUSED_URLS = [
    # The three: IPv4-compatible, NAT64 and 6to4 forms of 127.0.0.1.
    "http://[::127.0.0.1]/",
    "http://[64:ff9b::7f00:1]/",
    "http://[2002:7f00:1::]/",
    # Numeric spellings that inet_aton (and so getaddrinfo) reads as 127.0.0.1.
    "http://2130706433/",
    "http://0x7f.1/",
    "http://017700000001/",
    "http://0x7f000001/",
    "http://127.1/",
    "http://127.0.0.1/",
    "http://[::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:a9fe:a9fe]/",
    "http://0.0.0.0/",
    "http://0/",
    "http://[::]/",
    "http://169.254.169.254/latest/meta-data/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://[fec0::1]/",
    "http://10.0.0.1/",
    "http://10.255.255.255/",
    "http://172.16.0.1/",
    "http://172.31.255.254/",
    "http://192.168.0.1/",
    "http://100.64.0.1/",
    "http://100.127.255.254/",
    "http://224.0.0.1/",
    "http://239.255.255.250/",
    "http://255.255.255.255/",
    "http://240.0.0.1/",
    "http://[ff02::1]/",
    "http://[ff0e::1]/",
    # NAT64 of 10.0.0.1, the local-use NAT64 prefix, 6to4 of the metadata service.
    "http://[64:ff9b::a00:1]/",
    "http://[64:ff9b:1::a00:1]/",
    "http://[64:ff9b:1:2::808:808]/",
    "http://[2002:a9fe:a9fe::1]/",
    # Teredo: server 65.54.227.120, client 127.0.0.1 (the last 32 bits, inverted).
    "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/",
    # ISATAP-style interface identifiers carrying 10.0.0.1 and 127.0.0.1.
    "http://[2606:4700::5efe:a00:1]/",
    "http://[2606:4700::200:5efe:7f00:1]/",
]

ALLOWED_URLS = [
    "http://8.8.8.8/",
    "http://134744072/",  # 8.8.8.8 as one decimal number
    "http://0x8.0x8.0x8.0x8/",
    "http://1.1.1.1:8080/x",
    "http://[2606:4700:4700::1111]/",
    "http://[::ffff:8.8.8.8]/",
    "http://[64:ff9b::808:808]/",
    "http://[2002:808:808::1]/",
    # Teredo: server 65.54.227.120, client 8.8.8.8.
    "http://[2001:0:4136:e378:8000:63bf:f7f7:f7f7]/",
]


def host_of(url: str) -> str:
    return httpx.URL(url).host


@pytest.mark.parametrize("url", REFUSED_URLS)
def test_internal_addresses_in_every_spelling(url: str) -> None:
    address = literal_address(host_of(url))
    assert address is not None
    assert is_internal(address)


@pytest.mark.parametrize("url", ALLOWED_URLS)
def test_global_addresses_are_not_internal(url: str) -> None:
    address = literal_address(host_of(url))
    assert address is not None
    assert not is_internal(address)


@pytest.mark.parametrize("host", ["example.com", "crm.test", "1.2.3.4.5", "08.1.1.1", "::g"])
def test_names_are_not_literal_addresses(host: str) -> None:
    assert literal_address(host) is None


def test_numeric_spellings_are_read_as_the_resolver_reads_them() -> None:
    assert literal_address("2130706433") == IPv4Address("127.0.0.1")
    assert literal_address("0x7f.1") == IPv4Address("127.0.0.1")
    assert literal_address("017700000001") == IPv4Address("127.0.0.1")
    assert literal_address("0177.0.0.1") == IPv4Address("127.0.0.1")
    assert literal_address("::127.0.0.1") == IPv6Address("::127.0.0.1")


def get(url: str, timeout: float = 2.0) -> HttpRequest:
    return HttpRequest("r1", "GET", url, {}, None, None, timeout)


class ScriptedResolver:
    """Answers each look-up with the next of its answers, as a rebinding DNS server would."""

    def __init__(self, *answers: Iterable[str]) -> None:
        self.answers = [[ip_address(a) for a in answer] for answer in answers]
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int) -> list[IPv4Address | IPv6Address]:
        self.calls.append(host)
        return self.answers[min(len(self.calls), len(self.answers)) - 1]


class LoopbackOnlyBackend(httpcore.AsyncNetworkBackend):
    """The real network backend for loopback; every other connection is recorded and refused.

    The tests must not reach out of the machine, yet must see where the client tried to go.
    """

    def __init__(self) -> None:
        self.inner = httpcore.AnyIOBackend()
        self.hosts: list[str] = []

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.hosts.append(host)
        if not ip_address(host).is_loopback:
            raise httpcore.ConnectError(f"test: no connections to {host}")
        return await self.inner.connect_tcp(host, port, timeout, local_address, socket_options)

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


@pytest.fixture
def internal_api() -> Iterator[FakeHttp]:
    with FakeHttp() as fake:
        fake.routes[("GET", "/secret")] = json_reply({"secret": "s3cret"})
        yield fake


@pytest.fixture
async def guarded() -> AsyncIterator[FlowHttpClient]:
    client = FlowHttpClient(HttpGuard())
    yield client
    await client.aclose()


@pytest.mark.parametrize("url", REFUSED_URLS)
async def test_refused_urls_never_connect(guarded: FlowHttpClient, url: str) -> None:
    outcome = await guarded.perform(get(url, timeout=0.5))
    assert not outcome.ok
    assert (outcome.error or "").startswith("refused")


async def test_a_dotted_octal_url_is_refused_as_invalid(guarded: FlowHttpClient) -> None:
    # httpx will not parse 0177.0.0.1 (inet_aton would read 127.0.0.1): no request either way.
    outcome = await guarded.perform(get("http://0177.0.0.1/"))
    assert (outcome.error or "").startswith("refused: invalid URL")


async def test_a_refused_url_on_a_live_port_sends_nothing(
    guarded: FlowHttpClient, internal_api: FakeHttp
) -> None:
    for host in ("127.0.0.1", "[::ffff:127.0.0.1]", "2130706433", "0x7f.1", "localhost"):
        outcome = await guarded.perform(get(f"http://{host}:{internal_api.port}/secret"))
        assert (outcome.error or "").startswith("refused"), (host, outcome)
    assert internal_api.requests == []


async def test_dns_rebinding_cannot_reach_loopback(internal_api: FakeHttp) -> None:
    # The name is global on the first look-up and 127.0.0.1 on every later one.
    resolver = ScriptedResolver(["93.184.215.14"], ["127.0.0.1"])
    network = LoopbackOnlyBackend()
    client = FlowHttpClient(HttpGuard(resolver=resolver), network_backend=network)
    try:
        outcome = await client.perform(get(f"http://rebind.test:{internal_api.port}/secret"))
    finally:
        await client.aclose()
    assert not outcome.ok
    assert resolver.calls == ["rebind.test"]
    assert network.hosts == ["93.184.215.14"]
    assert internal_api.requests == []


async def test_one_internal_answer_among_global_ones_is_refused(internal_api: FakeHttp) -> None:
    resolver = ScriptedResolver(["93.184.215.14", "127.0.0.1"])
    network = LoopbackOnlyBackend()
    client = FlowHttpClient(HttpGuard(resolver=resolver), network_backend=network)
    try:
        outcome = await client.perform(get(f"http://mixed.test:{internal_api.port}/secret"))
    finally:
        await client.aclose()
    assert (outcome.error or "").startswith("refused")
    assert "127.0.0.1" in (outcome.error or "")
    assert network.hosts == []


@pytest.mark.parametrize(
    "guard",
    [
        HttpGuard(allowed_hosts=("crm.test",)),
        HttpGuard(allow_private=True),
    ],
    ids=["allowed-host", "allow-private"],
)
async def test_allowed_hosts_connect_to_the_resolved_address_with_their_name(
    internal_api: FakeHttp, guard: HttpGuard
) -> None:
    resolver = ScriptedResolver(["127.0.0.1"])
    client = FlowHttpClient(HttpGuard(guard.allow_private, guard.allowed_hosts, resolver))
    try:
        outcome = await client.perform(get(f"http://crm.test:{internal_api.port}/secret"))
    finally:
        await client.aclose()
    assert outcome.ok and outcome.status_code == 200
    assert resolver.calls == ["crm.test"]
    assert [r.headers["Host"] for r in internal_api.requests] == [f"crm.test:{internal_api.port}"]


async def test_a_name_not_allowed_that_resolves_to_loopback_is_refused(
    internal_api: FakeHttp,
) -> None:
    resolver = ScriptedResolver(["127.0.0.1"])
    client = FlowHttpClient(HttpGuard(allowed_hosts=("other.test",), resolver=resolver))
    try:
        outcome = await client.perform(get(f"http://crm.test:{internal_api.port}/secret"))
    finally:
        await client.aclose()
    assert (outcome.error or "").startswith("refused")
    assert "THREADLINE_HTTP_ALLOWED_HOSTS" in (outcome.error or "")
    assert internal_api.requests == []


@pytest.fixture
def tls_api() -> Iterator[FakeHttp]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(TLS / "crm.test.pem", TLS / "crm.test.key")
    with FakeHttp(tls=context) as fake:
        fake.routes[("GET", "/contacts")] = json_reply({"name": "Ada"})
        yield fake


async def test_tls_checks_the_certificate_and_sends_sni_for_the_name(tls_api: FakeHttp) -> None:
    resolver = ScriptedResolver(["127.0.0.1"])
    guard = HttpGuard(allowed_hosts=("crm.test", "other.test"), resolver=resolver)
    trust = ssl.create_default_context(cafile=TLS / "crm.test.pem")
    client = FlowHttpClient(guard, ssl_context=trust)
    try:
        good = await client.perform(get(f"https://crm.test:{tls_api.port}/contacts"))
        # Same address, a name the certificate does not carry: the check is on the name.
        bad = await client.perform(get(f"https://other.test:{tls_api.port}/contacts"))
    finally:
        await client.aclose()
    assert good.ok and good.body == '{"name": "Ada"}'
    assert tls_api.server_names[0] == "crm.test"
    assert tls_api.requests[0].headers["Host"] == f"crm.test:{tls_api.port}"
    assert not bad.ok and "certificate" in (bad.error or "").lower()
    assert len(tls_api.requests) == 1


class EndlessBody:
    """A loopback server whose one route streams a body (100 MiB unless told) and counts what it
    managed to send; ``pause`` seconds between chunks make it trickle."""

    def __init__(self, total: int = 100 * MIB, chunk: int = 64 * 1024, pause: float = 0.0) -> None:
        self.total = total
        self.chunk = chunk
        self.pause = pause
        self.sent = 0
        self.done = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/big"

    def __enter__(self) -> EndlessBody:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        endless = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(endless.total))
                self.end_headers()
                chunk = b"x" * endless.chunk
                try:
                    while endless.sent < endless.total:
                        self.wfile.write(chunk)
                        self.wfile.flush()
                        endless.sent += len(chunk)
                        time.sleep(endless.pause)
                except OSError:  # the client closed the connection: what we want
                    pass
                finally:
                    endless.done.set()

        return Handler


async def test_a_huge_body_is_cut_at_the_cap_without_reading_it_all() -> None:
    client = FlowHttpClient(HttpGuard(allowed_hosts=("127.0.0.1",)))
    with EndlessBody() as server:
        try:
            outcome = await client.perform(get(server.url, timeout=10.0))
        finally:
            await client.aclose()
        assert server.done.wait(30), "the server is still sending"
    assert outcome.ok and outcome.status_code == 200
    # Socket buffers hold a few MiB at most; reading everything would have sent 100 MiB.
    assert server.sent < 32 * MIB
    assert outcome.truncated
    assert len(outcome.body) == MAX_RESPONSE_BYTES


async def test_a_trickling_body_ends_at_the_timeout() -> None:
    # Each byte arrives well within httpx's per-read timeout; the call as a whole must not last.
    client = FlowHttpClient(HttpGuard(allowed_hosts=("127.0.0.1",)))
    with EndlessBody(total=60, chunk=1, pause=0.1) as server:
        try:
            outcome = await client.perform(get(server.url, timeout=1.0))
        finally:
            await client.aclose()
        assert server.done.wait(30), "the server is still sending"
    assert not outcome.ok and outcome.error == "timed out after 1 s"
    assert server.sent < server.total


async def test_a_body_under_the_cap_is_whole(internal_api: FakeHttp) -> None:
    internal_api.routes[("GET", "/page")] = (200, "text/plain", "y" * (MAX_RESPONSE_BYTES - 1))
    client = FlowHttpClient(HttpGuard(allowed_hosts=("127.0.0.1",)))
    try:
        outcome = await client.perform(get(internal_api.origin + "/page"))
    finally:
        await client.aclose()
    assert outcome.ok and not outcome.truncated
    assert len(outcome.body) == MAX_RESPONSE_BYTES - 1


async def test_redirects_are_not_followed(internal_api: FakeHttp) -> None:
    with FakeHttp() as public:
        public.routes[("GET", "/moved")] = (302, "text/plain", "")
        target = f"http://localhost:{internal_api.port}/secret"
        public.headers[("GET", "/moved")] = {"Location": target}
        client = FlowHttpClient(HttpGuard(allowed_hosts=("127.0.0.1",)))
        try:
            outcome = await client.perform(get(public.origin + "/moved"))
        finally:
            await client.aclose()
    assert outcome.ok and outcome.status_code == 302
    assert internal_api.requests == []


def probe_flow(directory: Path) -> Path:
    """A flow that calls the URL the visitor types and says what came back."""

    def state(name: str, kind: str, transitions: dict[str, str], **props: Any) -> dict[str, Any]:
        moves = [{"event": event, "next": target} for event, target in transitions.items()]
        return {"name": name, "type": kind, "transitions": moves, "properties": props}

    flow = {
        "description": "probe",
        "initial_state": "Trigger",
        "flags": {},
        "states": [
            state("Trigger", "trigger", {"incomingMessage": "api"}),
            state(
                "api",
                "make-http-request",
                {"success": "ok", "failed": "ko"},
                method="GET",
                url="{{trigger.message.Body}}",
                timeout=5,
            ),
            state(
                "ok",
                "send-message",
                {"sent": ""},
                body="ok {{widgets.api.status_code}} truncated={{widgets.api.truncated}} "
                "size={{widgets.api.body | size}}",
            ),
            state("ko", "send-message", {"sent": ""}, body="failed: {{widgets.api.error}}"),
        ],
    }
    directory.mkdir()
    (directory / "probe.json").write_text(json.dumps(flow))
    return directory


async def test_through_the_server_internal_urls_fail_and_big_bodies_are_cut(
    tmp_path: Path, server_factory: Any, internal_api: FakeHttp
) -> None:
    env = {"THREADLINE_DEFAULT_FLOW": "probe", "THREADLINE_HTTP_ALLOWED_HOSTS": "127.0.0.1"}
    server: ServerProcess = server_factory(probe_flow(tmp_path / "flows"), env)
    with EndlessBody() as big:
        chat = await ChatClient.connect(server.ws_url)
        await chat.say(big.url)
        answer = (await chat.bot())["text"]
        await chat.close()
    assert answer == f"ok 200 truncated=true size={MAX_RESPONSE_BYTES}"
    for host in ("[::127.0.0.1]", "[64:ff9b::7f00:1]", "localhost", "0x7f.1"):
        chat = await ChatClient.connect(server.ws_url)
        await chat.say(f"http://{host}:{internal_api.port}/secret")
        answer = (await chat.bot())["text"]
        await chat.close()
        assert answer.startswith("failed: refused:"), (host, answer)
    assert internal_api.requests == []
