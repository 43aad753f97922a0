"""The app API's REST endpoints under /api/app/v1 (see docs/app-api.md and app_openapi.py).

Every endpoint but ``POST /sessions`` takes the session token as a Bearer credential.
"""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from channels.app import requests as bodies
from channels.app.apps import AppConfig
from channels.app.requests import FieldError
from channels.app.signature import verify_user_hash
from channels.frames import FrameError, non_negative_int
from channels.untrusted import BadJSON, loads
from server.model import MediaPart, new_id
from server.runtime.rows import iso, message_json
from server.store import app_sessions
from server.store.app_sessions import AppSession
from server.web import media_types
from server.web.app_events import route_event
from server.web.app_state import AppState
from server.web.auth import bearer, check_admin
from server.web.bodies import max_body_bytes
from server.web.errors import error
from server.web.limits import BodyTooLarge, TooLarge, read_body
from server.web.params import int_query

MAX_HISTORY_PAGE = 200
MAX_EVENTS_PAGE = 1000


def _state(request: Request) -> AppState:
    state: AppState = request.app.state.app_api
    return state


def _field_error(problem: FieldError) -> JSONResponse:
    return error(problem.status, problem.code, problem.message)


async def _json_body(request: Request) -> Any | FieldError:
    try:
        return loads(await request.body(), max_length=max_body_bytes(request))
    except BadJSON as problem:
        return FieldError("body", f"the request body {problem}", code="bad_json")


async def authenticate(request: Request) -> AppSession | JSONResponse:
    token = bearer(request)
    if token is None:
        return error(401, "unauthenticated", "send the session token as 'Authorization: Bearer'")
    session = await app_sessions.session_for_token(request.app.state.store, token)
    app = _state(request).apps.get(session.app_id) if session is not None else None
    if session is None or app is None:
        return error(401, "invalid_token", "the session token is not valid")
    if app.secret is not None and not session.signed:
        # Made before the app had a secret: its user id was never vouched for.
        return error(401, "invalid_token", "this app now signs user ids: create a new session")
    return session


def _app_of(request: Request, session: AppSession) -> AppConfig:
    return _state(request).apps[session.app_id]


async def create_session(request: Request) -> Response:
    data = await _json_body(request)
    parsed = data if isinstance(data, FieldError) else bodies.parse_session(data)
    if isinstance(parsed, FieldError):
        return _field_error(parsed)
    app = _state(request).apps.get(parsed.app_id)
    if app is None:
        return error(404, "unknown_app", f"field 'app_id': no app {parsed.app_id!r}")
    if app.secret is not None:
        if parsed.user_hash is None:
            return error(401, "signature_required", "field 'user_hash' is required for this app")
        if not verify_user_hash(app.secret, parsed.user_id, parsed.user_hash):
            return error(401, "invalid_signature", "field 'user_hash' does not match 'user_id'")
    token, session = await app_sessions.create_session(
        request.app.state.store,
        app_id=app.id,
        user_id=parsed.user_id,
        device=parsed.device.context,
        push_token=parsed.device.push_token,
        verified=app.secret is not None,
    )
    return JSONResponse(
        {
            "session_token": token,
            "session_id": session.id,
            "conversation_id": session.conversation_id,
            "contact_id": session.contact_id,
            "resumed": session.resumed,
        },
        status_code=201,
    )


async def send_message(request: Request) -> Response:
    session = await authenticate(request)
    if isinstance(session, Response):
        return session
    data = await _json_body(request)
    settings = request.app.state.settings
    parsed = (
        data
        if isinstance(data, FieldError)
        else bodies.parse_message(data, max_chars=settings.max_text_chars)
    )
    if isinstance(parsed, FieldError):
        return _field_error(parsed)
    media = await _media(request, session, parsed.attachments)
    if isinstance(media, FieldError):
        return _field_error(media)
    envelope = bodies.envelope(
        parsed, media, app_id=session.app_id, user_id=session.user_id, signed=session.signed
    )
    ingested = await request.app.state.runtime.receive(envelope)
    conversation_id = ingested.conversation["id"]
    if conversation_id != session.conversation_id:
        await app_sessions.follow_conversation(request.app.state.store, session.id, conversation_id)
    return JSONResponse(
        {
            "message": message_json(ingested.message),
            "conversation_id": conversation_id,
            "duplicate": ingested.duplicate,
        },
        status_code=200 if ingested.duplicate else 201,
    )


