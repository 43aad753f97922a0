"""What every fuzz module shares: example counts, the real server they fuzz with a watch on its
log (an exception the server swallowed into its log fails the example that caused it even when
the answer looked fine), and the checks of what the docs promise: error bodies, error frames,
close frames, sizes."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest
from hypothesis import currently_in_test_context, event, settings
from sqlalchemy import Engine, create_engine
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from tests.server.conftest import ADMIN_TOKEN, REPO, ServerProcess

EXAMPLES_VARIABLE = "THREADLINE_FUZZ_EXAMPLES"
INTERNAL_ERROR = 1011  # the close code uvicorn sends when a socket endpoint raised
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
# The apps of the app messaging API (docs/app-api.md): an unsigned one and a signed one.
APP_SECRET = "fuzz-app-secret"
APPS = {"apps": [{"id": "default"}, {"id": "signed", "secret": APP_SECRET}]}

# What in a server log means an exception escaped the code that should have handled it:
# uvicorn's and Starlette's reports of a failed request or socket, and any logged traceback.
LOG_ALARMS = ("Traceback (most recent call last)", "Exception in ASGI application")


def brief(value: Any, limit: int = 600) -> str:
    """``value`` for an assertion message: generated input can be megabytes long."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def tally(what: str) -> None:
    """Count ``what`` in hypothesis's statistics (``--hypothesis-show-statistics``): which
    answers the examples got, so a run that only ever reached the first check shows it."""
    if currently_in_test_context():  # the helpers also serve plain tests
        event(what)


def long_run() -> bool:
    return bool(os.environ.get(EXAMPLES_VARIABLE, "").strip())


def examples(ci_count: int) -> int:
    """``ci_count`` in CI; ``THREADLINE_FUZZ_EXAMPLES`` for a long local run."""
    raw = os.environ.get(EXAMPLES_VARIABLE, "").strip()
    return int(raw) if raw else ci_count


def fuzz(ci_count: int) -> settings:
    """The settings of one property: the loaded profile (tests/fuzz/conftest.py), this many
    examples."""
    return settings(max_examples=examples(ci_count))


class WatchedServer:
    """A real ``threadline serve`` and the part of its log not yet checked."""

    def __init__(self, process: ServerProcess) -> None:
        self.process = process
        self.checked = 0
        # One client for every request: a new httpx client builds an SSL context each time
        # (about 25 ms), which would be most of an example's run time.
        self.http = httpx.Client(base_url=process.base, timeout=30, trust_env=False)

    def stop(self) -> None:
        self.http.close()
        self.process.stop()

    @property
    def base(self) -> str:
        return self.process.base

    @property
    def port(self) -> int:
        return self.process.port

    def assert_healthy(self, what: Any = "") -> None:
        """The process still runs, and nothing since the last check logged an escaped error."""
        assert self.process.proc is not None and self.process.proc.poll() is None, (
            f"the server exited after {brief(what)}:\n{self.process.log()[-4000:]}"
        )
        log = self.process.log()
        fresh, self.checked = log[self.checked :], len(log)
        for alarm in LOG_ALARMS:
            assert alarm not in fresh, f"after {brief(what)} the server logged:\n{fresh[-6000:]}"


def start_server(
    tmp_path_factory: pytest.TempPathFactory, name: str, env: dict[str, str] | None = None
) -> WatchedServer:
    """A server on a free loopback port serving ``flows/greeting.json``, its public URL its own
    address (Twilio signatures are checked against it)."""
    root = tmp_path_factory.mktemp(name)
    flows_dir = root / "flows"
    flows_dir.mkdir()
    shutil.copy(REPO / "flows" / "greeting.json", flows_dir / "greeting.json")
    process = ServerProcess(root / "data", flows_dir, env)
    process.env["THREADLINE_PUBLIC_URL"] = process.base
    process.start()
    return WatchedServer(process)


def assert_error_body(response: httpx.Response, what: Any = "") -> None:
    """A 4xx answers with the documented error shape: ``{"error": {"code", "message"}}``."""
    try:
        body = response.json()
    except ValueError:
        raise AssertionError(f"{brief(what)}: {response.status_code} without JSON") from None
    problem = body.get("error") if isinstance(body, dict) else None
    assert isinstance(problem, dict), (brief(what), response.status_code, body)
    assert isinstance(problem.get("code"), str) and problem["code"], (brief(what), body)
    assert isinstance(problem.get("message"), str), (brief(what), body)


