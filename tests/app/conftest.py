"""One real server for the app API tests, with test apps and flows; clients for its API."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from channels.app.signature import user_hash
from tests.server.conftest import REPO, ServerProcess

SECRET = "app-secret-for-tests"
FLOWS = Path(__file__).parent / "flows"
APPS = {
    "apps": [
        {"id": "default", "flow": "app_device", "event_flows": {"sync_failed": "app_sync_help"}},
        {"id": "signed", "secret": SECRET, "flow": "app_device"},
        {
            "id": "small",
            "flow": "app_device",
            "max_upload_bytes": 1000,
            "upload_types": ["image/png", "image/jpeg"],
        },
    ]
}


@pytest.fixture(scope="package")
def app_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("app")
    flows = root / "flows"
    flows.mkdir()
    shutil.copy(REPO / "flows" / "greeting.json", flows / "greeting.json")
    for flow in FLOWS.glob("*.json"):
        shutil.copy(flow, flows / flow.name)
    apps_file = root / "apps.json"
    apps_file.write_text(json.dumps(APPS))
    server = ServerProcess(root / "data", flows, {"THREADLINE_APPS_FILE": str(apps_file)})
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def http(app_server: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=app_server.base, timeout=10) as client:
        yield client


class AppUser:
    """An app user with a session: the REST calls an app makes, with its Bearer token."""

    def __init__(self, http: httpx.AsyncClient, session: dict[str, Any]) -> None:
        self.http = http
        self.session = session
        self.headers = {"Authorization": f"Bearer {session['session_token']}"}

    @classmethod
    async def start(
        cls, http: httpx.AsyncClient, user_id: str, app_id: str = "default", **device: str
    ) -> AppUser:
        body: dict[str, Any] = {"app_id": app_id, "user_id": user_id, "device": device}
        if app_id == "signed":
            body["user_hash"] = user_hash(SECRET, user_id)
        response = await http.post("/api/app/v1/sessions", json=body)
        assert response.status_code == 201, response.text
        return cls(http, response.json())

    async def send(self, echo_id: str, text: str = "", **extra: Any) -> httpx.Response:
        body = {"echo_id": echo_id, "text": text, **extra}
        return await self.http.post("/api/app/v1/messages", json=body, headers=self.headers)

    async def history(self, **params: Any) -> dict[str, Any]:
        response = await self.http.get("/api/app/v1/messages", params=params, headers=self.headers)
        assert response.status_code == 200, response.text
        return response.json()

    async def wait_for_text(self, text: str, timeout: float = 10) -> dict[str, Any]:
        """The first stored message containing ``text``, polling the history."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for message in (await self.history(limit=200))["messages"]:
                if text in message["text"]:
                    return message
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no message with {text!r}")
            await asyncio.sleep(0.05)

    async def socket(self, server: ServerProcess) -> AppSocket:
        url = f"ws://127.0.0.1:{server.port}/api/app/v1/ws?token={self.session['session_token']}"
        return await AppSocket.connect(url)


class AppSocket:
    """A real WebSocket client of the app API; frames decoded and kept in arrival order."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.seen: list[dict[str, Any]] = []

    @classmethod
    async def connect(cls, url: str) -> AppSocket:
        client = cls(await websockets.connect(url))
        ready = await client.frame("ready")
        assert ready["conversation_id"]
        return client

    async def frame(self, kind: str, timeout: float = 10, **match: Any) -> dict[str, Any]:
        while True:
            data = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            self.seen.append(data)
            if data["type"] == kind and all(data.get(k) == v for k, v in match.items()):
                return data

    async def bot(self, timeout: float = 10) -> dict[str, Any]:
        return await self.frame("message", timeout, direction="outbound")

    async def send(self, frame: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(frame))

    async def close(self) -> None:
        await self.ws.close()
