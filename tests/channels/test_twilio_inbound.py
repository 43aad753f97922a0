"""Twilio inbound message webhooks and status callbacks, as Twilio posts them."""

from __future__ import annotations

from channels.twilio import parse_inbound, parse_status
from server.model import ChoiceReplyPart, Identity, LocationPart, MediaPart, TextPart

SMS = {
    "ToCountry": "US",
    "ToState": "CA",
    "SmsMessageSid": "SM11111111111111111111111111111111",
    "NumMedia": "0",
    "ToCity": "SAN FRANCISCO",
    "FromZip": "94105",
    "SmsSid": "SM11111111111111111111111111111111",
    "FromState": "CA",
    "SmsStatus": "received",
    "FromCity": "SAN FRANCISCO",
    "Body": "Hi, I need help with my order",
    "FromCountry": "US",
    "To": "+14155550199",
    "MessagingServiceSid": "MG22222222222222222222222222222222",
    "ToZip": "94105",
    "NumSegments": "1",
    "MessageSid": "SM11111111111111111111111111111111",
    "AccountSid": "AC33333333333333333333333333333333",
    "From": "+1 (415) 555-0100",
    "ApiVersion": "2010-04-01",
}

WHATSAPP_BASE = {
    "MessageSid": "SM44444444444444444444444444444444",
    "SmsMessageSid": "SM44444444444444444444444444444444",
    "AccountSid": "AC33333333333333333333333333333333",
    "From": "whatsapp:+14155550100",
    "To": "whatsapp:+14155238886",
    "ProfileName": "Ada",
    "WaId": "14155550100",
    "NumMedia": "0",
    "NumSegments": "1",
    "SmsStatus": "received",
    "ApiVersion": "2010-04-01",
}


def test_sms_message_becomes_an_sms_envelope() -> None:
    envelope = parse_inbound(SMS)
    assert envelope.channel == "sms"
    assert envelope.customer_address == "+14155550100"
    assert envelope.channel_account == "+14155550199"
    assert envelope.identities == (Identity("phone", "+14155550100"),)
    assert envelope.idempotency_key == "SM11111111111111111111111111111111"
    assert envelope.parts == (TextPart("Hi, I need help with my order"),)
    # Studio's trigger.message: the fields exactly as Twilio posted them.
    assert envelope.fields["Body"] == "Hi, I need help with my order"
    assert envelope.fields["From"] == "+1 (415) 555-0100"
    assert envelope.fields["MessagingServiceSid"] == "MG22222222222222222222222222222222"
    assert envelope.fields["FromCity"] == "SAN FRANCISCO"
    assert envelope.raw == SMS


def test_mms_media_become_media_parts() -> None:
    form = {
        **SMS,
        "Body": "",
        "NumMedia": "2",
        "MediaUrl0": "https://api.twilio.com/2010-04-01/Accounts/AC3/Messages/SM1/Media/ME1",
        "MediaContentType0": "image/jpeg",
        "MediaUrl1": "https://api.twilio.com/2010-04-01/Accounts/AC3/Messages/SM1/Media/ME2",
        "MediaContentType1": "application/pdf",
    }
    envelope = parse_inbound(form)
    assert envelope.parts == (
        MediaPart(url=form["MediaUrl0"], content_type="image/jpeg", media_kind="image"),
        MediaPart(url=form["MediaUrl1"], content_type="application/pdf", media_kind="file"),
    )
    assert envelope.fields["MediaUrl1"] == form["MediaUrl1"]


def test_whatsapp_text_uses_whatsapp_identity_and_profile_name() -> None:
    envelope = parse_inbound({**WHATSAPP_BASE, "Body": "hola"})
    assert envelope.channel == "whatsapp"
    assert envelope.customer_address == "whatsapp:+14155550100"
    assert envelope.channel_account == "whatsapp:+14155238886"
    assert envelope.identities == (Identity("whatsapp", "+14155550100"),)
    assert envelope.profile_name == "Ada"
    assert envelope.fields["ProfileName"] == "Ada"
    assert envelope.fields["WaId"] == "14155550100"
    assert envelope.parts == (TextPart("hola"),)


def test_whatsapp_quick_reply_becomes_a_choice_reply() -> None:
    form = {
        **WHATSAPP_BASE,
        "Body": "Talk to an agent",
        "ButtonText": "Talk to an agent",
        "ButtonPayload": "agent",
        "MessageType": "button",
        "OriginalRepliedMessageSid": "SM55555555555555555555555555555555",
    }
    envelope = parse_inbound(form)
    assert envelope.parts == (ChoiceReplyPart(choice_id="agent", label="Talk to an agent"),)
    assert envelope.fields["OriginalRepliedMessageSid"] == "SM55555555555555555555555555555555"


def test_whatsapp_location_becomes_a_location_part() -> None:
    form = {
        **WHATSAPP_BASE,
        "Body": "",
        "Latitude": "37.7749",
        "Longitude": "-122.4194",
        "Address": "1 Market St, San Francisco",
        "Label": "Office",
        "MessageType": "location",
    }
    envelope = parse_inbound(form)
    assert envelope.parts == (
        LocationPart(37.7749, -122.4194, name="Office", address="1 Market St, San Francisco"),
    )


def test_status_callback_delivered_and_failed() -> None:
    delivered = parse_status(
        {"MessageSid": "SM6", "MessageStatus": "delivered", "AccountSid": "AC3", "To": "+1415"}
    )
    assert (delivered.provider_message_id, delivered.status) == ("SM6", "delivered")
    assert delivered.error_code is None
    failed = parse_status(
        {
            "MessageSid": "SM7",
            "MessageStatus": "undelivered",
            "ErrorCode": "30008",
            "ErrorMessage": "Unknown error",
        }
    )
    assert (failed.status, failed.error_code, failed.error) == (
        "undelivered",
        "30008",
        "Unknown error",
    )
    assert failed.raw["ErrorCode"] == "30008"
    assert parse_status({"MessageSid": "SM8", "MessageStatus": "sending"}).status == "queued"
