"""Downloading provider media with httpx: size-capped while streaming, provider hosts only.

Two providers hold the media our customers send:

- the WhatsApp Cloud API: ``GET {graph_base}/{media_id}`` with the access token answers JSON
  with a short-lived ``url``; ``GET`` that URL with the same token answers the bytes;
- Twilio: ``MediaUrlN`` is an ``https://api.twilio.com/...`` URL, fetched with the account SID
  and auth token (HTTP basic) and redirected to Twilio's media storage.

Only the first request's host is checked against the configured API (the Graph API's answer
and Twilio's redirects come from the provider). httpx drops the Authorization header when a
redirect leaves the origin, so credentials never follow a redirect to storage.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx

MAX_REDIRECTS = 3


class MediaFetchError(Exception):
    """The media could not be downloaded; the message says why (stored with the part)."""


@dataclass(frozen=True, slots=True)
class Downloaded:
    data: bytes
    declared_type: str | None  # what the provider said; kept for the record, never trusted


async def capped_get(
    client: httpx.AsyncClient, url: str, limit: int, headers: dict[str, str] | None = None
) -> Downloaded:
    """The body of ``GET url``: refused when it declares or streams more than ``limit``."""
    try:
        async with client.stream("GET", url, headers=headers, follow_redirects=True) as response:
            if not response.is_success:
                raise MediaFetchError(f"the provider answered HTTP {response.status_code}")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise MediaFetchError(f"the file is larger than {limit} bytes")
            chunks: list[bytes] = []
            received = 0
            async for chunk in response.aiter_bytes():
                received += len(chunk)
                if received > limit:
                    raise MediaFetchError(f"the file is larger than {limit} bytes")
                chunks.append(chunk)
            content_type = response.headers.get("content-type")
    except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
        raise MediaFetchError(f"the provider is unreachable: {type(exc).__name__}") from exc
    if not received:
        raise MediaFetchError("the file is empty")
    return Downloaded(b"".join(chunks), content_type)


async def graph_media(
    client: httpx.AsyncClient, graph_base: str, access_token: str, media_id: str, limit: int
) -> Downloaded:
    """A WhatsApp Cloud API media object's bytes, by its media id."""
    if not media_id.isdigit():  # Graph ids are digits: nothing else may reach the URL path
        raise MediaFetchError("the media id is not a Graph API id")
    auth = {"Authorization": f"Bearer {access_token}"}
    try:
        answer = await client.get(f"{graph_base.rstrip('/')}/{media_id}", headers=auth)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise MediaFetchError(f"the Graph API is unreachable: {type(exc).__name__}") from exc
    if not answer.is_success:
        raise MediaFetchError(f"the Graph API answered HTTP {answer.status_code}")
    try:
        info = answer.json()
    except ValueError as exc:
        raise MediaFetchError("the Graph API's answer is not JSON") from exc
    url = info.get("url") if isinstance(info, dict) else None
    if not isinstance(url, str) or urlsplit(url).scheme not in ("https", "http"):
        raise MediaFetchError("the Graph API's answer has no media url")
    size = info.get("file_size")
    if isinstance(size, int) and size > limit:
        raise MediaFetchError(f"the file is larger than {limit} bytes")
    return await capped_get(client, url, limit, auth)


_HOST = re.compile(r"[a-z0-9.-]+")


def twilio_media_url(url: str, api_base: str | None) -> str:
    """Where to fetch a Twilio ``MediaUrlN``: Twilio's URL rebuilt from the host checked here,
    its path and query (no user info or port another URL parser could read differently),
    rebased onto ``api_base`` when one is configured, as the Twilio sender does. Anything not on
    ``*.twilio.com`` over HTTPS is refused."""
    try:
        target = urlsplit(url)
        host = (target.hostname or "").lower()
    except ValueError as exc:  # a malformed URL (a stray bracket) in a webhook field
        raise MediaFetchError("the media URL is not a Twilio API URL") from exc
    on_twilio = host == "twilio.com" or host.endswith(".twilio.com")
    if target.scheme != "https" or not on_twilio or not _HOST.fullmatch(host):
        raise MediaFetchError("the media URL is not a Twilio API URL")
    if not api_base:
        return urlunsplit(("https", host, target.path, target.query, ""))
    base = urlsplit(api_base.rstrip("/"))
    return urlunsplit((base.scheme, base.netloc, base.path + target.path, target.query, ""))


async def twilio_media(
    client: httpx.AsyncClient,
    url: str,
    account_sid: str,
    auth_token: str,
    api_base: str | None,
    limit: int,
) -> Downloaded:
    """A Twilio message's media, with the account's credentials (HTTP basic)."""
    target = twilio_media_url(url, api_base)
    credentials = base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode("ascii")
    return await capped_get(client, target, limit, {"Authorization": f"Basic {credentials}"})
