"""Widget types. Adding a widget type means adding one module and listing it here."""

from __future__ import annotations

from widgets import (
    bot_triage,
    business_hours,
    crm_lookup,
    make_http_request,
    run_function,
    run_subflow,
    send_and_wait_for_reply,
    send_message,
    send_to_agent,
    send_to_flex,
    set_variables,
    split_based_on,
    trigger,
    wait_for_event,
)
from widgets.base import WidgetType

REGISTRY: dict[str, WidgetType] = {
    module.WIDGET.type: module.WIDGET
    for module in (
        trigger,
        send_message,
        send_and_wait_for_reply,
        split_based_on,
        set_variables,
        make_http_request,
        bot_triage,
        run_function,
        run_subflow,
        wait_for_event,
        crm_lookup,
        business_hours,
        send_to_agent,
        send_to_flex,
    )
}

# Studio widgets that only make sense on a voice call: validation names them and refuses the flow.
VOICE_ONLY = frozenset(
    {
        "say-play",
        "gather-input-on-call",
        "connect-call-to",
        "make-outgoing-call-v2",
        "record-voicemail",
        "record-call",
        "enqueue-call",
        "capture-payments",
        "fork-stream",
        "connect-virtual-agent",
        "add-twiml-redirect",
    }
)


def register(widget: WidgetType) -> None:
    """Register a widget type from outside this package (plug-ins, tests)."""
    REGISTRY[widget.type] = widget