async def _media(
    request: Request, session: AppSession, attachments: tuple[bodies.Attachment, ...]
) -> tuple[MediaPart, ...] | FieldError:
    app = _app_of(request, session)
    parts: list[MediaPart] = []
    for index, item in enumerate(attachments):
        where = f"attachments[{index}]"
        url, content_type, filename = item.url, item.content_type, item.filename
        if item.upload_id is not None:
            row = await app_sessions.upload(request.app.state.store, item.upload_id)
            if row is None or (row["app_id"], row["user_id"]) != (app.id, session.user_id):
                return FieldError(
                    f"{where}.upload_id", f"field '{where}.upload_id': no such upload"
                )
            url = upload_url(request, item.upload_id)
            content_type, filename = row["content_type"], filename or row["filename"]
        assert content_type is not None
        if not app.accepts_type(content_type):
            return FieldError(
                f"{where}.content_type",
                f"field '{where}.content_type': {content_type} is not accepted by this app",
                code="unsupported_media_type",
                status=415,
            )
        parts.append(
            MediaPart(
                url=url,
                content_type=content_type,
                filename=filename,
                caption=item.caption,
                media_kind=bodies.media_kind(content_type),
            )
        )
    return tuple(parts)


def upload_url(request: Request, upload_id: str) -> str:
    base = request.app.state.settings.public_url or str(request.base_url)
    return f"{base.rstrip('/')}/api/app/v1/uploads/{upload_id}"


async def list_messages(request: Request) -> Response:
    session = await authenticate(request)
    if isinstance(session, Response):
        return session
    before = int_query(request, "before", None, 1, 2**31)
    if isinstance(before, Response):
        return before
    limit = int_query(request, "limit", 50, 1, MAX_HISTORY_PAGE)
    if isinstance(limit, Response):
        return limit
    assert limit is not None
    rows = await app_sessions.history(
        request.app.state.store, session.conversation_id, before=before, limit=limit
    )
    # Another page exists when this one is full and does not start at the first message.
    more = len(rows) == limit and rows[0]["seq"] > 1
    return JSONResponse(
        {
            "conversation_id": session.conversation_id,
            "messages": [message_json(row) for row in rows],
            "next_before": rows[0]["seq"] if more else None,
        }
    )


async def upload(request: Request) -> Response:
    session = await authenticate(request)
    if isinstance(session, Response):
        return session
    app = _app_of(request, session)
    limit = min(app.max_upload_bytes, request.app.state.settings.max_upload_bytes)
    try:
        data = await read_body(request, limit)
    except BodyTooLarge as refused:
        return TooLarge(refused, "too_large", f"the upload body is larger than {limit} bytes")
    if not data:
        return error(400, "bad_field", "the upload body is empty")
    filename = request.query_params.get("filename")
    if filename is not None and (len(filename) > 255 or "/" in filename or "\\" in filename):
        return error(400, "bad_parameter", "query parameter 'filename' must be a plain file name")
    # The bytes decide the type, never the Content-Type header or the file name: the file is
    # served from our origin, and a claimed image/svg+xml or text/html would run there.
    content_type = media_types.sniff(data)
    if content_type is None or not app.accepts_type(content_type):
        return error(
            415,
            "unsupported_media_type",
            f"body: the file is {content_type or 'of no accepted type'}; accepted: "
            f"{', '.join(app.upload_types)} (decided from the file's content, not from "
            "'Content-Type' or the file name)",
        )
    if filename is not None:
        filename = media_types.safe_filename(filename, content_type)
    upload_id = new_id("UP")
    path = _state(request).uploads_dir / upload_id
    await run_in_threadpool(path.write_bytes, data)
    await app_sessions.add_upload(
        request.app.state.store,
        upload_id=upload_id,
        app_id=app.id,
        user_id=session.user_id,
        content_type=content_type,
        filename=filename,
        size=len(data),
    )
    body = {
        "upload_id": upload_id,
        "url": upload_url(request, upload_id),
        "content_type": content_type,
        "size": len(data),
        "filename": filename,
    }
    return JSONResponse(body, status_code=201)


