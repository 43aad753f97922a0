"""Checking that a webhook really comes from Twilio (the ``X-Twilio-Signature`` header).

Twilio signs the exact URL it called plus the POSTed form. Behind a proxy or load balancer the
server sees another scheme/host, so the URL is rebuilt from the configured public base URL
(``THREADLINE_PUBLIC_URL``) and the path and query the request arrived with.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from twilio.request_validator import RequestValidator, compare

SIGNATURE_HEADER = "X-Twilio-Signature"


def verify_signature(
    auth_token: str, url: str, form: Mapping[str, str], signature: str | None
) -> bool:
    """True when ``signature`` is Twilio's signature of ``url`` and ``form`` (by ``auth_token``)."""
    if not signature or not auth_token:
        return False
    validator = _validator(auth_token)
    params = dict(form)
    # ``validate`` signs the URL twice (with and without the port, as Twilio's signing varies)
    # and parses it each time; the URL exactly as called is one of the two, and the common case.
    if compare(validator.compute_signature(url, params), signature):
        return True
    return bool(validator.validate(url, params, signature))


@functools.lru_cache(maxsize=64)
def _validator(auth_token: str) -> RequestValidator:
    return RequestValidator(auth_token)


def public_request_url(public_base: str, path: str, query: str = "") -> str:
    """The URL Twilio called: ``public_base`` (which may carry a path prefix the proxy strips)
    joined with the request ``path`` and raw ``query`` string as the server received them."""
    url = public_base.rstrip("/") + "/" + path.lstrip("/")
    return f"{url}?{query}" if query else url


def status_callback_url(public_base: str | None) -> str | None:
    """Where Twilio should POST delivery statuses, or None when no public URL is configured."""
    if not public_base:
        return None
    return public_request_url(public_base, "/channels/twilio/status")
