"""Hostile input from outside: deeply nested JSON on every body that is parsed, and integers too
large for the database on every socket and query. Each gets a 400 (or the protocol's error
frame) naming the problem, the socket stays open, and the server stays healthy."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import websockets

from channels.untrusted import MAX_DEPTH
from tests.server.conftest import ADMIN_TOKEN, REPO, ServerProcess

META_SECRET = "meta-app-secret-for-hostile-tests"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
HUGE = 10**30  # far beyond SQLite's signed 64-bit INTEGER
JUST_TOO_BIG = 2**63  # one more than the largest value SQLite stores
UNSIGNED_64 = 2**64 - 1  # still an integer after a JSON decoder that reads unsigned 64-bit


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("hostile")
    flows = root / "flows"
    flows.mkdir()
    (flows / "greeting.json").write_bytes((REPO / "flows" / "greeting.json").read_bytes())
    env = {
        "THREADLINE_WHATSAPP_VERIFY_TOKEN": "verify",
        "THREADLINE_WHATSAPP_APP_SECRET": META_SECRET,
        "THREADLINE_WHATSAPP_ACCESS_TOKEN": "access",
        # Nothing here sends to Meta: an address nothing listens on.
        "THREADLINE_WHATSAPP_GRAPH_BASE": "http://127.0.0.1:9",
    }
    server = ServerProcess(root / "data", flows, env)
    server.start()
    yield server
    server.stop()


def nested_list(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def nested_object(depth: int) -> bytes:
    """``{"login": [[...]], "password": "x"}``: the shape of a real body, nested ``depth`` deep."""
    return b'{"password": "x", "login": ' + nested_list(depth - 1) + b"}"


def app_session(server: ServerProcess, user_id: str) -> dict[str, Any]:
    response = httpx.post(
        server.base + "/api/app/v1/sessions",
        json={"app_id": "default", "user_id": user_id},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def _json_posts(server: ServerProcess, raw: bytes) -> dict[str, httpx.Response]:
    """``raw`` as the JSON body of every endpoint that parses one, answered."""
    session = app_session(server, "deep-json-user")
    app_auth = {"Authorization": f"Bearer {session['session_token']}"}
    signature = "sha256=" + hmac.new(META_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    calls: dict[str, tuple[str, str, dict[str, str]]] = {
        "login": ("POST", "/api/v1/login", {}),
        "create agent": ("POST", "/api/v1/agents", ADMIN),
        "REST trigger": ("POST", "/api/v1/flows/greeting/executions", ADMIN),
        "flow validate": ("POST", "/api/v1/flows/validate", ADMIN),
        "flow publish": ("PUT", "/api/v1/flows/deep", ADMIN),
        "app session": ("POST", "/api/app/v1/sessions", {}),
        "app message": ("POST", "/api/app/v1/messages", app_auth),
        "app event": ("POST", "/api/app/v1/events", app_auth),
        "app read": ("POST", "/api/app/v1/read", app_auth),
        "WhatsApp webhook": ("POST", "/channels/whatsapp", {"X-Hub-Signature-256": signature}),
    }
    answers = {}
    with httpx.Client(base_url=server.base, timeout=30) as client:
        for name, (method, path, headers) in calls.items():
            headers = {**headers, "Content-Type": "application/json"}
            answers[name] = client.request(method, path, content=raw, headers=headers)
    return answers


@pytest.mark.parametrize(
    "raw",
    [nested_list(100_000), nested_list(2_000), nested_object(MAX_DEPTH + 1)],
    ids=["100000 brackets", "2000 brackets", "one level too deep"],
)
def test_deep_json_is_refused_with_400_everywhere(
    hostile_server: ServerProcess, raw: bytes
) -> None:
    for name, response in _json_posts(hostile_server, raw).items():
        assert response.status_code == 400, (name, response.status_code, response.text)
        problem = response.json()["error"]
        assert problem["code"] == "bad_json", (name, problem)
        assert f"nests deeper than {MAX_DEPTH} levels" in problem["message"], (name, problem)
    assert httpx.get(hostile_server.base + "/healthz", timeout=10).status_code == 200


def test_deep_rest_trigger_parameters_in_a_form_are_refused(hostile_server: ServerProcess) -> None:
    form = {"To": "+14155550111", "From": "+14155550100", "Parameters": "[" * 100_000}
    response = httpx.post(
        hostile_server.base + "/api/v1/flows/greeting/executions",
        content=urlencode(form),
        headers={**ADMIN, "Content-Type": "application/x-www-form-urlencoded"},
        timeout=30,
    )
    assert response.status_code == 400, response.text
    problem = response.json()["error"]
    assert problem["code"] == "bad_json"
    assert "field 'Parameters'" in problem["message"]
    assert f"nests deeper than {MAX_DEPTH} levels" in problem["message"]


def test_json_within_the_depth_bound_is_accepted(hostile_server: ServerProcess) -> None:
    parameters: Any = "deep enough"
    for _ in range(MAX_DEPTH - 1):  # the outer object is the last level
        parameters = {"next": parameters}
    response = httpx.post(
        hostile_server.base + "/api/v1/flows/greeting/executions",
        json={"To": "+14155550112", "From": "+14155550100", "Parameters": parameters},
        headers=ADMIN,
        timeout=30,
    )
    assert response.status_code == 201, response.text


def test_a_huge_flow_version_is_not_found(hostile_server: ServerProcess) -> None:
    response = hostile_server.api(f"/api/v1/flows/greeting/versions/{HUGE}")
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "not_found"


def test_huge_query_numbers_are_refused(hostile_server: ServerProcess) -> None:
    admin = hostile_server.api(f"/api/v1/conversations?offset={HUGE}")
    assert admin.status_code == 400, admin.text
    assert "'offset'" in admin.json()["error"]["message"]
    session = app_session(hostile_server, "huge-query-user")
    app = httpx.get(
        hostile_server.base + f"/api/app/v1/messages?before={UNSIGNED_64}",
        headers={"Authorization": f"Bearer {session['session_token']}"},
        timeout=10,
    )
    assert app.status_code == 400, app.text
    assert app.json()["error"] == {
        "code": "bad_parameter",
        "message": "query parameter 'before' must be in 1..2147483648",
    }


def test_a_huge_seq_on_the_app_read_endpoint_is_refused(hostile_server: ServerProcess) -> None:
    session = app_session(hostile_server, "huge-read-user")
    for seq in (UNSIGNED_64, JUST_TOO_BIG, HUGE):
        response = httpx.post(
            hostile_server.base + "/api/app/v1/read",
            json={"seq": seq},
            headers={"Authorization": f"Bearer {session['session_token']}"},
            timeout=10,
        )
        assert response.status_code == 400, (seq, response.text)
        problem = response.json()["error"]
        assert problem["code"] == "bad_field" and "'seq'" in problem["message"]


# --- sockets -------------------------------------------------------------------------------------


async def _frame(ws: Any, kind: str) -> dict[str, Any]:
    while True:
        data = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if data["type"] == kind:
            return data  # type: ignore[no-any-return]


async def _still_open(ws: Any, ping: dict[str, Any] | None = None) -> None:
    await ws.send(json.dumps(ping or {"type": "ping"}))
    await _frame(ws, "pong")


async def test_web_chat_socket_answers_huge_numbers_with_error_frames(
    hostile_server: ServerProcess,
) -> None:
    url = hostile_server.ws_url
    async with websockets.connect(f"{url}?after=99999999999999999999999") as ws:
        session = await _frame(ws, "session")
        error = await _frame(ws, "error")
        assert error["code"] == "bad_parameter" and "'after'" in error["message"]
        await _still_open(ws)
        frames = [
            {"type": "ack", "seq": UNSIGNED_64},
            {"type": "ack", "seq": JUST_TOO_BIG},
            {"type": "read", "seq": UNSIGNED_64},
            {"type": "read", "seq": HUGE},
            {"type": "history", "before": UNSIGNED_64, "limit": 10},
        ]
        for frame in frames:
            await ws.send(json.dumps(frame))
            error = await _frame(ws, "error")
            assert error["code"] == "bad_field", (frame, error)
        await _still_open(ws)
        await ws.send(json.dumps({"type": "ack", "seq": 2**63 - 1}))  # the largest stored
        await _still_open(ws)
    # The session survived: it resumes.
    async with websockets.connect(f"{url}?token={session['token']}") as again:
        assert (await _frame(again, "session"))["resumed"] is True


async def test_web_chat_socket_refuses_deep_frames(hostile_server: ServerProcess) -> None:
    async with websockets.connect(hostile_server.ws_url) as ws:
        await _frame(ws, "session")
        await ws.send(nested_list(30_000).decode())
        error = await _frame(ws, "error")
        assert error["code"] == "bad_frame"
        assert f"nests deeper than {MAX_DEPTH} levels" in error["message"]
        await _still_open(ws)


async def test_app_socket_answers_huge_numbers_with_error_frames(
    hostile_server: ServerProcess,
) -> None:
    session = app_session(hostile_server, "huge-socket-user")
    url = f"ws://127.0.0.1:{hostile_server.port}/api/app/v1/ws?token={session['session_token']}"
    async with websockets.connect(f"{url}&after={HUGE}") as ws:
        await _frame(ws, "ready")
        error = await _frame(ws, "error")
        assert error["code"] == "bad_parameter" and "'after'" in error["message"]
        await _still_open(ws)
        for seq in (UNSIGNED_64, JUST_TOO_BIG, HUGE):
            await ws.send(json.dumps({"type": "read", "seq": seq}))
            error = await _frame(ws, "error")
            assert error["code"] == "bad_field", (seq, error)
        await ws.send(nested_list(5_000).decode())  # within the app socket's 16 KiB
        error = await _frame(ws, "error")
        assert error["code"] == "bad_frame"
        assert f"nests deeper than {MAX_DEPTH} levels" in error["message"]
        await _still_open(ws)


def _agent_token(server: ServerProcess, login: str) -> str:
    response = httpx.post(
        server.base + "/api/v1/agents",
        json={"name": login, "login": login, "issue_token": True},
        headers=ADMIN,
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return str(response.json()["token"])


async def test_agent_socket_answers_huge_numbers_with_error_frames(
    hostile_server: ServerProcess,
) -> None:
    token = _agent_token(hostile_server, "huge-numbers")
    url = f"ws://127.0.0.1:{hostile_server.port}/agents/ws"
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"v": 1, "type": "hello", "token": token}))
        await _frame(ws, "welcome")
        frames = [
            {"v": 1, "type": "ack", "seq": HUGE},
            {"v": 1, "type": "ack", "seq": UNSIGNED_64},
            {"v": 1, "type": "ack", "seq": JUST_TOO_BIG},
            {"v": 1, "type": "read", "conversation_id": "CV1", "message_seq": HUGE},
        ]
        for frame in frames:
            await ws.send(json.dumps(frame))
            error = await _frame(ws, "error")
            assert error["code"] == "invalid_frame" and error["ref"] == frame["type"], error
        await ws.send(nested_list(30_000).decode())
        error = await _frame(ws, "error")
        assert error["code"] == "invalid_json"
        assert f"nests deeper than {MAX_DEPTH} levels" in error["message"]
        await _still_open(ws, {"v": 1, "type": "ping"})


@pytest.mark.parametrize("kind", ["hello", "resume"])
async def test_agent_socket_refuses_a_huge_last_seq_with_a_close_frame(
    hostile_server: ServerProcess, kind: str
) -> None:
    token = _agent_token(hostile_server, f"huge-{kind}")
    url = f"ws://127.0.0.1:{hostile_server.port}/agents/ws"
    async with websockets.connect(url) as ws:
        await ws.send(json.dumps({"v": 1, "type": kind, "token": token, "last_seq": HUGE}))
        error = await _frame(ws, "error")
        assert error["code"] == "invalid_frame" and "last_seq" in error["message"]
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    assert httpx.get(hostile_server.base + "/healthz", timeout=10).status_code == 200


def test_the_server_logged_no_unhandled_error(hostile_server: ServerProcess) -> None:
    """Runs last in this module: nothing above reached an unhandled exception."""
    log = hostile_server.log()
    assert "Traceback" not in log, log[-4000:]
