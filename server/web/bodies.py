"""Request bodies parsed the same way by every endpoint: JSON within the size and depth bounds
of ``channels.untrusted``, or a 400 ``bad_json`` that says what is wrong."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from channels.untrusted import BadJSON, loads
from server.web.errors import error


async def json_body(request: Request) -> Any | JSONResponse:
    """The body decoded, or the 400 answer."""
    try:
        return loads(await request.body(), max_length=max_body_bytes(request))
    except BadJSON as problem:
        return bad_json(problem)


def bad_json(problem: BadJSON, what: str = "the body") -> JSONResponse:
    return error(400, "bad_json", f"{what} {problem}")


def max_body_bytes(request: Request) -> int:
    limit: int = request.app.state.settings.max_body_bytes
    return limit
