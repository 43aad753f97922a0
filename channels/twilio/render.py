"""Outbound messages rendered for Twilio Programmable Messaging (pure, no I/O).

Twilio sends a body of at most 1,600 characters and up to 10 media URLs per message. Choices
become a numbered list (SMS has no buttons, and WhatsApp through Twilio has buttons only with
content templates). A ``TemplatePart`` whose name is a Content SID (``HX...``) is sent as that
content template with its parameters as variables "1", "2", ...
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from channels.twilio.text import numbered_list, split_text
from server.model import (
    ChoiceReplyPart,
    ChoicesPart,
    LocationPart,
    MediaPart,
    Part,
    TemplatePart,
    TextPart,
)

MAX_BODY = 1600
MAX_MEDIA = 10


@dataclass(frozen=True, slots=True)
class TwilioSend:
    """The arguments of one ``messages.create`` call (besides from/to/status callback)."""

    body: str = ""
    media_urls: tuple[str, ...] = ()
    content_sid: str | None = None
    content_variables: str | None = None  # JSON object, as Twilio's API expects it


def render(parts: Sequence[Part], channel: str = "sms") -> list[TwilioSend]:
    """The Twilio messages that carry ``parts`` on ``channel`` ("sms" or "whatsapp"), in order.

    Both channels render alike through Twilio; ``channel`` is kept so the rule can differ when
    Twilio content templates with buttons are used.
    """
    del channel  # same rendering on both today, see the docstring
    lines: list[str] = []
    media: list[str] = []
    templates: list[TwilioSend] = []
    for part in parts:
        if isinstance(part, TextPart):
            lines.append(part.text)
        elif isinstance(part, ChoicesPart):
            lines.append(numbered_list(part.choices))
        elif isinstance(part, ChoiceReplyPart):
            lines.append(part.label)
        elif isinstance(part, MediaPart):
            if part.caption:
                lines.append(part.caption)
            if part.url:
                media.append(part.url)
        elif isinstance(part, LocationPart):
            lines.append(_location_text(part))
        elif isinstance(part, TemplatePart):
            templates.append(_template(part))
        # DataPart (reactions, contact cards, ...) has no SMS form and is left out.
    return _messages("\n".join(lines), media) + templates


def _messages(body: str, media: list[str]) -> list[TwilioSend]:
    bodies = split_text(body, MAX_BODY) if body.strip() else []
    media_groups = [tuple(media[i : i + MAX_MEDIA]) for i in range(0, len(media), MAX_MEDIA)]
    count = max(len(bodies), len(media_groups))
    return [
        TwilioSend(
            body=bodies[i] if i < len(bodies) else "",
            media_urls=media_groups[i] if i < len(media_groups) else (),
        )
        for i in range(count)
    ]


def _location_text(part: LocationPart) -> str:
    label = ", ".join(x for x in (part.name, part.address) if x)
    link = f"https://maps.google.com/?q={part.latitude},{part.longitude}"
    return f"{label}\n{link}" if label else link


def _template(part: TemplatePart) -> TwilioSend:
    if part.name.startswith("HX"):
        variables = {str(i): value for i, value in enumerate(part.parameters, start=1)}
        return TwilioSend(content_sid=part.name, content_variables=json.dumps(variables))
    # Without a Content SID there is no template to name; send its parameters as the text.
    return TwilioSend(body=" ".join(part.parameters) or part.name)
