"""Inbound envelopes as the SMS adapter makes them, for tests that drive the store or the runtime
without a webhook."""

from __future__ import annotations

from server.model import Identity, InboundEnvelope, TextPart


def sms_envelope(phone: str, sid: str, text: str = "hello") -> InboundEnvelope:
    return InboundEnvelope(
        channel="sms",
        channel_account="+15005550006",
        customer_address=phone,
        identities=(Identity("phone", phone),),
        parts=(TextPart(text),),
        idempotency_key=sid,
        provider_message_id=sid,
        fields={"Body": text},
    )
