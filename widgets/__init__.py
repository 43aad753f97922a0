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

# Studio widgets that only make sense on a voice call. Validation names them: an error where a
# message can reach them, a warning where only a call can (Threadline fires no incomingCall).
VOICE_ONLY = frozenset(
    {
        "say-play",
        "gather-input-on-call",
        "connect-call-to",
        "make-outgoing-call-v1",
        "make-outgoing-call-v2",
        "record-voicemail",
        "record-call",
        "enqueue-call",
        "capture-payments",
        "fork-stream",
        "connect-virtual-agent",
        "run-conversation-relay",
    }
)

# Studio widgets that handle messages but hand them to something Threadline does not run; why,
# as validation says it.
NOT_RUN_HERE = {
    "add-twiml-redirect": "it hands the message to TwiML, which Threadline does not run",
    "start-conversation": "it creates a Twilio Conversation; Threadline keeps its own",
    "resume-conversation": "it resumes a Twilio Conversation; Threadline keeps its own",
    "connect-virtual-agent-v2": "it connects a Dialogflow CX agent; use bot-triage",
    "send-to-auto-pilot": "Twilio Autopilot was retired; use bot-triage",
}


def register(widget: WidgetType) -> None:
    """Register a widget type from outside this package (plug-ins, tests)."""
    REGISTRY[widget.type] = widget
