"""The phone-number channels area: Twilio (SMS, MMS, WhatsApp) and the WhatsApp Cloud API.

Mounts both webhooks, registers one sender per channel name ("sms", "whatsapp") that picks the
provider from the conversation's channel account (a Twilio number, ``+1...`` or
``whatsapp:+1...``, or a Cloud API phone-number id), maps each number to its flow, and matches
numbered answers back to the choices they pick.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any

from sqlalchemy import bindparam, select
from starlette.routing import BaseRoute

from channels.base import SendOutcome
from channels.twilio import TwilioSender, match_choice
from channels.whatsapp import WhatsAppSender
from channels.whatsapp.media_upload import MediaSource
from server.areas import Services
from server.channel_accounts import ChannelAccounts, load_channel_accounts
from server.config import Settings
from server.model import (
    Channel,
    Choice,
    ChoiceReplyPart,
    ChoicesPart,
    Conversation,
    Message,
    part_from_dict,
)
from server.store import Store
from server.store.ops import Row
from server.store.schema import messages
from server.web import twilio_routes, whatsapp_routes
from server.web.openapi import add_paths

log = logging.getLogger(__name__)

PHONE_CHANNELS = (Channel.SMS.value, Channel.WHATSAPP.value)
# How far back to look for the choices an answer refers to (messages since the last inbound).
CHOICE_LOOKBACK = 20


class PhoneChannelSender:
    """``channels.base.Sender`` for "sms" and "whatsapp": Twilio for Twilio numbers, the Cloud
    API for Meta phone-number ids. Provider clients are made once per account."""

    def __init__(self, accounts: ChannelAccounts) -> None:
        self.accounts = accounts
        self._twilio: dict[str, TwilioSender] = {}
        self._meta: dict[str | None, WhatsAppSender] = {}
        # Set by the media area: our stored media goes to the Cloud API by upload, not link.
        self.media_source: MediaSource | None = None

    def _twilio_sender(self, number: str) -> TwilioSender | None:
        account = self.accounts.twilio_for_number(number)
        if account is None:
            return None
        if account.account_sid not in self._twilio:
            self._twilio[account.account_sid] = TwilioSender(
                account.account_sid,
                account.auth_token,
                api_base=account.api_base,
                public_url=self.accounts.public_url,
                messaging_service_for=account.messaging_service_for,
            )
        return self._twilio[account.account_sid]

    def whatsapp_sender(self, phone_number_id: str) -> WhatsAppSender | None:
        account = self.accounts.whatsapp_for(phone_number_id)
        if account is None or not account.access_token:
            return None
        if account.phone_number_id not in self._meta:
            self._meta[account.phone_number_id] = WhatsAppSender(
                account.access_token, account.graph_base, media_source=self.media_source
            )
        return self._meta[account.phone_number_id]

    async def send(self, conversation: Conversation, message: Message) -> SendOutcome:
        account = conversation.channel_account
        if conversation.channel == Channel.SMS.value or account.startswith("whatsapp:"):
            twilio = self._twilio_sender(account)
            if twilio is None:
                return SendOutcome(ok=False, error=f"no Twilio account sends from {account}")
            return await twilio.send(conversation, message)
        meta = self.whatsapp_sender(account)
        if meta is None:
            return SendOutcome(ok=False, error=f"no WhatsApp Cloud API account for {account}")
        return await meta.send(conversation, message)

    async def send_unless_sent(
        self,
        conversation: Conversation,
        message: Message,
        intended_at: float,
        known_ids: frozenset[str] = frozenset(),
    ) -> SendOutcome:
        """After a crash: Twilio is asked whether the message went out; the Cloud API cannot
        be asked (it lists no sent messages), so a WhatsApp Cloud message is sent again."""
        account = conversation.channel_account
        if conversation.channel == Channel.SMS.value or account.startswith("whatsapp:"):
            twilio = self._twilio_sender(account)
            if twilio is not None:
                return await twilio.send_unless_sent(conversation, message, intended_at, known_ids)
        return await self.send(conversation, message)

    async def mark_read(self, phone_number_id: str, wamid: str) -> None:
        sender = self.whatsapp_sender(phone_number_id)
        if sender is None:
            return
        try:
            if not await sender.mark_read(phone_number_id, wamid):
                log.info("WhatsApp did not mark %s as read", wamid)
        except Exception:
            log.exception("marking %s as read failed", wamid)

    async def aclose(self) -> None:
        # Registered under two channel names, so closed twice: the second call finds nothing.
        twilio, meta = list(self._twilio.values()), list(self._meta.values())
        self._twilio.clear()
        self._meta.clear()
        for sender in twilio:
            await sender.aclose()
        for client in meta:
            await client.aclose()


_RECENT_MESSAGES = (
    select(messages.c.direction, messages.c.parts)
    .where(
        messages.c.conversation_id == bindparam("b_conversation"),
        messages.c.seq < bindparam("b_seq"),
    )
    .order_by(messages.c.seq.desc())
    .limit(CHOICE_LOOKBACK)
)


async def offered_choices(store: Store, conversation_id: str, before_seq: int) -> list[Choice]:
    """The choices of the latest outbound message since the customer last wrote, if any."""
    if before_seq <= 1:  # the conversation's first message answers nothing
        return []
    params = {"b_conversation": conversation_id, "b_seq": before_seq}
    rows = await store.read(lambda conn: conn.execute(_RECENT_MESSAGES, params).all())
    for row in rows:
        if row.direction == "inbound":
            break
        choices = _choices_of(row.parts)
        if choices is not None:
            return choices
    return []


def _choices_of(parts: Any) -> list[Choice] | None:
    for data in parts or []:
        if data.get("kind") == "choices":
            part = part_from_dict(data)
            assert isinstance(part, ChoicesPart)
            return list(part.choices)
    return None


class ChoiceMatcher:
    """An inbound rewriter: a typed answer ("2", "2.", a label) becomes the choice it picks.

    The choices come from the latest outbound message before the answer. This process remembers
    the last message with choices it sent on each conversation; when that message is the one
    right before the answer (by seq, so nothing came in between, from any node), no read is
    needed. Otherwise the messages are read.
    """

    def __init__(self, store: Store, size: int = 10_000) -> None:
        self.store = store
        self._size = size
        self._offered: OrderedDict[str, tuple[int, list[Choice]]] = OrderedDict()

    async def remember(self, conversation: Row, message: Row) -> None:
        """A message listener: note outbound messages that offer choices."""
        if message["direction"] != "outbound" or conversation["channel"] not in PHONE_CHANNELS:
            return
        choices = _choices_of(message["parts"])
        if choices is None:
            return
        self._offered[conversation["id"]] = (message["seq"], choices)
        self._offered.move_to_end(conversation["id"])
        if len(self._offered) > self._size:
            self._offered.popitem(last=False)

    async def rewrite(
        self, conversation: Row, message: Row, fields: dict[str, Any]
    ) -> dict[str, Any]:
        if conversation["channel"] not in PHONE_CHANNELS:
            return fields
        for data in message["parts"] or []:
            if data.get("kind") == "choice_reply":  # a button or list tap already names it
                reply = part_from_dict(data)
                assert isinstance(reply, ChoiceReplyPart)
                return {**fields, "ChoiceId": reply.choice_id}
        answer = str(fields.get("Body") or "")
        if not answer.strip():
            return fields
        offered = self._offered.get(conversation["id"])
        if offered is not None and offered[0] == message["seq"] - 1:
            choices = offered[1]
        else:
            choices = await offered_choices(self.store, conversation["id"], message["seq"])
        choice = match_choice(answer, choices) if choices else None
        if choice is None:
            return fields
        return {**fields, "Body": choice.label, "ChoiceId": choice.id, "OriginalBody": answer}


def routes(settings: Settings) -> list[BaseRoute]:
    add_paths(twilio_routes.OPENAPI_PATHS)
    add_paths(whatsapp_routes.OPENAPI_PATHS)
    return [*twilio_routes.routes(), *whatsapp_routes.routes()]


async def setup(services: Services) -> None:
    settings = services.settings
    accounts = load_channel_accounts(settings.data_dir, settings.public_url)
    runtime = services.runtime
    services.extras["channel_accounts"] = accounts
    for (channel, account), flow in accounts.account_flows().items():
        if runtime.flows.latest(flow) is None:
            log.error(
                "channels file: %s %s runs flow %r, which is not loaded", channel, account, flow
            )
        runtime.account_flows[(channel, account)] = flow
    matcher = ChoiceMatcher(services.store)
    runtime.inbound_rewriters.append(matcher.rewrite)
    runtime.message_listeners.append(matcher.remember)
    if accounts.twilio or accounts.whatsapp:
        sender = PhoneChannelSender(accounts)
        runtime.senders[Channel.SMS.value] = sender
        runtime.senders[Channel.WHATSAPP.value] = sender
        services.extras["whatsapp_mark_read"] = sender.mark_read
    log.info(
        "channel accounts: %d Twilio, %d WhatsApp Cloud API",
        len(accounts.twilio),
        len(accounts.whatsapp),
    )
