"""Signed media URLs: valid until they expire, for one file only, with one server secret."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from server.media.signing import MediaUrls

NOW = 1_767_000_000.0


def _query(url: str) -> tuple[str, str, str]:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    stored_id = parts.path.split("/")[2]
    return stored_id, query["exp"][0], query["sig"][0]


def test_a_url_is_valid_until_it_expires() -> None:
    urls = MediaUrls("secret", "https://chat.example.com/", 3600)
    url = urls.url("abc123", "photo.png", now=NOW)
    assert url.startswith("https://chat.example.com/media/abc123/photo.png?exp=")
    stored_id, expires, signature = _query(url)
    assert expires == str(int(NOW) + 3600)
    assert urls.valid(stored_id, expires, signature, now=NOW + 3599)
    assert not urls.valid(stored_id, expires, signature, now=NOW + 3601)


def test_a_signature_covers_the_file_the_expiry_and_the_secret() -> None:
    urls = MediaUrls("secret", "", 3600)
    stored_id, expires, signature = _query(urls.url("abc123", "a.png", now=NOW))
    assert not urls.valid("abc124", expires, signature, now=NOW)
    assert not urls.valid(stored_id, str(int(expires) + 1), signature, now=NOW)
    assert not urls.valid(stored_id, expires, signature[:-1] + "0", now=NOW)
    assert not urls.valid(stored_id, "soon", signature, now=NOW)
    other = MediaUrls("another secret", "", 3600)
    assert not other.valid(stored_id, expires, signature, now=NOW)


def test_the_name_is_quoted_into_one_path_segment() -> None:
    url = MediaUrls("s", "", 60).url("abc", "a b/../c.png", now=NOW)
    assert url.startswith("/media/abc/a%20b%2F..%2Fc.png?")


def test_a_url_of_ours_names_its_file_only_while_valid() -> None:
    urls = MediaUrls("secret", "https://chat.example.com", 60)
    url = urls.url("abc123", "photo.png", now=NOW)
    assert urls.stored_id_of(url, now=NOW) == "abc123"
    assert urls.stored_id_of(url, now=NOW + 61) is None
    assert urls.stored_id_of(url.replace("abc123", "abc124"), now=NOW) is None
    assert urls.stored_id_of("https://elsewhere.example/media/abc123/x?exp=1&sig=2") is None
    assert urls.stored_id_of(url.replace("https://chat.example.com", ""), now=NOW) is None
