"""Validation of app API request bodies into values; every error names the offending field."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from channels.app.identity import user_identity
from server.model import (
    ChoiceReplyPart,
    InboundEnvelope,
    MediaPart,
    Part,
    TextPart,
)

CHANNEL = "app"
MAX_ID_CHARS = 128
MAX_DEVICE_CHARS = 256
MAX_ATTACHMENTS = 10
# What a flow (and later an agent) sees as conversation.context.device. The push token is kept
# out of it: it is a credential for the push service, not context.
DEVICE_FIELDS = (
    "platform",
    "os_version",
    "app_version",
    "device_model",
    "locale",
    "time_zone",
)
EVENT_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
CONTENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9.+-]*/[a-z0-9][a-z0-9.+-]*$")
UPLOAD_ID = re.compile(r"^UP[0-9a-f]{32}$")


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str
    code: str = "bad_field"
    status: int = 400


@dataclass(frozen=True, slots=True)
class Device:
    context: dict[str, str]  # DEVICE_FIELDS that were given
    push_token: str | None = None


@dataclass(frozen=True, slots=True)
class SessionRequest:
    app_id: str
    user_id: str
    user_hash: str | None
    device: Device


@dataclass(frozen=True, slots=True)
class Attachment:
    upload_id: str | None = None
    url: str | None = None
    content_type: str | None = None
    filename: str | None = None
    caption: str | None = None


@dataclass(frozen=True, slots=True)
class MessageRequest:
    echo_id: str
    text: str = ""
    choice_id: str | None = None
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True, slots=True)
class EventRequest:
    name: str
    properties: dict[str, Any] = field(default_factory=dict)


def _identifier(data: dict[str, Any], name: str, required: bool = True) -> str | FieldError | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        return FieldError(name, f"field '{name}' must be a non-empty string")
    if len(value) > MAX_ID_CHARS or not value.isprintable():
        return FieldError(name, f"field '{name}' must be <= {MAX_ID_CHARS} printable characters")
    return value


def _object(data: Any) -> dict[str, Any] | FieldError:
    if not isinstance(data, dict):
        return FieldError("body", "the request body must be a JSON object")
    return data


def parse_session(data: Any) -> SessionRequest | FieldError:
    body = _object(data)
    if isinstance(body, FieldError):
        return body
    app_id = _identifier(body, "app_id")
    user_id = _identifier(body, "user_id")
    user_hash = _identifier(body, "user_hash", required=False)
    for value in (app_id, user_id, user_hash):
        if isinstance(value, FieldError):
            return value
    device = parse_device(body.get("device", {}))
    if isinstance(device, FieldError):
        return device
    assert isinstance(app_id, str) and isinstance(user_id, str)
    return SessionRequest(
        app_id, user_id, user_hash if isinstance(user_hash, str) else None, device
    )


def parse_device(data: Any) -> Device | FieldError:
    """Known device fields; unknown ones are ignored so newer app releases keep working."""
    if not isinstance(data, dict):
        return FieldError("device", "field 'device' must be an object")
    context: dict[str, str] = {}
    for name in (*DEVICE_FIELDS, "push_token"):
        value = data.get(name)
        if value is None:
            continue
        if not isinstance(value, str) or len(value) > MAX_DEVICE_CHARS:
            return FieldError(
                f"device.{name}", f"field 'device.{name}' must be a string of <= 256 characters"
            )
        context[name] = value
    push_token = context.pop("push_token", None)
    return Device(context, push_token)


def parse_message(data: Any, *, max_chars: int) -> MessageRequest | FieldError:
    body = _object(data)
    if isinstance(body, FieldError):
        return body
    echo_id = _identifier(body, "echo_id")
    if isinstance(echo_id, FieldError):
        return echo_id
    text = body.get("text", "")
    if text is None:
        text = ""
    if not isinstance(text, str):
        return FieldError("text", "field 'text' must be a string")
    if len(text) > max_chars:
        return FieldError("text", f"field 'text' is longer than {max_chars} characters")
    choice_id = _identifier(body, "choice_id", required=False)
    if isinstance(choice_id, FieldError):
        return choice_id
    attachments = _attachments(body.get("attachments", []))
    if isinstance(attachments, FieldError):
        return attachments
    if not text.strip() and choice_id is None and not attachments:
        return FieldError("text", "send 'text', 'choice_id' or 'attachments'")
    assert isinstance(echo_id, str)
    return MessageRequest(echo_id, text, choice_id, attachments)


def _attachments(data: Any) -> tuple[Attachment, ...] | FieldError:
    if data is None:
        return ()
    if not isinstance(data, list) or len(data) > MAX_ATTACHMENTS:
        return FieldError("attachments", "field 'attachments' must be a list of <= 10 items")
    out: list[Attachment] = []
    for index, item in enumerate(data):
        where = f"attachments[{index}]"
        if not isinstance(item, dict):
            return FieldError(where, f"field '{where}' must be an object")
        strings: dict[str, str | None] = {}
        for name in ("upload_id", "url", "content_type", "filename", "caption"):
            value = item.get(name)
            if value is not None and (not isinstance(value, str) or len(value) > 2048):
                return FieldError(f"{where}.{name}", f"field '{where}.{name}' must be a string")
            strings[name] = value
        upload_id, url, content_type = strings["upload_id"], strings["url"], strings["content_type"]
        if (upload_id is None) == (url is None):
            return FieldError(where, f"field '{where}' needs exactly one of 'upload_id' or 'url'")
        if upload_id is not None and not UPLOAD_ID.match(upload_id):
            return FieldError(
                f"{where}.upload_id", f"field '{where}.upload_id' is not an upload id"
            )
        if url is not None:
            if not url.startswith(("https://", "http://")):
                return FieldError(f"{where}.url", f"field '{where}.url' must be an http(s) URL")
            if content_type is None or not CONTENT_TYPE.match(content_type.lower()):
                return FieldError(
                    f"{where}.content_type", f"field '{where}.content_type' must be a MIME type"
                )
        out.append(
            Attachment(
                upload_id=upload_id,
                url=url,
                content_type=content_type.lower() if content_type else None,
                filename=strings["filename"],
                caption=strings["caption"],
            )
        )
    return tuple(out)


def parse_event(data: Any) -> EventRequest | FieldError:
    body = _object(data)
    if isinstance(body, FieldError):
        return body
    name = body.get("name")
    if not isinstance(name, str) or not EVENT_NAME.match(name):
        return FieldError("name", "field 'name' must be 1-64 letters, digits, '_', '.', ':' or '-'")
    properties = body.get("properties", {})
    if properties is None:
        properties = {}
    if not isinstance(properties, dict):
        return FieldError("properties", "field 'properties' must be an object")
    return EventRequest(name, properties)


def media_kind(content_type: str | None) -> str:
    major = (content_type or "").split("/", 1)[0]
    if major in ("image", "video", "audio"):
        return major
    return "document" if content_type == "application/pdf" else "file"


def envelope(
    message: MessageRequest,
    media: tuple[MediaPart, ...],
    *,
    app_id: str,
    user_id: str,
    signed: bool,
) -> InboundEnvelope:
    """The inbound envelope; the echo id is scoped by app and user so retries store once.
    ``signed``: the session's user id was signed by the app (see ``identity``)."""
    parts: list[Part] = []
    if message.choice_id is not None:
        parts.append(ChoiceReplyPart(message.choice_id, message.text or message.choice_id))
    elif message.text.strip():
        parts.append(TextPart(message.text))
    parts.extend(media)
    body = message.text or (message.choice_id or "")
    fields: dict[str, Any] = {"Body": body, "From": user_id, "To": app_id, "ChannelType": "app"}
    for index, part in enumerate(media):
        fields[f"MediaUrl{index}"] = part.url
        fields[f"MediaContentType{index}"] = part.content_type
    fields["NumMedia"] = str(len(media))
    return InboundEnvelope(
        channel=CHANNEL,
        channel_account=app_id,
        customer_address=user_id,
        identities=(user_identity(app_id, user_id, signed=signed),),
        parts=tuple(parts),
        idempotency_key=f"{app_id}:{user_id}:{message.echo_id}",
        fields=fields,
        raw={"echo_id": message.echo_id},
    )
