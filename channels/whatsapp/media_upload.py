"""Our own stored media sent through the Cloud API by upload rather than by link.

Meta fetches a ``link`` itself, so a link to our server needs a public URL that Meta can reach
and that is still valid when it does. Media we hold is instead uploaded with
``POST /{phone_number_id}/media`` (multipart: ``messaging_product``, ``type``, ``file``) and sent
by the id Meta answers. Other URLs still go as links.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class OwnMedia:
    """A file in our media store: its bytes and the type decided from them."""

    data: bytes
    content_type: str
    filename: str


# Our copy of the media a URL points at, or None when the URL is not ours (sent as a link).
MediaSource = Callable[[str], Awaitable[OwnMedia | None]]
