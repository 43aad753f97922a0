"""The baselines of the web scenarios: the least a server can do for the same requests.

- ``POST /sms``: checks the Twilio signature with the twilio package and inserts the message into
  SQLite (WAL, synchronous=FULL, group commit through the same committer Threadline uses: the
  same durability) before answering empty TwiML. No flow, no reply.
- ``WS /ws``: accepts a WebSocket and echoes frames; holding idle sockets is its whole job.

Run: ``python -m bench.baseline_app PORT DATA_DIR AUTH_TOKEN PUBLIC_URL``, under the same uvicorn
settings as ``threadline serve``.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import uvicorn
from sqlalchemy import Column, Float, MetaData, String, Table, Text, insert
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from twilio.request_validator import RequestValidator

from server.store.database import create_engine
from server.store.group_commit import GroupCommitter
from server.web.ws_protocol import LeanWebSocketProtocol

metadata = MetaData()
inbound = Table(
    "inbound",
    metadata,
    Column("sid", String(64), primary_key=True),
    Column("sender", String(64)),
    Column("body", Text),
    Column("created_at", Float),
)

TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def build(data_dir: Path, auth_token: str, public_url: str) -> Starlette:
    validator = RequestValidator(auth_token)
    state: dict[str, GroupCommitter] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = create_engine(f"sqlite+aiosqlite:///{data_dir / 'baseline.db'}")
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
        committer = GroupCommitter(engine)
        committer.start()
        state["committer"] = committer
        yield
        await committer.close()
        await engine.dispose()

    async def sms(request: Request) -> Response:
        form = await request.form()
        params = {k: str(v) for k, v in form.items()}
        url = public_url + request.url.path
        if not validator.validate(url, params, request.headers.get("x-twilio-signature", "")):
            return Response(status_code=403)

        async def op(conn: object) -> None:
            await conn.execute(  # type: ignore[attr-defined]
                insert(inbound).values(
                    sid=params["MessageSid"],
                    sender=params["From"],
                    body=params.get("Body", ""),
                    created_at=time.time(),
                )
            )

        await state["committer"].run(op)  # type: ignore[arg-type]
        return Response(TWIML, media_type="text/xml")

    async def ws(socket: WebSocket) -> None:
        await socket.accept()
        try:
            while True:
                await socket.send_text(await socket.receive_text())
        except WebSocketDisconnect:
            pass

    return Starlette(
        routes=[Route("/sms", sms, methods=["POST"]), WebSocketRoute("/ws", ws)], lifespan=lifespan
    )


if __name__ == "__main__":
    port, data_dir, token, public = int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], sys.argv[4]
    data_dir.mkdir(parents=True, exist_ok=True)
    uvicorn.run(
        build(data_dir, token, public),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        ws_max_size=64 * 1024,
        ws_per_message_deflate=False,  # the same uvicorn settings as `threadline serve`
        ws=LeanWebSocketProtocol,
    )
