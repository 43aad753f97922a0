"""A fast fake of Twilio's Messages API for benchmarks (the tests use tests/channels/fakes.py).

``python -m bench.fake_twilio PORT``; ``GET /count`` returns how many messages were created.
"""

from __future__ import annotations

import itertools
import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route

created = itertools.count(1)
total = {"n": 0}


async def create_message(request: Request) -> JSONResponse:
    form = await request.form()
    n = next(created)
    total["n"] = n
    sid = f"SM{n:032x}"
    return JSONResponse(
        {
            "sid": sid,
            "account_sid": request.path_params["account"],
            "to": form.get("To"),
            "from": form.get("From"),
            "body": form.get("Body"),
            "status": "queued",
            "num_segments": "1",
            "uri": f"/2010-04-01/Accounts/{request.path_params['account']}/Messages/{sid}.json",
        },
        status_code=201,
    )


async def count(request: Request) -> PlainTextResponse:
    return PlainTextResponse(str(total["n"]))


app = Starlette(
    routes=[
        Route("/2010-04-01/Accounts/{account}/Messages.json", create_message, methods=["POST"]),
        Route("/count", count),
    ]
)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