async def get_upload(request: Request) -> Response:
    """An uploaded file. The id is an unguessable capability, so agents' browsers can show it."""
    upload_id = request.path_params["upload_id"]
    row = (
        await app_sessions.upload(request.app.state.store, upload_id)
        if bodies.UPLOAD_ID.match(upload_id)
        else None
    )
    path = _state(request).uploads_dir / upload_id
    if row is None or not path.exists():
        return error(404, "not_found", f"no upload {upload_id}")
    # Decided again from the bytes: rows stored by earlier releases may carry a claimed type.
    content_type = await run_in_threadpool(media_types.served_type, path)
    return FileResponse(
        path,
        media_type=content_type,
        filename=media_types.safe_filename(row["filename"], content_type, default=upload_id),
        content_disposition_type=media_types.disposition(content_type),
        headers=media_types.SERVED_HEADERS,
    )


async def post_event(request: Request) -> Response:
    session = await authenticate(request)
    if isinstance(session, Response):
        return session
    data = await _json_body(request)
    parsed = data if isinstance(data, FieldError) else bodies.parse_event(data)
    if isinstance(parsed, FieldError):
        return _field_error(parsed)
    store = request.app.state.store
    event_id = await app_sessions.record_app_event(store, session, parsed.name, parsed.properties)
    flow = await route_event(
        request.app.state.runtime,
        _app_of(request, session),
        session.conversation_id,
        parsed.name,
        parsed.properties,
    )
    return JSONResponse({"event_id": event_id, "flow": flow}, status_code=202)


async def post_read(request: Request) -> Response:
    session = await authenticate(request)
    if isinstance(session, Response):
        return session
    data = await _json_body(request)
    if isinstance(data, FieldError):
        return _field_error(data)
    seq = non_negative_int(data if isinstance(data, dict) else {}, "seq")
    if isinstance(seq, FrameError):
        return error(400, seq.code, seq.message)
    await mark_read(request.app.state, session, seq)
    return JSONResponse({"read_seq": seq})


async def mark_read(state: Any, session: AppSession, seq: int) -> None:
    """The user has seen everything up to ``seq``: store it; our messages up to it become read."""
    if not await app_sessions.mark_read(state.store, session.id, seq):
        return
    for row in await app_sessions.unread_outbound(state.store, session.conversation_id, seq):
        # On this channel the provider id is the message id (AppSender). A reply can be read
        # before its send outcome is stored, so use the id itself: apply_status waits a little
        # for the outcome it overtook instead of dropping the receipt.
        provider_id = row["provider_message_id"] or row["id"]
        await state.runtime.apply_status(provider_id, "read", None, None)
    app_state: AppState = state.app_api
    await app_state.hub.user_read(session.conversation_id, seq)


async def contact_events(request: Request) -> Response:
    """Admin API: a contact's journey events, oldest first (``?type=app.event&limit=N``)."""
    if (denied := check_admin(request)) is not None:
        return denied
    store = request.app.state.store
    contact_id = request.path_params["contact_id"]
    if await store.contact(contact_id) is None:
        return error(404, "not_found", f"no contact {contact_id}")
    limit = int_query(request, "limit", 200, 1, MAX_EVENTS_PAGE)
    if isinstance(limit, Response):
        return limit
    assert limit is not None
    rows = await app_sessions.contact_events(
        store, contact_id, type=request.query_params.get("type"), limit=limit
    )
    return JSONResponse(
        {
            "events": [
                {
                    "id": row["id"],
                    "type": row["type"],
                    "contact_id": row["contact_id"],
                    "conversation_id": row["conversation_id"],
                    "channel": row["channel"],
                    "session": row["session"],
                    "time": iso(row["time"]),
                    "properties": row["properties"],
                }
                for row in rows
            ]
        }
    )
