"""A fake of Meta's WhatsApp Cloud API (Graph API) sends for benchmarks.

``POST /{version}/{phone_number_id}/messages`` answers like the Graph API: a ``wamid`` for each
message, ``{"success": true}`` for a mark-as-read. The Graph API has no way to list what was
sent, so neither has this fake. ``make_app(outbox)`` builds it around an ``Outbox`` a benchmark
holds in its own process (bench/soak.py reads every message sent from it). The tests use
tests/channels/fakes.py.

``python -m bench.fake_meta PORT`` runs it alone; ``GET /count`` returns how many messages were
sent.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

VERSION = "v21.0"


class Outbox:
    """The messages sent through the fake (reads left out); ``on_send`` is told of each."""

    def __init__(self, on_send: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.on_send = on_send
        self.total = 0
        self.reads = 0
        self._numbers = itertools.count(1)

    def send(self, phone_number_id: str, payload: dict[str, Any]) -> str:
        wamid = f"wamid.SOAK{next(self._numbers):012d}"
        self.total += 1
        if self.on_send is not None:
            self.on_send({"id": wamid, "phone_number_id": phone_number_id, **payload})
        return wamid


def text_of(payload: dict[str, Any]) -> str:
    """The words a Cloud API message payload shows the customer (text or interactive body)."""
    if isinstance(payload.get("text"), dict):
        return str(payload["text"].get("body") or "")
    interactive = payload.get("interactive")
    if isinstance(interactive, dict) and isinstance(interactive.get("body"), dict):
        return str(interactive["body"].get("text") or "")
    return ""


def make_app(outbox: Outbox) -> Starlette:
    async def messages(request: Request) -> JSONResponse:
        payload = await request.json()
        if payload.get("status") == "read":
            outbox.reads += 1
            return JSONResponse({"success": True})
        recipient = str(payload.get("to") or payload.get("recipient") or "")
        wamid = outbox.send(request.path_params["phone_number_id"], payload)
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": recipient, "wa_id": recipient.lstrip("+")}],
                "messages": [{"id": wamid}],
            }
        )

    async def count(request: Request) -> PlainTextResponse:
        return PlainTextResponse(str(outbox.total))

    return Starlette(
        routes=[
            Route("/{version}/{phone_number_id}/messages", messages, methods=["POST"]),
            Route("/count", count),
        ]
    )


app = make_app(Outbox())

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
