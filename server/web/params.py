"""Query parameters checked the same way by every endpoint."""

from __future__ import annotations

from typing import overload

from starlette.requests import Request
from starlette.responses import Response

from server.web.errors import error


@overload
def int_query(request: Request, name: str, default: int, low: int, high: int) -> int | Response: ...
@overload
def int_query(
    request: Request, name: str, default: None, low: int, high: int
) -> int | Response | None: ...
def int_query(
    request: Request, name: str, default: int | None, low: int, high: int
) -> int | Response | None:
    """The integer query parameter ``name`` within low..high, its default when absent, or the
    400 response naming it."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        return error(400, "bad_parameter", f"query parameter '{name}' must be an integer")
    if not low <= value <= high:
        return error(400, "bad_parameter", f"query parameter '{name}' must be in {low}..{high}")
    return value
