"""Twilio webhook signatures, computed by the real ``twilio`` package's RequestValidator."""

from __future__ import annotations

from twilio.request_validator import RequestValidator

from channels.twilio import public_request_url, status_callback_url, verify_signature

TOKEN = "12345abcdef67890"
URL = "https://threadline.example.com/channels/twilio/inbound?tenant=acme"
FORM = {
    "MessageSid": "SM0123456789abcdef0123456789abcdef",
    "AccountSid": "AC0123456789abcdef0123456789abcdef",
    "From": "+14155550100",
    "To": "+14155550199",
    "Body": "Hello there",
    "NumMedia": "0",
}


def signed(url: str = URL, form: dict[str, str] = FORM) -> str:
    return str(RequestValidator(TOKEN).compute_signature(url, form))


def test_valid_signature_is_accepted() -> None:
    assert verify_signature(TOKEN, URL, FORM, signed()) is True


def test_tampered_body_is_rejected() -> None:
    tampered = {**FORM, "Body": "Hello there!"}
    assert verify_signature(TOKEN, URL, tampered, signed()) is False


def test_wrong_url_is_rejected() -> None:
    other = "https://threadline.example.com/channels/twilio/inbound?tenant=other"
    assert verify_signature(TOKEN, other, FORM, signed()) is False


def test_missing_header_or_token_is_rejected() -> None:
    assert verify_signature(TOKEN, URL, FORM, None) is False
    assert verify_signature(TOKEN, URL, FORM, "") is False
    assert verify_signature("", URL, FORM, signed()) is False


def test_wrong_auth_token_is_rejected() -> None:
    assert verify_signature("another-token", URL, FORM, signed()) is False


def test_public_url_rebuilds_what_twilio_called_behind_a_proxy() -> None:
    # The proxy strips the /threadline prefix and terminates TLS; the app sees only path+query.
    url = public_request_url(
        "https://threadline.example.com/", "/channels/twilio/inbound", "tenant=acme"
    )
    assert url == URL
    assert verify_signature(TOKEN, url, FORM, signed())
    prefixed = public_request_url("https://edge.example.com/threadline", "/channels/twilio/status")
    assert prefixed == "https://edge.example.com/threadline/channels/twilio/status"


def test_status_callback_url_needs_a_public_base() -> None:
    assert status_callback_url(None) is None
    assert status_callback_url("https://x.example") == "https://x.example/channels/twilio/status"


def test_a_signature_over_the_url_with_its_port_is_accepted_too() -> None:
    # Twilio sometimes signs https://host:443/...; the server rebuilds the URL without the port.
    with_port = "https://threadline.example.com:443/channels/twilio/inbound?tenant=acme"
    assert verify_signature(TOKEN, URL, FORM, signed(with_port)) is True
    other_port = "https://threadline.example.com:8443/channels/twilio/inbound?tenant=acme"
    assert verify_signature(TOKEN, URL, FORM, signed(other_port)) is False
