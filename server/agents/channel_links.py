"""Connect the web chat and app channels to agents' typing indicators and read receipts.

Called from the agents area's setup, after the channel areas set up their hubs (``extras``);
a channel area that is not loaded is simply not linked.
"""

from __future__ import annotations

from typing import Any

from channels.app import frames as app_frames
from server.agents.links import ChannelLink, CustomerLinks
from server.store import Store, sessions
from server.web.app_hub import AppHub
from server.web.app_state import AppState
from server.web.webchat_hub import WebchatHub

# The web chat read mark an agent's reads move (visitors' is ``sessions.VISITOR_READER``).
AGENT_READER = "agent"


def link_channels(links: CustomerLinks, store: Store, extras: dict[str, Any]) -> None:
    webchat: WebchatHub | None = extras.get("webchat_hub")
    if webchat is not None:
        link_webchat(links, store, webchat)
    app_state: AppState | None = extras.get("app_api")
    if app_state is not None:
        link_app(links, app_state.hub)


def link_webchat(links: CustomerLinks, store: Store, hub: WebchatHub) -> None:
    hub.typing_listeners.append(links.customer_typing)
    hub.read_listeners.append(links.customer_read)

    async def typing(conversation_id: str, by: str, busy: bool) -> None:
        hub.agent_typing(conversation_id, busy)

    async def read(conversation_id: str, by: str, seq: int) -> None:
        # Stored like the visitor's mark (never moves back), so the admin view shows both.
        mark = await sessions.mark_read(store, conversation_id, AGENT_READER, seq)
        hub.agent_read(conversation_id, mark)

    links.channels["webchat"] = ChannelLink(typing, read)


def link_app(links: CustomerLinks, hub: AppHub) -> None:
    hub.typing_listeners.append(links.customer_typing)
    hub.read_listeners.append(links.customer_read)

    async def typing(conversation_id: str, by: str, busy: bool) -> None:
        await hub.tell(conversation_id, app_frames.typing_frame(by, busy))

    async def read(conversation_id: str, by: str, seq: int) -> None:
        await hub.tell(conversation_id, app_frames.read_frame(by, seq))

    links.channels["app"] = ChannelLink(typing, read)
