"""Meta webhook verification: subscribe handshake and X-Hub-Signature-256."""

from __future__ import annotations

import hashlib
import hmac

from channels.whatsapp import verify_handshake, verify_signature

SECRET = "app-secret-123"
BODY = b'{"object":"whatsapp_business_account","entry":[]}'


def header_for(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_valid_signature_is_accepted() -> None:
    assert verify_signature(SECRET, BODY, header_for(BODY)) is True


def test_tampered_body_is_rejected() -> None:
    assert verify_signature(SECRET, BODY.replace(b"[]", b"[{}]"), header_for(BODY)) is False


def test_missing_or_malformed_header_is_rejected() -> None:
    assert verify_signature(SECRET, BODY, None) is False
    assert verify_signature(SECRET, BODY, "") is False
    assert verify_signature(SECRET, BODY, header_for(BODY).removeprefix("sha256=")) is False
    assert verify_signature(SECRET, BODY, header_for(BODY, "other-secret")) is False


def test_handshake_echoes_the_challenge_only_for_our_token() -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": "tok", "hub.challenge": "1158201444"}
    assert verify_handshake(params, "tok") == "1158201444"
    assert verify_handshake({**params, "hub.verify_token": "nope"}, "tok") is None
    assert verify_handshake({**params, "hub.mode": "unsubscribe"}, "tok") is None
    assert verify_handshake({"hub.challenge": "1"}, "tok") is None
    assert verify_handshake(params, "") is None
