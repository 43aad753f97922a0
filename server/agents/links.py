"""Typing indicators and read receipts between a customer's channel and the agent on it.

Customer to agent: channels call ``customer_typing`` and ``customer_read``; the assigned agent
(and supervisors monitoring) get live ``customer_typing`` / ``customer_read`` frames. They are
not sequenced: a desk that was offline misses an indicator, nothing more (read receipts of the
agent's own replies also arrive as sequenced ``message_status`` frames where the channel
records them, as the app channel does).

Agent to customer: the desk's ``typing`` and ``read`` frames go to the ``ChannelLink`` registered
for the conversation's channel; channels without one (SMS, WhatsApp) show nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from server.agents import protocol
from server.agents.hub import AgentHub
from server.agents.service import RoutingService

# Conversation statuses in which the customer talks to an agent.
ROUTED_STATUSES = ("assigned", "wrapup")

# (conversation id, who, typing) and (conversation id, who, seq); who is "agent:AG..." (or
# "supervisor:AG...").
AgentTyping = Callable[[str, str, bool], Awaitable[None]]
AgentRead = Callable[[str, str, int], Awaitable[None]]


@dataclass(frozen=True)
class ChannelLink:
    """How one channel shows an agent's typing and reads to the customer."""

    typing: AgentTyping
    read: AgentRead


class CustomerLinks:
    def __init__(self, service: RoutingService, hub: AgentHub) -> None:
        self.service = service
        self.hub = hub
        self.channels: dict[str, ChannelLink] = {}

    def agent_of(self, conversation_id: str) -> str | None:
        """The agent the customer is talking to, from the router's memory (no query)."""
        task = self.service.router.state.tasks.get(conversation_id)
        if task is None or not task.agent_id or task.status not in ROUTED_STATUSES:
            return None
        return task.agent_id

    async def _tell(self, conversation_id: str, frame: dict[str, Any]) -> None:
        agent_id = self.agent_of(conversation_id)
        if agent_id is not None:
            await self.hub.tell(agent_id, frame)
        await self.hub.tell_monitors(conversation_id, frame)

    def _watched(self, conversation_id: str) -> bool:
        return self.agent_of(conversation_id) is not None or bool(
            self.hub.monitors.get(conversation_id)
        )

    # --- customer to agent ----------------------------------------------------------------

    async def customer_typing(self, conversation_id: str, typing: bool) -> None:
        if self._watched(conversation_id):
            frame = protocol.out("customer_typing", conversation_id=conversation_id, typing=typing)
            await self._tell(conversation_id, frame)

    async def customer_read(self, conversation_id: str, seq: int) -> None:
        """The customer has seen the conversation's messages up to ``seq``."""
        if not self._watched(conversation_id) or seq < 1:
            return
        rows = await self.service.store.messages(conversation_id, after_seq=seq - 1, limit=1)
        message_id = rows[0]["id"] if rows and rows[0]["seq"] == seq else None
        frame = protocol.out(
            "customer_read",
            conversation_id=conversation_id,
            message_seq=seq,
            message_id=message_id,
        )
        await self._tell(conversation_id, frame)

    # --- agent to customer ----------------------------------------------------------------

    def _link(self, conversation_id: str) -> ChannelLink | None:
        task = self.service.router.state.tasks.get(conversation_id)
        return self.channels.get(task.channel) if task is not None else None

    async def agent_typing(self, conversation_id: str, by: str, typing: bool) -> None:
        link = self._link(conversation_id)
        if link is not None:
            await link.typing(conversation_id, by, typing)

    async def agent_read(self, conversation_id: str, by: str, seq: int) -> None:
        link = self._link(conversation_id)
        if link is not None:
            await link.read(conversation_id, by, seq)
