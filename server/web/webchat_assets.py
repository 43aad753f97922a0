"""What embedding pages fetch: the widget script and the public part of an account's config."""

from __future__ import annotations

import hashlib
from pathlib import Path

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.web.webchat_config import WebchatConfig

WIDGET = Path(__file__).resolve().parent.parent / "static" / "webchat" / "widget.js"


def _cors(request: Request, config: WebchatConfig, account: str) -> dict[str, str]:
    origin = request.headers.get("origin")
    allowed = config.account(account).origin_allowed(origin)
    return {"Access-Control-Allow-Origin": origin or "*", "Vary": "Origin"} if allowed else {}


async def widget_script(request: Request) -> Response:
    body = WIDGET.read_bytes()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {
        "ETag": etag,
        # Pages keep the same script URL across releases: cache briefly, revalidate cheaply.
        "Cache-Control": "public, max-age=300, stale-while-revalidate=86400",
        "Access-Control-Allow-Origin": "*",
        "Cross-Origin-Resource-Policy": "cross-origin",
        "X-Content-Type-Options": "nosniff",
    }
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="text/javascript; charset=utf-8", headers=headers)


async def widget_config(request: Request) -> Response:
    config: WebchatConfig = request.app.state.webchat_config
    account = request.query_params.get("channel") or "default"
    headers = {"Cache-Control": "public, max-age=60", **_cors(request, config, account)}
    cap = request.app.state.settings.max_upload_bytes
    return JSONResponse(config.account(account).public_json(account, cap), headers=headers)
