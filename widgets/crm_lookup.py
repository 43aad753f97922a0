"""``crm-lookup``: find the contact in a CRM connector; ``found``, ``not_found`` or ``failed``.

Without a ``value`` the contact is looked up by what its channel knows (``server.crm.keys``):
the phone number on SMS and WhatsApp, the signed user id, then the pre-chat e-mail, on web chat
and in apps; ``by`` names one kind instead, and ``value`` gives the key itself.

The look-up is a ``Custom`` effect of kind ``crm.lookup`` performed by the runtime (see
``server.crm``). Found fields become the widget's outputs and are attached to both the contact's
and the conversation's attributes, so agents and later flows see them. Any failure of the CRM
(an error status, a timeout, a body that is not JSON) takes ``failed``: the flow decides what to
tell the customer instead of stalling.
"""

from __future__ import annotations

from typing import Any

from server.engine.effects import Custom, SetConversationAttributes
from server.engine.events import Event, Result
from widgets.base import WidgetCall, WidgetResult, WidgetType

KIND = "crm.lookup"
AUTO = "auto"  # the key the customer's channel knows (server.crm.keys)
LOOKUP_BY = (AUTO, "phone", "email", "user_id", "id")
CHANNEL_PREFIXES = ("whatsapp:", "sms:", "messenger:")


def lookup_value(call: WidgetCall) -> str:
    """The flow designer's explicit ``value``; "" lets the runtime choose from the contact."""
    value = str(call.props.get("value") or "").strip()
    # Twilio writes WhatsApp addresses as "whatsapp:+1415..."; CRMs know the bare number.
    for prefix in CHANNEL_PREFIXES:
        if value.startswith(prefix):
            return value[len(prefix) :]
    return value


def enter(call: WidgetCall) -> WidgetResult:
    value = lookup_value(call)
    # With a value, ``by`` says what it is (a phone number unless told); without one, ``by``
    # picks the kind of key and ``auto`` lets the channel decide: the phone number on SMS and
    # WhatsApp, the signed user id or the pre-chat e-mail on web chat and in apps.
    by = str(call.props.get("by") or ("phone" if value else AUTO))
    request_id = call.request_id("crm")
    contact = call.context.get("contact", {})
    payload: dict[str, Any] = {
        "connector": str(call.props.get("connector") or ""),
        "by": by,
        "value": value,
        "contact_id": contact.get("id"),
    }
    if not value:
        payload["channel"] = call.context.get("conversation", {}).get("channel")
        payload["address"] = contact.get("channel", {}).get("address")
    return WidgetResult(
        effects=(Custom(request_id, KIND, payload),),
        waiting={"request_id": request_id, "by": by, "value": value},
    )


def resume(call: WidgetCall, event: Event) -> WidgetResult | None:
    if not isinstance(event, Result) or event.request_id != call.waiting.get("request_id"):
        return None
    # The key the runtime chose (when the flow gave none) is the one to show.
    lookup = {
        "by": event.data.get("by") or call.waiting.get("by"),
        "value": event.data.get("value") or call.waiting.get("value"),
    }
    if not event.ok:
        return WidgetResult(transition="failed", outputs={**lookup, "error": event.error})
    if not event.data.get("found"):
        return WidgetResult(transition="not_found", outputs=lookup)
    fields = dict(event.data.get("fields") or {})
    return WidgetResult(
        transition="found",
        outputs={**lookup, **fields, "fields": fields},
        effects=(
            SetConversationAttributes(fields),
            SetConversationAttributes(fields, contact=True),
        ),
    )


WIDGET = WidgetType(
    type="crm-lookup",
    events=("found", "not_found", "failed"),
    properties_schema={
        "type": "object",
        "properties": {
            "connector": {"type": "string"},
            "by": {"enum": list(LOOKUP_BY)},
            "value": {"type": "string"},
        },
    },
    enter=enter,
    resume=resume,
    description="Finds the contact in a CRM and attaches its fields.",
)
