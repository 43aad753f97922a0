"""``threadline serve``: run the server with uvicorn on the embedded defaults."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import uvicorn

from server import startup
from server.app import create_app
from server.config import Settings
from server.web import head_timeout
from server.web.front import FrontDoor
from server.web.webchat import MAX_FRAME_BYTES
from server.web.ws_protocol import LeanWebSocketProtocol


def run(
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    data_dir: str | Path | None = None,
    flows_dir: str | Path | None = None,
) -> None:
    logging.basicConfig(
        level=os.environ.get("THREADLINE_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    settings = Settings.load(data_dir=data_dir, flows_dir=flows_dir)
    log = logging.getLogger("threadline")
    log.info("data directory: %s", settings.data_dir)
    if settings.admin_token_file is not None:
        log.info("admin token: stored in %s", settings.admin_token_file)
    else:
        log.info("admin token: from THREADLINE_ADMIN_TOKEN")
    url = startup.listening_url(host, port)
    log.info("listening on %s (web chat demo %s, agent desk %sdesk/)", url, url, url)
    uvicorn.run(
        # Web chat sockets and Twilio's webhooks go straight to their handlers, not through
        # Starlette's middleware and router (see server.web.front).
        FrontDoor(create_app(settings), settings.max_body_bytes),
        host=host,
        port=port,
        log_level="warning",
        ws_max_size=MAX_FRAME_BYTES,
        # Chat frames are small: compressing them saves little, and each connection's zlib
        # state costs about 33 KiB, more than the rest of an idle session.
        ws_per_message_deflate=False,
        ws=LeanWebSocketProtocol,  # uvicorn's sans-I/O protocol, with less kept per socket
        # uvicorn's HTTP protocol, closing connections whose request head is too slow to come
        http=head_timeout.protocol_class(settings.header_timeout_seconds),
        # The client address (web chat rate limits) and scheme come from X-Forwarded-* only
        # when the peer is one of these proxies; the rightmost untrusted hop is the client.
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=list(settings.trusted_proxies),
        lifespan="on",
        timeout_graceful_shutdown=5,
    )
