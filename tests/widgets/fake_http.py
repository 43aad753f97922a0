"""A small real HTTP server on 127.0.0.1 standing in for public services (CRMs, functions, APIs).

Routes map ``(method, path)`` to a reply ``(status, content type, body)`` or to a function of the
recorded request returning one; ``delay`` answers late, to test timeouts; ``headers`` adds
headers to a route's reply (``Location`` for redirects). Every request is recorded with its query,
headers and decoded form or JSON body. With ``tls`` it serves HTTPS and records the SNI names
clients sent.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

Reply = tuple[int, str, str]


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    form: dict[str, list[str]] = field(default_factory=dict)
    json: Any = None


def json_reply(value: Any, status: int = 200) -> Reply:
    return status, "application/json", json.dumps(value)


class FakeHttp:
    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.routes: dict[tuple[str, str], Reply | Callable[[Seen], Reply]] = {}
        self.headers: dict[tuple[str, str], dict[str, str]] = {}
        self.requests: list[Seen] = []
        self.server_names: list[str | None] = []
        self.delay = 0.0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.scheme = "http"
        if tls is not None:
            tls.sni_callback = self._record_server_name
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
            self.scheme = "https"
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def origin(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def _record_server_name(
        self, sock: ssl.SSLObject | ssl.SSLSocket, name: str | None, context: ssl.SSLContext
    ) -> None:
        self.server_names.append(name)

    def seen(self, path: str) -> list[Seen]:
        return [r for r in self.requests if r.path == path]

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                seen = Seen(self.command, parts.path, parse_qs(parts.query), dict(self.headers))
                content_type = self.headers.get("content-type", "")
                if "json" in content_type and raw:
                    seen.json = json.loads(raw)
                elif raw:
                    seen.form = parse_qs(raw.decode())
                fake.requests.append(seen)
                if fake.delay:
                    time.sleep(fake.delay)
                route = fake.routes.get((self.command, parts.path), (404, "text/plain", "nope"))
                status, kind, body = route(seen) if callable(route) else route
                data = body.encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(data)))
                    for header, value in fake.headers.get((self.command, parts.path), {}).items():
                        self.send_header(header, value)
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up (a timeout test)
                    pass

            do_GET = do_POST = do_PUT = _answer

        return Handler
