"""``GET /media/<id>/<name>?exp=&sig=``: a stored media file, for whoever holds a valid URL.

The signature is the credential (flows pass the URL on, providers fetch it for outbound media,
agents' browsers show it), so the route needs no other authentication; an expired or altered
URL gets 403. Files are served as web chat uploads are: type decided again from the bytes, only
raster images, audio and video inline, with a sandboxing CSP and ``nosniff``.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from server.media.signing import MEDIA_PATH, MediaUrls
from server.web import media_types
from server.web.errors import error
from server.web.webchat_uploads import UploadStore


async def serve_media(request: Request) -> Response:
    urls: MediaUrls = request.app.state.media_urls
    store: UploadStore = request.app.state.media_store
    stored_id = request.path_params["stored_id"]
    expires = request.query_params.get("exp", "")
    if not urls.valid(stored_id, expires, request.query_params.get("sig", "")):
        return error(403, "invalid_signature", "the media URL is expired or its 'sig' is wrong")
    stored = store.get(stored_id)
    if stored is None:
        return error(404, "not_found", "no such media")
    max_age = max(0, int(expires) - int(time.time()))
    return await media_types.served_file(
        store.blob(stored.id), stored.filename, f"private, max-age={max_age}"
    )


_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
_STRING = {"type": "string"}

OPENAPI_PATHS: dict[str, Any] = {
    MEDIA_PATH + "/{stored_id}/{name}": {
        "get": {
            "summary": "Media a customer sent on SMS/MMS or WhatsApp (a signed, expiring URL)",
            "security": [],
            "parameters": [
                {"name": "stored_id", "in": "path", "required": True, "schema": _STRING},
                {"name": "name", "in": "path", "required": True, "schema": _STRING},
                {"name": "exp", "in": "query", "required": True, "schema": {"type": "integer"}},
                {"name": "sig", "in": "query", "required": True, "schema": _STRING},
            ],
            "responses": {
                "200": {"description": "The file, typed from its bytes"},
                "403": {"description": "Expired URL or wrong signature", "content": _ERROR},
                "404": {"description": "No such media", "content": _ERROR},
            },
        }
    }
}


def routes() -> list[BaseRoute]:
    return [Route(MEDIA_PATH + "/{stored_id}/{name}", serve_media, methods=["GET", "HEAD"])]
