"""Which keys a ``crm-lookup`` without a ``value`` looks the customer up by.

What identifies a customer depends on where they write from: on SMS and WhatsApp it is their
phone number; on web chat and in apps the channel address is a visitor token or an app user, not a
phone number, so the look-up uses the user id an app or ``Threadline.identify`` signed (vouched
for by the business's backend) and then the e-mail address the pre-chat form asked for (typed by
the visitor, so it only finds a record, it proves nothing). A flow designer picks the kind with
``by`` or gives the exact ``value``.

Keys come from the contact as stored when the look-up runs, so pre-chat answers and identities
added after the flow started count.
"""

from __future__ import annotations

from typing import Any

from channels.twilio.phone import to_e164
from server.store import Store

AUTO = "auto"
PHONE_CHANNELS = ("sms", "whatsapp")
# The order keys are tried in when ``by`` is ``auto``: the channel's own first.
AUTO_ORDER = {
    "sms": ("phone",),
    "whatsapp": ("phone",),
    "webchat": ("user_id", "email"),
    "app": ("user_id", "email"),
}
OTHER_CHANNELS_ORDER = ("user_id", "email", "phone")
ADDRESS_PREFIXES = ("whatsapp:", "sms:", "messenger:")
# Identity kinds that carry each kind of key (``app`` is the signed user id; unsigned app ids
# are the app's claim only and never used).
IDENTITY_KINDS = {
    "phone": ("phone", "whatsapp"),
    "email": ("email",),
    "user_id": ("app",),
    "id": ("crm",),
}
EMAIL_ATTRIBUTES = ("email", "e_mail", "email_address")


def phone_of(address: str) -> str:
    for prefix in ADDRESS_PREFIXES:
        if address.startswith(prefix):
            address = address[len(prefix) :]
    return to_e164(address)


async def known_keys(store: Store, payload: dict[str, Any]) -> dict[str, list[str]]:
    """Every key the contact has, by kind, best first (verified identities before attributes)."""
    known: dict[str, list[str]] = {kind: [] for kind in IDENTITY_KINDS}
    contact_id = payload.get("contact_id")
    if contact_id:
        for identity in await store.contact_identities(str(contact_id)):
            for kind, identity_kinds in IDENTITY_KINDS.items():
                if identity["kind"] in identity_kinds:
                    known[kind].append(str(identity["value"]))
        contact = await store.contact(str(contact_id))
        attributes = dict(contact["attributes"] or {}) if contact is not None else {}
        known["email"] += [str(attributes[a]) for a in EMAIL_ATTRIBUTES if attributes.get(a)]
    address = str(payload.get("address") or "")
    if payload.get("channel") in PHONE_CHANNELS and address:
        known["phone"].append(phone_of(address))
    return {kind: list(dict.fromkeys(v for v in values if v)) for kind, values in known.items()}


async def lookup_keys(store: Store, payload: dict[str, Any]) -> list[tuple[str, str]]:
    """(by, value) pairs to try in order; the first found wins. An explicit value is the only."""
    by = str(payload.get("by") or AUTO)
    value = str(payload.get("value") or "").strip()
    if value:
        return [("phone" if by == AUTO else by, value)]
    known = await known_keys(store, payload)
    channel = str(payload.get("channel") or "")
    order = AUTO_ORDER.get(channel, OTHER_CHANNELS_ORDER) if by == AUTO else (by,)
    return [(kind, known[kind][0]) for kind in order if known.get(kind)]
