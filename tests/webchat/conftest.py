"""One Threadline server for the web chat tests, with accounts for each feature under test."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.agents.conftest import start_handoff_server
from tests.server.conftest import REPO, ServerProcess, server_factory  # noqa: F401

SECRET = "test-identity-secret"
SLOW_SECONDS = 1.5
UPLOAD_LIMIT = 64 * 1024


class _SlowHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        time.sleep(SLOW_SECONDS)
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture(scope="session")
def slow_api() -> Iterator[str]:
    """A fake external API that takes SLOW_SECONDS to answer."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _SlowHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/slow"
    httpd.shutdown()


def _slow_flow(url: str) -> dict[str, Any]:
    return {
        "description": "Calls a slow API, then answers.",
        "initial_state": "Trigger",
        "flags": {"allow_concurrent_calls": True},
        "states": [
            {
                "name": "Trigger",
                "type": "trigger",
                "transitions": [{"event": "incomingMessage", "next": "call"}],
                "properties": {},
            },
            {
                "name": "call",
                "type": "make-http-request",
                "transitions": [
                    {"event": "success", "next": "done"},
                    {"event": "failed", "next": "done"},
                ],
                "properties": {"method": "GET", "url": url, "timeout": 10},
            },
            {
                "name": "done",
                "type": "send-message",
                "transitions": [{"event": "sent"}, {"event": "failed"}],
                "properties": {"body": "The slow answer is in."},
            },
        ],
    }


WEBCHAT_CONFIG = {
    "default": {"upload_max_bytes": UPLOAD_LIMIT},
    "greet": {"greeting": True, "title": "Greeter"},
    "pre": {
        "greeting": True,
        "prechat": {
            "fields": [
                {"name": "name", "label": "Your name", "required": True},
                {"name": "email", "type": "email", "required": True},
                {"name": "plan", "type": "select", "options": ["free", "pro"]},
            ]
        },
    },
    "signed": {"identity_secret": SECRET},
    "slow": {"flow": "slow"},
    "walled": {"allowed_origins": ["https://shop.example"]},
}


@pytest.fixture(scope="session")
def webchat_server(
    tmp_path_factory: pytest.TempPathFactory, slow_api: str
) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("webchat")
    flows = root / "flows"
    flows.mkdir()
    shutil.copy(REPO / "flows" / "greeting.json", flows / "greeting.json")
    (flows / "slow.json").write_text(json.dumps(_slow_flow(slow_api)))
    data = root / "data"
    data.mkdir()
    (data / "webchat.json").write_text(json.dumps(WEBCHAT_CONFIG))
    server = ServerProcess(data, flows, {"THREADLINE_HTTP_ALLOW_PRIVATE": "1"})
    server.start()
    yield server
    server.stop()


def write_png(path: Path) -> Path:
    """A real 24x24 PNG (Pillow is not needed: zlib and struct make one)."""
    import struct
    import zlib

    width = height = 24
    raw = b"".join(b"\x00" + bytes([200, 40, 90]) * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
    path.write_bytes(png)
    return path


# A hand-off server: the bot greets, then the conversation waits for a billing agent (who may
# close it, so the visitor's next message opens a new one); accounts with and without a welcome.
GREETING = "Hi, I am the bot."
WELCOME = "Hello from the shop team, ask away."

HANDOFF_FLOW = {
    "description": "the bot greets, then waits for a billing agent",
    "initial_state": "Trigger",
    "flags": {},
    "states": [
        {
            "name": "Trigger",
            "type": "trigger",
            "transitions": [{"event": "incomingMessage", "next": "greet"}],
            "properties": {},
        },
        {
            "name": "greet",
            "type": "send-message",
            "transitions": [{"event": "sent", "next": "handoff"}, {"event": "failed"}],
            "properties": {"body": GREETING},
        },
        {
            "name": "handoff",
            "type": "send-to-agent",
            "transitions": [{"event": "assigned"}, {"event": "timeout"}, {"event": "failed"}],
            "properties": {"skills": {"billing": 2}, "timeout": 120, "wait_when_no_agents": True},
        },
    ],
}


@pytest.fixture
def chat_server(tmp_path: Path, server_factory: Any) -> ServerProcess:  # noqa: F811
    accounts = {"default": {"title": "Help"}, "shop": {"title": "Shop", "welcome": WELCOME}}
    return start_handoff_server(
        tmp_path,
        server_factory,
        HANDOFF_FLOW,
        {"disconnect_grace": 2, "offer_timeout": 60},
        env={"THREADLINE_WEBCHAT_CONFIG": json.dumps(accounts)},
    )
