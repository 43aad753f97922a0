"""Phone-number normalisation shared by the Twilio and WhatsApp adapters.

Identities must compare equal across channels (``phone:+1...`` from SMS and ``whatsapp:+1...``
from either WhatsApp provider), so every number goes through ``phonenumbers`` to E.164.
"""

from __future__ import annotations

import functools

import phonenumbers


# Parsing with phonenumbers costs tens of microseconds, and every inbound message and send
# normalises the same few numbers again; the function is pure, so remember recent answers.
@functools.lru_cache(maxsize=16_384)
def to_e164(raw: str) -> str:
    """``raw`` in E.164 (``+14155550100``); unparseable addresses (short codes,
    alphanumeric sender ids, placeholders) are returned stripped and unchanged."""
    text = raw.strip()
    if not text:
        return text
    # WhatsApp's wa_id and some carriers send international numbers without the plus sign.
    candidate = text if text.startswith("+") else "+" + text
    try:
        number = phonenumbers.parse(candidate, None)
    except phonenumbers.NumberParseException:
        return text
    if not phonenumbers.is_possible_number(number):
        return text
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
