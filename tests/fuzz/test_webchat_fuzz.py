"""The web chat socket under arbitrary frames and query parameters (docs/webchat.md).

Whatever a visitor's socket sends (frames shaped like the protocol's with values of any type,
arbitrary JSON, text that is not JSON, nesting past the bound, binary frames, huge integers),
the socket keeps working, proved by a following message that is stored and echoed, and every
``error`` frame has the documented shape and one of the documented codes. The one documented
close is a frame over 64 KiB: close code 1009, with a close frame. A socket is never dropped
and the server logs no escaped exception. A bad query opens a session or gets a documented
error and its documented close code.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

from tests.fuzz.strategies import socket_frames, texts, typed_frames
from tests.fuzz.support import (
    MAX_SOCKET_FRAME,
    WatchedServer,
    assert_closed_properly,
    assert_error_frame,
    assert_socket_survives,
    fuzz,
    open_socket,
    tally,
)

FRAME_TYPES = ("message", "ack", "read", "typing", "history", "prechat", "opened", "ping")
FRAME_FIELDS = (
    "text",
    "client_id",
    "choice_id",
    "attachments",
    "seq",
    "before",
    "limit",
    "typing",
    "conversation_id",
    "fields",
)
webchat_frames = socket_frames(typed_frames(FRAME_TYPES, FRAME_FIELDS))
QUERY_NAMES = ("channel", "token", "after", "user_id", "user_hash")
# The error codes of docs/webchat.md, and those followed by a close (with its code).
ERROR_CODES = frozenset(
    {
        "bad_frame",
        "unknown_type",
        "bad_field",
        "bad_parameter",
        "too_long",
        "too_large",
        "invalid_token",
        "bad_attachment",
        "bad_prechat",
        "bad_identity",
        "origin_not_allowed",
        "unknown_channel",
        "rate_limited",
    }
)
CLOSING_CODES = {
    "bad_identity": 4403,
    "origin_not_allowed": 4403,
    "unknown_channel": 4403,
    "rate_limited": 4429,
}


class Visitor:
    """One visitor's socket, reopened with the visitor's token after the server closes it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.token: str | None = None
        self.ws: ClientConnection | None = None
        self.opened = contextlib.ExitStack()

    def socket(self) -> ClientConnection:
        if self.ws is None:
            query = f"?{urlencode({'token': self.token})}" if self.token else ""
            self.ws = self.opened.enter_context(open_socket(self.url + query))
            self.token = self.frame("session")["token"]
        return self.ws

    def frame(self, kind: str, **match: Any) -> dict[str, Any]:
        """The next frame of ``kind`` (with ``match``), skipping the others (bot messages,
        typing) and checking every error frame on the way."""
        while True:
            assert self.ws is not None
            data = json.loads(self.ws.recv(timeout=10))
            if data["type"] == "error":
                assert_error_frame(data, ERROR_CODES)
            if data["type"] == kind and all(data.get(k) == v for k, v in match.items()):
                return data

    def message_gets_through(self) -> None:
        client_id = uuid.uuid4().hex
        frame = {"type": "message", "text": "still there?", "client_id": client_id}
        self.socket().send(json.dumps(frame))
        self.frame("message", client_id=client_id)

    def forget_socket(self) -> None:
        self.opened.close()
        self.ws = None


@pytest.fixture(scope="module")
def visitor(server: WatchedServer) -> Iterator[Visitor]:
    client = Visitor(server.process.ws_url)
    yield client
    client.forget_socket()


@fuzz(200)
@given(frame=webchat_frames)
@example(frame="x" * (MAX_SOCKET_FRAME + 1))  # past the frame bound: closed with 1009
# Found by this test: uvicorn closed the connection right after the close frame, with the rest
# of the frame unread, and the reset lost the close frame (a socket dropped without one).
@example(frame="x" * 2_000_000)
@example(frame=b"\x00\xff")
def test_any_frame_leaves_the_socket_working_or_closes_it_as_documented(
    server: WatchedServer, visitor: Visitor, frame: str | bytes
) -> None:
    assert_socket_survives(visitor, frame, visitor.message_gets_through)
    server.assert_healthy(frame)


query_values = st.one_of(texts, st.integers().map(str), st.sampled_from(["default", "", "-1"]))


@fuzz(60)
@given(query=st.dictionaries(st.sampled_from(QUERY_NAMES), query_values))
def test_any_query_opens_a_session_or_closes_as_documented(
    server: WatchedServer, query: dict[str, str]
) -> None:
    with open_socket(server.process.ws_url + "?" + urlencode(query)) as ws:
        first = json.loads(ws.recv(timeout=10))
        while first["type"] == "error" and first["code"] not in CLOSING_CODES:
            assert_error_frame(first, ERROR_CODES)  # bad_parameter, invalid_token: go on
            first = json.loads(ws.recv(timeout=10))
        if first["type"] == "session":
            tally("a session opened")
        else:
            assert first["type"] == "error", first
            assert_error_frame(first, ERROR_CODES)
            with pytest.raises(ConnectionClosed) as closed:
                ws.recv(timeout=10)
            assert_closed_properly(closed.value, query)
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == CLOSING_CODES[first["code"]], (query, first)
    server.assert_healthy(query)
