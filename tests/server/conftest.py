"""A real Threadline server in a subprocess on a free port, and a real WebSocket client."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import text

from server.store.database import create_engine

REPO = Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "test-admin-token"
PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ServerProcess:
    """``threadline serve`` as a user runs it; restartable on the same data directory."""

    def __init__(self, data_dir: Path, flows_dir: Path, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.flows_dir = flows_dir
        self.port = free_port()
        self.env = {**os.environ, "THREADLINE_ADMIN_TOKEN": ADMIN_TOKEN, **(env or {})}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / f"server-{self.port}.log"

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/channels/webchat/ws"

    def start(self, wait: bool = True) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "server.cli",
                "serve",
                "--port",
                str(self.port),
                "--data-dir",
                str(self.data_dir),
                "--flows",
                str(self.flows_dir),
            ],
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.base + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server did not start:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def api(self, path: str, token: str | None = ADMIN_TOKEN) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.get(self.base + path, headers=headers, timeout=10)


@pytest.fixture
def flows_dir(tmp_path: Path) -> Path:
    target = tmp_path / "flows"
    target.mkdir()
    shutil.copy(REPO / "flows" / "greeting.json", target / "greeting.json")
    return target


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Any]:
    servers: list[ServerProcess] = []

    def make(flows: Path, env: dict[str, str] | None = None, start: bool = True) -> ServerProcess:
        server = ServerProcess(tmp_path / "data", flows, env)
        servers.append(server)
        if start:
            server.start()
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def server(server_factory: Any, flows_dir: Path) -> ServerProcess:
    return server_factory(flows_dir)  # type: ignore[no-any-return]


class ChatClient:
    """A web chat visitor: a real WebSocket, frames decoded, bot messages collected in order."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.session: dict[str, Any] = {}

    @classmethod
    async def connect(
        cls, url: str, token: str | None = None, after: int | None = None
    ) -> ChatClient:
        query = []
        if token:
            query.append(f"token={token}")
        if after is not None:
            query.append(f"after={after}")
        ws = await websockets.connect(url + ("?" + "&".join(query) if query else ""))
        client = cls(ws)
        client.session = await client.frame("session")
        return client

    async def frame(self, kind: str | None = None, timeout: float = 10) -> dict[str, Any]:
        while True:
            data = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
            if data["type"] == "conversation":  # the visitor's first write opened it
                self.session["conversation_id"] = data["conversation_id"]
            if kind is None or data["type"] == kind:
                return data  # type: ignore[no-any-return]

    async def bot(self, timeout: float = 10) -> dict[str, Any]:
        """The next message from the bot or an agent, skipping echoes of the visitor's own
        messages and hand-off notices (``notice``)."""
        while True:
            frame = await self.frame("message", timeout)
            if frame["direction"] == "outbound" and frame["author"] != "system":
                return frame

    async def notice(self, timeout: float = 10) -> dict[str, Any]:
        """The next hand-off notice (author ``system``), skipping every other message."""
        while True:
            frame = await self.frame("message", timeout)
            if frame["direction"] == "outbound" and frame["author"] == "system":
                return frame

    async def say(self, text: str, **extra: Any) -> None:
        await self.ws.send(json.dumps({"type": "message", "text": text, **extra}))

    async def close(self) -> None:
        await self.ws.close()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database on the machine's server (127.0.0.1:5432), dropped afterwards."""
    name = "tl_" + uuid.uuid4().hex[:12]

    async def admin(statement: str) -> None:
        engine = create_engine(PG_ADMIN_URL).execution_options(isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as conn:
                await conn.execute(text(statement))
        finally:
            await engine.dispose()

    asyncio.run(admin(f"CREATE DATABASE {name}"))
    yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    asyncio.run(admin(f"DROP DATABASE {name} WITH (FORCE)"))
