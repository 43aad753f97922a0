"""Hand-off notices: what the customer is told while routing moves their conversation.

Each notice is a ``system`` message stored on the conversation and sent on its channel like any
other message (a web chat or app frame with ``author: "system"``, a plain text on SMS and
WhatsApp). They go out after the routing decision is committed; a failed send is logged and
never undoes the decision. Texts per channel account: ``notice_texts``.
"""

from __future__ import annotations

import logging

from server.agents import satisfaction
from server.agents.names import AgentNames
from server.agents.notice_texts import NoticeConfig, NoticeTexts, describe_wait, fill
from server.model import Choice, ChoicesPart, InboundEnvelope, Part, TextPart
from server.routing.stats import QueuePosition
from server.runtime.runtime import Runtime
from server.store.ops import Ingested, Row

log = logging.getLogger(__name__)

# Channels that show buttons; elsewhere the question asks for a number as text.
CHOICE_CHANNELS = ("webchat", "app")


class Notices:
    def __init__(self, runtime: Runtime, config: NoticeConfig, names: AgentNames) -> None:
        self.runtime = runtime
        self.store = runtime.store
        self.config = config
        self.names = names

    def texts(self, conversation: Row) -> NoticeTexts:
        return self.config.texts(conversation["channel"], conversation["channel_account"])

    async def queued(self, conversation_id: str, position: QueuePosition | None) -> None:
        conversation = await self.store.conversation(conversation_id)
        if conversation is None:
            return
        texts = self.texts(conversation)
        if position is None:
            await self._say(conversation_id, texts.connecting)
            return
        values = {
            "position": str(position.position),
            "wait": describe_wait(position.estimated_wait),
        }
        await self._say(conversation_id, fill(texts.queued, values))

    async def assigned(self, conversation_id: str, agent_id: str) -> None:
        conversation = await self.store.conversation(conversation_id)
        if conversation is None:
            return
        name = await self.names.name(agent_id) or "An agent"
        await self._say(conversation_id, fill(self.texts(conversation).assigned, {"agent": name}))

    async def transferred(self, conversation_id: str) -> None:
        conversation = await self.store.conversation(conversation_id)
        if conversation is not None:
            await self._say(conversation_id, self.texts(conversation).transferred)

    async def closed(self, conversation_id: str) -> None:
        conversation = await self.store.conversation(conversation_id)
        if conversation is None:
            return
        texts = self.texts(conversation)
        await self._say(conversation_id, texts.closed)
        if not texts.satisfaction:
            return
        parts: list[Part] = [TextPart(texts.satisfaction)]
        if conversation["channel"] in CHOICE_CHANNELS:
            parts.append(ChoicesPart(tuple(Choice(s, s) for s in satisfaction.SCORES)))
        # Marked before it is sent: an answer typed at once must find the question waiting.
        await satisfaction.mark_asked(self.store, conversation)
        await self._send(conversation_id, tuple(parts))

    async def take_answer(self, envelope: InboundEnvelope) -> Ingested | None:
        """``Runtime.inbound_interceptors``: the answer to a waiting satisfaction question."""
        texts = self.config.texts(envelope.channel, envelope.channel_account)
        if not texts.satisfaction:
            return None  # never asked on this account: no read on the message path
        taken = await satisfaction.take_answer(self.store, envelope)
        if taken is not None and texts.satisfaction_thanks:
            self.runtime.spawn(self._say(taken.conversation["id"], texts.satisfaction_thanks))
        return taken

    async def _say(self, conversation_id: str, text: str) -> None:
        if text:  # an empty text turns the notice off
            await self._send(conversation_id, (TextPart(text),))

    async def _send(self, conversation_id: str, parts: tuple[Part, ...]) -> None:
        try:
            await self.runtime.send_system_message(conversation_id, parts)
        except Exception:
            log.exception("hand-off notice to %s failed", conversation_id)