def assert_not_5xx(response: httpx.Response, what: Any = "") -> None:
    assert response.status_code < 500, (brief(what), response.status_code, response.text[:2000])


def fixtures_dir() -> Path:
    """/work/shared/fixtures: beside the checkout (and beside CI's clone)."""
    return REPO.parent / "shared" / "fixtures"


def assert_closed_properly(closed: ConnectionClosed, what: Any) -> None:
    """A socket the server ended: with a close frame, and not for an error of its own."""
    assert closed.rcvd is not None, f"the socket was dropped without a close frame: {brief(what)}"
    assert closed.rcvd.code != INTERNAL_ERROR, f"the server failed on {brief(what)}"
    tally(f"closed with {closed.rcvd.code}")


# Every socket's frames are at most 64 KiB on the wire (``ws_max_size``): a larger one closes
# the socket with 1009 (message too big) before any endpoint reads it.
MAX_SOCKET_FRAME = 64 * 1024
TOO_BIG = 1009


def frame_size(frame: str | bytes) -> int:
    return len(frame.encode() if isinstance(frame, str) else frame)


def assert_closed_only_when_too_big(closed: ConnectionClosed, frame: str | bytes) -> None:
    """A socket the protocol keeps open was closed: only for a frame past the 64 KiB bound,
    with its close frame and 1009."""
    assert_closed_properly(closed, frame)
    assert frame_size(frame) > MAX_SOCKET_FRAME, (
        f"closed after a frame within 64 KiB: {brief(frame)}"
    )
    assert closed.rcvd is not None and closed.rcvd.code == TOO_BIG, (closed.rcvd, brief(frame))


class SocketClient(Protocol):
    """A test client that holds one socket and opens a new one when asked after a close."""

    def socket(self) -> ClientConnection: ...

    def forget_socket(self) -> None: ...


def assert_socket_survives(
    client: SocketClient, frame: str | bytes, still_working: Callable[[], None]
) -> None:
    """Send ``frame``: the socket must keep working (``still_working`` proves it), unless the
    frame is past the 64 KiB bound, when it must close with its close frame and 1009."""
    try:
        client.socket().send(frame)
        still_working()
        tally("the socket kept working")
        assert frame_size(frame) <= MAX_SOCKET_FRAME, (
            f"a frame past 64 KiB was taken: {brief(frame)}"
        )
    except ConnectionClosed as closed:
        client.forget_socket()
        assert_closed_only_when_too_big(closed, frame)


def assert_error_frame(frame: dict[str, Any], codes: frozenset[str] | None = None) -> None:
    """An ``error`` frame has the documented shape (and, when given, one of the documented
    codes): a client can tell the user what went wrong."""
    assert isinstance(frame.get("code"), str) and frame["code"], frame
    assert isinstance(frame.get("message"), str), frame
    if codes is not None:
        assert frame["code"] in codes, f"undocumented error code: {frame}"
    tally(f"error frame {frame['code']}")


def may_have_pinged(frame: str | bytes) -> bool:
    """Whether ``frame`` might be a ping of its own: its pong would come before the one a
    test waits for, and be taken for the answer to the next frame."""
    text = frame.decode("utf-8", "replace") if isinstance(frame, bytes) else frame
    return "ping" in text


def drain(ws: ClientConnection, quiet: float = 0.1) -> None:
    """Read and drop what the server still sends, until it is quiet for ``quiet`` seconds."""
    with contextlib.suppress(TimeoutError):
        while True:
            ws.recv(timeout=quiet)


def open_socket(url: str) -> ClientConnection:
    """A client socket to the loopback server: no proxy from the environment, frames of any
    size, and no bound on the frames queued unread. With websockets' default bound (16 frames)
    the client stops reading the connection once a chatty server has sent that many frames
    nobody read yet, so it cannot see the server's close frame and ``close()`` waits its full
    timeout: a slow test that looks like a server that does not close properly."""
    return connect(url, open_timeout=10, max_size=None, max_queue=None, proxy=None)


def read_only_database(data_dir: Path) -> Engine:
    """The server's SQLite database opened read-only: the tests look at what was stored and
    can never change it themselves."""
    path = (data_dir / "threadline.db").resolve()
    return create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
