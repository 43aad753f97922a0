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

import base64
import hashlib
import itertools
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
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
class RawAnswer:
    """An answer that is not JSON: media bytes, or a redirect (``headers`` has its Location)."""

    body: bytes
    content_type: str = "application/octet-stream"
    headers: dict[str, str] = field(default_factory=dict)


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
                raw = payload if isinstance(payload, RawAnswer) else None
                data = raw.body if raw is not None else json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header(
                        "Content-Type", raw.content_type if raw is not None else "application/json"
                    )
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in (raw.headers if raw is not None else {}).items():
                        self.send_header(name, value)
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
        # Messaging Service SID -> the pool number Twilio sends from when a send names the
        # service instead of a From (sticky sender, one number per service here).
        self.service_numbers: dict[str, str] = {}
        # Media resource path -> (bytes, content type, the Authorization header it needs).
        self.media: dict[str, tuple[bytes, str, str]] = {}

    @property
    def base_url(self) -> str:
        return self.origin

    def add_media(self, account_sid: str, auth_token: str, data: bytes, content_type: str) -> str:
        """Hold a received message's media; returns its ``MediaUrl`` as Twilio posts it (on
        api.twilio.com: the server rebases it onto this fake, as it does API calls)."""
        message_sid, media_sid = "MM" + secrets.token_hex(16), "ME" + secrets.token_hex(16)
        path = f"/2010-04-01/Accounts/{account_sid}/Messages/{message_sid}/Media/{media_sid}"
        basic = base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode()
        self.media[path] = (data, content_type, f"Basic {basic}")
        return "https://api.twilio.com" + path

    def media_fetches(self) -> list[RecordedRequest]:
        return [r for r in self.requests if "/Media/" in r.path or r.path.startswith("/storage/")]

    def _media_answer(self, request: RecordedRequest) -> tuple[int, Any]:
        if request.path.startswith("/storage/"):  # where Twilio redirects: no credentials
            held = self.media.get(request.path.removeprefix("/storage"))
            if held is None:
                return 404, {"message": "no such media"}
            return 200, RawAnswer(held[0], held[1])
        held = self.media.get(request.path)
        if held is None:
            return 404, {"code": 20404, "message": "not found", "status": 404}
        if request.headers.get("authorization") != held[2]:
            return 401, {"code": 20003, "message": "Authenticate", "status": 401}
        # Twilio's storage is another origin: "localhost" is this server under another name.
        storage = f"http://localhost:{self.port}/storage{request.path}"
        return 307, RawAnswer(b"", headers={"Location": storage})

    def answer(self, request: RecordedRequest) -> tuple[int, Any]:
        if request.method == "GET" and (
            "/Media/" in request.path or request.path.startswith("/storage/")
        ):
            return self._media_answer(request)
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
        service = request.field("MessagingServiceSid")
        unknown_service = service is not None and service not in self.service_numbers
        if unknown_service and request.field("From") is None:
            return 400, {
                "code": 21705,
                "message": "The Messaging Service Sid is invalid.",
                "more_info": "https://www.twilio.com/docs/errors/21705",
                "status": 400,
            }
        sid = "SM" + secrets.token_hex(16)
        resource = {
            "sid": sid,
            "account_sid": parts[2],
            "messaging_service_sid": service,
            "from": request.field("From") or self.service_numbers.get(service or ""),
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
        # Media id -> (bytes, mime type Meta reports); served to holders of ``access_token``.
        self.media: dict[str, tuple[bytes, str]] = {}
        self.access_token: str | None = None
        self.uploads: list[dict[str, Any]] = []  # media uploaded for sending, in order

    @property
    def graph_base(self) -> str:
        return f"{self.origin}/{self.version}"

    def add_media(self, data: bytes, mime_type: str, media_id: str | None = None) -> str:
        """Hold a customer's media as Meta does: ``GET /{version}/{media_id}`` answers its
        metadata with a download ``url``, and that URL answers the bytes."""
        media_id = media_id or str(10**15 + next(self._counter))
        self.media[media_id] = (data, mime_type)
        return media_id

    def media_fetches(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == "GET"]

    def _upload(self, request: RecordedRequest) -> tuple[int, Any]:
        """``POST /{phone_number_id}/media`` (multipart): the file is held like received media."""
        if self.fail_with is not None:
            return self.fail_with.status, _graph_error(self.fail_with.code, self.fail_with.message)
        head = f"Content-Type: {request.headers.get('content-type', '')}\r\n\r\n".encode()
        form = BytesParser(policy=HTTP).parsebytes(head + request.body)
        fields: dict[str, Any] = {}
        for item in form.iter_parts():
            name = item.get_param("name", header="content-disposition")
            data = item.get_payload(decode=True)
            fields[str(name)] = (item.get_filename(), item.get_content_type(), data)
        if fields.get("messaging_product", (0, 0, b""))[2] != b"whatsapp" or "file" not in fields:
            return 400, _graph_error(100, "Invalid parameter")
        filename, content_type, data = fields["file"]
        media_id = self.add_media(data, content_type)
        self.uploads.append(
            {"id": media_id, "filename": filename, "type": content_type, "data": data}
        )
        return 200, {"id": media_id}

    def _media_answer(self, request: RecordedRequest, parts: list[str]) -> tuple[int, Any]:
        if self.access_token and request.headers.get("authorization") != (
            f"Bearer {self.access_token}"
        ):
            return 401, _graph_error(190, "Invalid OAuth access token")
        if parts[0] == "download":  # the lookaside URL Meta hands out
            held = self.media.get(request.query.get("mid", [""])[0])
            if held is None:
                return 404, _graph_error(100, "Unknown media")
            return 200, RawAnswer(held[0], held[1])
        held = self.media.get(parts[1])
        if held is None:
            return 400, _graph_error(100, "Unsupported get request", "GraphMethodException")
        data, mime_type = held
        return 200, {
            "messaging_product": "whatsapp",
            "url": f"{self.origin}/download/?mid={parts[1]}&ext=1&hash=fake",
            "mime_type": mime_type,
            "sha256": hashlib.sha256(data).hexdigest(),
            "file_size": len(data),
            "id": parts[1],
        }

    def answer(self, request: RecordedRequest) -> tuple[int, Any]:
        parts = request.path.strip("/").split("/")
        if request.method == "GET" and (parts[0] == "download" or len(parts) == 2):
            return self._media_answer(request, parts)
        if request.method == "POST" and len(parts) == 3 and parts[2] == "media":
            return self._upload(request)
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
