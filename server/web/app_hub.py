"""Open app WebSockets per user, the pushes they get, and the ``app`` channel's sender.

Sockets are grouped by app user (app id + user id), not by conversation: a user's phone and
tablet both get every message, and a socket keeps working when the user's conversation is closed
and a new one opens.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.websockets import WebSocket

from channels.app import frames
from channels.base import SendOutcome
from server.model import Conversation, Message
from server.runtime.rows import message_json
from server.store import Store
from server.store.ops import Row

log = logging.getLogger(__name__)

CHANNEL = "app"

# Told (conversation id, user typing) and (conversation id, seq read) for agents' desks.
UserTypingListener = Callable[[str, bool], Awaitable[None]]
UserReadListener = Callable[[str, int], Awaitable[None]]

# (conversation, message, push tokens) for a user with no socket open. Push delivery (APNs,
# FCM) is not built yet: the default hook does nothing, and apps fetch history when opened.
PushHook = Callable[[Conversation, Message, list[str]], Awaitable[None]]


async def no_push(conversation: Conversation, message: Message, tokens: list[str]) -> None:
    return None


def user_key(app_id: str, user_id: str) -> str:
    return f"{app_id}|{user_id}"


class AppHub:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._sockets: dict[str, set[WebSocket]] = {}
        # conversation id -> user key (typing indicators name only the conversation), and back.
        self._users: dict[str, str] = {}
        self._conversations: dict[str, set[str]] = {}
        self.typing_listeners: list[UserTypingListener] = []
        self.read_listeners: list[UserReadListener] = []

    def join(self, key: str, conversation_id: str, socket: WebSocket) -> None:
        self._sockets.setdefault(key, set()).add(socket)
        self._remember(conversation_id, key)

    def _remember(self, conversation_id: str, key: str) -> None:
        self._users[conversation_id] = key
        self._conversations.setdefault(key, set()).add(conversation_id)

    def leave(self, key: str, socket: WebSocket) -> None:
        sockets = self._sockets.get(key)
        if sockets is not None:
            sockets.discard(socket)
            if not sockets:
                del self._sockets[key]
                for conversation_id in self._conversations.pop(key, ()):
                    self._users.pop(conversation_id, None)

    def connected(self, key: str) -> bool:
        return bool(self._sockets.get(key))

    async def push(self, key: str, frame: dict[str, Any]) -> None:
        text = orjson.dumps(frame).decode()
        for socket in list(self._sockets.get(key, ())):
            try:
                await socket.send_text(text)
            except Exception:  # a socket that died mid-send; its own handler cleans up
                self.leave(key, socket)

    async def on_message(self, conversation: Row, message: Row) -> None:
        if conversation["channel"] != CHANNEL:
            return
        key = user_key(conversation["channel_account"], conversation["customer_address"])
        if self.connected(key):
            self._remember(conversation["id"], key)
            await self.push(key, frames.message_frame(message_json(message)))

    async def on_activity(self, conversation_id: str, busy: bool) -> None:
        await self.tell(conversation_id, frames.typing_frame("bot", busy))

    async def tell(self, conversation_id: str, frame: dict[str, Any]) -> None:
        """Push ``frame`` to the sockets of the conversation's user, if any are open."""
        if not self._sockets:
            return
        key = self._users.get(conversation_id)
        if key is None:
            conversation = await self.store.conversation(conversation_id)
            if conversation is None or conversation["channel"] != CHANNEL:
                return
            key = user_key(conversation["channel_account"], conversation["customer_address"])
        if self.connected(key):
            await self.push(key, frame)

    async def user_typing(self, conversation_id: str, busy: bool) -> None:
        for listener in self.typing_listeners:
            await listener(conversation_id, busy)

    async def user_read(self, conversation_id: str, seq: int) -> None:
        for listener in self.read_listeners:
            await listener(conversation_id, seq)


class AppSender:
    """Outbound on ``app``: the hub pushed the stored message already; offline users get a push."""

    def __init__(
        self,
        hub: AppHub,
        tokens: Callable[[str, str], Awaitable[list[str]]],
        push: PushHook = no_push,
    ) -> None:
        self.hub = hub
        self.tokens = tokens
        self.push = push

    async def send(self, conversation: Conversation, message: Message) -> SendOutcome:
        account, user = conversation.channel_account, conversation.customer_address
        if not self.hub.connected(user_key(account, user)):
            await self.push(conversation, message, await self.tokens(account, user))
        # The message id doubles as the provider id so read receipts move its status forward.
        return SendOutcome(ok=True, provider_message_ids=(message.id,), status="sent")

    async def aclose(self) -> None:
        return None
