"""A fast fake of Twilio's Messages API for benchmarks (the tests use tests/channels/fakes.py).

``python -m bench.fake_twilio PORT``; ``GET /count`` returns how many messages were created.
``GET .../Messages.json?To=&From=`` lists what was created, newest first, in pages, as Twilio's
Messages list does: after a crash the server asks it whether a reply in doubt already went out
(channels/twilio/sender.py, ``send_unless_sent``), and sends only what it does not find.

``make_app(outbox)`` builds the same app around an ``Outbox`` a benchmark holds in its own
process (bench/soak.py reads every created message from it).
"""

from __future__ import annotations

import itertools
import sys
import time
from collections.abc import Callable
from email.utils import formatdate
from typing import Any
from urllib.parse import urlencode

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route


class Outbox:
    """The messages the fake created, by (To, From) for the list call; ``on_create`` is told
    of each one as it is created."""

    def __init__(self, on_create: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.on_create = on_create
        self.total = 0
        self.lookups = 0
        self._numbers = itertools.count(1)
        self._by_pair: dict[tuple[str, str], list[dict[str, Any]]] = {}

    def create(
        self, account: str, to: str, sender: str, body: str, num_media: int
    ) -> dict[str, Any]:
        sid = f"SM{next(self._numbers):032x}"
        message = {
            "sid": sid,
            "account_sid": account,
            "to": to,
            "from": sender,
            "body": body,
            "status": "queued",
            "num_segments": "1",
            "num_media": str(num_media),
            "direction": "outbound-api",
            "date_created": formatdate(time.time(), usegmt=True),
            "uri": f"/2010-04-01/Accounts/{account}/Messages/{sid}.json",
        }
        self.total += 1
        self._by_pair.setdefault((to, sender), []).append(message)
        if self.on_create is not None:
            self.on_create(message)
        return message

    def newest_first(self, to: str, sender: str) -> list[dict[str, Any]]:
        return self._by_pair.get((to, sender), [])[::-1]


def make_app(outbox: Outbox) -> Starlette:
    async def create_message(request: Request) -> JSONResponse:
        form = await request.form()
        message = outbox.create(
            request.path_params["account"],
            str(form.get("To") or ""),
            str(form.get("From") or ""),
            str(form.get("Body") or ""),
            len(form.getlist("MediaUrl")),
        )
        return JSONResponse(message, status_code=201)

    async def list_messages(request: Request) -> JSONResponse:
        """Twilio's Messages list filtered on To and From (both are always given here)."""
        outbox.lookups += 1
        query = request.query_params
        to, sender = query.get("To", ""), query.get("From", "")
        size = int(query.get("PageSize") or 50)
        page = int(query.get("Page") or 0)
        matching = outbox.newest_first(to, sender)
        chunk = matching[page * size : (page + 1) * size]
        base = f"/2010-04-01/Accounts/{request.path_params['account']}/Messages.json"
        more = (page + 1) * size < len(matching)
        next_query = urlencode({"To": to, "From": sender, "PageSize": size, "Page": page + 1})
        return JSONResponse(
            {
                "messages": chunk,
                "page": page,
                "page_size": size,
                "start": page * size,
                "end": page * size + max(len(chunk) - 1, 0),
                "uri": f"{base}?{urlencode({'To': to, 'From': sender, 'Page': page})}",
                "first_page_uri": f"{base}?{urlencode({'To': to, 'From': sender, 'Page': 0})}",
                "next_page_uri": f"{base}?{next_query}" if more else None,
                "previous_page_uri": None,
            }
        )

    async def count(request: Request) -> PlainTextResponse:
        return PlainTextResponse(str(outbox.total))

    messages_path = "/2010-04-01/Accounts/{account}/Messages.json"
    return Starlette(
        routes=[
            Route(messages_path, create_message, methods=["POST"]),
            Route(messages_path, list_messages, methods=["GET"]),
            Route("/count", count),
        ]
    )


app = make_app(Outbox())

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
