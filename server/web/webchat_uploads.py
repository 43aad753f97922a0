"""Visitor uploads: ``POST /channels/webchat/uploads`` (session token as Bearer, multipart
``file``), stored under ``<data dir>/uploads`` with a random name and served back at
``/webchat/uploads/<id>``, an unguessable URL. Types are decided on the bytes, not on what the
browser claims, so an upload can never be served as HTML or script (server.web.media_types).
"""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.model import MediaPart
from server.store import sessions
from server.web import media_types
from server.web.errors import error
from server.web.limits import BodyTooLarge, TooLarge, declared_length, limited_receive
from server.web.webchat_config import WebchatConfig

UPLOAD_ID = re.compile(r"^[A-Za-z0-9_-]{20,64}$")
MULTIPART_OVERHEAD = 16 * 1024  # boundaries and part headers around the file


def media_kind(content_type: str) -> str:
    return "image" if content_type.startswith("image/") else "document"


@dataclass(frozen=True, slots=True)
class StoredUpload:
    id: str
    token_hash: str
    content_type: str
    filename: str
    size: int
    url: str

    def media_part(self) -> MediaPart:
        return MediaPart(
            url=self.url,
            content_type=self.content_type,
            filename=self.filename,
            media_kind=media_kind(self.content_type),
        )


class UploadStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _paths(self, upload_id: str) -> tuple[Path, Path]:
        return self.root / upload_id, self.root / f"{upload_id}.json"

    def save(self, upload_id: str, data: bytes, meta: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        blob, sidecar = self._paths(upload_id)
        blob.write_bytes(data)
        sidecar.write_text(json.dumps(meta))  # last: an upload exists once its metadata does

    def get(self, upload_id: str) -> StoredUpload | None:
        if not UPLOAD_ID.match(upload_id):
            return None
        blob, sidecar = self._paths(upload_id)
        if not sidecar.exists() or not blob.exists():
            return None
        meta = json.loads(sidecar.read_text())
        return StoredUpload(
            upload_id,
            meta["token_hash"],
            meta["content_type"],
            meta["filename"],
            meta["size"],
            meta["url"],
        )

    def blob(self, upload_id: str) -> Path:
        return self._paths(upload_id)[0]


def cors_headers(request: Request) -> dict[str, str]:
    # Uploads authenticate with a Bearer token, never cookies: any page embedding the widget may
    # call them, the token is the permission.
    return {
        "Access-Control-Allow-Origin": request.headers.get("origin", "*"),
        "Access-Control-Allow-Methods": "POST, OPTIONS",
        "Access-Control-Allow-Headers": "Authorization, Content-Type",
        "Access-Control-Max-Age": "600",
        "Vary": "Origin",
    }


def public_base(request: Request) -> str:
    configured = request.app.state.settings.public_url
    return str(configured or str(request.base_url)).rstrip("/")


async def upload_preflight(request: Request) -> Response:
    return Response(status_code=204, headers=cors_headers(request))


async def upload_endpoint(request: Request) -> Response:
    headers = cors_headers(request)

    def fail(status: int, code: str, message: str) -> Response:
        response = error(status, code, message)
        response.headers.update(headers)
        return response

    auth = request.headers.get("authorization", "")
    token = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
    state = request.app.state
    session = (
        await sessions.session_by_token(state.store, state.webchat_tokens, token) if token else None
    )
    if session is None:
        return fail(401, "unauthorized", "a valid web chat session token is required (Bearer)")
    config: WebchatConfig = request.app.state.webchat_config
    account = config.account(session.account)
    limit = min(account.upload_max_bytes, request.app.state.settings.max_upload_bytes)

    def too_large(refused: BodyTooLarge) -> Response:
        message = f"field 'file': files may be at most {limit} bytes"
        return TooLarge(refused, "file_too_large", message, headers)

    body_limit = limit + MULTIPART_OVERHEAD
    declared = declared_length(request.scope)
    if declared is not None and declared > body_limit:
        return too_large(BodyTooLarge())
    # The multipart parser spools the file to disk as it reads: count the raw body on its way
    # in, so a chunked or lying body stops at the limit instead of filling the disk first.
    counted = Request(request.scope, limited_receive(request.receive, body_limit))
    try:
        form = await counted.form(max_files=1, max_fields=4)
    except BodyTooLarge as refused:
        return too_large(refused)
    except Exception as exc:  # starlette raises several kinds for malformed multipart bodies
        return fail(400, "bad_upload", f"expected a multipart/form-data body: {exc}")
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        await form.close()
        return fail(400, "bad_upload", "the multipart field 'file' is missing")
    data = await upload.read(limit + 1)
    await form.close()
    if len(data) > limit:
        return too_large(BodyTooLarge(more=False))  # the whole body is read
    if not data:
        return fail(400, "bad_upload", "the file is empty")
    content_type = media_types.sniff(data)
    if content_type is None or content_type not in account.upload_types:
        allowed = ", ".join(account.upload_types)
        return fail(
            415,
            "unsupported_type",
            f"field 'file': only these file types are accepted: {allowed} "
            "(decided from the file's content, not its name or declared type)",
        )
    uploads: UploadStore = request.app.state.webchat_uploads
    filename = media_types.safe_filename(upload.filename, content_type)
    # The id is in the URL: reserve it first, then write the metadata that names the URL.
    upload_id = secrets.token_urlsafe(24)
    url = f"{public_base(request)}/webchat/uploads/{upload_id}"
    meta = {
        "token_hash": session.token_hash,
        "content_type": content_type,
        "filename": filename,
        "size": len(data),
        "url": url,
        "conversation_id": session.conversation_id,
    }
    uploads.save(upload_id, data, meta)
    body = {
        "id": upload_id,
        "url": url,
        "content_type": content_type,
        "filename": filename,
        "size": len(data),
        "media_kind": media_kind(content_type),
    }
    return JSONResponse(body, status_code=201, headers=headers)


async def serve_upload(request: Request) -> Response:
    uploads: UploadStore = request.app.state.webchat_uploads
    stored = uploads.get(request.path_params["upload_id"])
    if stored is None:
        return error(404, "not_found", "no such upload")
    return await media_types.served_file(
        uploads.blob(stored.id), stored.filename, "private, max-age=31536000, immutable"
    )
