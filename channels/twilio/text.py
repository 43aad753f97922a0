"""Plain-text rendering of rich content: numbered choice lists, answer matching and splitting.

Channels without buttons (SMS, WhatsApp through Twilio without content templates, WhatsApp
Cloud beyond ten choices) offer choices as a numbered list; the customer answers with a number
or the label, and ``match_choice`` maps that answer back to the offered choice.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from server.model import Choice

# At most 9 digits: no list is longer, and int() refuses more than 4,300 (a customer's answer of
# 5,000 digits raised ValueError and the message was never handled; found by tests/fuzz).
_NUMBER_ANSWER = re.compile(r"^\s*(\d{1,9})\s*[.)]?\s*$")


def numbered_list(choices: Sequence[Choice]) -> str:
    return "\n".join(f"{index}. {choice.label}" for index, choice in enumerate(choices, start=1))


def with_numbered_choices(text: str, choices: Sequence[Choice]) -> str:
    listing = numbered_list(choices)
    return f"{text}\n{listing}" if text else listing


def match_choice(answer: str, choices: Sequence[Choice]) -> Choice | None:
    """The choice the customer meant by ``answer``: its number ("2", "2.", " 2 ") or its label
    or id (case-insensitive); None when nothing matches."""
    number = _NUMBER_ANSWER.match(answer)
    if number:
        index = int(number.group(1))
        return choices[index - 1] if 1 <= index <= len(choices) else None
    wanted = answer.strip().casefold()
    if not wanted:
        return None
    for choice in choices:
        if choice.label.strip().casefold() == wanted:
            return choice
    for choice in choices:
        if choice.id.strip().casefold() == wanted:
            return choice
    return None


def split_text(text: str, limit: int) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters, cut at whitespace where possible
    (a single word longer than ``limit`` is cut hard), keeping line breaks inside pieces."""
    pieces: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[: limit + 1]
        cut = max(window.rfind(" "), window.rfind("\n"), window.rfind("\t"))
        if cut <= 0:
            cut = limit
        piece = rest[:cut].rstrip()
        if piece:
            pieces.append(piece)
        rest = rest[cut:].lstrip()
    if rest.strip():
        pieces.append(rest)
    return pieces
