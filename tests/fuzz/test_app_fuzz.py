"""The app messaging API (docs/app-api.md) under arbitrary bodies, queries and socket frames.

Every REST endpoint gets arbitrary JSON, text that is not JSON, and the documented example
bodies with a few nodes broken; uploads get arbitrary bytes and file names; history gets
arbitrary query parameters. Each answers 2xx or a 4xx with the error body, never a 5xx. A sent
message is stored once when it is taken and not at all when it is refused. As documented, the
app socket stays open after any frame within 64 KiB (a ``ping`` still gets its ``pong``), is
closed with 1009 and a close frame after a larger one, and every ``error`` frame has the
documented shape. The server logs no escaped exception.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from websockets.sync.client import ClientConnection

from channels.app.signature import user_hash
from server.store.schema import messages
from tests.fuzz.strategies import (
    dump,
    json_values,
    long_texts,
    mutated,
    raw_bodies,
    socket_frames,
    texts,
    typed_frames,
)
from tests.fuzz.support import (
    APP_SECRET,
    MAX_SOCKET_FRAME,
    WatchedServer,
    assert_error_body,
    assert_error_frame,
    assert_not_5xx,
    assert_socket_survives,
    brief,
    drain,
    fuzz,
    may_have_pinged,
    open_socket,
    tally,
)

PREFIX = "/api/app/v1"
USER = "fuzz-user"
ECHO_ID = "client-generated-id"  # replaced by a fresh one per example
UPLOAD_ID = "UP0123456789abcdef0123456789abcdef"  # replaced by the user's real upload
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452")  # a PNG signature and header start
# The request bodies of docs/app-api.md, the seeds of the mutations.
SESSION_BODY = {
    "app_id": "signed",
    "user_id": USER,
    "user_hash": user_hash(APP_SECRET, USER),
    "device": {
        "platform": "ios",
        "os_version": "18.1",
        "app_version": "5.2.1",
        "device_model": "iPhone16,1",
        "locale": "en_GB",
        "time_zone": "Europe/London",
        "push_token": "push",
    },
}
MESSAGE_BODY = {
    "echo_id": ECHO_ID,
    "text": "hello",
    "choice_id": "billing",
    "attachments": [
        {"upload_id": UPLOAD_ID},
        {
            "url": "https://example.com/a.jpg",
            "content_type": "image/jpeg",
            "filename": "a.jpg",
            "caption": "a photo",
        },
    ],
}
EVENT_BODY = {"name": "sync_failed", "properties": {"reason": "disk full"}}
READ_BODY = {"seq": 3}
SEEDS = {
    "/sessions": SESSION_BODY,
    "/messages": MESSAGE_BODY,
    "/events": EVENT_BODY,
    "/read": READ_BODY,
}


@pytest.fixture(scope="module")
def session_token(server: WatchedServer) -> str:
    response = server.http.post(f"{PREFIX}/sessions", json=SESSION_BODY)
    assert response.status_code == 201, response.text
    return str(response.json()["session_token"])


def check(response: httpx.Response, what: Any) -> None:
    tally(f"answered {response.status_code}")
    assert_not_5xx(response, what)
    if not response.is_success:
        assert_error_body(response, what)


# Message bodies shaped as documented, values of any type or text of any kind: these reach the
# code that stores the message (mutations of the example mostly stop at the first check).
attachments = st.lists(
    st.one_of(
        st.fixed_dictionaries({"upload_id": st.one_of(st.just(UPLOAD_ID), json_values)}),
        st.fixed_dictionaries(
            {"url": st.one_of(st.just("https://example.com/a.jpg"), texts)},
            optional={
                "content_type": st.one_of(st.just("image/jpeg"), texts),
                "filename": texts,
                "caption": long_texts,
            },
        ),
    ),
    max_size=3,
)
message_bodies = st.fixed_dictionaries(
    {"echo_id": st.just(ECHO_ID)},
    optional={
        # Each field valid as often as not, so most bodies get past the first field checked.
        "text": st.one_of(st.just("hello"), texts, long_texts, json_values),
        "choice_id": st.one_of(st.just("billing"), st.just("billing"), texts, json_values),
        "attachments": st.one_of(attachments, json_values),
    },
)


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, bytes]:
    """(endpoint, body): a mutated example body, arbitrary JSON, or not JSON at all."""
    path = draw(st.sampled_from(sorted(SEEDS)))
    body = draw(
        st.one_of(
            mutated(SEEDS[path]).map(lambda value: json.dumps(value).encode()),
            json_values.map(lambda value: json.dumps(value).encode()),
            raw_bodies,
        )
    )
    return path, body


@pytest.fixture(scope="module")
def upload_id(server: WatchedServer, session_token: str) -> str:
    """A file the user uploaded, so the documented message body is one the server takes."""
    headers = {"Authorization": f"Bearer {session_token}", "Content-Type": "image/png"}
    response = server.http.post(f"{PREFIX}/uploads", content=PNG, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["upload_id"])


def test_the_documented_bodies_are_taken(
    server: WatchedServer, session_token: str, upload_id: str
) -> None:
    """The seeds themselves, so the mutations start from bodies that reach every handler."""
    headers = {"Authorization": f"Bearer {session_token}"}
    for path, seed in SEEDS.items():
        body = json.dumps(seed).replace(ECHO_ID, uuid.uuid4().hex).replace(UPLOAD_ID, upload_id)
        response = server.http.post(PREFIX + path, content=body, headers=headers)
        assert response.is_success, (path, response.text)


def stored_echoes(database: Engine, echo_id: str) -> list[Any]:
    """The messages stored with ``echo_id`` (their idempotency key ends with it)."""
    with database.connect() as conn:
        query = select(messages).where(messages.c.idempotency_key.like(f"%{echo_id}%"))
        return list(conn.execute(query))


@fuzz(300)
@given(request=st.one_of(requests(), message_bodies.map(lambda b: ("/messages", dump(b).encode()))))
@example(request=("/messages", json.dumps({**MESSAGE_BODY, "echo_id": "x" * 100_000}).encode()))
def test_any_body_gets_an_answer_and_a_message_is_stored_once_or_not_at_all(
    server: WatchedServer,
    database: Engine,
    session_token: str,
    upload_id: str,
    request: tuple[str, bytes],
) -> None:
    path, body = request
    # A fresh echo id, so the message is new rather than a duplicate of an earlier example.
    echo_id = uuid.uuid4().hex
    body = body.replace(ECHO_ID.encode(), echo_id.encode())
    body = body.replace(UPLOAD_ID.encode(), upload_id.encode())
    headers = {"Authorization": f"Bearer {session_token}", "Content-Type": "application/json"}
    response = server.http.post(PREFIX + path, content=body, headers=headers)
    check(response, request)
    if path == "/messages" and echo_id.encode() in body:
        found = stored_echoes(database, echo_id)
        if response.is_success:
            assert [row.id for row in found] == [response.json()["message"]["id"]], brief(body)
        else:
            assert found == [], f"a refused message was stored: {brief(body)}"
    server.assert_healthy(request)


history_queries = st.dictionaries(
    st.sampled_from(["limit", "before", "after"]),
    st.one_of(texts, st.integers().map(str)),
)


@fuzz(50)
@given(query=history_queries)
def test_any_history_query_gets_an_answer(
    server: WatchedServer, session_token: str, query: dict[str, str]
) -> None:
    headers = {"Authorization": f"Bearer {session_token}"}
    response = server.http.get(f"{PREFIX}/messages", params=query, headers=headers)
    check(response, query)
    server.assert_healthy(query)


@fuzz(40)
@given(
    body=st.one_of(st.binary(max_size=300), st.binary(max_size=100).map(lambda b: PNG + b)),
    filename=st.one_of(st.none(), texts),
    content_type=st.sampled_from(["image/png", "application/octet-stream", "text/html", ""]),
)
def test_any_upload_gets_an_answer(
    server: WatchedServer,
    session_token: str,
    body: bytes,
    filename: str | None,
    content_type: str,
) -> None:
    headers = {"Authorization": f"Bearer {session_token}", "Content-Type": content_type}
    params = {"filename": filename} if filename is not None else {}
    response = server.http.post(f"{PREFIX}/uploads", content=body, params=params, headers=headers)
    check(response, (body, filename))
    if response.status_code == 201:  # what was stored is served back as it was sent
        served = server.http.get(response.json()["url"])
        assert served.status_code == 200 and served.content == body
    server.assert_healthy((body, filename))


class AppSocket:
    """The user's app socket."""

    def __init__(self, server: WatchedServer, token: str) -> None:
        self.url = f"ws://127.0.0.1:{server.port}{PREFIX}/ws?token={token}"
        self.ws: ClientConnection | None = None
        self.opened = contextlib.ExitStack()

    def socket(self) -> ClientConnection:
        if self.ws is None:
            self.ws = self.opened.enter_context(open_socket(self.url))
            self.frame("ready")
        return self.ws

    def frame(self, kind: str) -> dict[str, Any]:
        """The next frame of ``kind``, checking every error frame on the way."""
        while True:
            assert self.ws is not None
            data = json.loads(self.ws.recv(timeout=10))
            if data["type"] == "error":
                assert_error_frame(data)
            if data["type"] == kind:
                return data

    def ping_answered(self) -> None:
        self.socket().send(json.dumps({"type": "ping"}))
        self.frame("pong")

    def forget_socket(self) -> None:
        self.opened.close()
        self.ws = None


@pytest.fixture(scope="module")
def app_socket(server: WatchedServer, session_token: str) -> Iterator[AppSocket]:
    client = AppSocket(server, session_token)
    yield client
    client.forget_socket()


app_frames = socket_frames(typed_frames(("read", "typing", "ping"), ("seq", "busy")))


@fuzz(150)
@given(frame=app_frames)
@example(frame=b"\x00")
@example(frame="x" * (16 * 1024 + 1))  # past the app socket's frame bound: too_large
@example(frame="x" * (MAX_SOCKET_FRAME + 1))  # past every socket's bound: closed with 1009
def test_any_frame_leaves_the_app_socket_open(
    server: WatchedServer, app_socket: AppSocket, frame: str | bytes
) -> None:

    def still_working() -> None:
        app_socket.ping_answered()
        if may_have_pinged(frame):  # its own pong may still be on the way: not the next answer
            drain(app_socket.socket())

    assert_socket_survives(app_socket, frame, still_working)
    server.assert_healthy(frame)
