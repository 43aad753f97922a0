"""The ASGI app in front of Starlette: a few endpoints whose cost bounds the server skip its stack.

Starlette runs every request and socket through its error middleware, our body limit, its
exception middleware and the router: a coroutine frame and closures each. For almost every
endpoint that costs nothing worth measuring. Two kinds of endpoint are different:

- the web chat WebSocket, where those frames stay suspended under every idle socket's
  ``receive`` for the socket's whole life: a process holds tens of thousands of them;
- Twilio's webhooks, the inbound message path, where the layers were about a tenth of the
  event loop's time per message at full load.

Those go straight to their handlers here. What the skipped layers do for them is done here too:
the body limit (a webhook must declare a length within it, else it takes the ordinary path,
which refuses or counts it) and a JSON 500 for an unexpected error. Everything else, and the
same paths through the router when the app is used without this front, behaves as before.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from server.web import twilio_routes
from server.web.errors import error
from server.web.limits import content_length
from server.web.webchat import SOCKET_PATH, serve_socket

log = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[Response]]

POSTS: dict[str, Handler] = {
    twilio_routes.MESSAGES_PATH: twilio_routes.inbound_message,
    twilio_routes.STATUS_PATH: twilio_routes.status_callback,
}


class FrontDoor:
    def __init__(self, app: Starlette, max_body_bytes: int) -> None:
        self.app = app
        self.state = app.state  # filled in by the app's lifespan, before any request
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "websocket" and scope["path"] == SOCKET_PATH:
            await serve_socket(self.state, scope, receive, send)
            return
        if kind == "http" and scope["method"] == "POST":
            handler = POSTS.get(scope["path"])
            if handler is not None and self._within_limit(scope):
                await self._serve(handler, scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _within_limit(self, scope: Scope) -> bool:
        for name, value in scope["headers"]:
            if name == b"content-length":
                length = content_length(value)
                return length is not None and length <= self.max_body_bytes
        return False  # no declared length: the ordinary path counts the body as it comes

    async def _serve(self, handler: Handler, scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = self.app  # what Starlette sets: handlers reach app.state through it
        try:
            response = await handler(Request(scope, receive))
        except Exception:
            log.exception("%s %s failed", scope["method"], scope["path"])
            response = error(500, "internal_error", "the server failed to handle the request")
        await response(scope, receive, send)
