"""Helpers shared by the widgets that send messages: parts from Studio's send properties."""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from server.engine import effects as fx
from server.model import Choice, ChoicesPart, MediaPart, Part, TemplatePart, TextPart
from widgets.params import KEY_VALUES


def choices_from(value: Any) -> tuple[Choice, ...]:
    """Threadline's ``choices`` property: strings, or objects with id and label."""
    if not isinstance(value, list):
        return ()
    out: list[Choice] = []
    for index, item in enumerate(value, start=1):
        if isinstance(item, Mapping):
            label = str(item.get("label") or item.get("title") or item.get("id") or "")
            out.append(Choice(str(item.get("id") or label or index), label))
        elif str(item).strip():
            out.append(Choice(str(item), str(item)))
    return tuple(out)


def attributes_from(value: Any) -> dict[str, Any]:
    """Studio's ``attributes`` arrive as a JSON object written as text (often rendered Liquid)."""
    if isinstance(value, str) and value.strip():
        try:
            value = json.loads(value)
        except ValueError:
            return {}
    return dict(value) if isinstance(value, Mapping) else {}


def template_from(value: Any) -> TemplatePart | None:
    """An approved template (WhatsApp) to send when free-form text is not allowed."""
    if not isinstance(value, Mapping) or not str(value.get("name") or "").strip():
        return None
    parameters = value.get("parameters") or []
    return TemplatePart(
        name=str(value["name"]).strip(),
        language=str(value.get("language") or "en_US"),
        parameters=tuple(str(p) for p in parameters) if isinstance(parameters, list) else (),
    )


def media_kind_of_url(url: str) -> str:
    """What a media URL holds, by its path's extension (channels that send media by kind,
    WhatsApp's image/video/audio/document, need one); a generic file without one."""
    content_type, _ = mimetypes.guess_type(urlsplit(url).path, strict=False)
    major = (content_type or "").split("/", 1)[0]
    return major if major in ("image", "video", "audio") else "file"


CONTENT_TEMPLATE = "content_template"  # Studio's ``message_type`` for a Content template


def content_template_from(props: Mapping[str, Any]) -> TemplatePart | None:
    """Studio's Content template (``content_sid`` with ``content_variables``, numbered
    placeholders such as ``{{1}}``, which render as ``1``) as a template part named by its SID;
    the Twilio channel sends it as that Content SID."""
    sid = str(props.get("content_sid") or "").strip()
    if not sid or props.get("message_type", CONTENT_TEMPLATE) != CONTENT_TEMPLATE:
        return None
    numbered: dict[int, str] = {}
    for item in props.get("content_variables") or []:
        if not isinstance(item, Mapping):
            continue
        digits = "".join(c for c in str(item.get("key") or "") if c.isdecimal())
        if digits and len(digits) < 4:  # placeholders count from 1; a key of many digits is no slot
            numbered[int(digits)] = str(item.get("value") or "")
    count = max(numbered, default=0)
    parameters = tuple(numbered.get(n, "") for n in range(1, count + 1))
    return TemplatePart(name=sid, language="", parameters=parameters)


def send_effect(request_id: str, props: Mapping[str, Any]) -> fx.SendMessage:
    parts: list[Part] = []
    body = str(props.get("body") or "")
    if body:
        parts.append(TextPart(body))
    media_url = str(props.get("media_url") or "").strip()
    media_urls = tuple(u.strip() for u in media_url.split(",") if u.strip())
    parts.extend(MediaPart(url=u, media_kind=media_kind_of_url(u)) for u in media_urls)
    choices = choices_from(props.get("choices"))
    if choices:
        parts.append(ChoicesPart(choices))
    template = template_from(props.get("template")) or content_template_from(props)
    if template is not None:
        parts.append(template)
    return fx.SendMessage(
        request_id=request_id,
        parts=tuple(parts),
        to=str(props.get("to") or "") or None,
        from_=str(props.get("from") or "") or None,
        media_urls=media_urls,
        attributes=attributes_from(props.get("attributes")),
    )


SEND_PROPERTIES: dict[str, Any] = {
    "body": {"type": "string"},
    "message_type": {"type": "string"},  # "custom" (a body) or "content_template"
    "content_sid": {"type": "string"},
    "content_variables": KEY_VALUES,
    "from": {"type": "string"},
    "to": {"type": "string"},
    "media_url": {"type": "string"},
    "service": {"type": "string"},
    "channel": {"type": "string"},
    "attributes": {"type": ["object", "string"]},
    "template": {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "language": {"type": "string"},
            "parameters": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["name"],
    },
    "choices": {
        "type": "array",
        "items": {
            "oneOf": [
                {"type": "string"},
                {
                    "type": "object",
                    "properties": {"id": {"type": "string"}, "label": {"type": "string"}},
                    "required": ["label"],
                },
            ]
        },
    },
}
