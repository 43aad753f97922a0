"""Outbound messages rendered as WhatsApp Cloud API message objects (pure, no I/O).

``render(parts)`` returns the type-specific part of each ``POST /{phone_number_id}/messages``
body (``{"type": "text", "text": {...}}``); the sender adds ``messaging_product`` and the
recipient. Choices become reply buttons (at most 3, titles at most 20 characters), else a list
(at most 10 rows, titles at most 24 characters), else a numbered text list.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from channels.twilio.text import split_text, with_numbered_choices
from server.model import (
    Choice,
    ChoiceReplyPart,
    ChoicesPart,
    DataPart,
    LocationPart,
    MediaPart,
    Part,
    TemplatePart,
    TextPart,
)

MAX_TEXT = 4096
MAX_INTERACTIVE_BODY = 1024
MAX_BUTTONS, MAX_BUTTON_TITLE = 3, 20
MAX_ROWS, MAX_ROW_TITLE = 10, 24
LIST_BUTTON_LABEL = "Choose"
DEFAULT_PROMPT = "Please choose:"

# Cloud API media types; our "voice" goes as audio and a generic "file" as a document.
_MEDIA_TYPE = {
    "image": "image",
    "video": "video",
    "audio": "audio",
    "voice": "audio",
    "sticker": "sticker",
    "document": "document",
    "file": "document",
}
_NO_CAPTION = ("audio", "sticker")


def render(parts: Sequence[Part]) -> list[dict[str, Any]]:
    """The Cloud API message objects that carry ``parts``, in order. Consecutive text is
    joined; choices take the text before them as the button or list prompt."""
    messages: list[dict[str, Any]] = []
    pending: list[str] = []

    def flush_text() -> None:
        if pending:
            messages.extend(_text(chunk) for chunk in split_text("\n".join(pending), MAX_TEXT))
            pending.clear()

    for part in parts:
        if isinstance(part, TextPart):
            pending.append(part.text)
        elif isinstance(part, ChoiceReplyPart):
            pending.append(part.label)
        elif isinstance(part, ChoicesPart):
            prompt = "\n".join(pending)
            pending.clear()
            messages.extend(render_choices(prompt, part.choices))
        else:
            flush_text()
            rendered = _single(part)
            if rendered is not None:
                messages.append(rendered)
    flush_text()
    return messages


def render_templates(parts: Sequence[Part]) -> list[dict[str, Any]]:
    """Only the template messages among ``parts`` (what may go out when the window is closed)."""
    return [template(part) for part in parts if isinstance(part, TemplatePart)]


def render_choices(prompt: str, choices: Sequence[Choice]) -> list[dict[str, Any]]:
    body = prompt.strip() or DEFAULT_PROMPT
    if len(body) <= MAX_INTERACTIVE_BODY:
        if len(choices) <= MAX_BUTTONS and _titles_fit(choices, MAX_BUTTON_TITLE):
            return [_buttons(body, choices)]
        if len(choices) <= MAX_ROWS and _titles_fit(choices, MAX_ROW_TITLE):
            return [_list(body, choices)]
    text = with_numbered_choices(prompt.strip(), choices)
    return [_text(chunk) for chunk in split_text(text, MAX_TEXT)]


def _titles_fit(choices: Sequence[Choice], limit: int) -> bool:
    return all(0 < len(choice.label) <= limit for choice in choices)


def _text(body: str) -> dict[str, Any]:
    return {"type": "text", "text": {"body": body, "preview_url": False}}


def _buttons(body: str, choices: Sequence[Choice]) -> dict[str, Any]:
    buttons = [{"type": "reply", "reply": {"id": c.id, "title": c.label}} for c in choices]
    return {
        "type": "interactive",
        "interactive": {"type": "button", "body": {"text": body}, "action": {"buttons": buttons}},
    }


def _list(body: str, choices: Sequence[Choice]) -> dict[str, Any]:
    rows = [{"id": c.id, "title": c.label} for c in choices]
    return {
        "type": "interactive",
        "interactive": {
            "type": "list",
            "body": {"text": body},
            "action": {"button": LIST_BUTTON_LABEL, "sections": [{"title": "", "rows": rows}]},
        },
    }


def template(part: TemplatePart) -> dict[str, Any]:
    content: dict[str, Any] = {"name": part.name, "language": {"code": part.language}}
    if part.parameters:
        parameters = [{"type": "text", "text": value} for value in part.parameters]
        content["components"] = [{"type": "body", "parameters": parameters}]
    return {"type": "template", "template": content}


def _single(part: Part) -> dict[str, Any] | None:
    if isinstance(part, MediaPart):
        return _media(part)
    if isinstance(part, LocationPart):
        location: dict[str, Any] = {"latitude": part.latitude, "longitude": part.longitude}
        if part.name:
            location["name"] = part.name
        if part.address:
            location["address"] = part.address
        return {"type": "location", "location": location}
    if isinstance(part, TemplatePart):
        return template(part)
    if isinstance(part, DataPart) and part.data_kind == "reaction":
        reaction = {
            "message_id": part.data.get("message_id"),
            "emoji": part.data.get("emoji") or "",
        }
        return {"type": "reaction", "reaction": reaction}
    return None  # other structured data has no outbound WhatsApp form


def _media(part: MediaPart) -> dict[str, Any] | None:
    kind = _MEDIA_TYPE.get(part.media_kind, "document")
    media: dict[str, Any]
    if part.media_id:
        media = {"id": part.media_id}
    elif part.url:
        media = {"link": part.url}
    else:
        return None
    if part.caption and kind not in _NO_CAPTION:
        media["caption"] = part.caption
    if part.filename and kind == "document":
        media["filename"] = part.filename
    return {"type": kind, kind: media}
