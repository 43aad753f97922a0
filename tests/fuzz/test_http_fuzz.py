"""Request heads every endpoint reads before its body: the Content-Length.

Written by hand on a raw socket (HTTP clients only send lengths that match their bodies):
lengths with any number of leading zeros, past any body, past ``int()``'s 4,300 digits. A length
the body matches gets its endpoint's answer; a length past the limit a 4xx at once, without
waiting for the body (or a 401 first, for an upload without a session); never a 5xx, and the
server logs no traceback.
"""

from __future__ import annotations

import socket

from hypothesis import example, given
from hypothesis import strategies as st

from tests.fuzz.support import ADMIN, WatchedServer, brief, fuzz, tally

PATHS = (
    "/channels/twilio/messages",  # served before the router (server.web.front)
    "/channels/whatsapp",
    "/api/v1/flows/validate",
    "/api/v1/login",
    "/api/app/v1/sessions",
    "/api/app/v1/uploads",
    "/channels/webchat/uploads",
)
MAX_BODY = 1024 * 1024  # THREADLINE_MAX_BODY_BYTES's default
PARSER_REFUSAL = b"Invalid HTTP request received."  # uvicorn's own 400, before any endpoint

lengths = st.one_of(
    st.integers(0, 64).map(str),
    st.builds(lambda zeros, n: "0" * zeros + str(n), st.integers(0, 6000), st.integers(0, 64)),
    st.builds(
        lambda zeros, n: "0" * zeros + str(n), st.integers(0, 20), st.integers(10**8, 10**40)
    ),
    st.integers(4301, 6000).map(lambda digits: "9" * digits),
)


def exchange(server: WatchedServer, path: str, length: str) -> bytes:
    """POST ``path`` declaring ``length``; the body is that long when that is small, else a
    few bytes (the server must not wait for the rest). The whole answer, until the server
    closes the connection."""
    declared = int(length.lstrip("0") or "0") if len(length.lstrip("0")) < 10 else MAX_BODY + 1
    body = b"x" * declared if declared <= 64 else b"hello"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: {ADMIN['Authorization']}\r\nContent-Length: {length}\r\n"
        "Connection: close\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
        conn.sendall(head.encode() + body)
        answer = b""
        while chunk := conn.recv(65536):  # a timeout here: the server waited for the body
            answer += chunk
    return answer


@fuzz(60)
@given(path=st.sampled_from(PATHS), length=lengths)
# Found by this test: "0" * 5000 + "5" passed the HTTP parser, and int() refused it (a 500).
@example(path="/channels/twilio/messages", length="0" * 5000 + "5")
@example(path="/api/v1/flows/validate", length="0" * 5000 + "5")
def test_any_content_length_gets_an_answer(server: WatchedServer, path: str, length: str) -> None:
    answer = exchange(server, path, length)
    status = int(answer.split(b" ", 2)[1])
    tally(f"answered {status}")
    assert status < 500, (path, brief(length), answer[:500])
    if len(length.lstrip("0")) > 9:  # past any limit: refused at once (the body never came)
        assert 400 <= status < 500, (path, brief(length), answer[:500])
    if 400 <= status < 500 and not answer.endswith(PARSER_REFUSAL):
        assert b'{"error":{"code":' in answer, (path, answer[:500])
    server.assert_healthy((path, length))
