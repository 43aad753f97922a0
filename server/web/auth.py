"""API authentication: the admin token as a Bearer credential."""

from __future__ import annotations

import hmac

from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse

from server.web.errors import error


def bearer(conn: HTTPConnection) -> str | None:
    header = conn.headers.get("authorization", "")
    scheme, _, credential = header.partition(" ")
    if scheme.lower() == "bearer" and credential.strip():
        return credential.strip()
    return None


def check_admin(conn: HTTPConnection) -> JSONResponse | None:
    """None when the request carries the admin token, else the 401 response to send."""
    token = bearer(conn)
    expected: str = conn.app.state.settings.admin_token
    if token is None:
        return error(401, "unauthenticated", "send the admin token as 'Authorization: Bearer ...'")
    if not hmac.compare_digest(token.encode(), expected.encode()):
        return error(401, "invalid_token", "the token is not valid")
    return None
