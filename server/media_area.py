"""The media area: provider media fetched into the media store, and the signed media route.

Runs after the channels area (it reads the channel accounts that area loaded). Stored media
lives in the upload store's directory (``DATA_DIR/uploads/media``), out of reach of the web chat
upload route, so only a signed URL serves it.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from server.agents.auth import jwt_secret
from server.areas import Services
from server.channel_accounts import ChannelAccounts
from server.channels_area import PhoneChannelSender
from server.config import Settings
from server.media.fetcher import InboundMediaFetcher
from server.media.own_media import OwnMediaSource
from server.media.routes import OPENAPI_PATHS
from server.media.routes import routes as media_routes
from server.media.settings import MediaSettings
from server.media.signing import MediaUrls
from server.model import Channel
from server.web.openapi import add_paths
from server.web.webchat_uploads import UploadStore

MEDIA_DIR = ("uploads", "media")


def routes(settings: Settings) -> list[BaseRoute]:
    add_paths(OPENAPI_PATHS)
    return media_routes()


async def setup(services: Services) -> None:
    settings = services.settings
    media_settings = MediaSettings.from_env()
    store = UploadStore(settings.data_dir.joinpath(*MEDIA_DIR))
    accounts: ChannelAccounts | None = services.extras.get("channel_accounts")
    public_url = settings.public_url or (accounts.public_url if accounts else None)
    # Without a public URL the links are relative: they work in the desk (same origin) only.
    secret = jwt_secret(settings.data_dir)
    urls = MediaUrls(secret, public_url or "", media_settings.url_ttl_seconds)
    services.extras["media_store"] = store
    services.extras["media_urls"] = urls
    if accounts is not None and (accounts.twilio or accounts.whatsapp):
        fetcher = InboundMediaFetcher(services.store, accounts, store, urls, media_settings)
        services.extras["media_fetcher"] = fetcher
        services.runtime.inbound_preparers.append(fetcher.prepare)
    phone = services.runtime.senders.get(Channel.WHATSAPP.value)
    if isinstance(phone, PhoneChannelSender):
        phone.media_source = OwnMediaSource(urls, store)


async def teardown(services: Services) -> None:
    fetcher: InboundMediaFetcher | None = services.extras.get("media_fetcher")
    if fetcher is not None:
        await fetcher.aclose()
