"""The kind a fetched file is shown as: its bytes decide, the provider's kind only refines."""

from __future__ import annotations

import pytest

from server.media.fetcher import media_kind_of


@pytest.mark.parametrize(
    ("content_type", "provider_kind", "expected"),
    [
        ("image/png", "image", "image"),
        ("image/webp", "sticker", "sticker"),
        ("audio/ogg", "voice", "voice"),
        ("image/png", "voice", "image"),  # a "voice note" that is a picture
        ("application/pdf", "image", "document"),  # an "image" that is a PDF
        ("image/jpeg", "document", "document"),  # a photo sent as a file stays a file
        ("video/mp4", "video", "video"),
        ("application/octet-stream", "file", "document"),
    ],
)
def test_media_kind(content_type: str, provider_kind: str, expected: str) -> None:
    assert media_kind_of(content_type, provider_kind) == expected
