"""The crash soak's agents: desks on the agent WebSocket (docs/agent-protocol.md) that accept
every offer and answer every customer message of the conversations assigned to them.

An agent quotes the message it answers (so the reply carries its token), answers ``#bye`` and
then closes the conversation once the server confirmed that reply. Like a careful person at a
desk after the connection dropped, it rebuilds its view from ``welcome`` and ``context``: it
accepts offers still pending, closes conversations it meant to close, and in each conversation
answers the customer messages the transcript shows unanswered. A reply it sent before the drop
and never saw confirmed is sent again only if the transcript does not hold it.
"""

from __future__ import annotations

import contextlib
import itertools
import json
from dataclasses import dataclass
from typing import Any

import httpx
import websockets

from bench.soak_customers import reconnect_pause
from bench.soak_ledger import Ledger, token_in

CAPACITY = {"sms": 100, "whatsapp": 100, "webchat": 100}


@dataclass
class PendingReply:
    conversation_id: str
    token: str
    frame: dict[str, Any]
    connection: int  # which of the agent's connections sent it


def create_agent(base: str, admin_token: str, login: str) -> str:
    """Create an agent with the admin API; returns its long-lived token."""
    response = httpx.post(
        base + "/api/v1/agents",
        json={
            "name": login.title(),
            "login": login,
            "roles": ["agent"],
            "capacity": CAPACITY,
            "issue_token": True,
        },
        headers={"Authorization": f"Bearer {admin_token}"},
        timeout=30,
    )
    response.raise_for_status()
    return str(response.json()["token"])


def _inbound_text(message: dict[str, Any]) -> str:
    return str(message.get("text") or "")


class SoakAgent:
    def __init__(self, name: str, token: str, ws_url: str, ledger: Ledger) -> None:
        self.name = name
        self.token = token
        self.ws_url = ws_url
        self.ledger = ledger
        self.last_seq = 0
        self.connection = 0
        self.socket: Any = None
        self.pending: dict[str, PendingReply] = {}  # client_id -> reply not yet confirmed
        self.replied: set[str] = set()  # tokens this agent answered (sent, maybe unconfirmed)
        self.closing: dict[str, str] = {}  # conversation id -> the "#bye" token it answered
        self._ids = itertools.count(1)
        self.stopped = False
        self.counts: dict[str, int] = {}

    def _count(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    async def run(self) -> None:
        attempt = 0
        while not self.stopped:
            try:
                async with websockets.connect(self.ws_url, open_timeout=10, close_timeout=1) as ws:
                    self.connection += 1
                    self.socket = ws
                    attempt = 0
                    await self._send(
                        "hello", token=self.token, last_seq=self.last_seq, capacity=CAPACITY
                    )
                    async for raw in ws:
                        await self._on_frame(json.loads(raw))
            except (OSError, TimeoutError, websockets.WebSocketException):
                pass
            finally:
                self.socket = None
            if self.stopped:
                return
            attempt += 1
            await reconnect_pause(attempt)

    async def stop(self) -> None:
        self.stopped = True
        if self.socket is not None:
            await self.socket.close()

    async def _send(self, kind: str, **fields: Any) -> None:
        if self.socket is None:
            return
        with contextlib.suppress(websockets.ConnectionClosed, OSError):
            await self.socket.send(json.dumps({"v": 1, "type": kind, **fields}))

    async def _on_frame(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        seq = frame.get("seq")
        if seq is not None and seq <= self.last_seq:
            return  # replayed and already handled
        if kind == "welcome":
            await self._welcome(frame)
        elif kind == "offer":
            await self._send("accept", conversation_id=frame["conversation_id"])
        elif kind in ("assigned", "context"):
            await self._reconcile(frame["conversation_id"], frame.get("context") or {})
        elif kind == "message":
            message = frame["message"]
            if message.get("direction") == "inbound":
                await self._answer(frame["conversation_id"], _inbound_text(message))
        elif kind == "message_status":
            await self._confirmed(frame)
        elif kind == "closed":
            bye = self.closing.pop(frame["conversation_id"], None)
            if bye is not None:
                self.ledger.close(bye)
        elif kind == "removed":  # re-queued to someone else: their desk answers from now on
            for client_id, pending in list(self.pending.items()):
                if pending.conversation_id == frame["conversation_id"]:
                    del self.pending[client_id]
        elif kind == "error":
            self._count(f"error:{frame.get('code')}")
        if seq is not None:
            self.last_seq = seq
            await self._send("ack", seq=seq)

    async def _welcome(self, frame: dict[str, Any]) -> None:
        listed = {c["conversation_id"]: c["status"] for c in frame.get("conversations") or []}
        for conversation_id, bye in list(self.closing.items()):
            if conversation_id not in listed:  # closed while the socket was down
                self.closing.pop(conversation_id)
                self.ledger.close(bye)
        for conversation_id, status in listed.items():
            if status == "offered":
                await self._send("accept", conversation_id=conversation_id)
            elif status == "wrapup":
                await self._send("close", conversation_id=conversation_id, disposition="resolved")
            else:
                await self._send("context", conversation_id=conversation_id)

    async def _reconcile(self, conversation_id: str, context: dict[str, Any]) -> None:
        """Answer what the transcript shows unanswered; resend lost replies; close after bye."""
        transcript = context.get("transcript") or []
        answered = {
            token_in(m.get("text"))
            for m in transcript
            if m.get("direction") == "outbound" and m.get("status") != "failed"
        }
        for client_id, pending in list(self.pending.items()):
            if pending.conversation_id != conversation_id:
                continue
            if pending.token in answered:
                del self.pending[client_id]  # it was stored; its confirmation was lost
            elif pending.connection < self.connection:
                self._count("replies_sent_again")
                pending.connection = self.connection
                await self._send("reply", **pending.frame)
        for message in transcript:
            if message.get("direction") != "inbound":
                continue
            token = token_in(message.get("text"))
            if token and token not in answered and token not in self.replied:
                await self._answer(conversation_id, _inbound_text(message))
        last_inbound = next(
            (m for m in reversed(transcript) if m.get("direction") == "inbound"), None
        )
        if last_inbound is not None and _inbound_text(last_inbound).startswith("#bye"):
            token = token_in(last_inbound.get("text"))
            waiting = any(p.conversation_id == conversation_id for p in self.pending.values())
            if token and token in answered and not waiting:
                self.closing[conversation_id] = token
                await self._send("close", conversation_id=conversation_id, disposition="resolved")

    async def _answer(self, conversation_id: str, text: str) -> None:
        token = token_in(text)
        if token is None or token in self.replied:
            return
        self.replied.add(token)
        client_id = f"{self.name}-{next(self._ids)}"
        frame = {
            "conversation_id": conversation_id,
            "client_id": client_id,
            "text": f"agent {self.name} re: {text}",
        }
        self.pending[client_id] = PendingReply(conversation_id, token, frame, self.connection)
        self._count("replies")
        await self._send("reply", **frame)

    async def _confirmed(self, frame: dict[str, Any]) -> None:
        pending = self.pending.pop(str(frame.get("client_id")), None)
        if pending is None:
            return  # a later delivery status, or a reply confirmed another way
        if frame.get("status") == "failed":
            self._count("replies_failed")
        if " re: #bye " in pending.frame["text"]:
            self.closing[pending.conversation_id] = pending.token
            await self._send(
                "close", conversation_id=pending.conversation_id, disposition="resolved"
            )
