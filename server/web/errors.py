"""The error shape every endpoint uses: ``{"error": {"code": ..., "message": ...}}``."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response


def error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


# The codes of the errors Starlette raises itself (no route, a method the route does not take).
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own HTTP errors in the same shape: its default answers are plain text
    (found by tests/fuzz: ``DELETE /api/v1/flows/x`` answered "Method Not Allowed")."""
    assert isinstance(exc, HTTPException)  # registered for HTTPException only
    if exc.status_code < 400:
        return Response(status_code=exc.status_code, headers=exc.headers)
    code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    answer = error(exc.status_code, code, f"{exc.detail} ({request.method} {request.url.path})")
    answer.headers.update(exc.headers or {})  # 405 keeps its Allow header
    return answer
