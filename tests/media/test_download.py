"""Downloading provider media against fake Graph and Twilio APIs on loopback."""

from __future__ import annotations

import httpx
import pytest

from server.media import download
from tests.channels.fakes import FakeGraphApi, FakeTwilioApi

SID, TOKEN = "AC" + "2" * 32, "twilio-token"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(300)


async def test_graph_media_is_read_in_two_steps_with_the_token(graph_api: FakeGraphApi) -> None:
    graph_api.access_token = "meta-token"
    media_id = graph_api.add_media(PNG, "image/png")
    async with httpx.AsyncClient() as client:
        got = await download.graph_media(client, graph_api.graph_base, "meta-token", media_id, 1000)
        assert got.data == PNG and got.declared_type == "image/png"
        with pytest.raises(download.MediaFetchError, match="HTTP 401"):
            await download.graph_media(client, graph_api.graph_base, "wrong", media_id, 1000)
        with pytest.raises(download.MediaFetchError, match="larger than 100 bytes"):
            await download.graph_media(client, graph_api.graph_base, "meta-token", media_id, 100)
        with pytest.raises(download.MediaFetchError, match="not a Graph API id"):
            await download.graph_media(client, graph_api.graph_base, "meta-token", "../me", 1000)


async def test_a_body_longer_than_the_limit_is_refused(graph_api: FakeGraphApi) -> None:
    media_id = graph_api.add_media(PNG, "image/png")
    url = f"{graph_api.origin}/download/?mid={media_id}"
    async with httpx.AsyncClient() as client:
        assert (await download.capped_get(client, url, len(PNG))).data == PNG
        with pytest.raises(download.MediaFetchError, match="larger than"):
            await download.capped_get(client, url, len(PNG) - 1)


async def test_twilio_media_follows_the_redirect_with_basic_auth_on_twilio_only(
    twilio_api: FakeTwilioApi,
) -> None:
    url = twilio_api.add_media(SID, TOKEN, PNG, "image/png")
    async with httpx.AsyncClient() as client:
        got = await download.twilio_media(client, url, SID, TOKEN, twilio_api.base_url, 1000)
        assert got.data == PNG
        with pytest.raises(download.MediaFetchError, match="HTTP 401"):
            await download.twilio_media(client, url, SID, "wrong", twilio_api.base_url, 1000)
    first, stored = twilio_api.media_fetches()[:2]
    assert first.headers["authorization"].startswith("Basic ")
    # The redirect leaves Twilio's origin: the credentials stay behind.
    assert stored.path.startswith("/storage/") and "authorization" not in stored.headers


@pytest.mark.parametrize(
    "url",
    [
        "http://api.twilio.com/2010-04-01/x",  # not https
        "https://api.twilio.com.evil.example/x",
        "https://169.254.169.254/latest/meta-data",
        "https://eviltwilio.com/x",
        "https://[api.twilio.com/x",  # not even a URL
        "https://evil.example\\.api.twilio.com/x",
    ],
)
def test_only_twilio_urls_are_fetched(url: str) -> None:
    with pytest.raises(download.MediaFetchError, match="not a Twilio API URL"):
        download.twilio_media_url(url, None)


def test_twilio_urls_are_rebased_onto_a_configured_api_base() -> None:
    url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"
    assert download.twilio_media_url(url, None) == url
    rebased = download.twilio_media_url(url, "http://127.0.0.1:9/")
    assert rebased == "http://127.0.0.1:9/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"
    # What is fetched is rebuilt from the host checked: no user info, no port.
    odd = "https://user@evil.example\\@api.twilio.com:8443/2010-04-01/x?a=1"
    assert download.twilio_media_url(odd, None) == "https://api.twilio.com/2010-04-01/x?a=1"


async def test_an_unfetchable_twilio_url_is_a_fetch_error(twilio_api: FakeTwilioApi) -> None:
    odd = "https://api.twilio.com/2010-04-01/\x00\u00e9 x"
    async with httpx.AsyncClient() as client:
        with pytest.raises(download.MediaFetchError):
            await download.twilio_media(client, odd, SID, TOKEN, twilio_api.base_url, 1000)
