"""Fake Twilio and Meta Graph APIs: real HTTP servers on 127.0.0.1 for tests.

Each fake runs a stdlib ``ThreadingHTTPServer`` on a free port in a daemon thread, records every
request (method, path, headers, form or JSON body) and answers like the real API. Set
``fake.fail_with = FakeError(...)`` to make every following request fail the way the real API
does, and back to None to succeed again; set ``fake.delay`` to answer late. Usable from sync
and async tests alike::

    with FakeTwilioApi() as twilio_api:
        sender = TwilioSender("AC...", "token", api_base=twilio_api.base_url)
        ...
        assert twilio_api.requests[0].form["Body"] == ["hello"]
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlencode, urlsplit


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    form: dict[str, list[str]] = field(default_factory=dict)
    json: Any = None

    def field(self, name: str) -> str | None:
        """The single value of form field ``name`` (None when absent)."""
        values = self.form.get(name)
        return values[0] if values else None


@dataclass
class FakeError:
    status: int
    code: int
    message: str


class _FakeServer:
    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.fail_with: FakeError | None = None
        self.delay = 0.0  # seconds to wait before answering, to test client timeouts
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        # A short poll interval keeps shutdown (and so each test's teardown) fast.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def answer(self, request: RecordedRequest) -> tuple[int, Any]:
        raise NotImplementedError

    def _record(self, request: RecordedRequest) -> tuple[int, Any]:
        with self._lock:
            self.requests.append(request)
            return self.answer(request)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._handle()

            def do_POST(self) -> None:
                self._handle()

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                url = urlsplit(self.path)
                content_type = self.headers.get("Content-Type", "")
                request = RecordedRequest(
                    method=self.command,
                    path=url.path,
                    query=parse_qs(url.query),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                if "application/x-www-form-urlencoded" in content_type:
                    request.form = parse_qs(body.decode(), keep_blank_values=True)
                elif "json" in content_type and body:
                    request.json = json.loads(body)
                status, payload = fake._record(request)
                if fake.delay:
                    time.sleep(fake.delay)
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a timeout test, or a server shutting down)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output clean

        return Handler


class FakeTwilioApi(_FakeServer):
    """Answers ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` like Twilio, and lists
    the messages it created (``GET`` the same path, filtered on To and From, newest first, in
    pages, as Twilio's Messages list does). Set ``lose_creates`` to take send requests without
    creating anything (a request lost on its way to Twilio)."""

    def __init__(self) -> None:
        super().__init__()
        self._counter = itertools.count(1)
        self.created: list[dict[str, Any]] = []
        self.lose_creates = False

    @property
    def base_url(self) -> str:
        return self.origin

    def answer(self, request: RecordedRequest) -> tuple[int, Any]:
        parts = request.path.strip("/").split("/")
        is_messages = len(parts) == 4 and parts[:2] == ["2010-04-01", "Accounts"]
        is_messages = is_messages and parts[3] == "Messages.json"
        if not is_messages or request.method not in ("GET", "POST"):
            return 404, {
                "code": 20404,
                "message": "The requested resource was not found",
                "more_info": "https://www.twilio.com/docs/errors/20404",
                "status": 404,
            }
        if self.fail_with is not None:
            error = self.fail_with
            return error.status, {
                "code": error.code,
                "message": error.message,
                "more_info": f"https://www.twilio.com/docs/errors/{error.code}",
                "status": error.status,
            }
        if request.method == "GET":
            return self._list(parts[2], request)
        sid = "SM" + secrets.token_hex(16)
        resource = {
            "sid": sid,
            "account_sid": parts[2],
            "from": request.field("From"),
            "to": request.field("To"),
            "body": request.field("Body") or "",
            "status": "queued",
            "num_segments": "1",
            "num_media": str(len(request.form.get("MediaUrl", []))),
            "direction": "outbound-api",
            "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{parts[2]}/Messages/{sid}.json",
            "date_created": formatdate(time.time(), usegmt=True),
            "date_sent": None,
            "error_code": None,
            "error_message": None,
        }
        if not self.lose_creates:
            self.created.append(resource)
        return 201, resource

    def _list(self, account: str, request: RecordedRequest) -> tuple[int, Any]:
        def only(name: str) -> str | None:
            values = request.query.get(name)
            return values[0] if values else None

        to, sender = only("To"), only("From")
        size = int(only("PageSize") or 50)
        page = int(only("Page") or 0)
        matching = [
            m
            for m in reversed(self.created)
            if (to is None or m["to"] == to) and (sender is None or m["from"] == sender)
        ]
        chunk = matching[page * size : (page + 1) * size]
        base = f"/2010-04-01/Accounts/{account}/Messages.json"
        query = {k: v for k, v in (("To", to), ("From", sender)) if v is not None}
        more = (page + 1) * size < len(matching)
        next_query = urlencode({**query, "PageSize": size, "Page": page + 1})
        return 200, {
            "messages": chunk,
            "page": page,
            "page_size": size,
            "start": page * size,
            "end": page * size + max(len(chunk) - 1, 0),
            "uri": f"{base}?{urlencode({**query, 'PageSize': size, 'Page': page})}",
            "first_page_uri": f"{base}?{urlencode({**query, 'PageSize': size, 'Page': 0})}",
            "next_page_uri": f"{base}?{next_query}" if more else None,
            "previous_page_uri": None,
        }

    def lookups(self) -> list[RecordedRequest]:
        """The Messages list requests received (Threadline asking what was sent)."""
        return [r for r in self.requests if r.method == "GET" and r.path.endswith("/Messages.json")]


class FakeGraphApi(_FakeServer):
    """Answers ``POST /{version}/{phone_number_id}/messages`` like Meta's Graph API."""

    version = "v21.0"

    def __init__(self) -> None:
        super().__init__()
        self._counter = itertools.count(1)

    @property
    def graph_base(self) -> str:
        return f"{self.origin}/{self.version}"

    def answer(self, request: RecordedRequest) -> tuple[int, Any]:
        parts = request.path.strip("/").split("/")
        if request.method != "POST" or len(parts) != 3 or parts[2] != "messages":
            return 400, _graph_error(100, "Unsupported request", "GraphMethodException")
        if self.fail_with is not None:
            return self.fail_with.status, _graph_error(self.fail_with.code, self.fail_with.message)
        payload = request.json or {}
        if payload.get("status") == "read":
            return 200, {"success": True}
        recipient = payload.get("to") or payload.get("recipient")
        contact: dict[str, str] = {"input": str(recipient)}
        if payload.get("to"):
            contact["wa_id"] = str(payload["to"]).lstrip("+")
        else:
            contact["user_id"] = str(recipient)
        wamid = f"wamid.FAKE{next(self._counter):06d}"
        return 200, {
            "messaging_product": "whatsapp",
            "contacts": [contact],
            "messages": [{"id": wamid}],
        }


def _graph_error(code: int, message: str, kind: str = "OAuthException") -> dict[str, Any]:
    return {
        "error": {
            "message": message,
            "type": kind,
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": message},
            "fbtrace_id": "A" + secrets.token_hex(8),
        }
    }
